"""Recordings on disk: where a Track's audio is, where added recordings are kept, and the checks on
a recording before ``add-track`` takes it.

A Track's ``audio`` property says where its recording is, in one of two forms:

- a path relative to the data folder (``SOUNDBRIDGE_DATA``), e.g.
  ``ccmc/cldf/songs/NHS2-J5AX.mp3``: the CCMC songs that ``soundbridge ingest`` writes, and any
  file added from inside the data folder;
- ``added:<file name>``: a copy that ``add-track`` made of a recording from anywhere else, kept in
  ``$SOUNDBRIDGE_HOME/audio/added/`` (mode 0700), so that it can be served after the original
  moves or is deleted.

:func:`track_audio_path` is the one way to turn that value into a file: it refuses whatever would
leave its folder (``..``, absolute paths, symbolic links pointing out), so a server may hand the
result to anyone.
"""

from __future__ import annotations

import math
import os
import re
import shutil
from pathlib import Path, PurePosixPath

import numpy as np
import soundfile as sf

from audio.errors import AudioDecodeError
from kg.config import private_folder
from loaders.files import replacing

__all__ = [
    "ADDED_PREFIX",
    "DEFAULT_MAX_SECONDS",
    "SILENCE_DBFS",
    "added_audio_dir",
    "keep_recording",
    "recording_seconds",
    "rms_dbfs",
    "track_audio_path",
]

#: The ``audio`` value of a recording kept under ``$SOUNDBRIDGE_HOME`` starts with this.
ADDED_PREFIX = "added:"
#: The longest recording ``add-track`` takes by default (seconds): its factors are computed over
#: the whole file, in memory.
DEFAULT_MAX_SECONDS = 600.0
#: A recording whose RMS over the whole file is below this level (dB relative to full scale) is
#: silent for our purpose: its factors would describe the noise floor, not music.
SILENCE_DBFS = -60.0

_SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]")


def added_audio_dir(home: Path) -> Path:
    """The folder of recordings added from outside the data folder: ``home/audio/added``.

    Examples:
        >>> added_audio_dir(Path("/srv/sb")).as_posix()
        '/srv/sb/audio/added'
    """
    return home / "audio" / "added"


def track_audio_path(audio: str | None, data_root: Path | None, home: Path | None) -> Path | None:
    """The file a Track's ``audio`` value names, or ``None`` when there is none to serve.

    Args:
        audio: the Track's ``audio`` property (see the module docstring).
        data_root: ``SOUNDBRIDGE_DATA``; ``None`` when unknown (data-folder audio is then
            unavailable).
        home: ``SOUNDBRIDGE_HOME``; ``None`` when unknown (added audio is then unavailable).

    Returns:
        The resolved path of an existing regular file inside its folder: the data folder, or
        ``home/audio/added`` for ``added:<file name>``. ``None`` for an empty value, an absolute
        path, a path that leaves its folder (``..``, a symbolic link pointing out), an ``added:``
        value that is not a plain file name, or a file that does not exist.

    Examples:
        >>> import tempfile
        >>> root = Path(tempfile.mkdtemp())
        >>> (root / "ccmc").mkdir()
        >>> _ = (root / "ccmc" / "song.mp3").write_bytes(b"")
        >>> track_audio_path("ccmc/song.mp3", root, None) == (root / "ccmc/song.mp3").resolve()
        True
        >>> track_audio_path("../../etc/passwd", root, None) is None
        True
        >>> track_audio_path("/etc/passwd", root, None) is None
        True
    """
    if not audio:
        return None
    if audio.startswith(ADDED_PREFIX):
        name = audio[len(ADDED_PREFIX) :]
        if home is None or not name or name in (".", "..") or "/" in name or "\\" in name:
            return None
        folder, relative = added_audio_dir(home), name
    else:
        if data_root is None or PurePosixPath(audio).is_absolute() or Path(audio).is_absolute():
            return None
        folder, relative = data_root, audio
    try:
        base = folder.resolve(strict=True)
        path = (base / relative).resolve(strict=True)
    except (OSError, RuntimeError, ValueError):  # missing, a link loop, a NUL byte
        return None
    if not path.is_relative_to(base) or not path.is_file():
        return None
    return path


def keep_recording(file: Path, track_id: str, *, data_root: Path | None, home: Path) -> str:
    """Where ``add-track`` keeps ``file``, as the Track's ``audio`` value.

    A file inside the data folder stays where it is (its path relative to the folder); any other
    is copied, atomically, to ``home/audio/added/<track id><suffix>`` (the folder is made 0700,
    the copy 0600), replacing an earlier copy of the same track.

    Args:
        file: the recording.
        track_id: the Track's id; the copy is named after it.
        data_root: ``SOUNDBRIDGE_DATA``, or ``None`` when unset (everything is copied).
        home: ``SOUNDBRIDGE_HOME``.

    Returns:
        The value for the Track's ``audio`` property; :func:`track_audio_path` resolves it.

    Raises:
        AudioDecodeError: when the file cannot be read.
        ConfigError: when the folder for added recordings cannot be made.

    Examples:
        >>> import tempfile
        >>> src = Path(tempfile.mkdtemp()) / "My Song.wav"
        >>> _ = src.write_bytes(b"RIFF")
        >>> home = Path(tempfile.mkdtemp())
        >>> value = keep_recording(src, "user:0123", data_root=None, home=home)
        >>> value, track_audio_path(value, None, home).read_bytes()
        ('added:user-0123.wav', b'RIFF')
    """
    resolved = file.resolve()
    if data_root is not None:
        root = data_root.resolve()
        if resolved.is_relative_to(root):
            return resolved.relative_to(root).as_posix()
    name = _SAFE_NAME.sub("-", track_id) + _SAFE_NAME.sub("-", file.suffix.lower())
    private_folder(home)
    folder = private_folder(added_audio_dir(home))
    try:
        with replacing(folder / name) as tmp:
            shutil.copyfile(resolved, tmp)
            os.chmod(tmp, 0o600)
    except OSError as e:
        raise AudioDecodeError(f"{file}: cannot copy it to {folder} ({e}); check the path") from e
    return ADDED_PREFIX + name


def recording_seconds(file: Path) -> float:
    """The length of a recording in seconds, read from its header (nothing is decoded).

    Raises:
        AudioDecodeError: when the file is missing or not audio libsndfile reads.
    """
    try:
        info = sf.info(os.fspath(file))
    except (sf.LibsndfileError, RuntimeError, TypeError) as e:
        raise AudioDecodeError(
            f"{file}: cannot decode it as audio ({e}); give a WAV, FLAC, OGG or MP3 file"
        ) from e
    except OSError as e:
        raise AudioDecodeError(f"{file}: cannot read it ({e}); check the path") from e
    return float(info.frames) / float(info.samplerate) if info.samplerate else 0.0


def rms_dbfs(wave: np.ndarray) -> float:
    """The RMS level of a waveform in dB relative to full scale (``-inf`` for digital silence).

    Shapes: ``wave: (samples,)``.

    Examples:
        >>> round(rms_dbfs(np.ones(100, dtype=np.float32)), 1)
        0.0
        >>> rms_dbfs(np.zeros(100, dtype=np.float32))
        -inf
    """
    x = np.asarray(wave, dtype=np.float64)
    rms = math.sqrt(float(np.mean(x * x))) if x.size else 0.0
    return 20.0 * math.log10(rms) if rms > 0 else -math.inf
