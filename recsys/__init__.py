"""recsys: the recommenders, their evaluation and the public recommendation API.

Every model follows :class:`recsys.base.Recommender`; :func:`recsys.pipeline.build` fits and
evaluates them all on one split and saves the served model; :mod:`recsys.api` answers from it.
:func:`recsys.similar.recommend_similar` answers cross-cultural queries (docs/alignment.md).
"""

from recsys.api import (
    UnknownIdError,
    export_user_recs,
    recommend_for_user,
    recommend_friends,
    similar_artists,
)
from recsys.base import NotFittedError, Recommender
from recsys.ease import EASE
from recsys.evaluate import Evaluation, evaluate
from recsys.fastrp import FastRP
from recsys.gnn import HeteroGNN
from recsys.itemknn import ItemKNN
from recsys.lightgcn import LightGCN
from recsys.mostpop import MostPop
from recsys.pipeline import build
from recsys.similar import CrossCulturalRecommender, Recommendation, recommend_similar
from recsys.split import Interactions, split_lastfm

__all__ = [
    "CrossCulturalRecommender",
    "EASE",
    "Evaluation",
    "FastRP",
    "HeteroGNN",
    "Interactions",
    "ItemKNN",
    "LightGCN",
    "MostPop",
    "NotFittedError",
    "Recommendation",
    "Recommender",
    "UnknownIdError",
    "build",
    "evaluate",
    "export_user_recs",
    "recommend_for_user",
    "recommend_friends",
    "recommend_similar",
    "similar_artists",
    "split_lastfm",
]
