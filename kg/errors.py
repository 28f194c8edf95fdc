"""Errors of the database layer: the Neo4j server and the connection to it.

All of them derive from :class:`~loaders.errors.SoundbridgeError`, the one exception root, so the
CLI prints their message and exits 1. The two subclasses of :class:`DatabaseError` let callers tell
"not there (yet)" from "there, but refuses these credentials" (a starting server is the former
until it answers; the latter never fixes itself).
"""

from __future__ import annotations

from collections.abc import Sequence

from loaders.errors import SoundbridgeError

__all__ = ["DatabaseError", "DatabaseUnavailableError", "DatabaseAuthError", "UnknownCultureError"]


class DatabaseError(SoundbridgeError):
    """The Neo4j server cannot be installed, started, stopped or used.

    The message says what failed, where (URI, folder, log file) and how to fix it.
    """


class DatabaseUnavailableError(DatabaseError):
    """No Neo4j server answers at the configured URI (not running, still starting, wrong port)."""


class DatabaseAuthError(DatabaseError):
    """A Neo4j server answers but refuses the configured user and password."""


class UnknownCultureError(SoundbridgeError):
    """A culture name or id that matches no Culture node (or several); ``suggestions`` lists the
    closest known names when the caller could find some."""

    def __init__(self, message: str, suggestions: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.suggestions = list(suggestions)
