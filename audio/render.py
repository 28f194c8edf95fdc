"""Content pairs from real scores: folk tunes rendered offline in several General MIDI instruments.

The same melody played by a violin and by a piano is the known answer for ``z_c``: what is played
is the same, how it sounds is not. Tunes come from the music21 corpus (the Essen folk song
collection, in ABC); their opening ``seconds`` are written to a Standard MIDI File (the small
writer below: one note-on/off stream per instrument) and rendered with FluidSynth and a General
MIDI soundfont (Debian: ``apt-get install -y fluidsynth fluid-soundfont-gm``).

Everything is cached under a folder from configuration (``$SOUNDBRIDGE_HOME/cache/render`` by
default): the parsed melodies as JSON, the rendered set as one ``.npz`` named after its settings.

Examples:
    >>> midi = midi_bytes([(0, 0.0, [(0.0, 0.5, 69)])])
    >>> midi[:4], len(midi) > 30
    (b'MThd', True)
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import struct
import subprocess
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from audio.errors import RenderError
from audio.frontend import load_audio
from loaders.files import replacing

__all__ = [
    "DEFAULT_INSTRUMENTS",
    "DEFAULT_COLLECTIONS",
    "SOUNDFONT_ENV",
    "Tune",
    "RenderedSet",
    "cache_dir",
    "find_soundfont",
    "load_tunes",
    "midi_bytes",
    "render_midi",
    "render_tunes",
]

#: General MIDI programs (0-based) and the names used in reports.
DEFAULT_INSTRUMENTS: tuple[tuple[int, str], ...] = (
    (0, "piano"),
    (24, "nylon guitar"),
    (40, "violin"),
    (73, "flute"),
    (56, "trumpet"),
    (21, "accordion"),
)
#: music21 corpus files (Essen folk songs, ABC opuses of about 300 tunes each).
DEFAULT_COLLECTIONS: tuple[str, ...] = (
    "essenFolksong/altdeu10.abc",
    "essenFolksong/altdeu20.abc",
    "essenFolksong/ballad10.abc",
    "essenFolksong/ballad20.abc",
    "essenFolksong/erk10.abc",
    "essenFolksong/kinder0.abc",
)
SOUNDFONT_ENV = "SOUNDBRIDGE_SOUNDFONT"
_SOUNDFONTS = (
    "/usr/share/sounds/sf2/FluidR3_GM.sf2",
    "/usr/share/sounds/sf2/default-GM.sf2",
    "/usr/share/soundfonts/FluidR3_GM.sf2",
)
_TICKS_PER_QUARTER = 480
_US_PER_QUARTER = 500_000  # 120 bpm: one tick is 1/960 s
_CACHE_VERSION = 1


@dataclass(frozen=True)
class Tune:
    """A melody: ``notes`` are ``(onset_seconds, duration_seconds, midi_pitch)``."""

    name: str
    notes: tuple[tuple[float, float, int], ...]


@dataclass(frozen=True, eq=False)
class RenderedSet:
    """Every tune rendered in every instrument.

    Attributes:
        waves: float32 at ``sample_rate``. Shapes: ``(n_tunes, n_instruments, samples)``.
        tunes: tune names, in order.
        instruments: instrument names, in order.
        sample_rate: Hz.
        seconds: the rendering time (not counting cache hits), for reports.
    """

    waves: np.ndarray
    tunes: list[str]
    instruments: list[str]
    sample_rate: int
    seconds: float = 0.0


def cache_dir(path: str | os.PathLike[str] | None = None) -> Path:
    """The render cache: ``path``, else ``$SOUNDBRIDGE_HOME/cache/render`` (``~/.soundbridge``)."""
    if path is not None:
        return Path(path)
    home = os.environ.get("SOUNDBRIDGE_HOME") or "~/.soundbridge"
    return Path(home).expanduser() / "cache" / "render"


def find_soundfont(path: str | os.PathLike[str] | None = None) -> Path:
    """Return a General MIDI soundfont: ``path``, ``$SOUNDBRIDGE_SOUNDFONT``, or Debian's.

    Raises:
        RenderError: when none exists, naming the apt packages that provide one.
    """
    candidates = [path, os.environ.get(SOUNDFONT_ENV), *_SOUNDFONTS]
    for c in candidates:
        if c and Path(c).is_file():
            return Path(c)
    raise RenderError(
        "no General MIDI soundfont found (looked at "
        + ", ".join(str(c) for c in candidates if c)
        + f"); install one with `apt-get install -y fluid-soundfont-gm` or set {SOUNDFONT_ENV}"
    )


def _fluidsynth() -> str:
    exe = shutil.which("fluidsynth")
    if exe is None:
        raise RenderError(
            "the fluidsynth program is not on PATH; install it with `apt-get install -y fluidsynth`"
        )
    return exe


def load_tunes(
    n_tunes: int,
    *,
    seconds: float = 3.0,
    seconds_per_quarter: float = 0.4,
    min_notes: int = 6,
    collections: Sequence[str] = DEFAULT_COLLECTIONS,
    cache: Path | None = None,
) -> list[Tune]:
    """The opening ``seconds`` of up to ``n_tunes`` melodies from the music21 corpus.

    Chords keep their highest pitch; rests are skipped; tunes with fewer than ``min_notes``
    onsets in the excerpt, or repeating an earlier excerpt note for note, are left out.

    Raises:
        RenderError: when music21 is missing or a collection cannot be parsed.
    """
    cache = cache_dir(cache)
    key = hashlib.sha1(
        json.dumps(
            [_CACHE_VERSION, list(collections), seconds, seconds_per_quarter, min_notes]
        ).encode()
    ).hexdigest()[:12]
    path = cache / f"tunes-{key}.json"
    if path.is_file():
        raw = json.loads(path.read_text())
        return [Tune(t["name"], tuple(tuple(n) for n in t["notes"])) for t in raw][:n_tunes]  # type: ignore[misc]
    try:
        from music21 import corpus
    except ImportError as e:
        raise RenderError("music21 is not installed; `pip install music21`") from e
    tunes: list[Tune] = []
    seen: set[tuple[int, ...]] = set()
    for coll in collections:
        try:
            opus = corpus.parse(coll)
        except Exception as e:  # music21 raises many types on a bad corpus entry
            raise RenderError(f"music21 corpus {coll!r}: cannot parse it ({e})") from e
        scores = opus.scores if hasattr(opus, "scores") else [opus]
        for i, score in enumerate(scores):
            notes: list[tuple[float, float, int]] = []
            for n in score.flatten().notes:
                onset = float(n.offset) * seconds_per_quarter
                if onset >= seconds:
                    break
                pitch = max(p.midi for p in n.pitches)
                dur = max(0.05, float(n.quarterLength) * seconds_per_quarter)
                notes.append(
                    (round(onset, 4), round(min(dur, seconds + 0.5 - onset), 4), int(pitch))
                )
            signature = tuple(p for _, _, p in notes)
            if len(notes) < min_notes or signature in seen:
                continue
            seen.add(signature)
            title = score.metadata.title if score.metadata is not None else None
            tunes.append(Tune(f"{coll}#{i}:{title or ''}", tuple(notes)))
    cache.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps([{"name": t.name, "notes": t.notes} for t in tunes]))
    return tunes[:n_tunes]


def _vlq(value: int) -> bytes:
    out = [value & 0x7F]
    value >>= 7
    while value:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    return bytes(reversed(out))


def midi_bytes(segments: Sequence[tuple[int, float, Sequence[tuple[float, float, int]]]]) -> bytes:
    """A format-0 Standard MIDI File playing ``segments`` at 120 bpm.

    Args:
        segments: ``(program, start_seconds, notes)``; notes are ``(onset, duration, pitch)`` in
            seconds relative to the segment start. Each segment gets its own channel (cycling over
            the 15 non-drum channels) and a program change at its start.

    Returns:
        The file's bytes.
    """
    ticks_per_second = _TICKS_PER_QUARTER * 1_000_000 / _US_PER_QUARTER
    events: list[tuple[int, int, bytes]] = []  # (tick, order, message): note-offs sort first
    channels = [c for c in range(16) if c != 9]
    for k, (program, start, notes) in enumerate(segments):
        ch = channels[k % len(channels)]
        t0 = int(round(start * ticks_per_second))
        events.append((t0, 0, bytes([0xC0 | ch, program & 0x7F])))
        for onset, dur, pitch in notes:
            on = t0 + int(round(onset * ticks_per_second))
            off = on + max(1, int(round(dur * ticks_per_second)))
            events.append((on, 2, bytes([0x90 | ch, pitch & 0x7F, 96])))
            events.append((off, 1, bytes([0x80 | ch, pitch & 0x7F, 0])))
    events.sort(key=lambda e: (e[0], e[1]))
    track = bytearray(b"\x00\xff\x51\x03" + _US_PER_QUARTER.to_bytes(3, "big"))
    last = 0
    for tick, _, msg in events:
        track += _vlq(tick - last) + msg
        last = tick
    track += b"\x00\xff\x2f\x00"
    header = b"MThd" + struct.pack(">IHHH", 6, 0, 1, _TICKS_PER_QUARTER)
    return header + b"MTrk" + struct.pack(">I", len(track)) + bytes(track)


def render_midi(midi: bytes, sample_rate: int, soundfont: Path | None = None) -> np.ndarray:
    """Render MIDI bytes with FluidSynth. Returns mono float32. Shapes: ``(samples,)``.

    Raises:
        RenderError: when FluidSynth or the soundfont is missing, or FluidSynth fails.
    """
    exe = _fluidsynth()
    sf2 = find_soundfont(soundfont)
    with tempfile.TemporaryDirectory(prefix="sb-render-") as tmp:
        mid, wav = Path(tmp) / "in.mid", Path(tmp) / "out.wav"
        mid.write_bytes(midi)
        cmd = [
            exe,
            "-ni",
            "-q",
            "-g",
            "0.5",
            "-r",
            str(sample_rate),
            "-F",
            str(wav),
            str(sf2),
            str(mid),
        ]
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if proc.returncode != 0 or not wav.is_file():
            raise RenderError(
                f"fluidsynth failed (exit {proc.returncode}): {proc.stderr.strip()[:300]}; "
                f"command: {' '.join(cmd)}"
            )
        return load_audio(wav, sample_rate)


def render_tunes(
    tunes: Sequence[Tune],
    *,
    instruments: Sequence[tuple[int, str]] = DEFAULT_INSTRUMENTS,
    sample_rate: int = 16_000,
    seconds: float = 3.0,
    gap: float = 1.0,
    cache: Path | None = None,
    soundfont: Path | None = None,
    log: Callable[[str], None] | None = None,
) -> RenderedSet:
    """Render every tune in every instrument (one FluidSynth run per instrument), cached.

    Returns:
        A :class:`RenderedSet` whose waves are ``seconds`` long. Shapes of ``waves``:
        ``(len(tunes), len(instruments), seconds * sample_rate)``.
    """
    cache = cache_dir(cache)
    key = hashlib.sha1(
        json.dumps(
            [_CACHE_VERSION, [t.notes for t in tunes], list(instruments), sample_rate, seconds, gap]
        ).encode()
    ).hexdigest()[:12]
    path = cache / f"rendered-{len(tunes)}x{len(instruments)}-{key}.npz"
    names = [t.name for t in tunes]
    inst_names = [name for _, name in instruments]
    if path.is_file():
        with np.load(path) as f:
            return RenderedSet(f["waves"], names, inst_names, sample_rate, float(f["seconds"]))
    start = time.perf_counter()
    n = int(round(seconds * sample_rate))
    stride = seconds + gap
    waves = np.zeros((len(tunes), len(instruments), n), dtype=np.float32)
    for j, (program, name) in enumerate(instruments):
        segments = [(program, i * stride, t.notes) for i, t in enumerate(tunes)]
        audio = render_midi(midi_bytes(segments), sample_rate, soundfont)
        for i in range(len(tunes)):
            s = int(round(i * stride * sample_rate))
            piece = audio[s : s + n]
            waves[i, j, : len(piece)] = piece
        if log is not None:
            log(
                f"rendered {len(tunes)} tunes on {name} ({time.perf_counter() - start:.1f}s so far)"
            )
    elapsed = time.perf_counter() - start
    with replacing(path) as tmp:
        np.savez(tmp, waves=waves, seconds=np.float64(elapsed))
    return RenderedSet(waves, names, inst_names, sample_rate, elapsed)
