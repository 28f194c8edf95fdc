"""The ``soundbridge`` command line.

Each command group lives in its own module under :mod:`soundbridge.commands`; this module
assembles them and is the one place where a failure becomes what a person reads: one line on
standard error, ``error: <what failed, why, what to do>``, and an exit status:

- 1: soundbridge could not do it: a :class:`~loaders.errors.SoundbridgeError`, or a Neo4j driver
  or connection failure that escaped a command (worded by :func:`kg.errors.database_error`, as
  the dashboard words it);
- 2: bad usage (click's errors, on one line too), or a bug: ``error: internal error: …``;
- 130: interrupted (Ctrl-C).

Tracebacks, and the driver's own log lines (each retry against a server that went away), are
for ``soundbridge --debug …`` or ``SOUNDBRIDGE_DEBUG=1``.
"""

from __future__ import annotations

import logging
import os
import socket
import sys
import time
import traceback
import warnings
from dataclasses import dataclass

import click
import neo4j.exceptions

from kg.config import DEFAULT_URI, URI_ENV
from kg.connection import DEFAULT_RETRY_SECONDS
from kg.errors import database_error
from loaders.errors import SoundbridgeError

DEBUG_ENV = "SOUNDBRIDGE_DEBUG"

# torch_geometric calls torch.jit.script on import; that deprecation is not our users' concern.
warnings.filterwarnings(
    "ignore", message="`torch.jit.script` is deprecated", category=FutureWarning
)


@dataclass
class _Run:
    """What :func:`main` needs to know about the command it runs."""

    debug: bool


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="soundbridge")
@click.option(
    "--debug",
    is_flag=True,
    envvar=DEBUG_ENV,
    help=f"On failure, print the traceback and the Neo4j driver's log too (or set {DEBUG_ENV}=1).",
)
@click.pass_context
def cli(ctx: click.Context, debug: bool) -> None:
    """soundbridge: a cross-cultural music recommender on a Neo4j knowledge graph."""
    if isinstance(ctx.obj, _Run):
        ctx.obj.debug = ctx.obj.debug or debug


def _register() -> None:
    from soundbridge.commands import (
        audio,
        build,
        concepts,
        graph,
        neo4j,
        recommend,
        review,
        review_queue,
        search,
        serve,
        synth,
        users,
    )

    cli.add_command(neo4j.neo4j)
    cli.add_command(graph.ingest_cmd)
    cli.add_command(graph.cypher)
    cli.add_command(build.build)
    cli.add_command(build.demo)
    cli.add_command(serve.serve)
    cli.add_command(audio.audio)
    cli.add_command(audio.add_track_cmd)
    cli.add_command(recommend.recommend)
    cli.add_command(recommend.export_user_recs_cmd)
    cli.add_command(recommend.gnn)
    cli.add_command(search.search)
    cli.add_command(users.users)
    cli.add_command(recommend.cross_evaluate_cmd)
    review.review.add_command(review_queue.queue_cmd)
    cli.add_command(review.review)
    cli.add_command(concepts.concepts)
    cli.add_command(synth.synth)


_register()


#: Connection failures below the driver that can escape it; any other ``OSError`` (a file that
#: cannot be read, a full disk) is not the database's and keeps its own wording. (A closed
#: standard output, ``soundbridge cypher … | head``, never gets here: click ends quietly.)
_CONNECTION_ERRORS = (ConnectionError, TimeoutError, socket.gaierror)
#: Driver warnings further apart than this belong to different episodes: the driver logs one per
#: failed attempt while it retries, at most a retry delay plus a connection attempt apart.
_EPISODE_GAP = DEFAULT_RETRY_SECONDS + 5.0


class _DriverLog(logging.Handler):
    """The Neo4j driver's log while a command runs: printed only with ``--debug``, and timed.

    The driver logs a warning for the connection it lost and for every attempt it retries, so
    the first warning of the last run of them says when the server stopped answering.
    """

    def __init__(self, run: _Run) -> None:
        super().__init__(logging.WARNING)
        self.run = run
        self.since: float | None = None
        self.last: float | None = None
        self.setFormatter(logging.Formatter("%(name)s: %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        if self.last is None or record.created - self.last > _EPISODE_GAP:
            self.since = record.created
        self.last = record.created
        if self.run.debug:
            click.echo(self.format(record), err=True)

    def waited(self) -> float | None:
        """Seconds since the server stopped answering, if the driver said so lately."""
        now = time.time()
        if self.since is None or self.last is None or now - self.last > _EPISODE_GAP:
            return None
        return now - self.since


def main(argv: list[str] | None = None) -> int:
    """Run the command line and return its exit status (see the module docstring).

    Args:
        argv: the arguments after ``soundbridge``; default ``sys.argv[1:]``.

    Returns:
        0 on success, 1 when soundbridge could not do it, 2 for bad usage or a bug, 130 when
        interrupted; the reason is printed on one line to standard error.
    """
    run = _Run(debug=os.environ.get(DEBUG_ENV, "").strip().lower() in ("1", "true", "yes", "on"))
    driver_log = _DriverLog(run)
    logger = logging.getLogger("neo4j")
    propagate = logger.propagate
    logger.addHandler(driver_log)
    logger.propagate = False  # our handler decides what reaches the terminal
    try:
        result = cli.main(args=argv, prog_name="soundbridge", standalone_mode=False, obj=run)
    except SoundbridgeError as e:
        return _fail(run, e, str(e), 1)
    except (neo4j.exceptions.Neo4jError, neo4j.exceptions.DriverError, *_CONNECTION_ERRORS) as e:
        uri = os.environ.get(URI_ENV, "").strip() or DEFAULT_URI
        return _fail(run, e, str(database_error(e, uri, waited=driver_log.waited())), 1)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        return 130
    except click.UsageError as e:
        hint = f" (see `{e.ctx.command_path} --help`)" if e.ctx is not None else ""
        return _fail(run, e, f"{e.format_message()}{hint}", e.exit_code)
    except click.ClickException as e:
        return _fail(run, e, e.format_message(), e.exit_code)
    except Exception as e:
        return _fail(run, e, _internal(e), 2)
    finally:
        logger.removeHandler(driver_log)
        logger.propagate = propagate
    # standalone_mode=False hands back ctx.exit()'s code (--help, --version: 0) or the command's
    # return value, which is None for every command.
    return result if isinstance(result, int) else 0


def _fail(run: _Run, error: BaseException, message: str, status: int) -> int:
    if run.debug:
        traceback.print_exception(error, file=sys.stderr)
    click.echo(f"error: {message}", err=True)
    return status


def _internal(error: BaseException) -> str:
    what = " ".join(str(error).split())
    return (
        f"internal error: {type(error).__name__}{': ' + what if what else ''} "
        "(run with --debug for the traceback)"
    )


if __name__ == "__main__":
    sys.exit(main())
