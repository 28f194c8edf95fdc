"""Synthetic NetEase-shaped data, deterministic by seed, from hundreds of rows to tens of millions.

:func:`generate` writes users, tracks, artists, play events, playlists, friendships and a culture
tree into one folder, in two shapes:

**The NetEase export** (what :func:`loaders.netease.load_netease` reads; see its docstring), so
that ``soundbridge ingest --source netease --netease DIR`` takes it like a real export:

* ``user_playlist/<uid>.json`` — one per user: ``{"code": 200, "more": false, "playlist": [{"id",
  "name", "userId", "creator": {"userId", "nickname"}, "subscribed", "trackCount"}…]}``, the
  user's own playlists first, then the ones they subscribed to (an empty list for a user with
  neither).
* ``playlist_detail/<pid>.json`` — one per playlist: ``{"code": 200, "playlist": {"id", "name",
  "userId", "creator", "subscribed", "trackCount", "tracks": [song…], "trackIds": [{"id"}…]}}``,
  ``tracks`` truncated to the first 10 songs as the API truncates it, ``trackIds`` complete.
* ``song_detail/songs-<n>.json`` — every song, 1,000 a file: ``{"code": 200, "songs": [song…],
  "privileges": []}``; a song is ``{"id", "name", "ar": [{"id", "name"}], "al": {"id", "name"},
  "dt"}``.

That shape holds no plays, friendships, cultures, factors or function labels, and it is one file
per user and per playlist held in memory by the loader: impractical at tens of millions of rows
(``netease_json=False`` leaves it out). So the whole graph is **also** written as CSV files that
``neo4j-admin database import full`` reads (header on the first line, ``,`` between fields, ``;``
inside arrays, the defaults of the tool), under ``bulk/``; :meth:`SynthSummary.import_command`
gives the command line. Ids follow the graph schema (docs/schema.md): ``"netease:<n>"`` for users,
tracks, artists and playlists, as ingestion names NetEase ids.

========================  ==========================================================================
``bulk/`` file            header
========================  ==========================================================================
``users.csv``             ``id:ID(User),nickname,taste,source,:LABEL`` (``taste``: the user's
                          cluster, a world region id)
``tracks.csv``            ``id:ID(Track),name,album,duration_ms:long,zc:float[],zs:float[],
                          za:float[],source,:LABEL``
``artists.csv``           ``id:ID(Artist),name,source,:LABEL``
``playlists.csv``         ``id:ID(Playlist),name,owner,:LABEL``
``cultures.csv``          ``id:ID(Culture),name,level,source,:LABEL``
``functions.csv``         ``id:ID(Function),name,:LABEL``
``listened.csv``          ``:START_ID(User),:END_ID(Artist),weight:long,:TYPE`` (``LISTENED``;
                          ``weight`` = the user's plays of the artist's tracks: the graph's
                          ``LISTENED`` joins users to artists, as Last.fm's play counts do)
``friend.csv``            ``:START_ID(User),:END_ID(User),:TYPE`` (``FRIEND``, both directions)
``collected.csv``         ``:START_ID(User),:END_ID(Track),:TYPE`` (``COLLECTED``: the user
                          created or subscribed to a playlist holding the track)
``in_playlist.csv``       ``:START_ID(Track),:END_ID(Playlist),:TYPE`` (``IN_PLAYLIST``)
``performed_by.csv``      ``:START_ID(Track),:END_ID(Artist),:TYPE`` (``PERFORMED_BY``)
``from_culture.csv``      ``:START_ID(Track),:END_ID(Culture),:TYPE`` (``FROM_CULTURE``: society)
``serves_function.csv``   ``:START_ID(Track),:END_ID(Function),:TYPE`` (``SERVES_FUNCTION``)
``part_of.csv``           ``:START_ID(Culture),:END_ID(Culture),:TYPE`` (``PART_OF``: society →
                          region → world region)
========================  ==========================================================================

Beside them: ``factors.npy`` (float32, ``(tracks, 48)``, row *i* = track ``netease:<i+1>``,
columns z_c | z_s | z_a; the CSV holds them rounded to 4 decimals), ``plays.npy`` (int64,
``(tracks,)``, the play events of each track, which ``LISTENED`` sums per artist) and
``synth.json`` (the
parameters, the constants below and the counts), written last: a folder without it is incomplete.
``CO_COLLECTED`` is derived, not generated: :func:`kg.cocollection.co_collection_weights` over the
collections.

**What is in it.**

* *Cultures*: ``cultures`` societies, ``ceil(cultures / 10)`` regions and ``min(8, regions)``
  world regions, every level non-empty, one parent each.
* *Taste clusters* are the world regions. An artist belongs to a society drawn uniformly; its
  tracks to the artist's society and so to a cluster.
* *Popularity*: track popularity is Zipf over a random ranking, ``p(r) ∝ r^-TRACK_EXPONENT``
  (1.0), so the rank–frequency curve of plays has log-log slope about −1.0. User activity (plays
  per user) is ``1 + `` a multinomial share ``∝ r^-USER_EXPONENT`` (0.8); tracks per artist
  ``1 + `` a share ``∝ r^-ARTIST_EXPONENT`` (1.0).
* *Plays*: each user belongs to a cluster (drawn in proportion to the cluster's popularity mass);
  a play is drawn from the user's cluster with probability ``PLAY_IN_CLUSTER`` (0.7), from every
  track otherwise, always by popularity. Drawing users in proportion to cluster mass keeps the
  overall track distribution exactly the Zipf one.
* *Playlists* (``users`` by default) belong to owners drawn by activity, hold ``Geometric(1/20)``
  distinct tracks (at most 1,000), drawn like plays with ``PLAYLIST_IN_CLUSTER`` (0.85). About one
  subscription per playlist: a uniform user subscribes to a playlist of their cluster with
  probability ``SUBSCRIBE_IN_CLUSTER`` (0.85), to any one otherwise. So the co-collection weight
  ``|U_i ∩ U_j| / |U_i|`` is larger between tracks of one cluster than across clusters.
* *Friendships*: each user starts ``Poisson(friends_per_user / 2)`` undirected ties, to a user of
  their own cluster with probability ``FRIEND_IN_CLUSTER`` (0.8); duplicates and self-ties are
  dropped, so the mean degree is a little under ``friends_per_user``.
* *Factors*: 3 × 16 float32 (z_c, z_s, z_a) per track: the society's centre plus noise, the
  society centres nested in their region's and world region's (spread 3.0, 1.5, 1.0), track noise
  1.0 (z_c), 0.5 (z_s), 1.0 (z_a); a labelled track's z_a is shifted towards its function's centre.
* *Function labels*: a ``FUNCTION_SHARE`` (0.2) of tracks get one of :data:`FUNCTIONS` (the CCMC
  vocabulary), uniformly.

**Determinism and memory.** Every stage draws from its own ``numpy.random.default_rng([seed,
stage, chunk])`` over fixed-size chunks, so a seed gives byte-identical files on any machine with
the same numpy (numpy keeps ``Generator`` streams stable only within a version).
Plays, collections, friendships and track rows are written chunk by chunk (about 2M plays a chunk);
what is held whole is per user, per track and per playlist (a few arrays of 4–8 bytes each), the
playlists' track lists (4 bytes a playlist track) and the friendship pairs (8 bytes each): a
peak of 1.34 GB measured for 1M users, 1M tracks, 1M playlists and 50M plays (docs/scaling.md).
"""

