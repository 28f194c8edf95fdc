"""A private Neo4j for a benchmark: its own temporary home and free loopback port.

The benchmarks never touch the developer's server (``NEO4J_*``, port 7687, ``~/.soundbridge``):
:func:`private_neo4j` installs (if needed) and starts soundbridge's own server in a temporary
``SOUNDBRIDGE_HOME`` on a port the kernel picks, and stops it on the way out, however the block
ends. ``bench/`` is not a package; the scripts import this module by name.
"""

from __future__ import annotations

import contextlib
import os
import socket
import tempfile
from collections.abc import Iterator
from pathlib import Path

from kg.config import Neo4jSettings
from kg.server import Neo4jServer

__all__ = ["free_port", "private_neo4j"]


def free_port() -> int:
    """A loopback TCP port nothing listens on now (the kernel picks it; never Neo4j's 7687)."""
    while True:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = int(s.getsockname()[1])
        if port != 7687:
            return port


@contextlib.contextmanager
def private_neo4j(prefix: str) -> Iterator[tuple[Neo4jServer, Path, dict[str, str]]]:
    """Start a private server; yield it, its home and the environment that reaches it.

    The environment is this process's without its ``NEO4J_*`` variables, plus ``NEO4J_URI``
    and ``SOUNDBRIDGE_HOME`` for the private server (add ``NEO4J_PASSWORD`` from
    ``server.settings`` to hand it to a child process).
    """
    with tempfile.TemporaryDirectory(prefix=prefix) as tmp:
        env = {k: v for k, v in os.environ.items() if not k.startswith("NEO4J_")}
        env.update({"NEO4J_URI": f"bolt://127.0.0.1:{free_port()}", "SOUNDBRIDGE_HOME": tmp})
        server = Neo4jServer(Neo4jSettings.from_env(env))
        server.install()
        server.start(die_with_parent=True)
        try:
            yield server, Path(tmp), env
        finally:
            server.stop(force=True)
