"""KGCN relation names live in their own ``KG_`` namespace and never land in a core type."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from kg.cypher import run_read
from kg.ingest import ingest
from kg.schema import KGCN_REL_PREFIX, REL_TYPES, kgcn_rel_type
from loaders.kgcn import load_kgcn


def test_a_relation_named_like_a_core_type_gets_the_namespace() -> None:
    assert kgcn_rel_type("listened") == "KG_LISTENED"
    assert kgcn_rel_type("FROM_CULTURE") == "KG_FROM_CULTURE"
    assert kgcn_rel_type("music.artist.origin") == "KG_MUSIC_ARTIST_ORIGIN"
    assert kgcn_rel_type("música.origen") == "KG_M_SICA_ORIGEN"  # ASCII only, as Cypher needs
    for core in REL_TYPES:
        assert not core.startswith(KGCN_REL_PREFIX)
        for spelling in (core, core.lower(), core.lower().replace("_", ".")):
            assert kgcn_rel_type(spelling) not in REL_TYPES


def test_the_real_kgcn_relations_map_to_60_namespaced_types() -> None:
    kgcn = load_kgcn(Path(os.environ["SOUNDBRIDGE_DATA"]) / "kgcn-music")
    types = {kgcn_rel_type(r) for r in kgcn.triples["relation"].unique()}
    assert len(types) == 60
    assert all(t.startswith(KGCN_REL_PREFIX) for t in types)
    assert "KG_MUSIC_ARTIST_ORIGIN" in types and "KG_FILM_ACTOR_FILM" in types


def _write(path: Path, lines: list[str], end: str = "\n") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(end.join(lines) + end, encoding="utf-8")


@pytest.fixture
def data_root(tmp_path: Path) -> Path:
    """The real CCMC (for Culture nodes), a 3-artist Last.fm and a KGCN file whose relations are
    named after core types.

    Plays: user 10 → artists 1, 2; user 11 → artist 3. Artist 1 is tagged 'british', which the
    curated mapping sends to a Culture, so Last.fm gives one Artist FROM_CULTURE.
    KGCN (entities 0, 1, 2 are artists 1, 2, 3; entity 5 is anonymous): 0 -listened-> 1,
    1 -FROM_CULTURE-> 5, 2 -music.artist.origin-> 5.
    """
    root = tmp_path / "data"
    root.mkdir()
    (root / "ccmc").symlink_to(Path(os.environ["SOUNDBRIDGE_DATA"]) / "ccmc")
    fm = root / "lastfm-hetrec2011"
    _write(
        fm / "artists.dat",
        ["id\tname\turl\tpictureURL", "1\tOne\t\t", "2\tTwo\t\t", "3\tThree\t\t"],
    )
    _write(fm / "tags.dat", ["tagID\ttagValue", "1\tbritish"])
    plays = ["userID\tartistID\tweight", "10\t1\t5", "10\t2\t7", "11\t3\t1"]
    _write(fm / "user_artists.dat", plays)
    _write(fm / "user_friends.dat", ["userID\tfriendID", "10\t11", "11\t10"])
    _write(
        fm / "user_taggedartists.dat",
        ["userID\tartistID\ttagID\tday\tmonth\tyear", "10\t1\t1\t1\t1\t2009"],
    )
    kg = root / "kgcn-music"
    _write(kg / "item_index2entity_id.txt", ["1\t0", "2\t1", "3\t2"], end="\r\n")
    _write(
        kg / "kg.txt",
        ["0\tlistened\t1", "1\tFROM_CULTURE\t5", "2\tmusic.artist.origin\t5"],
        end="\r\n",
    )
    return root


@pytest.mark.neo4j
@pytest.mark.reliability
def test_kgcn_relations_named_like_core_types_leave_the_core_types_alone(
    neo4j_db, data_root: Path
) -> None:
    without = ingest(neo4j_db, data_root, sources=["ccmc", "lastfm"], progress=False).counts
    assert without.relationships["LISTENED"] == 3
    assert without.relationships["FROM_CULTURE"] == 1007 + 1  # CCMC songs + artist 1

    counts = ingest(neo4j_db, data_root, progress=False).counts
    for core in REL_TYPES:
        assert counts.relationships.get(core) == without.relationships.get(core), core
    assert {t: n for t, n in counts.relationships.items() if t not in REL_TYPES} == {
        "KG_LISTENED": 1,
        "KG_FROM_CULTURE": 1,
        "KG_MUSIC_ARTIST_ORIGIN": 1,
    }
    edges = run_read(
        neo4j_db,
        "MATCH (a:Artist)-[r]->(b) WHERE type(r) STARTS WITH 'KG_' "
        "RETURN a.id AS src, type(r) AS type, r.relation AS relation, labels(b)[0] AS dst_label, "
        "b.id AS dst ORDER BY type",
    ).records()
    assert [(r["src"], r["type"], r["relation"], r["dst_label"], r["dst"]) for r in edges] == [
        (2, "KG_FROM_CULTURE", "FROM_CULTURE", "Entity", 5),
        (1, "KG_LISTENED", "listened", "Artist", 2),
        (3, "KG_MUSIC_ARTIST_ORIGIN", "music.artist.origin", "Entity", 5),
    ]
    # the recommenders read plays through LISTENED: still exactly the three rows of the file
    plays = run_read(
        neo4j_db,
        "MATCH (u:User)-[:LISTENED]->(a:Artist) RETURN u.id AS u, a.id AS a ORDER BY u, a",
    ).records()
    assert [(r["u"], r["a"]) for r in plays] == [(10, 1), (10, 2), (11, 3)]
