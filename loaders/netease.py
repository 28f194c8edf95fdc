"""NetEase Cloud Music exports: responses of the NeteaseCloudMusicApi saved as JSON files.

No public dump of NetEase Cloud Music exists; this reads what an exporter saves from the
`NeteaseCloudMusicApi <https://github.com/Binaryify/NeteaseCloudMusicApi>`_ endpoints, one response
per file, under the export folder:

* ``user_playlist/<uid>.json`` — ``/user/playlist?uid=<uid>`` (further pages as
  ``<uid>-<n>.json``): ``{"code": 200, "more": false, "playlist": [{"id", "name", "userId",
  "creator": {"userId", "nickname"}, "subscribed", "trackCount", …}]}``. The response does not
  repeat the uid it was asked for, so the file name carries it. A listed playlist whose
  ``userId`` is the uid was *created* by the user; any other was *subscribed* (collected) by them.
* ``playlist_detail/*.json`` — ``/playlist/detail?id=<id>``: ``{"code": 200, "playlist": {"id",
  "name", "userId", "creator": {…}, "trackCount", "tracks": [song…], "trackIds": [{"id"}…]}}``.
  ``tracks`` is truncated for long playlists (and for anonymous requests); ``trackIds`` lists
  every track, in order, and is the reference.
* ``song_detail/*.json`` — ``/song/detail?ids=<id,id,…>``: ``{"code": 200, "songs": [song…],
  "privileges": […]}``, the songs that the truncated ``tracks`` left out (optional folder).

A song is ``{"id", "name", "ar": [{"id", "name"}…], "al": {"id", "name"}, "dt": milliseconds}``.
Cloud uploads (a user's own files) carry the placeholder artist ``{"id": 0}`` and album
``{"id": 0}``: the placeholder artist would link unrelated songs, so those song→artist rows are
dropped and counted in ``skipped["song_artists_unknown_artist"]``, and the album is ``<NA>``.

Where the same song or user appears in several files, the first file in sorted path order
(``playlist_detail`` before ``song_detail``) gives its name.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from loaders.errors import DataError
from loaders.tables import read_text, require_folder

__all__ = ["NetEase", "load_netease"]

_FOLDERS = {
    "user_playlist": "NeteaseCloudMusicApi /user/playlist responses, one file per user named "
    "<uid>.json",
    "playlist_detail": "NeteaseCloudMusicApi /playlist/detail responses, one file per playlist",
    "song_detail": "NeteaseCloudMusicApi /song/detail responses",
}
_ID = "Int64"
_UID_FILE = re.compile(r"(\d+)(?:[-_.].*)?")


@dataclass(frozen=True, eq=False)
class NetEase:
    """The NetEase tables; ids are Int64, names string.

    Attributes:
        users: ``user_id``, ``nickname`` — every exported user and every playlist owner, sorted.
        playlists: ``playlist_id``, ``user_id`` (the owner), ``name``, ``subscribed`` (bool: some
            exported user other than the owner collected it), ``track_count`` (Int64, as the API
            reports it) — one row per ``playlist_detail`` response, sorted by id.
        songs: ``song_id``, ``name``, ``album_id`` (``<NA>`` for cloud uploads), ``album_name``,
            ``duration_ms`` (Int64) — every song in any response, sorted by id.
        artists: ``artist_id``, ``name`` — sorted by id, without the placeholder artist 0.
        song_artists: ``song_id``, ``artist_id`` — credited artists, in credit order.
        playlist_tracks: ``playlist_id``, ``song_id``, ``position`` (Int64, 0-based) — every track
            of every playlist, in playlist order.
        user_playlists: ``user_id``, ``playlist_id``, ``relation`` (``"created"`` or
            ``"subscribed"``) — what each ``user_playlist`` response lists.
        collections: ``user_id``, ``song_id`` — distinct pairs: the user created or subscribed to
            a playlist holding the song. Sorted.
        skipped: rows dropped on purpose, by reason (see the module docstring).
    """

    users: pd.DataFrame
    playlists: pd.DataFrame
    songs: pd.DataFrame
    artists: pd.DataFrame
    song_artists: pd.DataFrame
    playlist_tracks: pd.DataFrame
    user_playlists: pd.DataFrame
    collections: pd.DataFrame
    skipped: dict[str, int] = field(default_factory=dict)


def load_netease(folder: str | os.PathLike[str]) -> NetEase:
    """Load a NetEase Cloud Music export folder.

    Args:
        folder: the export folder, holding ``user_playlist/``, ``playlist_detail/`` and
            optionally ``song_detail/``.

    Returns:
        The :class:`NetEase` tables.

    Raises:
        DataError: a missing folder, a file that is not UTF-8 or not JSON (naming line and
            column), a response whose ``code`` is not 200, a missing key or a value of the wrong
            type (naming the key path, e.g. ``playlist.tracks[3].ar``), a listed playlist without a
            ``playlist_detail`` response, a track id that no response describes, or a user whose
            playlist pages all say ``"more": true`` (truncated).

    Examples:
        >>> ne = load_netease("tests/fixtures/netease")  # doctest: +SKIP
        >>> len(ne.users), len(ne.playlists)  # doctest: +SKIP
        (4, 6)
    """
    root = require_folder(folder, f"a NetEase export with {', '.join(_FOLDERS)} folders")
    state = _State()
    for path in _json_files(root, "user_playlist", required=True):
        state.read_user_playlist(path)
    for path in _json_files(root, "playlist_detail", required=True):
        state.read_playlist_detail(path)
    for path in _json_files(root, "song_detail", required=False):
        state.read_song_detail(path)
    return state.finish()


def _json_files(root: Path, name: str, *, required: bool) -> list[Path]:
    folder = root / name
    if not folder.is_dir():
        if required:
            raise DataError(folder, f"folder not found; expected {_FOLDERS[name]}")
        return []
    files = sorted(folder.glob("*.json"))
    if required and not files:
        raise DataError(folder, f"no *.json files; expected {_FOLDERS[name]}")
    return files


def _read_response(path: Path, what: str) -> dict[str, Any]:
    """Parse one API response and check its ``code``."""
    text = read_text(path, what)
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise DataError(
            path,
            f"malformed JSON at column {e.colno}: {e.msg}; expected {what}",
            line=e.lineno,
        ) from e
    if not isinstance(data, dict):
        raise DataError(path, f"expected a JSON object at the top level; expected {what}")
    code = _get(path, data, "", "code")
    if code != 200:
        message = data.get("message") or data.get("msg")
        raise DataError(
            path,
            f"the API answered code {code!r}"
            + (f" ({message})" if message else "")
            + "; expected 200: the export saved an error response, fetch it again",
            key="code",
        )
    return data


def _where(at: str, key: str) -> str:
    return f"{at}.{key}" if at else key


def _get(path: Path, obj: object, at: str, key: str) -> Any:
    if not isinstance(obj, dict):
        raise DataError(path, f"expected a JSON object, found {_kind(obj)}", key=at or "$")
    if key not in obj:
        raise DataError(path, "missing key", key=_where(at, key))
    return obj[key]


def _int(path: Path, obj: object, at: str, key: str) -> int:
    value = _get(path, obj, at, key)
    if isinstance(value, bool) or not isinstance(value, int):
        raise DataError(path, f"expected an integer, found {value!r}", key=_where(at, key))
    return value


def _text(path: Path, obj: object, at: str, key: str) -> str:
    value = _get(path, obj, at, key)
    if not isinstance(value, str):
        raise DataError(path, f"expected a string, found {value!r}", key=_where(at, key))
    return value


def _optional_text(path: Path, obj: object, at: str, key: str) -> str | None:
    """A string that the API may send as ``null`` (cloud uploads' album name, nicknames)."""
    value = _get(path, obj, at, key)
    if value is not None and not isinstance(value, str):
        raise DataError(path, f"expected a string or null, found {value!r}", key=_where(at, key))
    return value


def _list(path: Path, obj: object, at: str, key: str) -> list[Any]:
    value = _get(path, obj, at, key)
    if not isinstance(value, list):
        raise DataError(path, f"expected a list, found {_kind(value)}", key=_where(at, key))
    return value


def _kind(value: object) -> str:
    return {dict: "an object", list: "a list", str: "a string", type(None): "null"}.get(
        type(value), type(value).__name__
    )


def _frame(rows: Iterable[tuple[Any, ...]], dtypes: dict[str, Any]) -> pd.DataFrame:
    """A table from row tuples, with one dtype per column."""
    return pd.DataFrame(list(rows), columns=list(dtypes)).astype(dtypes)


@dataclass
class _Song:
    name: str
    album_id: int | None
    album_name: str | None
    duration_ms: int
    artists: list[tuple[int, str | None]]


@dataclass
class _Playlist:
    path: Path
    owner: int
    name: str
    track_count: int
    track_ids: list[tuple[int, str]]  # (song id, key path) in playlist order


class _State:
    """What the files said so far; :meth:`finish` checks references and builds the tables."""

    def __init__(self) -> None:
        self.nicknames: dict[int, str | None] = {}
        self.exported_users: set[int] = set()
        self.more: dict[int, list[tuple[Path, bool]]] = {}
        self.listed: list[tuple[int, int, str, Path, str]] = []  # uid, pid, relation, file, key
        self.playlists: dict[int, _Playlist] = {}
        self.songs: dict[int, _Song] = {}

    def _user(self, path: Path, creator: object, at: str) -> int:
        uid = _int(path, creator, at, "userId")
        nickname = _optional_text(path, creator, at, "nickname")
        if self.nicknames.get(uid) is None:
            self.nicknames[uid] = nickname
        return uid

    def read_user_playlist(self, path: Path) -> None:
        match = _UID_FILE.fullmatch(path.stem)
        if match is None:
            raise DataError(
                path,
                "the file name must start with the user id the response was fetched for "
                "(<uid>.json, or <uid>-<page>.json for further pages)",
            )
        uid = int(match.group(1))
        self.exported_users.add(uid)
        self.nicknames.setdefault(uid, None)
        data = _read_response(path, _FOLDERS["user_playlist"])
        more = _get(path, data, "", "more")
        if not isinstance(more, bool):
            raise DataError(path, f"expected true or false, found {more!r}", key="more")
        self.more.setdefault(uid, []).append((path, more))
        for i, entry in enumerate(_list(path, data, "", "playlist")):
            at = f"playlist[{i}]"
            pid = _int(path, entry, at, "id")
            _text(path, entry, at, "name")
            owner = _int(path, entry, at, "userId")
            creator = self._user(path, _get(path, entry, at, "creator"), f"{at}.creator")
            if creator != owner:
                raise DataError(
                    path,
                    f"creator {creator} is not the playlist's userId {owner}; expected the same "
                    "user",
                    key=f"{at}.creator.userId",
                )
            relation = "created" if owner == uid else "subscribed"
            self.listed.append((uid, pid, relation, path, f"{at}.id"))

    def read_playlist_detail(self, path: Path) -> None:
        data = _read_response(path, _FOLDERS["playlist_detail"])
        pl = _get(path, data, "", "playlist")
        pid = _int(path, pl, "playlist", "id")
        if pid in self.playlists:
            raise DataError(
                path,
                f"playlist {pid} is also described by {self.playlists[pid].path.name}; expected "
                "one playlist_detail response per playlist",
                key="playlist.id",
            )
        name = _text(path, pl, "playlist", "name")
        owner = _int(path, pl, "playlist", "userId")
        creator = self._user(path, _get(path, pl, "playlist", "creator"), "playlist.creator")
        if creator != owner:
            raise DataError(
                path,
                f"creator {creator} is not the playlist's userId {owner}; expected the same user",
                key="playlist.creator.userId",
            )
        tracks = _list(path, pl, "playlist", "tracks")
        track_ids: list[tuple[int, str]] = []
        for j, track in enumerate(tracks):
            sid = self._song(path, track, f"playlist.tracks[{j}]")
            track_ids.append((sid, f"playlist.tracks[{j}].id"))
        if isinstance(pl, dict) and "trackIds" in pl:
            track_ids = [
                (_int(path, ref, f"playlist.trackIds[{k}]", "id"), f"playlist.trackIds[{k}].id")
                for k, ref in enumerate(_list(path, pl, "playlist", "trackIds"))
            ]
        self.playlists[pid] = _Playlist(
            path, owner, name, _int(path, pl, "playlist", "trackCount"), track_ids
        )

    def read_song_detail(self, path: Path) -> None:
        data = _read_response(path, _FOLDERS["song_detail"])
        for k, song in enumerate(_list(path, data, "", "songs")):
            self._song(path, song, f"songs[{k}]")

    def _song(self, path: Path, obj: object, at: str) -> int:
        sid = _int(path, obj, at, "id")
        name = _text(path, obj, at, "name")
        artists: list[tuple[int, str | None]] = []
        for a, artist in enumerate(_list(path, obj, at, "ar")):
            where = f"{at}.ar[{a}]"
            artists.append(
                (_int(path, artist, where, "id"), _optional_text(path, artist, where, "name"))
            )
        album = _get(path, obj, at, "al")
        album_id = _int(path, album, f"{at}.al", "id")
        album_name = _optional_text(path, album, f"{at}.al", "name")
        duration = _int(path, obj, at, "dt")
        if sid not in self.songs:
            self.songs[sid] = _Song(
                name=name,
                album_id=album_id or None,
                album_name=(album_name or None) if album_id else None,
                duration_ms=duration,
                artists=artists,
            )
        return sid

    def finish(self) -> NetEase:
        for uid, pages in self.more.items():
            if all(more for _, more in pages):
                raise DataError(
                    pages[-1][0],
                    f"every /user/playlist page of user {uid} says more=true, so the list is "
                    "truncated; expected the remaining pages as <uid>-<n>.json (offset=…)",
                    key="more",
                )
        for _, pid, _, path, key in self.listed:
            if pid not in self.playlists:
                raise DataError(
                    path,
                    f"playlist {pid} has no response in playlist_detail/; expected "
                    f"/playlist/detail?id={pid} saved there",
                    key=key,
                )
        tracks: list[tuple[int, int, int]] = []
        for pid, pl in self.playlists.items():
            seen: set[int] = set()
            for sid, key in pl.track_ids:
                if sid not in self.songs:
                    raise DataError(
                        pl.path,
                        f"track {sid} is described neither in this playlist's tracks nor in "
                        f"song_detail/; expected /song/detail?ids={sid} saved in song_detail/",
                        key=key,
                    )
                if sid not in seen:
                    seen.add(sid)
                    tracks.append((pid, sid, len(seen) - 1))

        skipped_artists = 0
        artist_names: dict[int, str | None] = {}
        credits: dict[tuple[int, int], None] = {}  # insertion-ordered set
        for sid, song in self.songs.items():
            for aid, aname in song.artists:
                if aid == 0:
                    skipped_artists += 1
                    continue
                if artist_names.get(aid) is None:
                    artist_names[aid] = aname
                credits[(sid, aid)] = None

        user_playlists = pd.DataFrame(
            [(uid, pid, rel) for uid, pid, rel, _, _ in self.listed],
            columns=["user_id", "playlist_id", "relation"],
        ).drop_duplicates(["user_id", "playlist_id"])
        subscribed = set(
            user_playlists.loc[user_playlists["relation"] == "subscribed", "playlist_id"]
        )
        playlist_tracks = pd.DataFrame(tracks, columns=["playlist_id", "song_id", "position"])
        collections = (
            user_playlists.merge(playlist_tracks, on="playlist_id")[["user_id", "song_id"]]
            .drop_duplicates()
            .sort_values(["user_id", "song_id"])
        )
        owners = {pl.owner for pl in self.playlists.values()}
        user_ids = sorted(self.exported_users | owners | set(self.nicknames))
        playlists = _frame(
            [
                (pid, p.owner, p.name, pid in subscribed, p.track_count)
                for pid, p in self.playlists.items()
            ],
            {
                "playlist_id": _ID,
                "user_id": _ID,
                "name": "string",
                "subscribed": "bool",
                "track_count": _ID,
            },
        )
        songs = _frame(
            [
                (sid, s.name, s.album_id, s.album_name, s.duration_ms)
                for sid, s in self.songs.items()
            ],
            {
                "song_id": _ID,
                "name": "string",
                "album_id": _ID,
                "album_name": "string",
                "duration_ms": _ID,
            },
        )
        return NetEase(
            users=_frame(
                [(u, self.nicknames.get(u)) for u in user_ids],
                {"user_id": _ID, "nickname": "string"},
            ),
            playlists=playlists.sort_values("playlist_id", ignore_index=True),
            songs=songs.sort_values("song_id", ignore_index=True),
            artists=_frame(
                [(a, artist_names[a]) for a in sorted(artist_names)],
                {"artist_id": _ID, "name": "string"},
            ),
            song_artists=_frame(list(credits), {"song_id": _ID, "artist_id": _ID}),
            playlist_tracks=_frame(tracks, {"playlist_id": _ID, "song_id": _ID, "position": _ID}),
            user_playlists=_frame(
                user_playlists.itertuples(index=False),
                {"user_id": _ID, "playlist_id": _ID, "relation": "string"},
            ),
            collections=_frame(
                collections.itertuples(index=False), {"user_id": _ID, "song_id": _ID}
            ),
            skipped={"song_artists_unknown_artist": skipped_artists},
        )
