"""The one exception root of soundbridge and its subclasses.

The root lives in the bottom layer (``loaders``) so that every layer above can raise and catch it
without an upward import. Catch :class:`SoundbridgeError` to handle anything soundbridge raises on
purpose; everything else is a bug.
"""

from __future__ import annotations

__all__ = ["SoundbridgeError", "ConfigError", "DataError"]


class SoundbridgeError(Exception):
    """Root of every error soundbridge raises on purpose."""


class ConfigError(SoundbridgeError):
    """A setting (environment variable, option, path) is missing or invalid."""


class DataError(SoundbridgeError):
    """An input file is missing or malformed.

    The message always names the file, the line or key where it went wrong, what was found and what
    was expected, so that it can be fixed without reading soundbridge's code.

    Args:
        path: the file (or folder) concerned.
        problem: what is wrong and what was expected.
        line: 1-based line number in the file (the header is line 1), when known.
        key: the JSON key or column concerned, when that is more useful than a line.
    """

    def __init__(
        self, path: object, problem: str, *, line: int | None = None, key: str | None = None
    ) -> None:
        self.path = str(path)
        self.problem = problem
        self.line = line
        self.key = key
        where = self.path
        if line is not None:
            where += f" line {line}"
        if key is not None:
            where += f" key {key!r}"
        super().__init__(f"{where}: {problem}")
