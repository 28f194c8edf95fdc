"""PyG's :class:`torch_geometric.nn.LightGCN` on the User–Artist graph, trained with BPR.

The baseline the heterogeneous model is measured against: the same training pairs, no side
information, PyG's own model and ``recommendation_loss``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
import torch
from torch_geometric.nn import LightGCN
from tqdm.auto import tqdm

from gnn.train import recall_at_k

__all__ = ["LightGCNResult", "train_lightgcn"]


@dataclass
class LightGCNResult:
    """Best user and item embeddings and the curve of validation Recall@20.

    Shapes:
        users: ``(num_users, dim)``; items: ``(num_items, dim)``.
    """

    users: np.ndarray
    items: np.ndarray
    history: list[dict[str, float]]
    best_epoch: int
    seconds: float


def train_lightgcn(
    train: sp.csr_matrix,
    valid: sp.csr_matrix | None = None,
    *,
    dim: int = 64,
    layers: int = 3,
    lr: float = 5e-3,
    l2: float = 1e-4,
    batch_size: int = 2048,
    epochs: int = 100,
    patience: int = 5,
    max_seconds: float = 540.0,
    seed: int = 0,
    progress: bool = False,
    threads: int = 1,
) -> LightGCNResult:
    """Train PyG's LightGCN with BPR (one uniform negative per positive).

    Shapes:
        train, valid: ``(num_users, num_items)``; items are nodes ``num_users..`` of the graph.

    Args:
        valid: held-out pairs for early stopping (``None``: train all ``epochs``).
        l2: the weight of PyG's embedding regulariser in ``recommendation_loss``.
        threads: torch intra-op threads while training (see :func:`gnn.train.train`).
    """
    saved = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        return _train(
            train,
            valid,
            dim,
            layers,
            lr,
            l2,
            batch_size,
            epochs,
            patience,
            max_seconds,
            seed,
            progress,
        )
    finally:
        torch.set_num_threads(saved)


def _train(
    train: sp.csr_matrix,
    valid: sp.csr_matrix | None,
    dim: int,
    layers: int,
    lr: float,
    l2: float,
    batch_size: int,
    epochs: int,
    patience: int,
    max_seconds: float,
    seed: int,
    progress: bool,
) -> LightGCNResult:
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    start = time.perf_counter()
    n_users, n_items = train.shape
    coo = train.tocoo()
    u = torch.from_numpy(coo.row.astype(np.int64))
    i = torch.from_numpy(coo.col.astype(np.int64)) + n_users
    edge_index = torch.cat([torch.stack([u, i]), torch.stack([i, u])], dim=1)
    model = LightGCN(n_users + n_items, dim, layers)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    pairs = torch.stack([u, i - n_users])
    vpairs = None
    if valid is not None:
        v = valid.tocoo()
        vpairs = torch.from_numpy(np.stack([v.row, v.col]).astype(np.int64))
    steps = max(1, len(u) // batch_size)
    best, best_epoch, best_state, bad, history = -1.0, -1, None, 0, []
    for epoch in tqdm(range(epochs), disable=not progress, desc="lightgcn"):
        model.train()
        perm = torch.from_numpy(rng.permutation(len(u)))
        total = 0.0
        for s in range(steps):
            b = perm[s * batch_size : (s + 1) * batch_size]
            neg = torch.from_numpy(rng.integers(0, n_items, len(b))) + n_users
            emb = model.get_embedding(edge_index)
            src = emb[u[b]]
            pos = (src * emb[i[b]]).sum(1)
            ng = (src * emb[neg]).sum(1)
            loss = model.recommendation_loss(
                pos, ng, node_id=torch.cat([u[b], i[b], neg]), lambda_reg=l2
            )
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += loss.detach().item()
        model.eval()
        with torch.no_grad():
            emb = model.get_embedding(edge_index)
        rec = (
            recall_at_k(emb[:n_users], emb[n_users:], pairs, vpairs) if vpairs is not None else 0.0
        )
        history.append(
            {
                "epoch": epoch,
                "loss": total / steps,
                "recall": rec,
                "seconds": time.perf_counter() - start,
            }
        )
        if rec > best or vpairs is None:
            best, best_epoch, bad = rec, epoch, 0
            best_state = emb.clone()
        else:
            bad += 1
        if bad >= patience or time.perf_counter() - start > max_seconds:
            break
    assert best_state is not None
    return LightGCNResult(
        users=best_state[:n_users].numpy(),
        items=best_state[n_users:].numpy(),
        history=history,
        best_epoch=best_epoch,
        seconds=time.perf_counter() - start,
    )