from __future__ import annotations

import json
import math
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from loaders.errors import ConfigError, DataError

__all__ = [
    "ARTIST_EXPONENT",
    "FACTOR_DIM",
    "FUNCTIONS",
    "SynthSummary",
    "TRACK_EXPONENT",
    "USER_EXPONENT",
    "check_out_dir",
    "check_sizes",
    "generate",
    "read_summary",
    "zipf_top_share",
]

#: Zipf exponent of track popularity: plays' rank–frequency slope is about ``-TRACK_EXPONENT``.
TRACK_EXPONENT = 1.0
#: Zipf exponent of user activity (plays per user, beyond the first).
USER_EXPONENT = 0.8
#: Zipf exponent of tracks per artist (beyond the first).
ARTIST_EXPONENT = 1.0
#: Probability that a play, a playlist track, a subscription or a friendship stays in the cluster.
PLAY_IN_CLUSTER = 0.7
PLAYLIST_IN_CLUSTER = 0.85
SUBSCRIBE_IN_CLUSTER = 0.85
FRIEND_IN_CLUSTER = 0.8
#: Subscriptions drawn per playlist (before self-subscriptions and repeats are dropped).
SUBSCRIPTIONS_PER_PLAYLIST = 1.0
MEAN_PLAYLIST_LENGTH = 20
MAX_PLAYLIST_LENGTH = 1000
#: Songs a ``playlist_detail`` response describes in full (the rest only in ``trackIds``).
DETAIL_TRACKS = 10
SONGS_PER_FILE = 1000
TRACKS_PER_ALBUM = 10
#: Share of tracks with a function label, and the labels (CCMC's, lower-case like Function ids).
FUNCTION_SHARE = 0.2
FUNCTIONS = (
    "dance",
    "healing",
    "love",
    "lullaby",
    "mourning",
    "play",
    "praise",
    "procession",
    "story",
    "work",
)
#: Dimensions of each factor block (z_c, z_s, z_a).
FACTOR_DIM = 16
SOCIETIES_PER_REGION = 10
MAX_WORLD_REGIONS = 8
PREFIX = "netease:"
#: Largest count of any entity: ids are stored as int32 inside.
MAX_SIZE = 2**31 - 1

# Chunk sizes fix where the random streams split, so they are constants, not options: changing
# one changes the output of every seed.
_PLAYS_PER_CHUNK = 1 << 21
_ROWS_PER_CHUNK = 1 << 20
_TRACKS_PER_CHUNK = 1 << 16
_USERS_PER_JSON_CHUNK = 1 << 14

# Stage numbers of the random streams: append, never renumber.
_S_CULTURES, _S_ARTISTS, _S_TRACKS, _S_FACTORS, _S_USERS = 1, 2, 3, 4, 5
_S_PLAYS, _S_PLAYLISTS, _S_PLAYLIST_TRACKS, _S_SUBSCRIPTIONS, _S_FRIENDS = 6, 7, 8, 9, 10

_JSON_DIRS = ("user_playlist", "playlist_detail", "song_detail")
_BULK = "bulk"
_FACTORS = "factors.npy"
_PLAYS = "plays.npy"
_MANIFEST = "synth.json"
_OUTPUTS = (*_JSON_DIRS, _BULK, _FACTORS, _PLAYS, _MANIFEST)
#: The counts of :class:`SynthSummary` that ``synth.json`` records.
_COUNTS = (
    "users", "tracks", "artists", "albums", "playlists", "societies", "regions", "world_regions",
    "plays", "listened", "playlist_tracks", "subscriptions", "collections", "friendships",
    "labelled_tracks",
)  # fmt: skip

_NODE_FILES: dict[str, tuple[str, ...]] = {
    "users": ("id:ID(User)", "nickname", "taste", "source", ":LABEL"),
    "tracks": (
        "id:ID(Track)",
        "name",
        "album",
        "duration_ms:long",
        "zc:float[]",
        "zs:float[]",
        "za:float[]",
        "source",
        ":LABEL",
    ),
    "artists": ("id:ID(Artist)", "name", "source", ":LABEL"),
    "playlists": ("id:ID(Playlist)", "name", "owner", ":LABEL"),
    "cultures": ("id:ID(Culture)", "name", "level", "source", ":LABEL"),
    "functions": ("id:ID(Function)", "name", ":LABEL"),
}


def _rel(src: str, dst: str, *props: str) -> tuple[str, ...]:
    return (f":START_ID({src})", f":END_ID({dst})", *props, ":TYPE")


_REL_FILES: dict[str, tuple[str, ...]] = {
    "listened": _rel("User", "Artist", "weight:long"),
    "friend": _rel("User", "User"),
    "collected": _rel("User", "Track"),
    "in_playlist": _rel("Track", "Playlist"),
    "performed_by": _rel("Track", "Artist"),
    "from_culture": _rel("Track", "Culture"),
    "serves_function": _rel("Track", "Function"),
    "part_of": _rel("Culture", "Culture"),
}


