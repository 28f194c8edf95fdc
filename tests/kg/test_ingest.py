"""Ingestion into the real server: sources on their own, NetEase exports, bad input."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from kg.cocollection import co_collection_weights
from kg.cypher import run_read
from kg.ingest import ingest
from kg.stats import graph_counts
from loaders.errors import DataError
from loaders.netease import load_netease

pytestmark = pytest.mark.neo4j

NETEASE = Path(__file__).resolve().parents[1] / "fixtures" / "netease"


def _data() -> Path:
    return Path(os.environ["SOUNDBRIDGE_DATA"])


def test_ccmc_alone_builds_tracks_functions_and_the_culture_tree(neo4j_db):
    s = ingest(neo4j_db, sources=["ccmc"], progress=False)
    assert s.sources == ["ccmc"]
    assert s.counts.nodes["Track"] == 1007 and s.counts.nodes["Function"] == 10
    assert s.counts.relationships["SERVES_FUNCTION"] == 806
    assert s.counts.relationships["FROM_CULTURE"] == 1007
    assert s.counts.societies >= 410
    lullaby = run_read(
        neo4j_db,
        "MATCH (t:Track)-[:SERVES_FUNCTION]->(:Function {name: 'Lullaby'}) RETURN count(t) AS n",
    )
    assert lullaby.rows[0][0] > 0


def test_a_data_folder_reached_through_a_link_keeps_audio_paths_relative(neo4j_db, tmp_path):
    linked = tmp_path / "data"
    linked.symlink_to(_data().resolve(), target_is_directory=True)
    ingest(neo4j_db, linked, sources=["ccmc"], progress=False)
    rows = run_read(neo4j_db, "MATCH (t:Track {id: 'NHS2-TBMU'}) RETURN t.audio AS a").rows
    assert rows == [["ccmc/cldf/songs/NHS2-TBMU.mp3"]]


def test_netease_exports_give_collections_and_directed_co_collection(neo4j_db, tmp_path):
    s = ingest(neo4j_db, tmp_path, sources=["netease"], netease_path=NETEASE, progress=False)
    ne = load_netease(NETEASE)
    assert s.counts.nodes["Track"] == len(ne.songs)
    assert s.counts.nodes["Playlist"] == len(ne.playlists)
    assert s.counts.relationships["COLLECTED"] == len(ne.collections)
    expected = co_collection_weights(ne.collections, user="user_id", item="song_id")
    got = run_read(
        neo4j_db,
        "MATCH (a:Track)-[r:CO_COLLECTED]->(b:Track) "
        "RETURN a.id AS src, b.id AS dst, r.weight AS weight",
    ).records()
    want = {(f"netease:{r.src}", f"netease:{r.dst}"): r.weight for r in expected.itertuples()}
    assert {(r["src"], r["dst"]): r["weight"] for r in got} == pytest.approx(want)
    again = ingest(neo4j_db, tmp_path, sources=["netease"], netease_path=NETEASE, progress=False)
    assert again.counts == s.counts


def test_bad_input_raises_before_anything_is_written(neo4j_db, tmp_path):
    root = tmp_path / "data"
    shutil.copytree(_data() / "ccmc", root / "ccmc")
    fm = root / "lastfm-hetrec2011"
    shutil.copytree(_data() / "lastfm-hetrec2011", fm)
    lines = (fm / "user_artists.dat").read_text().splitlines()
    lines[41] = "2\tnot-an-id\t12"
    (fm / "user_artists.dat").write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError, match=r"user_artists\.dat line 42.*not-an-id"):
        ingest(neo4j_db, root, progress=False)
    assert graph_counts(neo4j_db).total_nodes == 0  # ccmc loaded fine, yet nothing was written


def test_unknown_source_is_refused(neo4j_db):
    from loaders.errors import ConfigError

    with pytest.raises(ConfigError, match="unknown source.*spotify"):
        ingest(neo4j_db, sources=["spotify"], progress=False)
