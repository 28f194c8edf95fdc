"""An expert's concept placed zero-shot (recsys.concepts): known-answer weights on hand-made
vectors, scores and the review queue on a tiny fitted recommender with a hand-made function table
(no MiniLM), text search with a concept, and once against the real server with the real MiniLM."""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence

import numpy as np
import pytest

from kg.expert import Concept
from recsys.concepts import (
    UnknownConceptError,
    concept_scores,
    concept_weights,
    detect_concept,
    nearest_functions,
    resolve_concept,
)
from recsys.review import review_queue, uncertainty
from recsys.similar import CrossCulturalRecommender
from tests.recsys.tiny_model import FUNCTIONS, TRACKS, tiny_model

#: a function table where each function is one axis: the concept's cosines are its coordinates
TABLE = np.eye(4)
E = math.e


def _concept(name: str = "Rice harvest song", embedding: Sequence[float] = (0, 0, 0, 1)) -> Concept:
    return Concept(
        id="concept-" + name.lower().replace(" ", "-"),
        name=name,
        description="sung by women while cutting and threshing rice in the fields",
        kind="function",
        expert="rosa",
        created="2026-01-01T00:00:00Z",
        embedding=tuple(float(x) for x in embedding),
    )


# ---------------------------------------------------------------------- weights
def test_weights_are_a_softmax_of_cosines_over_the_temperature() -> None:
    f = np.eye(3)
    # cosines 0.8, 0.6, 0: softmax at temperature 1
    want = np.array([E**0.8, E**0.6, 1.0]) / (E**0.8 + E**0.6 + 1.0)
    np.testing.assert_allclose(concept_weights(np.array([0.8, 0.6, 0.0]), f, 1.0), want)
    # lengths do not matter, only directions
    np.testing.assert_allclose(concept_weights(np.array([8.0, 6.0, 0.0]), 2 * f, 1.0), want)
    # at 0.05 a lead of 0.2 in cosine is a factor e^4
    w = concept_weights(np.array([0.8, 0.6, 0.0]), f)
    assert w[0] / w[1] == pytest.approx(E**4)
    assert w.sum() == pytest.approx(1.0)
    # equally near two functions: shared evenly
    even = concept_weights(np.array([1.0, 1.0, 0.0]), f, 0.1)
    assert even[0] == even[1] == pytest.approx(0.5, abs=1e-3)


@pytest.mark.parametrize(
    ("c", "f", "t", "match"),
    [
        (np.ones(3), np.eye(2), 1.0, "expected"),
        (np.zeros(3), np.eye(3), 1.0, "zero embedding"),
        (np.ones(3), np.eye(3), 0.0, "positive"),
    ],
)
def test_weights_refuse_bad_input(c, f, t, match) -> None:
    with pytest.raises(ValueError, match=match):
        concept_weights(c, f, t)


# ---------------------------------------------------------------------- a tiny fitted model
def _model(tracks=TRACKS, functions=FUNCTIONS) -> CrossCulturalRecommender:
    return tiny_model(tracks, functions)


@pytest.fixture(scope="module")
def model() -> CrossCulturalRecommender:
    return _model()


def test_scores_are_the_posterior_times_the_weights(model) -> None:
    # the concept points at Work; at temperature 1 its weights are (1, 1, 1, e) / (3 + e)
    got = concept_scores(model, _concept(), function_embeddings=TABLE, temperature=1.0)
    w = np.array([1, 1, 1, E]) / (3 + E)
    p = model.distribution_
    np.testing.assert_allclose(got, p @ w)
    # k3, a public work song: its label keeps 0.925 on Work (the model smooths labels)
    assert got[2] == pytest.approx((3 * 0.025 + 0.925 * E) / (3 + E))
    assert got[7] == pytest.approx((0.05 + 0.25 + 0.35 + 0.35 * E) / (3 + E))  # u4
    assert nearest_functions(model, _concept(), 2, function_embeddings=TABLE, temperature=1.0) == [
        ("Work", pytest.approx(E / (3 + E))),
        ("Dance", pytest.approx(1 / (3 + E))),
    ]


