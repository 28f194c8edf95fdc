"""The ``soundbridge`` command line.

Each command group lives in its own module under :mod:`soundbridge.commands`; this module only
assembles them and turns :class:`~loaders.errors.SoundbridgeError` into a clean message and exit
code.
"""

from __future__ import annotations

import sys
import warnings

import click

from loaders.errors import SoundbridgeError

# torch_geometric calls torch.jit.script on import; that deprecation is not our users' concern.
warnings.filterwarnings(
    "ignore", message="`torch.jit.script` is deprecated", category=FutureWarning
)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="soundbridge")
def cli() -> None:
    """soundbridge: a cross-cultural music recommender on a Neo4j knowledge graph."""


def _register() -> None:
    from soundbridge.commands import audio, build, graph, neo4j, recommend, search, serve

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
    cli.add_command(recommend.cross_evaluate_cmd)


_register()


def main(argv: list[str] | None = None) -> int:
    """Run the command line; errors soundbridge raises on purpose exit 1 with their message."""
    try:
        cli.main(args=argv, prog_name="soundbridge", standalone_mode=False)
    except SoundbridgeError as e:
        click.echo(f"error: {e}", err=True)
        return 1
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        return 130
    except click.ClickException as e:
        e.show()
        return e.exit_code
    return 0


if __name__ == "__main__":
    sys.exit(main())
