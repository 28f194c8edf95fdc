"""PyG's :class:`torch_geometric.nn.LightGCN` on the User–Artist graph, trained with BPR.

The baseline the heterogeneous model is measured against: the same training pairs, no side
information, PyG's own model and ``recommendation_loss``.

Training is bounded by ``epochs`` and, when validation pairs are given, early stopping
(``patience`` epochs without a better Recall@20); with the same seed and thread count it gives
the same model on an idle or a loaded machine. ``max_seconds`` is a safety only: when it cuts
training short the result says so (``stopped_by="time"``) and a warning is printed.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
import torch
from torch import Tensor
from torch_geometric.nn import LightGCN
from tqdm.auto import tqdm

from gnn.train import recall_at_k, torch_threads

__all__ = ["LightGCNResult", "train_lightgcn"]


@dataclass
class LightGCNResult:
    """The kept state's user and item embeddings and the curve of validation Recall@20.

    Shapes:
        users, train_users: ``(num_users, dim)``; items, train_items: ``(num_items, dim)``.

    Attributes:
        users, items: the kept parameters propagated over the ``infer`` graph (by default the
            training graph): the final embeddings.
        train_users, train_items: the kept parameters propagated over the training graph, what
            the validation pairs were scored with (the same as ``users``/``items`` without
            ``infer``).
        history: one dict per epoch: ``epoch``, ``loss``, ``recall`` (NaN without validation
            pairs), ``seconds``.
        best_epoch: the epoch whose parameters were kept (the last one without validation).
        seconds: wall time of training.
        stopped_by: ``"epochs"`` (all ``epochs`` ran), ``"patience"`` (early stopping) or
            ``"time"`` (the ``max_seconds`` safety cut training short: the model then depends
            on the machine's speed and load).
    """

    users: np.ndarray
    items: np.ndarray
    history: list[dict[str, float]]
    best_epoch: int
    seconds: float
    stopped_by: str
    train_users: np.ndarray
    train_items: np.ndarray


def train_lightgcn(
    train: sp.csr_matrix,
    valid: sp.csr_matrix | None = None,
    *,
    infer: sp.csr_matrix | None = None,
    dim: int = 64,
    layers: int = 3,
    lr: float = 1e-2,
    l2: float = 1e-4,
    batch_size: int = 2048,
    epochs: int = 30,
    patience: int = 5,
    max_seconds: float = 3600.0,
    seed: int = 0,
    progress: bool = False,
    threads: int = 1,
) -> LightGCNResult:
    """Train PyG's LightGCN with BPR (one uniform negative per positive).

    The parameters of the epoch with the best validation Recall@20 are kept (of the last epoch
    without ``valid``) and propagated over ``infer``'s edges for the final embeddings.

    Shapes:
        train, valid, infer: ``(num_users, num_items)``; items are nodes ``num_users..`` of the
        graph.

    Args:
        valid: held-out pairs for early stopping (``None``: train all ``epochs``).
        infer: the pairs whose graph gives the final embeddings (e.g. ``train`` plus ``valid``,
            once they have chosen the epoch); ``None``: ``train``.
        l2: the weight of PyG's embedding regulariser in ``recommendation_loss``.
        max_seconds: a safety limit on training time; no epoch is started that would end past
            it (judged by the last epoch's length).
        threads: torch intra-op threads while training (see :func:`gnn.train.train`).

    Raises:
        ValueError: ``valid`` or ``infer`` has another shape than ``train``.

    Examples:
        >>> x = sp.csr_matrix(np.kron(np.eye(2), np.ones((3, 3))).astype(np.float32))
        >>> r = train_lightgcn(x, dim=4, layers=1, lr=0.05, batch_size=4, epochs=2)
        >>> r.users.shape, r.items.shape, r.best_epoch, r.stopped_by
        ((6, 4), (6, 4), 1, 'epochs')
    """
    for name, m in (("valid", valid), ("infer", infer)):
        if m is not None and m.shape != train.shape:
            raise ValueError(
                f"train_lightgcn: {name} has shape {m.shape}, train {train.shape}; "
                "give both the same users and items"
            )
    with torch_threads(threads):
        return _train(
            train,
            valid,
            infer,
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


def _edges(x: sp.spmatrix) -> Tensor:
    """Both directions of the user–item edges of ``x``; items are nodes ``num_users..``."""
    coo = sp.coo_matrix(x)
    u = torch.from_numpy(coo.row.astype(np.int64))
    i = torch.from_numpy(coo.col.astype(np.int64)) + x.shape[0]
    return torch.cat([torch.stack([u, i]), torch.stack([i, u])], dim=1)


def _train(
    train: sp.csr_matrix,
    valid: sp.csr_matrix | None,
    infer: sp.csr_matrix | None,
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
    edge_index = _edges(train)
    n_pairs = edge_index.shape[1] // 2
    u, i = edge_index[0, :n_pairs], edge_index[1, :n_pairs]
    model = LightGCN(n_users + n_items, dim, layers)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    pairs = torch.stack([u, i - n_users])
    vpairs = None
    if valid is not None:
        v = valid.tocoo()
        vpairs = torch.from_numpy(np.stack([v.row, v.col]).astype(np.int64))
    steps = max(1, n_pairs // batch_size)
    best, best_epoch, bad = -1.0, -1, 0
    best_state: dict[str, Tensor] | None = None
    stopped_by = "epochs"
    history: list[dict[str, float]] = []
    for epoch in tqdm(range(epochs), disable=not progress, desc="lightgcn"):
        model.train()
        perm = torch.from_numpy(rng.permutation(n_pairs))
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
        rec = float("nan")
        if vpairs is not None:
            model.eval()
            with torch.no_grad():
                emb = model.get_embedding(edge_index)
            rec = recall_at_k(emb[:n_users], emb[n_users:], pairs, vpairs)
        history.append(
            {
                "epoch": epoch,
                "loss": total / steps,
                "recall": rec,
                "seconds": time.perf_counter() - start,
            }
        )
        # without validation pairs every epoch is kept: the last state wins
        if vpairs is None or rec > best or best_state is None:
            best, best_epoch, bad = rec, epoch, 0
            best_state = {k: t.detach().clone() for k, t in model.state_dict().items()}
        else:
            bad += 1
        if vpairs is not None and bad >= patience:
            stopped_by = "patience"
            break
        # stop before an epoch that would end past the time budget (the last one's length)
        elapsed = time.perf_counter() - start
        last = elapsed - (history[-2]["seconds"] if len(history) > 1 else 0.0)
        if epoch + 1 < epochs and elapsed + last > max_seconds:
            stopped_by = "time"
            tqdm.write(
                f"WARNING: LightGCN training stopped by the {max_seconds:g} s safety limit "
                f"after {epoch + 1} of {epochs} epochs: this model depends on the machine's "
                "speed and load; raise max_seconds or lower epochs for a reproducible one"
            )
            break
    assert best_state is not None
    model.load_state_dict(best_state)
    model.eval()
    with torch.no_grad():
        fitted = model.get_embedding(edge_index).numpy()
        final = fitted if infer is None else model.get_embedding(_edges(infer)).numpy()
    return LightGCNResult(
        users=final[:n_users],
        items=final[n_users:],
        history=history,
        best_epoch=best_epoch,
        seconds=time.perf_counter() - start,
        stopped_by=stopped_by,
        train_users=fitted[:n_users],
        train_items=fitted[n_users:],
    )