@dataclass(frozen=True)
class SynthSummary:
    """What :func:`generate` wrote.

    Attributes:
        out_dir: the folder.
        seed: the seed it was generated from.
        users, tracks, artists, albums, playlists: node counts.
        societies, regions, world_regions: the culture tree's levels (world regions are the
            taste clusters).
        plays: play events; ``listened`` the distinct (user, artist) rows they make.
        playlist_tracks: (playlist, track) rows; ``subscriptions`` (user, playlist) ones.
        collections: distinct (user, track) pairs of ``COLLECTED``.
        friendships: undirected ties (``friend.csv`` holds both directions of each).
        labelled_tracks: tracks with a function label.
        netease: the NetEase export root (``out_dir``), or None when it was left out.
        bulk: ``neo4j-admin`` CSV files by name (``"users"``, ``"listened"``, …).
        factors: ``factors.npy``. Shapes: ``(tracks, 3 * FACTOR_DIM)``.
        manifest: ``synth.json``.
        track_plays: ``plays.npy``, the play events per track (``LISTENED`` sums them per
            artist). Shapes: ``(tracks,)`` int64.
    """

    out_dir: Path
    seed: int
    users: int
    tracks: int
    artists: int
    albums: int
    playlists: int
    societies: int
    regions: int
    world_regions: int
    plays: int
    listened: int
    playlist_tracks: int
    subscriptions: int
    collections: int
    friendships: int
    labelled_tracks: int
    netease: Path | None
    bulk: dict[str, Path]
    factors: Path
    manifest: Path
    track_plays: Path | None = None

    def import_command(self, database: str = "neo4j") -> list[str]:
        """The ``neo4j-admin`` command line that imports ``bulk/`` into an empty ``database``.

        Examples:
            >>> s = SynthSummary(Path("d"), 0, *[1] * 15, None, {"users": Path("d/bulk/users.csv"),
            ...     "friend": Path("d/bulk/friend.csv")}, Path("d/f.npy"), Path("d/synth.json"))
            >>> s.import_command()  # doctest: +NORMALIZE_WHITESPACE
            ['neo4j-admin', 'database', 'import', 'full', '--nodes=d/bulk/users.csv',
             '--relationships=d/bulk/friend.csv', 'neo4j']
        """
        argv = ["neo4j-admin", "database", "import", "full"]
        argv += [f"--nodes={p}" for n, p in self.bulk.items() if n in _NODE_FILES]
        argv += [f"--relationships={p}" for n, p in self.bulk.items() if n in _REL_FILES]
        return [*argv, database]


def zipf_weights(n: int, exponent: float) -> np.ndarray:
    """Zipf probabilities of ranks 1 … n: ``r^-exponent``, normalised.

    Shapes: returns ``(n,)`` float64.

    Examples:
        >>> zipf_weights(3, 1.0).round(3).tolist()
        [0.545, 0.273, 0.182]
    """
    w = np.arange(1, n + 1, dtype=np.float64) ** -exponent
    return w / w.sum()


def zipf_top_share(n: int, exponent: float, fraction: float) -> float:
    """Expected share of draws that go to the top ``fraction`` of ``n`` Zipf-ranked items.

    Examples:
        >>> round(zipf_top_share(1000, 1.0, 0.01), 3)  # H(10) / H(1000)
        0.391
    """
    top = max(1, int(n * fraction))
    return float(zipf_weights(n, exponent)[:top].sum())


def read_summary(out_dir: str | os.PathLike[str]) -> SynthSummary:
    """The :class:`SynthSummary` of a finished :func:`generate` run, read from its ``synth.json``.

    Args:
        out_dir: the folder :func:`generate` (``soundbridge synth --out``) wrote.

    Returns:
        The summary, its paths inside ``out_dir``, every ``bulk/`` CSV checked to exist.

    Raises:
        DataError: ``out_dir`` is not a folder, has no ``synth.json`` (not a finished run), or
            lacks a CSV the manifest lists; the message says how to write it again.

    Examples:
        >>> import tempfile
        >>> with tempfile.TemporaryDirectory() as d:
        ...     _ = generate(d, users=20, tracks=50, artists=10, plays=200, cultures=20, seed=1)
        ...     read_summary(d).import_command()[4].endswith("users.csv")
        True
    """
    out = Path(out_dir)
    again = f"write it with `soundbridge synth --out {out} --force …`"
    if not out.is_dir():
        raise DataError(
            out, f"no such folder; give the --out folder of `soundbridge synth` ({again})"
        )
    manifest = out / _MANIFEST
    try:
        raw = json.loads(manifest.read_text(encoding="utf-8"))
        counts = {name: int(raw["counts"][name]) for name in _COUNTS}
        bulk = {str(name): out / str(rel) for name, rel in raw["bulk"].items()}
        seed, factors = int(raw["seed"]), out / str(raw["factors"])
        plays = raw.get("track_plays")
    except FileNotFoundError as e:
        raise DataError(
            manifest,
            f"missing: {out} is not a finished synthetic dataset (synth.json is written last); "
            + again,
        ) from e
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise DataError(manifest, f"unreadable ({e}); {again}") from e
    for name, path in bulk.items():
        if not path.is_file():
            raise DataError(
                path, f"missing: the bulk CSV of {name!r} that synth.json lists; {again}"
            )
    return SynthSummary(
        out_dir=out,
        seed=seed,
        **counts,
        netease=None if raw.get("netease") is None else out,
        bulk=bulk,
        factors=factors,
        manifest=manifest,
        track_plays=None if plays is None else out / str(plays),
    )


