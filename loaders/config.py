"""Where the data lives (read from configuration, never hard-coded), and when it changed."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from loaders.errors import ConfigError

__all__ = ["DATA_ENV", "data_root", "inputs_fingerprint"]

DATA_ENV = "SOUNDBRIDGE_DATA"


def data_root(path: str | os.PathLike[str] | None = None) -> Path:
    """Return the root folder of the real datasets.

    Args:
        path: an explicit folder; when ``None`` the ``SOUNDBRIDGE_DATA`` environment variable is
            used.

    Raises:
        ConfigError: when neither is given or the folder does not exist.

    Examples:
        >>> import tempfile
        >>> data_root(tempfile.gettempdir()).is_dir()
        True
    """
    raw = os.fspath(path) if path is not None else os.environ.get(DATA_ENV)
    if not raw:
        raise ConfigError(
            f"no data folder configured: set {DATA_ENV} to the folder that holds ccmc/, "
            "lastfm-hetrec2011/, cantometrics/, nhs-expanded/ and kgcn-music/ "
            "(make sets it to the shared data folder beside the repository)"
        )
    root = Path(raw).expanduser()
    if not root.is_dir():
        raise ConfigError(
            f"{DATA_ENV}={raw}: no such folder; point it at the datasets' root folder"
        )
    return root


def inputs_fingerprint(paths: Iterable[Path], params: Mapping[str, Any] | None = None) -> str:
    """A hex digest that changes when an input file or a setting changes.

    Each file counts by path, size and modification time (not content: cheap on gigabytes of
    audio); ``params`` count by their JSON form. The build steps compare it with the digest
    stored after their last successful run to skip work whose inputs did not change.

    Examples:
        >>> inputs_fingerprint([], {"seed": 0}) == inputs_fingerprint([], {"seed": 0})
        True
        >>> inputs_fingerprint([], {"seed": 0}) == inputs_fingerprint([], {"seed": 1})
        False
    """
    h = hashlib.sha256(json.dumps(dict(params or {}), sort_keys=True, default=str).encode())
    for p in paths:
        st = p.stat()
        h.update(f"{p}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return h.hexdigest()
