"""The real CCMC and Cantometrics graph with known-answer audio factors, for the recsys tests.

``za`` is the centre of the track's public function plus noise (noise alone where the function
is withheld), ``zs`` the centre of its HRAF region plus noise, ``zc`` noise: 16 dimensions each,
seed 0. So the function model learns the labels and each region is a cluster.
"""

from __future__ import annotations

import neo4j
import numpy as np

from audio.graph import store_factors
from kg.ingest import ingest

DIM = 16

# Test-only Cypher: what the known-answer factors are drawn from.
_TRACKS = "MATCH (t:Track) RETURN t.id AS id, t.function AS function, t.hraf_region AS region"


def build_known_graph(driver: neo4j.Driver) -> neo4j.Driver:
    """Ingest CCMC and Cantometrics into the (emptied) graph and store the known factors."""
    ingest(driver, sources=["ccmc", "cantometrics"], progress=False)
    records, _, _ = driver.execute_query(_TRACKS)
    rows = sorted((r["id"], r["function"] or "", r["region"] or "") for r in records)
    rng = np.random.default_rng(0)
    fc = {f: 3.0 * rng.normal(size=DIM) for f in sorted({r[1] for r in rows})}
    fc[""] = np.zeros(DIM)
    rc = {g: 3.0 * rng.normal(size=DIM) for g in sorted({r[2] for r in rows})}
    n = len(rows)
    za = np.array([fc[r[1]] for r in rows]) + 0.5 * rng.normal(size=(n, DIM))
    zs = np.array([rc[r[2]] for r in rows]) + 0.5 * rng.normal(size=(n, DIM))
    zc = rng.normal(size=(n, DIM))
    assert store_factors(driver, [r[0] for r in rows], zc, zs, za) == 1007
    return driver