def check_sizes(
    *,
    users: int,
    tracks: int,
    artists: int,
    plays: int,
    cultures: int,
    seed: int,
    playlists: int | None = None,
    friends_per_user: int = 10,
) -> None:
    """Refuse sizes that cannot make a dataset, saying what to change.

    Raises:
        ConfigError: a count below its minimum or above :data:`MAX_SIZE`, more artists than
            tracks (every artist has a track), fewer plays than users (every user plays), more
            friends per user than other users, or a negative seed.

    Examples:
        >>> check_sizes(users=10, tracks=5, artists=9, plays=10, cultures=1, seed=0)
        Traceback (most recent call last):
        loaders.errors.ConfigError: 9 artists but only 5 tracks: every artist has at least one \
track; give at most 5 artists or at least 9 tracks
    """
    for name, value, least in (
        ("users", users, 1),
        ("tracks", tracks, 1),
        ("artists", artists, 1),
        ("cultures", cultures, 1),
        ("plays", plays, 1),
        ("playlists", 1 if playlists is None else playlists, 1),  # the export needs one
        ("friends per user", friends_per_user, 0),
    ):
        if value < least:
            raise ConfigError(f"{name} must be at least {least} (got {value:,})")
        if value > MAX_SIZE:
            raise ConfigError(f"{name} must be at most {MAX_SIZE:,} (got {value:,})")
    if seed < 0:
        raise ConfigError(f"seed must be a non-negative integer (got {seed})")
    if artists > tracks:
        raise ConfigError(
            f"{artists:,} artists but only {tracks:,} tracks: every artist has at least one "
            f"track; give at most {tracks:,} artists or at least {artists:,} tracks"
        )
    if plays < users:
        raise ConfigError(
            f"{plays:,} plays for {users:,} users: every user plays at least one track; give at "
            f"least {users:,} plays or at most {plays:,} users"
        )
    if friends_per_user >= users and friends_per_user > 0:
        raise ConfigError(
            f"{friends_per_user:,} friends per user among {users:,} users: a user can befriend "
            f"at most the {users - 1:,} others; give fewer friends per user (0 for none) or more "
            "users"
        )


def check_out_dir(
    out_dir: str | os.PathLike[str], *, overwrite: bool = False, fix: str = "overwrite=True"
) -> Path:
    """The output folder, refused when it holds anything and ``overwrite`` is off.

    Args:
        out_dir: the folder (it need not exist).
        overwrite: accept a non-empty folder.
        fix: how the caller turns ``overwrite`` on, for the message (the CLI's ``--force``).

    Raises:
        ConfigError: ``out_dir`` is a file, or a non-empty folder without ``overwrite``.
    """
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise ConfigError(f"{out}: is a file; give a folder to write the synthetic data into")
    if out.is_dir() and not overwrite:
        entries = sorted(p.name for p in out.iterdir())
        if entries:
            shown = ", ".join(entries[:3]) + (", …" if len(entries) > 3 else "")
            raise ConfigError(
                f"{out}: not empty ({len(entries)} {'entry' if len(entries) == 1 else 'entries'}: "
                f"{shown}); give an empty or new "
                f"folder, or {fix} to replace what an earlier run wrote there"
            )
    return out


def generate(
    out_dir: str | os.PathLike[str],
    *,
    users: int,
    tracks: int,
    artists: int,
    plays: int,
    cultures: int,
    seed: int,
    playlists: int | None = None,
    friends_per_user: int = 10,
    netease_json: bool = True,
    overwrite: bool = False,
    progress: bool = False,
) -> SynthSummary:
    """Write a synthetic NetEase-shaped dataset (see the module docstring for what and where).

    Args:
        out_dir: the folder; created if missing. With ``overwrite``, what an earlier run wrote
            there (the export folders, ``bulk/``, ``factors.npy``, ``plays.npy``,
            ``synth.json``) is removed first and anything else is left.
        users, tracks, artists: node counts (``artists <= tracks``).
        plays: play events (``>= users``: every user plays at least once).
        cultures: societies of the culture tree.
        seed: the random seed; the same arguments give byte-identical files.
        playlists: playlists to create; default one per user.
        friends_per_user: mean friendship degree to aim for; 0 for none.
        netease_json: also write the NetEase export files (one per user and per playlist).
        overwrite: write into a non-empty folder.
        progress: show a progress bar on standard error (when it is a terminal).

    Returns:
        The counts and paths written.

    Raises:
        ConfigError: impossible sizes (:func:`check_sizes`) or a non-empty ``out_dir``.

    Examples:
        >>> import tempfile
        >>> with tempfile.TemporaryDirectory() as d:
        ...     s = generate(d, users=20, tracks=50, artists=10, plays=200, cultures=20, seed=1)
        ...     (s.users, s.tracks, s.plays, s.world_regions, len(s.bulk))
        (20, 50, 200, 2, 14)
    """
    check_sizes(
        users=users,
        tracks=tracks,
        artists=artists,
        plays=plays,
        cultures=cultures,
        seed=seed,
        playlists=playlists,
        friends_per_user=friends_per_user,
    )
    out = check_out_dir(out_dir, overwrite=overwrite)
    if out.is_dir():
        for name in _OUTPUTS:
            path = out / name
            if path.is_dir():
                shutil.rmtree(path)
            elif path.exists():
                path.unlink()
    (out / _BULK).mkdir(parents=True, exist_ok=True)
    n_playlists = users if playlists is None else playlists
    units = tracks + plays + 2 * users + n_playlists
    with tqdm(
        total=units, desc="synth", unit="row", unit_scale=True, disable=None if progress else True
    ) as bar:
        return _Generator(out, seed, bar).run(
            users=users,
            tracks=tracks,
            artists=artists,
            plays=plays,
            cultures=cultures,
            playlists=n_playlists,
            friends_per_user=friends_per_user,
            netease_json=netease_json,
        )


# --- the generator ----------------------------------------------------------------------------


def _rng(seed: int, stage: int, chunk: int = 0) -> np.random.Generator:
    return np.random.default_rng([seed, stage, chunk])


