"""gnn: node embeddings for every label of the knowledge graph.

:func:`gnn.graph.read_knowledge_graph` reads the graph and the initial features once;
:func:`gnn.graph.training_graph` rebuilds the relations that would leak a validation split;
:func:`gnn.train.train` fits :class:`gnn.model.HeteroLightGCN` (or :class:`gnn.model.HeteroSAGE`),
on the whole graph or on LinkNeighborLoader sub-graphs (:class:`gnn.sampling.TorchNeighborSampler`);
:mod:`gnn.store` saves the embeddings and writes them into Neo4j with vector indexes.
"""

from gnn.features import NodeFeatures, read_features
from gnn.graph import KnowledgeGraph, read_knowledge_graph, training_graph
from gnn.lightgcn import train_lightgcn
from gnn.model import HeteroLightGCN, HeteroSAGE
from gnn.sampling import TorchNeighborSampler
from gnn.store import load_embeddings, save_embeddings, write_embeddings
from gnn.train import TrainConfig, TrainResult

# the training function is not re-exported here: as ``gnn.train`` it would shadow the
# ``gnn.train`` module (``import gnn.train as t`` would give the function); use
# ``from gnn.train import train``

__all__ = [
    "HeteroLightGCN",
    "HeteroSAGE",
    "KnowledgeGraph",
    "NodeFeatures",
    "TrainConfig",
    "TorchNeighborSampler",
    "TrainResult",
    "load_embeddings",
    "read_features",
    "read_knowledge_graph",
    "save_embeddings",
    "train_lightgcn",
    "training_graph",
    "write_embeddings",
]
