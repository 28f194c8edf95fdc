"""Every baseline passes the one recommender contract (tests/recsys/contract.py)."""

from __future__ import annotations

from recsys.base import Recommender
from recsys.ease import EASE
from recsys.itemknn import ItemKNN
from recsys.lightgcn import LightGCN
from recsys.mf import ALS, BPR
from recsys.mostpop import MostPop
from tests.recsys.contract import RecommenderContract


class TestMostPop(RecommenderContract):
    def make(self) -> Recommender:
        return MostPop()


class TestItemKNN(RecommenderContract):
    def make(self) -> Recommender:
        return ItemKNN(neighbours=5)


class TestEASE(RecommenderContract):
    def make(self) -> Recommender:
        return EASE(l2=1.0, min_item_users=1)


class TestLightGCN(RecommenderContract):
    def make(self) -> Recommender:
        return LightGCN(dim=8, layers=2, lr=0.05, epochs=60, batch_size=64, seed=0)


class TestALS(RecommenderContract):
    def make(self) -> Recommender:
        return ALS(factors=8, regularization=0.1, iterations=10, seed=0)


class TestBPR(RecommenderContract):
    def make(self) -> Recommender:
        return BPR(factors=8, learning_rate=0.05, iterations=200, seed=0)