def test_songs_labelled_with_the_concept_score_one() -> None:
    # once an expert labelled k4 with the concept it is a class: its column counts in full
    tracks = [list(t) for t in TRACKS]
    tracks[3][2] = "Rice harvest song"
    functions = (*FUNCTIONS, "Rice harvest song")
    for t in tracks:
        if t[4] is not None:
            t[4] = (*[0.8 * x for x in t[4]], 0.2)
    m = _model([tuple(t) for t in tracks], functions)
    table = np.vstack([TABLE, np.full(4, 0.5)])  # the concept's own row is never read
    got = concept_scores(m, _concept(), function_embeddings=table, temperature=1.0)
    assert got[3] == 1.0
    w = np.array([1, 1, 1, E]) / (3 + E)
    # u4: 0.2 on the concept itself plus the other 0.8 spread by the weights
    assert got[7] == pytest.approx(0.2 + 0.8 * (np.array([0.05, 0.25, 0.35, 0.35]) @ w))


def test_detect_and_resolve() -> None:
    short, long = _concept("Harvest song"), _concept("Rice harvest song")
    assert detect_concept("A RICE HARVEST SONG from the hills", [short, long]) is long
    assert detect_concept("harvest songs", [short]) is None  # whole words only
    assert resolve_concept("rice HARVEST song", [short, long]) is long
    assert resolve_concept("concept-harvest-song", [short, long]) is short
    with pytest.raises(UnknownConceptError, match="active concepts: 'Harvest song'"):
        resolve_concept("Wedding song", [short])


# ---------------------------------------------------------------------- the review queue
def test_queue_with_a_concept_asks_about_likely_and_unsure_songs_first(model) -> None:
    # near one-hot on Work (temperature 0.05): concept score ≈ p(Work) = .20 .20 .10 .35 for u1..u4
    c = _concept()
    items = review_queue(model, k=4, concept=c, function_embeddings=TABLE)
    u = uncertainty(model.distribution_[4:])
    key = np.array([0.20, 0.20, 0.10, 0.35]) * u  # u1 .197, u2 .192, u3 .068, u4 .313
    assert np.argsort(-key).tolist() == [3, 0, 1, 2]
    # by hand: u4 (highest); u1 (region Hills has none yet); u3 (S1 had its turn this round);
    # new round: u2
    assert [i.track_id for i in items] == ["u4", "u1", "u3", "u2"]
    assert items[0].concept_score == pytest.approx(0.35, abs=1e-6)
    assert items[0].to_dict()["concept_score"] == pytest.approx(0.35, abs=1e-6)
    # without the concept the most uncertain song comes first, and no concept score
    plain = review_queue(model, k=4)
    assert plain[0].track_id == "u1" and plain[0].concept_score is None


# ---------------------------------------------------------------------- text search
def _fake_encoder(texts: Sequence[str]) -> np.ndarray:
    """A fixed random unit vector per text (no MiniLM): enough to train and rank."""
    rows = []
    for t in texts:
        seed = int(hashlib.sha256(t.encode()).hexdigest()[:8], 16)
        rows.append(np.random.default_rng(seed).normal(size=16))
    return np.array(rows, dtype=np.float32)


def test_text_search_ranks_by_the_concept_and_explains_it() -> None:
    from recsys.text import TextMusicEmbedding
    from tests.recsys.test_text_search import synthetic_catalogue

    rec = CrossCulturalRecommender(alignment="none").fit(synthetic_catalogue())
    emb = TextMusicEmbedding(epochs=2, batch_size=32, dim=8, hidden=16, encoder=_fake_encoder)
    emb.fit(rec)
    c = _concept()
    got = emb.search("a rice harvest song from the Amazon", 5, concept=c, function_embeddings=TABLE)
    assert len(got) == 5
    assert all(r.function == "Work" for r in got)  # every work song scores ≈ 1, the rest ≈ 0
    assert all(r.culture in {"S-warao", "S-yekw"} for r in got)  # the culture filter still holds
    # ranked by the concept score to two decimals, then by the cosine
    keys = [(-round(r.details["concept"]["score"], 2), -r.score) for r in got]
    assert keys == sorted(keys)
    top = got[0]
    assert top.explanation.startswith(
        "Matches the concept Rice harvest song (added by rosa): sung by women while cutting and "
        "threshing rice in the fields; score 1.00, placed nearest Work (1.00)"
    )
    assert top.details["concept"]["name"] == "Rice harvest song"
    assert "placed nearest Work (1.00)" in top.explanation
    assert top.details["concept"]["placed_nearest"][0][0] == "Work"


