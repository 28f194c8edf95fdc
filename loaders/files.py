"""Writing files so that a reader never sees half of one.

Every cache, checkpoint, configuration and state file of the project is written through
:func:`replacing`: the content goes to a temporary sibling, which replaces the target only once it
is complete, so an interrupted run leaves the previous file (or none), never a truncated one.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = ["replacing"]


@contextmanager
def replacing(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success it replaces ``path``.

    The temporary name keeps ``path``'s suffix (``np.savez`` and ``np.save`` append theirs to a
    name without it) and starts with a dot. The parent folder is created. If the block raises,
    the temporary file is removed and ``path`` is left as it was.

    Examples:
        >>> import tempfile
        >>> target = Path(tempfile.mkdtemp()) / "state.json"
        >>> with replacing(target) as tmp:
        ...     _ = tmp.write_text("{}")
        >>> target.read_text(), sorted(p.name for p in target.parent.iterdir())
        ('{}', ['state.json'])
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.tmp{path.suffix}")
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
