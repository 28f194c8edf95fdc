"""A tiny fitted cross-cultural recommender with a posterior written by hand, for the review queue
and concept tests: three societies in two regions, four songs with public functions and four
without (their posterior given)."""

from __future__ import annotations

import numpy as np

from recsys.catalogue import TrackCatalogue
from recsys.cultures import CultureResolver
from recsys.similar import CrossCulturalRecommender

FUNCTIONS = ("Dance", "Healing", "Lullaby", "Work")

#: track, society, public function, z_a, posterior (for the unknown songs)
TRACKS = [
    ("k1", "S1", "Dance", (1.0, 0.0, 0.0), None),
    ("k2", "S2", "Lullaby", (0.0, 1.0, 0.0), None),
    ("k3", "S3", "Work", (0.0, 0.0, 1.0), None),
    ("k4", "S3", "Healing", (0.7, 0.7, 0.0), None),
    ("u1", "S1", "", (0.9, 0.1, 0.0), (0.30, 0.30, 0.20, 0.20)),
    ("u2", "S1", "", (0.1, 0.9, 0.1), (0.40, 0.20, 0.20, 0.20)),
    ("u3", "S2", "", (0.0, 0.2, 0.9), (0.10, 0.10, 0.70, 0.10)),
    ("u4", "S3", "", (0.5, 0.5, 0.1), (0.05, 0.25, 0.35, 0.35)),
]


def tiny_tree() -> CultureResolver:
    """World → Hills (Hill people, Valley people), Coast (Shore people)."""
    return CultureResolver.from_rows(
        [
            {"id": "W", "name": "World", "level": "world_region", "parent": None},
            {"id": "R1", "name": "Hills", "level": "region", "parent": "W"},
            {"id": "R2", "name": "Coast", "level": "region", "parent": "W"},
            {"id": "S1", "name": "Hill people", "level": "society", "parent": "R1"},
            {"id": "S2", "name": "Valley people", "level": "society", "parent": "R1"},
            {"id": "S3", "name": "Shore people", "level": "society", "parent": "R2"},
        ],
        aliases={},
    )


def tiny_catalogue(tracks=TRACKS, functions=FUNCTIONS) -> TrackCatalogue:  # type: ignore[no-untyped-def]
    """The tracks as a catalogue (z_a only, three dimensions)."""
    return TrackCatalogue(
        track_ids=np.array([t[0] for t in tracks]),
        names=np.array([f"song {t[0]}" for t in tracks]),
        cultures=np.array([t[1] for t in tracks]),
        functions=np.array([t[2] for t in tracks]),
        factors=np.array([t[3] for t in tracks], dtype=np.float32),
        dims=(0, 0, 3),
        tree=tiny_tree(),
        function_names=functions,
    )


def tiny_model(tracks=TRACKS, functions=FUNCTIONS) -> CrossCulturalRecommender:  # type: ignore[no-untyped-def]
    """Fitted with the hand-written posterior (uniform for the songs with a public function)."""
    posterior = np.array([t[4] or (1 / len(functions),) * len(functions) for t in tracks])
    return CrossCulturalRecommender(alignment="none").fit(
        tiny_catalogue(tracks, functions), predicted=posterior
    )
