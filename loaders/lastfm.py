"""HetRec 2011 Last.fm 2k: users, artists, plays, friendships and tags, ``lastfm-hetrec2011/``.

Five tab-separated UTF-8 files with a header line, read literally (artist names contain ``"``):
``artists.dat`` (id, name, url, pictureURL), ``tags.dat`` (tagID, tagValue), ``user_artists.dat``
(userID, artistID, weight = play count), ``user_friends.dat`` (userID, friendID; each friendship
appears in both directions) and ``user_taggedartists.dat`` (userID, artistID, tagID, day, month,
year).

About 10% of each user's artists are withheld from ``user_artists.dat`` on purpose, for blind
evaluation: split a validation set out of what is here.

Known gap of the real data, handled and counted in :attr:`LastFM.skipped`:
``user_taggedartists.dat`` has 1,538 rows (390 distinct artists) naming artist ids that are absent
from ``artists.dat``; they are dropped (``skipped["tag_assignments_unknown_artist"]``). Any other
unknown id is an error.

Citation: Cantador, Brusilovsky & Kuflik (2011), HetRec 2011, RecSys (research, non-commercial).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from loaders.tables import Column, Table, read_table, require_folder

__all__ = ["LastFM", "load_lastfm"]


@dataclass(frozen=True, eq=False)
class LastFM:
    """The Last.fm tables; every id column is Int64.

    Attributes:
        users: ``user_id`` — every user appearing in any file (1,892), sorted.
        artists: ``artist_id`` (Int64), ``name``, ``url``, ``picture_url`` (string; the picture is
            ``<NA>`` for 444 artists) — 17,632 rows.
        plays: ``user_id``, ``artist_id``, ``weight`` (Int64, the play count) — one row per row
            of ``user_artists.dat``.
        friends: ``user_id``, ``friend_id`` — one row per row of ``user_friends.dat`` (both
            directions of each friendship).
        tags: ``tag_id`` (Int64), ``name`` (string) — 11,946 rows.
        tag_assignments: ``user_id``, ``artist_id``, ``tag_id``, ``day``, ``month``, ``year``
            (Int64) — the rows of ``user_taggedartists.dat`` whose artist is known.
        skipped: rows dropped on purpose, by reason (see the module docstring).
    """

    users: pd.DataFrame
    artists: pd.DataFrame
    plays: pd.DataFrame
    friends: pd.DataFrame
    tags: pd.DataFrame
    tag_assignments: pd.DataFrame
    skipped: dict[str, int] = field(default_factory=dict)


def load_lastfm(folder: str | os.PathLike[str]) -> LastFM:
    """Load HetRec 2011 Last.fm from its own folder.

    Args:
        folder: the dataset folder (``<data root>/lastfm-hetrec2011``).

    Returns:
        The :class:`LastFM` tables.

    Raises:
        DataError: a missing file, a file that is not UTF-8, a missing column, a malformed number,
            a duplicate, or an unknown id (a play of an unknown artist, a tag assignment of an
            unknown tag), naming the file, the line and the id.

    Examples:
        >>> from loaders.config import data_root
        >>> lfm = load_lastfm(data_root() / "lastfm-hetrec2011")  # doctest: +SKIP
        >>> len(lfm.users), len(lfm.artists), lfm.skipped  # doctest: +SKIP
        (1892, 17632, {'tag_assignments_unknown_artist': 1538})
    """
    root = require_folder(folder, "the HetRec 2011 Last.fm 2k dataset (*.dat files)")

    def tsv(name: str, columns: list[Column], what: str) -> Table:
        return read_table(root / name, columns, what=what, sep="\t", quoted=False)

    def ids(*names: tuple[str, str]) -> list[Column]:
        return [Column(src, out, "Int64", required=True) for src, out in names]

    artists = tsv(
        "artists.dat",
        ids(("id", "artist_id"))
        + [
            Column("name", "name", "text", required=True),
            Column("url", "url", "text"),
            Column("pictureURL", "picture_url", "text"),
        ],
        "Last.fm artists (id, name, url, pictureURL)",
    )
    artists.require_unique(["artist_id"], what="artist id")

    tags = tsv(
        "tags.dat",
        ids(("tagID", "tag_id")) + [Column("tagValue", "name", "text", required=True)],
        "Last.fm tags (tagID, tagValue)",
    )
    tags.require_unique(["tag_id"], what="tag id")

    plays = tsv(
        "user_artists.dat",
        ids(("userID", "user_id"), ("artistID", "artist_id"), ("weight", "weight")),
        "Last.fm play counts (userID, artistID, weight)",
    )
    plays.require_unique(["user_id", "artist_id"], what="(user, artist) pair")
    plays.require_known(
        "artist_id", artists.frame["artist_id"], what="artist", known_in="artists.dat"
    )
    _require_range(plays, "weight", 0, None, "a non-negative play count")

    friends = tsv(
        "user_friends.dat",
        ids(("userID", "user_id"), ("friendID", "friend_id")),
        "Last.fm friendships (userID, friendID)",
    )
    friends.require_unique(["user_id", "friend_id"], what="friendship")

    tagged = tsv(
        "user_taggedartists.dat",
        ids(
            ("userID", "user_id"),
            ("artistID", "artist_id"),
            ("tagID", "tag_id"),
            ("day", "day"),
            ("month", "month"),
            ("year", "year"),
        ),
        "Last.fm tag assignments (userID, artistID, tagID, day, month, year)",
    )
    tagged.require_unique(["user_id", "artist_id", "tag_id"], what="tag assignment")
    tagged.require_known("tag_id", tags.frame["tag_id"], what="tag", known_in="tags.dat")
    _require_range(tagged, "day", 1, 31, "a day of the month")
    _require_range(tagged, "month", 1, 12, "a month")
    unknown_artist = tagged.unresolved("artist_id", artists.frame["artist_id"])
    assignments = tagged.frame[~unknown_artist]

    user_ids = pd.concat(
        [
            plays.frame["user_id"],
            friends.frame["user_id"],
            friends.frame["friend_id"],
            tagged.frame["user_id"],
        ]
    )
    users = pd.DataFrame({"user_id": np.unique(user_ids.to_numpy(dtype=np.int64))}).astype("Int64")

    return LastFM(
        users=users,
        artists=artists.frame.reset_index(drop=True),
        plays=plays.frame.reset_index(drop=True),
        friends=friends.frame.reset_index(drop=True),
        tags=tags.frame.reset_index(drop=True),
        tag_assignments=assignments.reset_index(drop=True),
        skipped={"tag_assignments_unknown_artist": int(unknown_artist.sum())},
    )


def _require_range(table: Table, name: str, low: int, high: int | None, what: str) -> None:
    values = table.frame[name].to_numpy(dtype=np.int64)
    bad = values < low if high is None else (values < low) | (values > high)
    if bad.any():
        pos = int(bad.nonzero()[0][0])
        bounds = f"at least {low}" if high is None else f"{low} to {high}"
        raise table.error(
            pos,
            f"column {table.sources[name]!r}: {values[pos]} is out of range; expected {what} "
            f"({bounds})",
        )