def _spread(n: int, groups: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` group indices in ``[0, groups)``, every group used at least once (``n >= groups``)."""
    return rng.permutation(np.concatenate([np.arange(groups), rng.integers(0, groups, n - groups)]))


def _at_least_one(n: int, total: int, exponent: float, rng: np.random.Generator) -> np.ndarray:
    """``n`` counts summing to ``total``: 1 each plus a Zipf share over a random ranking."""
    ranks = rng.permutation(n)
    extra = rng.multinomial(total - n, zipf_weights(n, exponent))
    return (1 + extra[ranks]).astype(np.int64)


def _chunks(sizes: np.ndarray, target: int) -> Iterator[tuple[int, int]]:
    """Consecutive ``[start, stop)`` ranges whose ``sizes`` sum to about ``target`` (at least 1)."""
    ends = np.cumsum(sizes, dtype=np.int64)
    start = 0
    n = len(sizes)
    while start < n:
        base = ends[start - 1] if start else 0
        stop = int(np.searchsorted(ends, base + target, side="right"))
        stop = min(n, max(stop, start + 1))
        yield start, stop
        start = stop


def _ranges(starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Concatenated ``arange(s, s + l)`` for each pair, vectorised."""
    total = int(lengths.sum())
    if total == 0:
        return np.zeros(0, dtype=np.int64)
    offsets = np.repeat(starts - np.cumsum(lengths) + lengths, lengths)
    return offsets + np.arange(total, dtype=np.int64)


def _ids(values: np.ndarray) -> pd.Series:
    """Graph ids ``netease:<n>`` of 0-based indices."""
    return PREFIX + pd.Series(values + 1, dtype="int64").astype(str)


def _write(fh: IO[str], columns: dict[str, Any]) -> None:
    pd.DataFrame(columns).to_csv(fh, header=False, index=False, lineterminator="\n")


def _floats(block: np.ndarray) -> list[str]:
    """Rows of a float block as ``a;b;c`` (4 decimals), the array syntax of ``neo4j-admin``."""
    text = np.char.mod("%.4f", block)
    return [";".join(row) for row in text.tolist()]


class _Catalogue:
    """Tracks grouped by cluster with cumulative popularity, to draw tracks by inverse CDF."""

    def __init__(self, popularity: np.ndarray, cluster: np.ndarray, clusters: int) -> None:
        self.order = np.argsort(cluster, kind="stable")
        self.cum = np.cumsum(popularity[self.order])
        counts = np.bincount(cluster, minlength=clusters)
        self.end = np.cumsum(counts)
        self.start = self.end - counts
        self.after = np.where(counts > 0, self.cum[np.maximum(self.end - 1, 0)], 0.0)
        self.before = np.where(self.start > 0, self.cum[np.maximum(self.start - 1, 0)], 0.0)
        self.before[counts == 0] = 0.0
        self.mass = self.after - self.before  # popularity of each cluster (0 when empty)

    def draw(self, rng: np.random.Generator, clusters: np.ndarray, local: float) -> np.ndarray:
        """One track per entry of ``clusters``: from that cluster with probability ``local``."""
        m = len(clusters)
        x = rng.random(m)
        inside = rng.random(m) < local
        pos = np.empty(m, dtype=np.int64)
        c = clusters[inside]
        target = self.before[c] + x[inside] * self.mass[c]
        found = np.searchsorted(self.cum, target, side="right")
        pos[inside] = np.clip(found, self.start[c], self.end[c] - 1)  # float rounding at the edges
        out = ~inside
        pos[out] = np.searchsorted(self.cum, x[out] * self.cum[-1], side="right")
        np.minimum(pos, len(self.cum) - 1, out=pos)
        return self.order[pos]


class _Generator:
    def __init__(self, out: Path, seed: int, bar: tqdm[Any]) -> None:
        self.out = out
        self.seed = seed
        self.bar = bar
        self.bulk = out / _BULK
        self.files: dict[str, Path] = {}

    def _open(self, name: str) -> IO[str]:
        header = _NODE_FILES.get(name) or _REL_FILES[name]
        path = self.bulk / f"{name}.csv"
        self.files[name] = path
        fh = path.open("w", encoding="utf-8", newline="")
        fh.write(",".join(header) + "\n")
        return fh

    def run(
        self,
        *,
        users: int,
        tracks: int,
        artists: int,
        plays: int,
        cultures: int,
        playlists: int,
        friends_per_user: int,
        netease_json: bool,
    ) -> SynthSummary:
        seed = self.seed
        # Cultures: society -> region -> world region; world regions are the taste clusters.
        regions = math.ceil(cultures / SOCIETIES_PER_REGION)
        worlds = min(MAX_WORLD_REGIONS, regions)
        rng = _rng(seed, _S_CULTURES)
        society_region = _spread(cultures, regions, rng)
        region_world = _spread(regions, worlds, rng)
        society_world = region_world[society_region]
        dims = 3 * FACTOR_DIM
        world_centre = rng.normal(0.0, 3.0, (worlds, dims))
        region_centre = world_centre[region_world] + rng.normal(0.0, 1.5, (regions, dims))
        society_centre = region_centre[society_region] + rng.normal(0.0, 1.0, (cultures, dims))
        function_centre = rng.normal(0.0, 2.0, (len(FUNCTIONS), FACTOR_DIM))
        self._cultures(society_region, region_world)

        # Artists and tracks.
        rng = _rng(seed, _S_ARTISTS)
        artist_society = rng.integers(0, cultures, artists)
        per_artist = _at_least_one(artists, tracks, ARTIST_EXPONENT, rng)
        track_artist = rng.permutation(np.repeat(np.arange(artists), per_artist))
        rng = _rng(seed, _S_TRACKS)
        rank = rng.permutation(tracks)
        popularity = zipf_weights(tracks, TRACK_EXPONENT)[rank]
        duration = np.rint(rng.lognormal(np.log(240_000.0), 0.3, tracks)).astype(np.int64)
        labelled = rng.random(tracks) < FUNCTION_SHARE
        function = rng.integers(0, len(FUNCTIONS), tracks)
        track_society = artist_society[track_artist]
        track_cluster = society_world[track_society]
        # Albums: an artist's tracks, TRACKS_PER_ALBUM at a time, numbered artist by artist.
        by_artist = np.argsort(track_artist, kind="stable")
        first = np.cumsum(per_artist) - per_artist
        within = np.empty(tracks, dtype=np.int64)
        within[by_artist] = np.arange(tracks) - np.repeat(first, per_artist)
        albums_per_artist = -(-per_artist // TRACKS_PER_ALBUM)
        album_base = np.cumsum(albums_per_artist) - albums_per_artist
        track_album = album_base[track_artist] + within // TRACKS_PER_ALBUM
        self.song = _Songs(track_artist, track_album, duration)
        self._artists(artists)
        self._tracks(
            track_artist,
            track_society,
            labelled,
            function,
            duration,
            track_album,
            society_centre,
            function_centre,
        )
        catalogue = _Catalogue(popularity, track_cluster, worlds)

        # Users: a cluster by popularity mass, an activity by Zipf.
        rng = _rng(seed, _S_USERS)
        user_cluster = rng.choice(worlds, users, p=catalogue.mass / catalogue.mass.sum())
        activity = _at_least_one(users, plays, USER_EXPONENT, rng)
        self._users(user_cluster)
        listened = self._plays(catalogue, user_cluster, activity, track_artist, artists)

        # Playlists (ids in owner order, so each user's own are consecutive) and subscriptions.
        rng = _rng(seed, _S_PLAYLISTS)
        owner = np.sort(rng.choice(users, playlists, p=activity / activity.sum()))
        lengths = rng.geometric(1.0 / MEAN_PLAYLIST_LENGTH, playlists)
        np.minimum(lengths, MAX_PLAYLIST_LENGTH, out=lengths)
        indptr, pl_tracks = self._playlist_tracks(catalogue, owner, user_cluster, lengths)
        sub_user, sub_pl = self._subscriptions(user_cluster, owner, users)
        collections = self._collections(owner, indptr, pl_tracks, sub_user, sub_pl, users, tracks)
        friendships = self._friends(user_cluster, friends_per_user)
        if netease_json:
            self._netease(owner, indptr, pl_tracks, sub_user, sub_pl, users, tracks)

        # factors.npy is written by _tracks; the manifest last, marking the folder complete.
        summary = SynthSummary(
            out_dir=self.out,
            seed=seed,
            users=users,
            tracks=tracks,
            artists=artists,
            albums=int(albums_per_artist.sum()),
            playlists=playlists,
            societies=cultures,
            regions=regions,
            world_regions=worlds,
            plays=plays,
            listened=listened,
            playlist_tracks=int(indptr[-1]),
            subscriptions=len(sub_user),
            collections=collections,
            friendships=friendships,
            labelled_tracks=int(labelled.sum()),
            netease=self.out if netease_json else None,
            bulk={n: self.files[n] for n in (*_NODE_FILES, *_REL_FILES)},
            factors=self.out / _FACTORS,
            manifest=self.out / _MANIFEST,
            track_plays=self.out / _PLAYS,
        )
        self._manifest(summary)
        return summary

    # -- nodes ----------------------------------------------------------------------------------

    def _cultures(self, society_region: np.ndarray, region_world: np.ndarray) -> None:
        n_soc, n_reg, n_world = len(society_region), len(region_world), int(region_world.max()) + 1
        soc = [f"synth-society-{i + 1}" for i in range(n_soc)]
        reg = [f"synth-region-{i + 1}" for i in range(n_reg)]
        world = [f"synth-world-{i + 1}" for i in range(n_world)]
        with self._open("cultures") as fh:
            for ids, name, level in (
                (soc, "Society", "society"),
                (reg, "Region", "region"),
                (world, "World region", "world_region"),
            ):
                _write(
                    fh,
                    {
                        "id": ids,
                        "name": [f"{name} {i + 1}" for i in range(len(ids))],
                        "level": level,
                        "source": "synth",
                        "label": "Culture",
                    },
                )
        with self._open("part_of") as fh:
            _write(fh, {"a": soc, "b": [reg[r] for r in society_region], "t": "PART_OF"})
            _write(fh, {"a": reg, "b": [world[w] for w in region_world], "t": "PART_OF"})
        with self._open("functions") as fh:
            _write(
                fh,
                {"id": list(FUNCTIONS), "name": [f.title() for f in FUNCTIONS], "l": "Function"},
            )

    def _artists(self, artists: int) -> None:
        with self._open("artists") as fh:
            for a, b in _chunks(np.ones(artists, dtype=np.int64), _ROWS_PER_CHUNK):
                idx = np.arange(a, b)
                _write(
                    fh,
                    {
                        "id": _ids(idx),
                        "name": "Artist " + pd.Series(idx + 1).astype(str),
                        "source": "netease",
                        "l": "Artist",
                    },
                )

    def _tracks(
        self,
        track_artist: np.ndarray,
        track_society: np.ndarray,
        labelled: np.ndarray,
        function: np.ndarray,
        duration: np.ndarray,
        track_album: np.ndarray,
        society_centre: np.ndarray,
        function_centre: np.ndarray,
    ) -> None:
        n = len(track_artist)
        dims = 3 * FACTOR_DIM
        factors = np.lib.format.open_memmap(
            self.out / _FACTORS, mode="w+", dtype=np.float32, shape=(n, dims)
        )
        noise = np.repeat(np.array([1.0, 0.5, 1.0]), FACTOR_DIM)
        za = slice(2 * FACTOR_DIM, dims)
        with (
            self._open("tracks") as tr,
            self._open("performed_by") as pb,
            self._open("from_culture") as fc,
            self._open("serves_function") as sf,
        ):
            for k, (a, b) in enumerate(_chunks(np.ones(n, dtype=np.int64), _TRACKS_PER_CHUNK)):
                rng = _rng(self.seed, _S_FACTORS, k)
                idx = np.arange(a, b)
                z = society_centre[track_society[idx]] + rng.normal(0.0, 1.0, (b - a, dims)) * noise
                lab = labelled[idx]
                z[lab, za] = 0.5 * z[lab, za] + function_centre[function[idx][lab]]
                block = z.astype(np.float32)
                factors[a:b] = block
                ids = _ids(idx)
                _write(
                    tr,
                    {
                        "id": ids,
                        "name": "Track " + pd.Series(idx + 1).astype(str),
                        "album": "Album " + pd.Series(track_album[idx] + 1).astype(str),
                        "duration_ms": duration[idx],
                        "zc": _floats(block[:, :FACTOR_DIM]),
                        "zs": _floats(block[:, FACTOR_DIM : 2 * FACTOR_DIM]),
                        "za": _floats(block[:, za]),
                        "source": "netease",
                        "l": "Track",
                    },
                )
                _write(pb, {"a": ids, "b": _ids(track_artist[idx]), "t": "PERFORMED_BY"})
                _write(
                    fc,
                    {
                        "a": ids,
                        "b": "synth-society-" + pd.Series(track_society[idx] + 1).astype(str),
                        "t": "FROM_CULTURE",
                    },
                )
                _write(
                    sf,
                    {
                        "a": ids[lab].to_numpy(),
                        "b": np.asarray(FUNCTIONS)[function[idx][lab]],
                        "t": "SERVES_FUNCTION",
                    },
                )
                self.bar.update(b - a)
        factors.flush()
        del factors

    def _users(self, user_cluster: np.ndarray) -> None:
        with self._open("users") as fh:
            for a, b in _chunks(np.ones(len(user_cluster), dtype=np.int64), _ROWS_PER_CHUNK):
                idx = np.arange(a, b)
                _write(
                    fh,
                    {
                        "id": _ids(idx),
                        "nickname": "user" + pd.Series(idx + 1).astype(str),
                        "taste": "synth-world-" + pd.Series(user_cluster[idx] + 1).astype(str),
                        "source": "netease",
                        "l": "User",
                    },
                )

    # -- relationships --------------------------------------------------------------------------

    def _plays(
        self,
        catalogue: _Catalogue,
        user_cluster: np.ndarray,
        activity: np.ndarray,
        track_artist: np.ndarray,
        artists: int,
    ) -> int:
        """Play events user by user, aggregated per (user, artist): a user's plays share a chunk.

        The graph's ``LISTENED`` joins users to artists (docs/schema.md), so a play counts
        towards the artist of its track; the plays per track go to ``plays.npy``.
        """
        self.bar.set_description("synth plays")
        rows = 0
        per_track = np.zeros(len(track_artist), dtype=np.int64)
        with self._open("listened") as fh:
            for k, (a, b) in enumerate(_chunks(activity, _PLAYS_PER_CHUNK)):
                rng = _rng(self.seed, _S_PLAYS, k)
                user = np.repeat(np.arange(a, b, dtype=np.int64), activity[a:b])
                track = catalogue.draw(rng, user_cluster[user], PLAY_IN_CLUSTER)
                per_track += np.bincount(track, minlength=len(per_track))
                artist = track_artist[track].astype(np.int64)
                keys, counts = np.unique(user * artists + artist, return_counts=True)
                _write(
                    fh,
                    {
                        "u": _ids(keys // artists),
                        "a": _ids(keys % artists),
                        "w": counts,
                        "T": "LISTENED",
                    },
                )
                rows += len(keys)
                self.bar.update(len(user))
        np.save(self.out / _PLAYS, per_track)
        return rows

    def _playlist_tracks(
        self,
        catalogue: _Catalogue,
        owner: np.ndarray,
        user_cluster: np.ndarray,
        lengths: np.ndarray,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Each playlist's distinct tracks in drawing order, as CSR (``indptr``, tracks)."""
        self.bar.set_description("synth playlists")
        n_tracks = len(catalogue.cum)
        kept: list[np.ndarray] = []
        sizes = np.zeros(len(lengths), dtype=np.int64)
        for k, (a, b) in enumerate(_chunks(lengths, _ROWS_PER_CHUNK)):
            rng = _rng(self.seed, _S_PLAYLIST_TRACKS, k)
            local = np.repeat(np.arange(b - a, dtype=np.int64), lengths[a:b])
            track = catalogue.draw(rng, user_cluster[owner[a + local]], PLAYLIST_IN_CLUSTER)
            _, first = np.unique(local * n_tracks + track, return_index=True)
            first.sort()  # back to drawing order within each playlist
            kept.append(track[first].astype(np.int32))
            sizes[a:b] = np.bincount(local[first], minlength=b - a)
            self.bar.update(b - a)
        indptr = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
        pl_tracks = np.concatenate(kept) if kept else np.zeros(0, dtype=np.int32)
        with self._open("playlists") as fh, self._open("in_playlist") as ip:
            for a, b in _chunks(sizes, _ROWS_PER_CHUNK):
                idx = np.arange(a, b)
                _write(
                    fh,
                    {
                        "id": _ids(idx),
                        "name": "Playlist " + pd.Series(idx + 1).astype(str),
                        "owner": _ids(owner[idx]),
                        "l": "Playlist",
                    },
                )
                pl = np.repeat(idx, sizes[a:b])
                _write(
                    ip,
                    {
                        "t": _ids(pl_tracks[indptr[a] : indptr[b]].astype(np.int64)),
                        "p": _ids(pl),
                        "T": "IN_PLAYLIST",
                    },
                )
        return indptr, pl_tracks

    def _subscriptions(
        self, user_cluster: np.ndarray, owner: np.ndarray, users: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """Distinct (user, playlist) subscriptions, none to one's own, sorted by user."""
        playlists = len(owner)
        if playlists == 0:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
        rng = _rng(self.seed, _S_SUBSCRIPTIONS)
        n = int(round(playlists * SUBSCRIPTIONS_PER_PLAYLIST))
        user = rng.integers(0, users, n)
        order, start, counts = _groups(user_cluster[owner], int(user_cluster.max()) + 1)
        c = user_cluster[user]
        inside = (rng.random(n) < SUBSCRIBE_IN_CLUSTER) & (counts[c] > 0)
        x = rng.random(n)
        local = order[np.minimum(start[c] + (x * counts[c]).astype(np.int64), len(order) - 1)]
        anywhere = np.minimum((x * playlists).astype(np.int64), playlists - 1)
        pl = np.where(inside, local, anywhere)
        keep = owner[pl] != user
        keys = np.unique(user[keep] * playlists + pl[keep])
        return keys // playlists, keys % playlists

    def _collections(
        self,
        owner: np.ndarray,
        indptr: np.ndarray,
        pl_tracks: np.ndarray,
        sub_user: np.ndarray,
        sub_pl: np.ndarray,
        users: int,
        tracks: int,
    ) -> int:
        """``COLLECTED``: distinct tracks of the playlists each user created or subscribed to."""
        self.bar.set_description("synth collections")
        lengths = np.diff(indptr)
        own_start = np.searchsorted(owner, np.arange(users + 1))
        sub_start = np.searchsorted(sub_user, np.arange(users + 1))
        per_user = np.bincount(owner, weights=lengths, minlength=users) + np.bincount(
            sub_user, weights=lengths[sub_pl], minlength=users
        )
        rows = 0
        with self._open("collected") as fh:
            for a, b in _chunks(per_user.astype(np.int64), _ROWS_PER_CHUNK):
                own = slice(own_start[a], own_start[b])
                sub = slice(sub_start[a], sub_start[b])
                pl = np.concatenate([np.arange(own.start, own.stop), sub_pl[sub]])
                user = np.concatenate([owner[own], sub_user[sub]])
                n = lengths[pl]
                track = pl_tracks[_ranges(indptr[pl], n)].astype(np.int64)
                keys = np.unique(np.repeat(user, n) * tracks + track)
                _write(fh, {"u": _ids(keys // tracks), "t": _ids(keys % tracks), "T": "COLLECTED"})
                rows += len(keys)
                self.bar.update(b - a)
        return rows

    def _friends(self, user_cluster: np.ndarray, friends_per_user: int) -> int:
        """Undirected ties with homophily, written in both directions; returns the tie count."""
        self.bar.set_description("synth friends")
        users = len(user_cluster)
        order, start, counts = _groups(user_cluster, int(user_cluster.max()) + 1)
        keys: list[np.ndarray] = [np.zeros(0, dtype=np.int64)]
        for k, (a, b) in enumerate(_chunks(np.ones(users, dtype=np.int64), _ROWS_PER_CHUNK)):
            if friends_per_user > 0:
                rng = _rng(self.seed, _S_FRIENDS, k)
                u = np.repeat(
                    np.arange(a, b, dtype=np.int64), rng.poisson(friends_per_user / 2, b - a)
                )
                c = user_cluster[u]
                same = rng.random(len(u)) < FRIEND_IN_CLUSTER
                x = rng.random(len(u))
                local = order[
                    start[c] + np.minimum((x * counts[c]).astype(np.int64), counts[c] - 1)
                ]
                anywhere = np.minimum((x * users).astype(np.int64), users - 1)
                v = np.where(same, local, anywhere)
                keep = u != v
                lo, hi = np.minimum(u, v)[keep], np.maximum(u, v)[keep]
                keys.append(lo * users + hi)
            self.bar.update(b - a)
        pairs = np.unique(np.concatenate(keys))
        directed = np.sort(np.concatenate([pairs, (pairs % users) * users + pairs // users]))
        with self._open("friend") as fh:
            for a, b in _chunks(np.ones(len(directed), dtype=np.int64), _ROWS_PER_CHUNK):
                part = directed[a:b]
                _write(fh, {"a": _ids(part // users), "b": _ids(part % users), "T": "FRIEND"})
        return len(pairs)

    # -- the NetEase export ---------------------------------------------------------------------

    def _netease(
        self,
        owner: np.ndarray,
        indptr: np.ndarray,
        pl_tracks: np.ndarray,
        sub_user: np.ndarray,
        sub_pl: np.ndarray,
        users: int,
        tracks: int,
    ) -> None:
        self.bar.set_description("synth netease json")
        playlists = len(owner)
        self.bar.total = (self.bar.total or 0) + users + playlists
        folders = {name: self.out / name for name in _JSON_DIRS}
        for folder in folders.values():
            folder.mkdir()
        song = self.song
        for start in range(0, tracks, SONGS_PER_FILE):
            songs = [song(t) for t in range(start, min(tracks, start + SONGS_PER_FILE))]
            _dump(
                folders["song_detail"] / f"songs-{start // SONGS_PER_FILE + 1:06d}.json",
                {"code": 200, "songs": songs, "privileges": []},
            )
        lengths = np.diff(indptr)

        def entry(p: int, subscribed: bool) -> dict[str, Any]:
            uid = int(owner[p]) + 1
            return {
                "id": p + 1,
                "name": f"Playlist {p + 1}",
                "userId": uid,
                "creator": {"userId": uid, "nickname": f"user{uid}"},
                "subscribed": subscribed,
                "trackCount": int(lengths[p]),
            }

        for p in range(playlists):
            ids = pl_tracks[indptr[p] : indptr[p + 1]].tolist()
            detail = entry(p, False)
            detail["tracks"] = [song(t) for t in ids[:DETAIL_TRACKS]]
            detail["trackIds"] = [{"id": t + 1} for t in ids]
            _dump(folders["playlist_detail"] / f"{p + 1}.json", {"code": 200, "playlist": detail})
            self.bar.update(1)
        own_start = np.searchsorted(owner, np.arange(users + 1)).tolist()
        sub_start = np.searchsorted(sub_user, np.arange(users + 1)).tolist()
        subscribed = sub_pl.tolist()
        for u in range(users):
            listed = [entry(p, False) for p in range(own_start[u], own_start[u + 1])]
            listed += [entry(p, True) for p in subscribed[sub_start[u] : sub_start[u + 1]]]
            _dump(
                folders["user_playlist"] / f"{u + 1}.json",
                {"code": 200, "more": False, "playlist": listed},
            )
            self.bar.update(1)

    def _manifest(self, s: SynthSummary) -> None:
        def rel(p: Path) -> str:
            return p.relative_to(self.out).as_posix()

        manifest = {
            "generator": "loaders.synth",
            "seed": s.seed,
            "constants": {
                "track_exponent": TRACK_EXPONENT,
                "user_exponent": USER_EXPONENT,
                "artist_exponent": ARTIST_EXPONENT,
                "play_in_cluster": PLAY_IN_CLUSTER,
                "playlist_in_cluster": PLAYLIST_IN_CLUSTER,
                "subscribe_in_cluster": SUBSCRIBE_IN_CLUSTER,
                "friend_in_cluster": FRIEND_IN_CLUSTER,
                "function_share": FUNCTION_SHARE,
                "factor_dim": FACTOR_DIM,
                "functions": list(FUNCTIONS),
            },
            "counts": {name: getattr(s, name) for name in _COUNTS},
            "netease": None if s.netease is None else ".",
            "bulk": {name: rel(path) for name, path in s.bulk.items()},
            "factors": rel(s.factors),
            "track_plays": None if s.track_plays is None else rel(s.track_plays),
        }
        _dump(s.manifest, manifest, indent=2)


class _Songs:
    """NetEase song objects of tracks, by 0-based index."""

    def __init__(self, artist: np.ndarray, album: np.ndarray, duration: np.ndarray) -> None:
        self.artist = artist
        self.album = album
        self.duration = duration

    def __call__(self, t: int) -> dict[str, Any]:
        a, al = int(self.artist[t]) + 1, int(self.album[t]) + 1
        return {
            "id": t + 1,
            "name": f"Track {t + 1}",
            "ar": [{"id": a, "name": f"Artist {a}"}],
            "al": {"id": al, "name": f"Album {al}"},
            "dt": int(self.duration[t]),
        }


def _groups(labels: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Indices sorted by label, and each label's start and count in that order."""
    order = np.argsort(labels, kind="stable")
    counts = np.bincount(labels, minlength=n)
    return order, np.cumsum(counts) - counts, counts


def _dump(path: Path, obj: object, indent: int | None = None) -> None:
    separators = None if indent else (",", ":")
    text = json.dumps(obj, ensure_ascii=False, indent=indent, separators=separators)
    path.write_text(text + "\n", encoding="utf-8")