# ---------------------------------------------------------------------- against the server
DIM = 8
_TRACKS = "MATCH (t:Track) RETURN t.id AS id, t.function AS function"


@pytest.mark.neo4j
@pytest.mark.slow
def test_a_new_concept_answers_search_and_queue_at_once(
    neo4j_driver, graph_wiper, tmp_path, monkeypatch
) -> None:
    from audio.graph import store_factors
    from gnn.features import embed_texts
    from kg.accounts import account_key, add_account
    from kg.expert import add_concept
    from kg.ingest import ingest
    from recsys import similar, text

    graph_wiper(neo4j_driver)
    ingest(neo4j_driver, sources=["ccmc"], progress=False)
    records, _, _ = neo4j_driver.execute_query(_TRACKS)
    rows = sorted((r["id"], r["function"] or "") for r in records)
    rng = np.random.default_rng(0)
    fc = {f: 3.0 * rng.normal(size=DIM) for f in sorted({r[1] for r in rows})}
    fc[""] = np.zeros(DIM)
    za = np.array([fc[r[1]] for r in rows]) + 0.5 * rng.normal(size=(len(rows), DIM))
    z = rng.normal(size=(len(rows), DIM))
    store_factors(neo4j_driver, [r[0] for r in rows], z, z, za)
    key = account_key(tmp_path / "home")
    add_account(neo4j_driver, "rosa", "a long password", "expert", key=key, scopes=[])
    monkeypatch.setenv("SOUNDBRIDGE_HOME", str(tmp_path))
    monkeypatch.setattr(similar, "_SERVED", {})
    monkeypatch.setattr(text, "_SERVED", {})

    description = "sung by women while cutting and threshing rice in the fields"
    concept = add_concept(
        neo4j_driver,
        "Rice harvest song",
        description,
        expert="rosa",
        embedding=embed_texts([description])[0].tolist(),
    )
    model = similar.served_catalogue(neo4j_driver)
    assert "Rice harvest song" not in model.function_model_.classes_  # no answer given yet
    near = nearest_functions(model, concept)
    print("placed:", near)
    assert near[0][0] == "Work"

    got = text.search_text("a rice harvest song", 5, driver=neo4j_driver)
    for r in got:
        print(r.track_id, r.culture_name, r.function, round(r.details["concept"]["score"], 3))
    print(got[0].explanation)
    assert len(got) == 5
    assert got[0].explanation.startswith(
        f"Matches the concept Rice harvest song (added by rosa): {description}; score "
    )
    assert f"placed nearest Work ({near[0][1]:.2f})" in got[0].explanation
    scores = concept_scores(model, concept)
    assert got[0].details["concept"]["score"] == pytest.approx(scores.max(), abs=0.005)

    items = review_queue(model, k=5, concept=concept)
    for i in items:
        print(i.track_id, i.culture_name, round(i.concept_score or 0, 3), round(i.uncertainty, 3))
    assert len(items) == 5 and all(i.concept_score is not None for i in items)
    unknown = np.asarray(model.labels_) == ""
    best = (scores * np.nan_to_num(uncertainty(model.distribution_)))[unknown].max()
    first = model.catalogue_.index(items[0].track_id)
    assert items[0].concept_score * items[0].uncertainty == pytest.approx(best)
    assert scores[first] == pytest.approx(items[0].concept_score)
