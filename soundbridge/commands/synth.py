"""``soundbridge synth``: write a synthetic NetEase-shaped dataset (see :mod:`loaders.synth`)."""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Any

import click

from loaders.errors import ConfigError
from loaders.synth import check_out_dir, check_sizes, generate
from soundbridge.commands.params import NonBlankPath

__all__ = ["synth"]


@click.command("synth")
@click.option("--users", type=int, default=1_000, show_default=True, help="Users.")
@click.option("--tracks", type=int, default=5_000, show_default=True, help="Tracks.")
@click.option(
    "--artists", type=int, default=500, show_default=True, help="Artists (at most --tracks)."
)
@click.option(
    "--plays",
    type=int,
    default=50_000,
    show_default=True,
    help="Play events (at least --users: everyone plays).",
)
@click.option(
    "--cultures",
    type=int,
    default=40,
    show_default=True,
    help="Societies; 10 make a region, up to 8 world regions are the taste clusters.",
)
@click.option("--playlists", type=int, default=None, help="Playlists  [default: one per user]")
@click.option(
    "--friends-per-user",
    type=int,
    default=10,
    show_default=True,
    help="Mean friendship degree to aim for (0 for none).",
)
@click.option("--seed", type=int, default=0, show_default=True, help="Random seed.")
@click.option(
    "--out",
    type=NonBlankPath(file_okay=False, path_type=Path),
    required=True,
    help="Folder to write into (new or empty).",
)
@click.option(
    "--force", is_flag=True, help="Write into a non-empty --out, replacing an earlier run's files."
)
@click.option(
    "--bulk-only",
    is_flag=True,
    help="Leave out the NetEase JSON export (a file per user and per playlist): CSVs only.",
)
def synth(
    users: int,
    tracks: int,
    artists: int,
    plays: int,
    cultures: int,
    playlists: int | None,
    friends_per_user: int,
    seed: int,
    out: Path,
    force: bool,
    bulk_only: bool,
) -> None:
    """Write synthetic NetEase-shaped data: the API export and neo4j-admin CSVs."""
    sizes: dict[str, Any] = {
        "users": users,
        "tracks": tracks,
        "artists": artists,
        "plays": plays,
        "cultures": cultures,
        "seed": seed,
        "playlists": playlists,
        "friends_per_user": friends_per_user,
    }
    try:
        check_sizes(**sizes)
        check_out_dir(out, overwrite=force, fix="give --force")
    except ConfigError as e:
        raise click.UsageError(str(e)) from e
    s = generate(
        out,
        **sizes,
        netease_json=not bulk_only,
        overwrite=force,
        progress=True,
    )
    echo = click.echo
    echo(
        f"wrote {s.out_dir}: {s.users:,} users, {s.tracks:,} tracks, {s.artists:,} artists, "
        f"{s.societies:,} societies in {s.regions:,} regions and {s.world_regions:,} world regions"
    )
    echo(
        f"plays: {s.plays:,} ({s.listened:,} LISTENED rows); playlists: {s.playlists:,} "
        f"({s.playlist_tracks:,} tracks, {s.subscriptions:,} subscriptions, "
        f"{s.collections:,} COLLECTED); friendships: {s.friendships:,}; "
        f"function labels: {s.labelled_tracks:,}"
    )
    if s.netease is not None:
        ingest = f"soundbridge ingest --source netease --netease {shlex.quote(str(out))}"
        echo(f"NetEase export: {s.netease} (load it with: {ingest})")
    echo(f"factors: {s.factors}")
    echo(
        "bulk CSVs, for an empty database: load them with "
        f"`soundbridge ingest --bulk {shlex.quote(str(out))}` (then co-collection and the schema "
        "are derived), or import them by hand with:"
    )
    echo("  " + shlex.join(s.import_command()))
