"""Ingest every dataset present under the data root into the knowledge graph.

The run has three phases, so that bad input never leaves a half-written graph:

1. **Load** every source present with :mod:`loaders` (each validates its files and raises
   :class:`~loaders.errors.DataError` naming file, line and fix). Nothing is written before all
   sources have loaded.
2. **Derive** the tables the graph needs: the Culture tree (:mod:`kg.culture`), co-collection
   weights (:mod:`kg.cocollection`), style profiles (:mod:`kg.style`).
3. **Write** in ``UNWIND`` batches with ``MERGE`` semantics (:mod:`kg.batches`): nodes first, then
   relationships. Running twice leaves every count unchanged; a run killed mid-way and started again
   ends in the same graph.

Sources (folders under the data root): ``ccmc``, ``nhs-expanded``, ``cantometrics``,
``lastfm-hetrec2011``, ``kgcn-music`` and, when present, ``netease`` (NetEase Cloud Music API
exports; see :mod:`loaders.netease`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import neo4j
import numpy as np
import pandas as pd

from kg import queries as q
from kg.batches import DEFAULT_BATCH_SIZE, DEFAULT_WORKERS, BatchWriter, Write
from kg.cocollection import DEFAULT_TOP_K, co_collection_weights
from kg.culture import CultureTree, build_culture_tree, lastfm_culture_tags
from kg.schema import ensure_schema, kgcn_rel_type
from kg.stats import GraphCounts, graph_counts
from kg.style import style_profiles
from loaders.cantometrics import Cantometrics, load_cantometrics
from loaders.ccmc import CCMC, load_ccmc
from loaders.config import DATA_ENV, data_root
from loaders.errors import ConfigError, DataError
from loaders.kgcn import KGCN, load_kgcn
from loaders.lastfm import LastFM, load_lastfm
from loaders.netease import NetEase, load_netease
from loaders.nhs import load_mir_features

__all__ = [
    "SOURCES",
    "IngestSummary",
    "LoadedSources",
    "ingest",
    "load_sources",
    "require_sources",
    "source_folders",
]

#: Source name → folder under the data root, in ingestion order.
SOURCES: dict[str, str] = {
    "ccmc": "ccmc",
    "nhs": "nhs-expanded",
    "cantometrics": "cantometrics",
    "lastfm": "lastfm-hetrec2011",
    "kgcn": "kgcn-music",
    "netease": "netease",
}

#: What each source folder holds, for the message that says where sources were looked for.
_SOURCE_FILES: dict[str, str] = {
    "ccmc": "the CCMC songs (cldf/)",
    "nhs": "the NHS features (data/)",
    "cantometrics": "the Cantometrics codings (cldf/)",
    "lastfm": "the HetRec Last.fm files (artists.dat, user_artists.dat, …)",
    "kgcn": "the KGCN graph (kg.txt, item_index2entity_id.txt)",
    "netease": "the NetEase API exports",
}

#: NetEase ids share labels with Last.fm's integer ids, so they are namespaced strings.
NETEASE_PREFIX = "netease:"


@dataclass
class LoadedSources:
    """The tables of every source that was found (``None`` for the absent ones)."""

    root: Path
    ccmc: CCMC | None = None
    mir: pd.DataFrame | None = None
    cantometrics: Cantometrics | None = None
    lastfm: LastFM | None = None
    kgcn: KGCN | None = None
    netease: NetEase | None = None
    missing: list[str] = field(default_factory=list)
    seconds: float = 0.0


@dataclass
class IngestSummary:
    """What an ingestion did.

    Attributes:
        sources: the sources ingested; ``missing`` the ones whose folder was absent.
        rows: rows sent per node label / relationship type.
        counts: node and relationship counts of the whole graph afterwards.
        notes: things a person should know (rows skipped by a documented rule, …).
        load_seconds, write_seconds, total_seconds: wall-clock time of loading (files → tables),
            writing (schema + every write phase) and the whole call (with deriving and counting).
        phase_seconds: seconds per write phase (``nodes``, ``properties``, ``relationships``).
        created: relationship kinds written by the CREATE fast path (none existed before).
    """

    sources: list[str]
    missing: list[str]
    rows: dict[str, int]
    counts: GraphCounts
    notes: list[str]
    load_seconds: float
    write_seconds: float
    phase_seconds: dict[str, float]
    created: list[str]
    total_seconds: float

    @property
    def relationships_written(self) -> int:
        """Relationship rows sent (the figure the throughput benchmark divides by time)."""
        return sum(n for k, n in self.rows.items() if k.isupper())


def load_sources(
    root: str | Path | None = None,
    *,
    sources: Sequence[str] | None = None,
    netease_path: str | Path | None = None,
) -> LoadedSources:
    """Load every requested source that is present under the data root.

    Args:
        root: the data root; ``None`` reads ``SOUNDBRIDGE_DATA``.
        sources: names from :data:`SOURCES` (default: all).
        netease_path: the NetEase export folder, when not ``<root>/netease``.

    Raises:
        ConfigError: an unknown source name.
        DataError: any input file is bad (nothing has been written).
    """
    base = data_root(root)
    folders = source_folders(base, sources=sources, netease_path=netease_path)
    t0 = time.perf_counter()
    out = LoadedSources(root=base)
    loaders: dict[str, tuple[Callable[[Path], Any], str]] = {
        "ccmc": (load_ccmc, "ccmc"),
        "nhs": (load_mir_features, "mir"),
        "cantometrics": (load_cantometrics, "cantometrics"),
        "lastfm": (load_lastfm, "lastfm"),
        "kgcn": (load_kgcn, "kgcn"),
        "netease": (load_netease, "netease"),
    }
    for name, folder in folders.items():
        if not folder.is_dir():
            out.missing.append(name)
            continue
        fn, attr = loaders[name]
        setattr(out, attr, fn(folder))
    out.seconds = time.perf_counter() - t0
    return out


def source_folders(
    root: str | Path | None = None,
    *,
    sources: Sequence[str] | None = None,
    netease_path: str | Path | None = None,
) -> dict[str, Path]:
    """Where each requested source is looked for: source name → folder, in ingestion order.

    Args:
        root: the data root; ``None`` reads ``SOUNDBRIDGE_DATA``.
        sources: names from :data:`SOURCES` (default: all).
        netease_path: the NetEase export folder, when not ``<root>/netease``.

    Raises:
        ConfigError: an unknown source name, or no data root.

    Examples:
        >>> import tempfile
        >>> root = Path(tempfile.mkdtemp())
        >>> {k: v.relative_to(root).as_posix() for k, v in source_folders(root).items()}["lastfm"]
        'lastfm-hetrec2011'
    """
    base = data_root(root)
    wanted = list(SOURCES) if sources is None else list(sources)
    unknown = [s for s in wanted if s not in SOURCES]
    if unknown:
        raise ConfigError(f"unknown source(s) {unknown}; choose from {list(SOURCES)}")
    folders = {name: base / SOURCES[name] for name in wanted}
    if "netease" in folders and netease_path is not None:
        folders["netease"] = Path(netease_path)
    return folders


def require_sources(
    root: str | Path | None = None,
    *,
    sources: Sequence[str] | None = None,
    netease_path: str | Path | None = None,
) -> list[str]:
    """The requested sources whose folder is present, refusing a data root that holds none.

    Cheap (it only looks for folders), so the CLI calls it before connecting to Neo4j.

    Args:
        root: the data root; ``None`` reads ``SOUNDBRIDGE_DATA``.
        sources: names from :data:`SOURCES` (default: all).
        netease_path: the NetEase export folder, when not ``<root>/netease``.

    Raises:
        ConfigError: no requested source is present; the message lists each folder looked for
            and how to point ``SOUNDBRIDGE_DATA`` / ``--data`` elsewhere.

    Examples:
        >>> import tempfile
        >>> root = Path(tempfile.mkdtemp())
        >>> (root / "kgcn-music").mkdir()
        >>> require_sources(root)
        ['kgcn']
    """
    base = data_root(root)
    folders = source_folders(base, sources=sources, netease_path=netease_path)
    present = [name for name, folder in folders.items() if folder.is_dir()]
    if not present:
        looked = ", ".join(
            f"{name}: {_shown(folder, base)}/ with {_SOURCE_FILES[name]}"
            for name, folder in folders.items()
        )
        raise ConfigError(
            f"no dataset found in the data folder {base}; looked for {looked}; point "
            f"{DATA_ENV} (or --data) at the folder that holds these dataset folders"
        )
    return present


def _shown(folder: Path, base: Path) -> str:
    """``folder`` relative to the data root when it is inside it, else as given."""
    return folder.relative_to(base).as_posix() if folder.is_relative_to(base) else str(folder)


def ingest(
    driver: neo4j.Driver,
    root: str | Path | None = None,
    *,
    sources: Sequence[str] | None = None,
    netease_path: str | Path | None = None,
    database: str | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    workers: int = DEFAULT_WORKERS,
    co_collection_top_k: int = DEFAULT_TOP_K,
    progress: bool | None = None,
    log: Callable[[str], None] | None = None,
) -> IngestSummary:
    """Load, derive and write every present source; see the module docstring.

    Args:
        driver: an open driver (:func:`kg.connection.connect`).
        root: the data root; ``None`` reads ``SOUNDBRIDGE_DATA``.
        sources: restrict to these source names (default: all present).
        netease_path: the NetEase export folder when not ``<root>/netease``.
        database: the database; ``None`` is the server default.
        batch_size: rows per transaction.
        workers: concurrent writer sessions (see :mod:`kg.batches`).
        co_collection_top_k: neighbours kept per artist/track for ``CO_COLLECTED``.
        progress: progress bars (``None``: only on a terminal).
        log: where to say what is happening (e.g. ``click.echo``); silent when ``None``.

    Returns:
        An :class:`IngestSummary`.

    Raises:
        ConfigError: an unknown source name, or no requested source under the data root
            (see :func:`require_sources`); nothing has been written.
        DataError: a source's files are bad; nothing has been written.
    """
    say = log or (lambda _msg: None)
    t_start = time.perf_counter()
    require_sources(root, sources=sources, netease_path=netease_path)
    loaded = load_sources(root, sources=sources, netease_path=netease_path)
    say(
        f"loaded {len(_present(loaded))} source(s) in {loaded.seconds:.1f}s"
        + (f"; absent: {', '.join(loaded.missing)}" if loaded.missing else "")
    )

    plan = _plan(loaded, co_collection_top_k=co_collection_top_k)
    notes = plan.notes

    writer = BatchWriter(
        driver, database=database, batch_size=batch_size, workers=workers, progress=progress
    )
    t_write = time.perf_counter()
    ensure_schema(driver, database=database)
    for phase in PHASES:
        steps = [st for st in plan.steps if _phase(st) == phase]
        if phase == "relationships":
            steps = _with_element_ids(driver, steps, database=database)
        writes = [Write(st.statement, st.rows, st.kind, st.source) for st in steps]
        rows = sum(len(w.rows) for w in writes)
        say(f"writing {phase}: {rows:,} rows in {len(writes)} writes")
        writer.write_phase(phase, writes)
    write_seconds = time.perf_counter() - t_write
    counts = graph_counts(driver, database=database)
    return IngestSummary(
        sources=_present(loaded),
        missing=loaded.missing,
        rows=dict(writer.stats.rows),
        counts=counts,
        notes=notes,
        load_seconds=loaded.seconds,
        write_seconds=write_seconds,
        phase_seconds=dict(writer.stats.phase_seconds),
        created=sorted(writer.stats.created),
        total_seconds=time.perf_counter() - t_start,
    )


#: Write phases, in order: every write inside one phase may run in any order and in parallel.
PHASES = ("nodes", "properties", "relationships")


def _phase(step: _Step) -> str:
    if isinstance(step.statement, q.RelWrite):
        return "relationships"
    return "properties" if "." in step.kind else "nodes"


def _with_element_ids(
    driver: neo4j.Driver, steps: list[_Step], *, database: str | None
) -> list[_Step]:
    """Replace graph ids by element ids in relationship rows (see :class:`kg.queries.RelWrite`).

    Raises:
        DataError: a row names a node that is not in the graph (its source was not ingested).
    """
    labels = {
        lab
        for st in steps
        if isinstance(st.statement, q.RelWrite)
        for lab in (st.statement.src_label, st.statement.dst_label)
    }
    eids: dict[str, dict[Any, str]] = {}
    with driver.session(database=database, default_access_mode=neo4j.READ_ACCESS) as session:
        for label in sorted(labels):
            eids[label] = {r["id"]: r["eid"] for r in session.run(q.ELEMENT_IDS[label])}
    out = []
    for st in steps:
        rw = st.statement
        assert isinstance(rw, q.RelWrite)
        src, dst = eids[rw.src_label], eids[rw.dst_label]
        try:
            for r in st.rows:  # in place: the plan's rows are not needed with graph ids again
                r["src"], r["dst"] = src[r["src"]], dst[r["dst"]]
        except KeyError as e:
            raise DataError(
                f"{st.source} ({SOURCES.get(st.source, st.source)}/)",
                f"{rw.rel_type} refers to {e.args[0]!r}, which is not a "
                f"{rw.src_label}/{rw.dst_label} node in the graph; ingest the source that "
                "creates it in the same run (e.g. add --source ccmc)",
            ) from e
        out.append(_Step(st.source, st.kind, rw, st.rows))
    return out


def _present(loaded: LoadedSources) -> list[str]:
    attrs = {
        "ccmc": "ccmc",
        "nhs": "mir",
        "cantometrics": "cantometrics",
        "lastfm": "lastfm",
        "kgcn": "kgcn",
        "netease": "netease",
    }
    return [s for s, a in attrs.items() if getattr(loaded, a) is not None]


# --- planning: derive every write from the loaded tables, before touching the database ------------


@dataclass
class _Step:
    source: str
    kind: str
    statement: str | q.RelWrite
    rows: list[dict[str, Any]]


@dataclass
class _Plan:
    steps: list[_Step] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def add(
        self, source: str, kind: str, statement: str | q.RelWrite, rows: list[dict[str, Any]]
    ) -> None:
        if isinstance(statement, q.RelWrite):
            # One row per (src, dst), the last one winning as MERGE + SET would: this is what
            # makes the CREATE fast path give exactly the graph MERGE gives.
            rows = list({(r["src"], r["dst"]): r for r in rows}.values())
        self.steps.append(_Step(source, kind, statement, rows))


def _plan(loaded: LoadedSources, *, co_collection_top_k: int) -> _Plan:
    plan = _Plan()
    tree: CultureTree | None = None
    if loaded.ccmc is not None:
        tree = build_culture_tree(loaded.ccmc.societies)
        _plan_ccmc(plan, loaded.ccmc, tree, loaded.root)
    if loaded.mir is not None:
        _plan_mir(plan, loaded.mir, loaded.ccmc)
    if loaded.cantometrics is not None:
        if loaded.ccmc is None:
            plan.notes.append("cantometrics: skipped, its profiles join CCMC societies (no ccmc/)")
        else:
            _plan_style(plan, loaded.cantometrics, loaded.ccmc)
    if loaded.lastfm is not None:
        _plan_lastfm(plan, loaded.lastfm, tree, top_k=co_collection_top_k)
    if loaded.kgcn is not None:
        if loaded.lastfm is None:
            plan.notes.append(
                "kgcn: skipped, its heads are Last.fm artists (no lastfm-hetrec2011/)"
            )
        else:
            _plan_kgcn(plan, loaded.kgcn, loaded.lastfm)
    if loaded.netease is not None:
        _plan_netease(plan, loaded.netease, top_k=co_collection_top_k)
    return plan


def _records(df: pd.DataFrame) -> list[dict[str, Any]]:
    """DataFrame rows as dicts of plain Python values (NA → None), ready for Bolt.

    Column-wise ``tolist()`` turns numpy scalars into Python ones at C speed; only columns that hold
    missing values or extension-dtype values get a per-value pass.
    """
    columns = []
    for name in df.columns:
        col = df[name]
        if isinstance(col.dtype, np.dtype) and col.dtype.kind in "biuf" and not col.isna().any():
            columns.append(col.to_numpy().tolist())
        else:
            columns.append([_plain(v) for v in col.tolist()])
    keys = [str(c) for c in df.columns]
    return [dict(zip(keys, values, strict=True)) for values in zip(*columns, strict=True)]


def _plain(v: Any) -> Any:
    if v is None or v is pd.NA or (isinstance(v, float) and v != v):
        return None
    return v.item() if isinstance(v, np.generic) else v


def _plan_ccmc(plan: _Plan, ccmc: CCMC, tree: CultureTree, root: Path) -> None:
    nodes = tree.nodes
    culture_rows = []
    for rec in _records(nodes):
        cid = rec.pop("id")
        culture_rows.append({"id": cid, "props": {k: v for k, v in rec.items() if v is not None}})
    plan.add("ccmc", "Culture", q.MERGE_CULTURES, culture_rows)
    plan.add(
        "ccmc",
        "PART_OF",
        q.PART_OF,
        _records(tree.part_of.rename(columns={"child": "src", "parent": "dst"})),
    )

    functions = ccmc.functions
    plan.add(
        "ccmc",
        "Function",
        q.MERGE_FUNCTIONS,
        [
            {
                "id": str(f.name).lower(),
                "name": str(f.name),
                "code": str(f.function_id),
                "description": str(f.description),
            }
            for f in functions.itertuples(index=False)
        ],
    )

    names = dict(zip(ccmc.societies["society_id"], ccmc.societies["name"], strict=True))
    tracks = []
    for s in ccmc.songs.itertuples(index=False):
        fn = None if pd.isna(s.function) else str(s.function)
        society = names[s.society_id]
        label = f"{society} {fn.lower()} song" if fn else f"{society} song"
        audio = Path(str(s.audio_path))
        try:  # both resolved: a data folder reached through a symbolic link stays relative
            audio_rel = audio.resolve().relative_to(root.resolve()).as_posix()
        except ValueError:
            audio_rel = audio.as_posix()
        tracks.append(
            {
                "id": str(s.track_id),
                "props": {
                    "name": f"{label} ({s.track_id})",
                    "society": society,
                    "function": fn,
                    "glottocode": str(s.glottocode),
                    "ccmc_region": str(s.region),
                    "hraf_region": str(s.hraf_region),
                    "audio": audio_rel,
                    "source": "ccmc",
                },
            }
        )
    plan.add("ccmc", "Track", q.MERGE_TRACKS, tracks)
    plan.add(
        "ccmc",
        "FROM_CULTURE",
        q.TRACK_FROM_CULTURE,
        [
            {"src": str(s.track_id), "dst": str(s.society_id)}
            for s in ccmc.songs.itertuples(index=False)
        ],
    )
    labelled = ccmc.songs[ccmc.songs["function"].notna()]
    plan.add(
        "ccmc",
        "SERVES_FUNCTION",
        q.SERVES_FUNCTION,
        [
            {"src": str(s.track_id), "dst": str(s.function).lower()}
            for s in labelled.itertuples(index=False)
        ],
    )


def _plan_mir(plan: _Plan, mir: pd.DataFrame, ccmc: CCMC | None) -> None:
    known = None if ccmc is None else set(ccmc.songs["track_id"])
    features = [c for c in mir.columns if c != "track_id"]
    rows = [
        {"id": str(r[0]), "mir": [float(x) for x in r[1:]]}
        for r in mir[["track_id", *features]].itertuples(index=False)
        if known is None or r[0] in known
    ]
    plan.add("nhs", "Track.mir", q.SET_TRACK_MIR, rows)
    plan.notes.append(
        f"nhs: {len(features)} MIRtoolbox features stored as Track.mir (order in docs/schema.md)"
    )


def _plan_style(plan: _Plan, canto: Cantometrics, ccmc: CCMC) -> None:
    style = style_profiles(canto, ccmc.societies)
    plan.add(
        "cantometrics",
        "Culture.style",
        q.SET_CULTURE_STYLE,
        [
            {
                "id": r.id,
                "profile": r.profile,
                "codes": r.codes,
                "songs": r.songs,
                "societies": r.societies,
            }
            for r in style.profiles.itertuples(index=False)
        ],
    )
    plan.add("cantometrics", "STYLE_SIMILAR", q.STYLE_SIMILAR, _records(style.similar))
    plan.notes.append(
        f"cantometrics: style profiles ({len(style.keys)} line:code shares) on "
        f"{len(style.profiles)} CCMC societies joined by Glottocode"
    )


def _plan_lastfm(plan: _Plan, fm: LastFM, tree: CultureTree | None, *, top_k: int) -> None:
    plan.add("lastfm", "User", q.MERGE_USERS, [{"id": int(u)} for u in fm.users["user_id"]])
    plan.add(
        "lastfm",
        "Artist",
        q.MERGE_ARTISTS,
        _records(
            fm.artists.rename(columns={"artist_id": "id"})[["id", "name", "url", "picture_url"]]
        ),
    )
    plan.add("lastfm", "Tag", q.MERGE_TAGS, _records(fm.tags.rename(columns={"tag_id": "id"})))
    plan.add(
        "lastfm",
        "LISTENED",
        q.LISTENED,
        _records(fm.plays.rename(columns={"user_id": "src", "artist_id": "dst"})),
    )
    plan.add(
        "lastfm",
        "FRIEND",
        q.FRIEND,
        _records(fm.friends.rename(columns={"user_id": "src", "friend_id": "dst"})),
    )
    has_tag = (
        fm.tag_assignments.groupby(["artist_id", "tag_id"]).size().rename("count").reset_index()
    )
    plan.add(
        "lastfm",
        "HAS_TAG",
        q.HAS_TAG,
        _records(has_tag.rename(columns={"artist_id": "src", "tag_id": "dst"})),
    )
    for reason, n in fm.skipped.items():
        if n:
            plan.notes.append(
                f"lastfm: skipped {n:,} rows ({reason.replace('_', ' ')}; "
                "a documented gap of HetRec 2011)"
            )

    co = co_collection_weights(fm.plays, user="user_id", item="artist_id", top_k=top_k)
    plan.add("lastfm", "CO_COLLECTED", q.ARTIST_CO_COLLECTED, _records(co))

    if tree is None:
        plan.notes.append("lastfm: Artist FROM_CULTURE skipped (the Culture tree needs ccmc/)")
        return
    mapping = lastfm_culture_tags(tree)
    tags = fm.tags.assign(tag=fm.tags["name"].str.lower())[["tag_id", "tag"]]
    tagged = fm.tag_assignments.merge(tags, on="tag_id").merge(mapping, on="tag")
    by_pair = (
        tagged.groupby(["artist_id", "culture_id"])
        .agg(count=("tag", "size"), tags=("tag", lambda s: sorted(set(s))))
        .reset_index()
    )
    plan.add(
        "lastfm",
        "FROM_CULTURE",
        q.ARTIST_FROM_CULTURE,
        [
            {
                "src": int(r["artist_id"]),
                "dst": str(r["culture_id"]),
                "count": int(r["count"]),
                "tags": list(r["tags"]),
            }
            for r in by_pair.to_dict("records")
        ],
    )
    absent = sorted(set(mapping["tag"]) - set(tags["tag"]))
    if absent:
        plan.notes.append(
            f"lastfm: {len(absent)} mapped culture tags do not occur in tags.dat "
            f"({', '.join(absent[:8])}{'…' if len(absent) > 8 else ''})"
        )


def _plan_kgcn(plan: _Plan, kgcn: KGCN, fm: LastFM) -> None:
    known_artists = set(fm.artists["artist_id"].astype(int))
    items = kgcn.item_entities[kgcn.item_entities["artist_id"].isin(known_artists)]
    entity_to_artist = dict(
        zip(items["entity_id"].astype(int), items["artist_id"].astype(int), strict=True)
    )
    plan.add(
        "kgcn",
        "Artist.kg_entity",
        q.SET_ARTIST_ENTITY,
        [{"artist": a, "entity": e} for e, a in entity_to_artist.items()],
    )
    triples = kgcn.triples[kgcn.triples["head"].astype(int).isin(entity_to_artist.keys())]
    dropped = len(kgcn.triples) - len(triples)
    if dropped:
        plan.notes.append(
            f"kgcn: {dropped:,} triples skipped: their head artist is not in artists.dat"
        )
    tails = triples["tail"].astype(int)
    is_artist = tails.isin(entity_to_artist.keys())
    entities = sorted(set(tails[~is_artist]))
    plan.add("kgcn", "Entity", q.MERGE_ENTITIES, [{"id": int(e)} for e in entities])
    for relation, group in triples.groupby("relation", sort=True):
        rel_type = kgcn_rel_type(str(relation))
        to_artist = group["tail"].astype(int).isin(entity_to_artist.keys())
        for label, part in (("Artist", group[to_artist]), ("Entity", group[~to_artist])):
            if part.empty:
                continue
            plan.add(
                "kgcn",
                rel_type,
                q.rel_write("Artist", rel_type, label, ("relation",)),
                [
                    {
                        "src": entity_to_artist[int(h)],
                        "dst": entity_to_artist[int(t)] if label == "Artist" else int(t),
                        "relation": str(relation),
                    }
                    for h, t in zip(part["head"], part["tail"], strict=True)
                ],
            )


def _plan_netease(plan: _Plan, ne: NetEase, *, top_k: int) -> None:
    def nid(v: object) -> str:
        return f"{NETEASE_PREFIX}{v}"

    plan.add(
        "netease",
        "User",
        q.MERGE_NETEASE_USERS,
        [
            {"id": nid(r.user_id), "nickname": None if pd.isna(r.nickname) else str(r.nickname)}
            for r in ne.users.itertuples(index=False)
        ],
    )
    plan.add(
        "netease",
        "Artist",
        q.MERGE_NETEASE_ARTISTS,
        [{"id": nid(r.artist_id), "name": str(r.name)} for r in ne.artists.itertuples(index=False)],
    )
    plan.add(
        "netease",
        "Track",
        q.MERGE_NETEASE_TRACKS,
        [
            {
                "id": nid(r["song_id"]),
                "name": str(r["name"]),
                "album": _plain(r["album_name"]),
                "duration_ms": _plain(r["duration_ms"]),
            }
            for r in _records(ne.songs)
        ],
    )
    plan.add(
        "netease",
        "Playlist",
        q.MERGE_PLAYLISTS,
        [
            {"id": nid(r.playlist_id), "name": str(r.name), "owner": nid(r.user_id)}
            for r in ne.playlists.itertuples(index=False)
        ],
    )
    pairs = (
        ("PERFORMED_BY", q.PERFORMED_BY, ne.song_artists, "song_id", "artist_id"),
        ("IN_PLAYLIST", q.IN_PLAYLIST, ne.playlist_tracks, "song_id", "playlist_id"),
        ("COLLECTED", q.COLLECTED, ne.collections, "user_id", "song_id"),
    )
    for kind, rel, table, src, dst in pairs:
        rows = [{"src": nid(a), "dst": nid(b)} for a, b in zip(table[src], table[dst], strict=True)]
        plan.add("netease", kind, rel, rows)
    co = co_collection_weights(ne.collections, user="user_id", item="song_id", top_k=top_k)
    plan.add(
        "netease",
        "CO_COLLECTED",
        q.TRACK_CO_COLLECTED,
        [
            {
                "src": nid(r["src"]),
                "dst": nid(r["dst"]),
                "weight": r["weight"],
                "common": r["common"],
            }
            for r in _records(co)
        ],
    )
