"""Where the data lives: read from configuration, never hard-coded."""

from __future__ import annotations

import os
from pathlib import Path

from loaders.errors import ConfigError

__all__ = ["DATA_ENV", "data_root"]

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
