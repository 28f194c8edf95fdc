"""Training of the heterogeneous encoders: link prediction on LISTENED, seeded and early-stopped.

Two samplers give the training batches (``TrainConfig.sampler``):

- ``"full"`` (default): each step draws a mini-batch of training (user, artist) LISTENED edges
  and propagates over the whole training graph (~50k nodes, ~0.2M edges with the default
  relations: a full propagation costs well under a second on the CPU, and every artist of the
  catalogue can be a negative);
- ``"neighbor"``: PyG's ``LinkNeighborLoader`` draws the batch's edges and samples
  ``num_neighbors`` per hop around their endpoints (:class:`gnn.sampling.TorchNeighborSampler`,
  plain torch where pyg-lib / torch-sparse are missing); the model runs on that sub-graph only,
  so memory follows the batch, not the graph. Sampled edges are re-weighted
  (:func:`gnn.model.sampled_adjacency`) so that whole-graph inference matches training.

The batch is scored with either

- ``loss="softmax"``: softmax of cosine similarity / ``tau``, the positive against ``negatives``
  uniformly drawn artists shared by the batch (``negatives=0``: every artist of the graph, or of
  the sub-graph with the neighbour sampler), or
- ``loss="bpr"``: BPR against uniformly drawn negative artists.

Auxiliary terms (full-graph sampler): FRIEND edges (a user against random users, weight
``friend_weight``); the expert constraints between tracks: must-link pairs are positives and
cannot-link pairs negatives in a BPR term against random tracks (weight ``expert_weight``); and
the tracks' own link prediction (weight ``track_weight``): for the target edges of
``track_targets`` (a track's function — training labels only —, its culture, its ``SIMILAR_*``
tracks; at most ``batch_size`` edges of each relation a step, drawn uniformly), a softmax of
cosine / ``tau`` of the track against every node of the target's label (every function, culture
or other track), so that track embeddings are learned from their own edges and not only carried
by the Last.fm loss.
Validation Recall@20 (training artists excluded, whole-graph embeddings) after every epoch drives
early stopping; the best state is checkpointed to ``checkpoint_dir/best.pt``.

On several processes (``replicas``, :mod:`gnn.distributed`), each takes its share of every
step's batch and of each auxiliary term, and the gradients are averaged: the same steps as one
process, divided among them (full-graph sampler only).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn
from torch_geometric.data import HeteroData
from tqdm.auto import tqdm

from gnn.distributed import Replicas, current
from gnn.graph import FRIEND, LISTENED
from gnn.model import (
    Adjacency,
    EdgeType,
    HeteroLightGCN,
    HeteroSAGE,
    degrees,
    sampled_adjacency,
)
from loaders.errors import ConfigError
from loaders.files import replacing

__all__ = [
    "TrainConfig",
    "TrainResult",
    "recall_at_k",
    "torch_threads",
    "track_link_loss",
    "train",
]


@dataclass(frozen=True)
class TrainConfig:
    """Hyper-parameters of :func:`train` (defaults: the configuration reported in the docs)."""

    conv: str = "light"
    dim: int = 256
    layers: int = 2
    loss: str = "softmax"
    tau: float = 0.1
    negatives: int = 0
    lr: float = 2e-2
    weight_decay: float = 0.0
    batch_size: int = 1024
    epochs: int = 6
    patience: int = 2
    friend_weight: float = 0.1
    expert_weight: float = 1.0
    track_weight: float = 0.5
    feature_only: tuple[str, ...] = ("Track",)
    max_seconds: float = 3600.0
    seed: int = 0
    sampler: str = "full"
    threads: int = 2
    num_neighbors: tuple[int, ...] = (10, 5)


@dataclass
class TrainResult:
    """What training leaves: the best embeddings per label and the curves.

    Attributes:
        embeddings: label → ``(num_nodes, dim)`` float32 (unit rows for ``loss="softmax"``).
        history: one dict per epoch: ``epoch``, ``loss``, ``recall``, ``seconds`` (and
            ``track_loss``, the mean of the tracks' link-prediction term, when it ran).
        best_epoch: the epoch whose state was kept.
        seconds: wall time of training.
        gates: relation → weight (``conv="light"``).
        stopped_by: ``"epochs"`` (all ``config.epochs`` ran), ``"patience"`` (early stopping)
            or ``"time"`` (the ``max_seconds`` safety cut training short: the model then
            depends on the machine's speed and load).
        train_embeddings: with an ``infer`` graph, the embeddings of the kept state propagated
            over the training graph itself (what the validation pairs were scored with);
            otherwise the same as ``embeddings``.
        encode: the kept state's forward pass over another graph with the same nodes, edge
            types and features (e.g. one with more LISTENED rows): label → ``(num_nodes, dim)``.
            ``None`` when the result was not built by :func:`train`.
    """

    embeddings: dict[str, np.ndarray]
    history: list[dict[str, float]]
    best_epoch: int
    seconds: float
    gates: dict[str, float] = field(default_factory=dict)
    stopped_by: str = "epochs"
    train_embeddings: dict[str, np.ndarray] = field(default_factory=dict)
    encode: Callable[[HeteroData], dict[str, np.ndarray]] | None = None


@contextmanager
def torch_threads(threads: int) -> Iterator[None]:
    """Run the block with ``threads`` torch intra-op threads, then restore the caller's count."""
    saved = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(saved)


def recall_at_k(
    user_emb: Tensor, item_emb: Tensor, train: Tensor, valid: Tensor, k: int = 20
) -> float:
    """Mean Recall@k of dot-product scores, training pairs excluded.

    Shapes:
        user_emb: ``(U, d)``; item_emb: ``(I, d)``; train, valid: ``(2, E)`` (user, item) pairs.
    """
    users = torch.unique(valid[0])
    pos = torch.full((user_emb.shape[0],), -1, dtype=torch.long)
    pos[users] = torch.arange(len(users))
    scores = user_emb[users] @ item_emb.T
    keep = pos[train[0]] >= 0
    scores[pos[train[0, keep]], train[1, keep]] = -torch.inf
    top = scores.topk(min(k, scores.shape[1]), dim=1).indices
    hit = torch.zeros_like(scores, dtype=torch.bool)
    hit[pos[valid[0]], valid[1]] = True
    found = hit.gather(1, top).sum(1).float()
    n = torch.bincount(pos[valid[0]], minlength=len(users)).float()
    return float((found / n).mean())


def _bpr(pos: Tensor, neg: Tensor) -> Tensor:
    return nn.functional.softplus(neg - pos).mean()


def track_link_loss(h: dict[str, Tensor], targets: dict[EdgeType, Tensor], tau: float) -> Tensor:
    """Mean over relations of the softmax cross-entropy of each track against its targets.

    For an edge (track t, node v of label L): ``-log softmax_v'(h_t · h_v' / tau)`` over every
    node v' of L (a track is never its own candidate).

    Shapes:
        h: ``{label: (num_nodes, dim)}``; each target ``(2, E)`` (track index, node index).

    Examples:
        >>> h = {"Track": torch.tensor([[1.0, 0.0]]), "Function": torch.eye(2)}
        >>> e = ("Track", "SERVES_FUNCTION", "Function")
        >>> round(float(track_link_loss(h, {e: torch.tensor([[0], [0]])}, tau=1.0)), 4)
        0.3133
    """
    terms = []
    for (_, _, dst), pairs in targets.items():
        t = h["Track"][pairs[0]]
        logits = t @ h[dst].T / tau
        if dst == "Track":
            logits = logits.index_put((torch.arange(len(t)), pairs[0]), torch.tensor(-torch.inf))
        terms.append(nn.functional.cross_entropy(logits, pairs[1]))
    return torch.stack(terms).mean()


def neighbor_loader(graph: HeteroData, hops: list[int], batch_size: int) -> Any:
    """PyG's ``LinkNeighborLoader`` over the LISTENED pairs, shuffled, ``hops`` per layer.

    The sampler is :class:`gnn.sampling.TorchNeighborSampler` (plain torch where pyg-lib and
    torch-sparse are missing). Shapes: each batch's ``[LISTENED].edge_label_index`` is
    ``(2, batch_size)`` local indices into the batch's sub-graph.
    """
    from torch_geometric.loader import LinkNeighborLoader

    from gnn.sampling import TorchNeighborSampler

    return LinkNeighborLoader(
        graph,
        num_neighbors=hops,
        edge_label_index=(LISTENED, graph[LISTENED].edge_index),
        batch_size=batch_size,
        shuffle=True,
        neighbor_sampler=TorchNeighborSampler(graph, hops),
    )


class _NeighborBatches:
    """One epoch of LinkNeighborLoader batches, encoded: yields ``(h, b)`` per batch.

    ``h`` holds the embeddings of the batch's sampled sub-graph (label → ``(n_label, dim)``) and
    ``b`` ``(2, B)`` the rows of the batch's training (user, artist) pairs in it. The loader's
    sampler is :class:`gnn.sampling.TorchNeighborSampler` (PyG's own sampling where pyg-lib or
    torch-sparse is installed); the gated LightGCN weighs sampled edges with
    :func:`gnn.model.sampled_adjacency` so that sub-graph and whole-graph embeddings agree.
    """

    def __init__(
        self, graph: HeteroData, model: nn.Module, config: TrainConfig, x: dict[str, Tensor]
    ) -> None:
        hops = list(config.num_neighbors)
        if len(hops) != config.layers:
            raise ConfigError(
                f"num_neighbors has {len(hops)} hops for a {config.layers}-layer model; "
                f"give one count per layer, e.g. num_neighbors={tuple(hops[:1] * config.layers)}"
            )
        self.model, self.conv = model, config.conv
        self.edge_types: list[EdgeType] = list(graph.edge_types)
        self.labels = list(x)
        self.loader = neighbor_loader(graph, hops, config.batch_size)
        # full-graph degrees per relation: (out-degree of sources, in-degree of targets)
        self.degrees = {
            e: degrees(graph[e].edge_index, graph[e[0]].num_nodes, graph[e[2]].num_nodes)
            for e in self.edge_types
        }

    def __call__(self) -> Iterator[tuple[dict[str, Tensor], Tensor]]:
        for batch in self.loader:
            n_id = {t: batch[t].n_id for t in batch.node_types}
            x = {t: batch[t].x for t in self.labels}
            if self.conv == "light":
                adj = {
                    e: sampled_adjacency(
                        batch[e].edge_index, n_id[e[0]], n_id[e[2]], *self.degrees[e]
                    )
                    for e in self.edge_types
                }
                h = self.model(adj, x, n_id)
            else:
                h = self.model({e: batch[e].edge_index for e in self.edge_types}, x, n_id)
            yield h, batch[LISTENED].edge_label_index


def train(
    graph: HeteroData,
    *,
    valid: Tensor | None,
    config: TrainConfig = TrainConfig(),
    expert: tuple[Tensor, Tensor, Tensor] | None = None,
    track_targets: dict[EdgeType, Tensor] | None = None,
    checkpoint_dir: str | Path | None = None,
    progress: bool = True,
    log: Callable[[str], None] | None = None,
    infer: HeteroData | None = None,
    replicas: Replicas | None = None,
) -> TrainResult:
    """Train an encoder on ``graph`` and keep the state with the best validation Recall@20.

    Args:
        graph: from :func:`gnn.graph.training_graph` (LISTENED holds the training pairs).
        valid: held-out (user, artist) pairs, graph indices, for early stopping; ``None`` trains
            ``config.epochs`` epochs and keeps the last state. Shapes: ``(2, E_valid)``.
        config: hyper-parameters.
        expert: track index pairs and kinds: ``(src, dst, is_must_link)``, each ``(C,)``.
        track_targets: the tracks' link-prediction targets, edge type → ``(2, E)`` (track index,
            target index) (:meth:`gnn.graph.KnowledgeGraph.track_targets`); ``None``: no term.
        checkpoint_dir: where ``best.pt`` and ``config.json`` go (``None``: not written).
        progress: show a progress bar.
        log: called with a line per epoch (besides the bar) and with a warning when the
            ``max_seconds`` safety cuts training short.
        infer: a graph with the same nodes whose edges give the final embeddings (e.g. the
            training graph plus the validation pairs, once they have chosen the epoch): the
            learned parameters are propagated over it. ``None``: over ``graph``.
        replicas: this process's place among data-parallel replicas (:mod:`gnn.distributed`:
            every replica calls ``train`` with the same arguments); ``None``: those of the
            enclosing :func:`gnn.distributed.data_parallel` block, else this process alone.

    Training is bounded by ``config.epochs`` and early stopping (``config.patience`` epochs
    without a better validation Recall@20); with the same seed and thread count it gives the
    same model on an idle or a loaded machine. ``config.max_seconds`` is a safety only.

    Raises:
        ConfigError: for an unknown ``conv``, ``loss`` or ``sampler``, or a neighbour sampler
            without PyG's sampling backend; on several replicas, for the neighbour sampler, a
            batch smaller than the replicas, or replicas whose graphs differ.
    """
    if config.conv not in ("light", "sage") or config.loss not in ("softmax", "bpr"):
        raise ConfigError(f"unknown conv {config.conv!r} or loss {config.loss!r}")
    if config.sampler not in ("full", "neighbor"):
        raise ConfigError(f"unknown sampler {config.sampler!r}; use 'full' or 'neighbor'")
    replicas = replicas or current() or Replicas()
    if replicas.world > 1 and config.sampler != "full":
        raise ConfigError(
            f"the {config.sampler!r} sampler runs in one process only; train on several "
            "processes with sampler='full'"
        )
    if replicas.world > config.batch_size:
        raise ConfigError(
            f"batch_size {config.batch_size} is smaller than the {replicas.world} replicas; "
            "give every replica at least one pair a step"
        )
    # training sets its own intra-op threads: at dim 256 with the full-catalogue softmax the
    # matrix products dominate and two threads win on the 2-core CPU (66 s an epoch vs 105 s);
    # small models (dim 64, sampled negatives) ran faster with one (a forward 0.15 s vs 1.7 s)
    with torch_threads(config.threads):
        return _train(
            graph,
            valid,
            config,
            expert,
            track_targets,
            checkpoint_dir,
            progress,
            log,
            infer,
            replicas,
        )


def _train(
    graph: HeteroData,
    valid: Tensor | None,
    config: TrainConfig,
    expert: tuple[Tensor, Tensor, Tensor] | None,
    track_targets: dict[EdgeType, Tensor] | None,
    checkpoint_dir: str | Path | None,
    progress: bool,
    log: Callable[[str], None] | None,
    infer: HeteroData | None,
    replicas: Replicas,
) -> TrainResult:
    torch.manual_seed(config.seed)
    rng = np.random.default_rng(config.seed)
    log = log if replicas.writes else None
    start = time.perf_counter()

    x = {k: graph[k].x for k in graph.node_types if "x" in graph[k]}
    edge_types: list[EdgeType] = list(graph.edge_types)
    model: nn.Module
    if config.conv == "light":
        model = HeteroLightGCN(graph, config.dim, config.layers, config.feature_only)
    else:
        model = HeteroSAGE(graph, config.dim, config.layers, config.feature_only)

    def encoder(g: HeteroData) -> Callable[[], dict[str, Tensor]]:
        """The forward pass of ``model`` over ``g``'s edges (its adjacency computed once)."""
        if config.conv == "light":
            adj = {
                e: Adjacency.normalised(g[e].edge_index, g[e[0]].num_nodes, g[e[2]].num_nodes)
                for e in edge_types
            }
            return lambda: model(adj, x)
        eidx = {e: g[e].edge_index for e in edge_types}
        return lambda: model(eidx, x)

    encode = encoder(graph)
    if config.conv == "sage":
        with torch.no_grad():
            encode()  # initialise the lazy SAGE layers before the optimiser sees them
    replicas.align(model)

    def finish(h: dict[str, Tensor]) -> dict[str, Tensor]:
        if config.loss == "softmax":
            return {k: nn.functional.normalize(v, dim=1) for k, v in h.items()}
        return h

    opt = torch.optim.Adam(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    pairs = graph[LISTENED].edge_index
    friends = graph[FRIEND].edge_index if FRIEND in edge_types else None
    if config.sampler == "neighbor":
        # sub-graph batches carry no global view of users and tracks: the auxiliary FRIEND,
        # expert and track terms belong to the full-graph sampler (the relations still pass
        # messages)
        friends, expert, track_targets = None, None, None
        batches = _NeighborBatches(graph, model, config, x)
    # the replicas shard the same pairs: a replica that read other data would train on garbage
    replicas.check_same(
        "training data (nodes, edges, LISTENED pairs and their sum, validation pairs, expert "
        "constraints, track targets)",
        [
            sum(graph[t].num_nodes for t in graph.node_types),
            sum(graph[e].edge_index.shape[1] for e in edge_types),
            pairs.shape[1],
            int(pairs.sum()),
            -1 if valid is None else valid.shape[1],
            -1 if expert is None else len(expert[0]),
            sum(p.shape[1] for p in (track_targets or {}).values()),
        ],
    )
    n_users = graph["User"].num_nodes
    n_tracks = graph["Track"].num_nodes if "Track" in graph.node_types else 0
    steps = max(1, pairs.shape[1] // config.batch_size)
    best, best_epoch, best_state, bad = -1.0, -1, None, 0
    stopped_by = "epochs"
    history: list[dict[str, float]] = []
    ckpt = Path(checkpoint_dir) if checkpoint_dir and replicas.writes else None
    if ckpt:
        ckpt.mkdir(parents=True, exist_ok=True)
        (ckpt / "config.json").write_text(json.dumps(asdict(config)))

    # the track edges are drawn from a generator of their own, so that the LISTENED batches and
    # negatives are the same with or without the track term
    track_rng = np.random.default_rng([config.seed, 1])

    def draw_targets(targets: dict[EdgeType, Tensor]) -> dict[EdgeType, Tensor]:
        out = {}
        for e, pairs in targets.items():
            n = pairs.shape[1]
            if n > config.batch_size:
                pairs = pairs[:, torch.from_numpy(track_rng.choice(n, config.batch_size, False))]
            out[e] = pairs
        return out

    def full_batches() -> Iterator[tuple[dict[str, Tensor], Tensor]]:
        perm = torch.from_numpy(rng.permutation(pairs.shape[1]))
        for s in range(steps):
            yield encode(), pairs[:, perm[s * config.batch_size : (s + 1) * config.batch_size]]

    bar = tqdm(
        range(config.epochs),
        disable=not progress or not replicas.writes,
        desc=f"gnn[{config.conv}]",
    )
    own, mean = replicas.own, replicas.mean
    for epoch in bar:
        model.train()
        total, steps_done, track_total = 0.0, 0, 0.0
        it = batches() if config.sampler == "neighbor" else full_batches()
        for s, (raw, batch) in enumerate(it):
            # h: every label's embeddings (of the whole graph, or of the batch's sub-graph);
            # batch: (2, B) rows of the batch's (user, artist) pairs into h, b: this replica's
            # share of them (all of them in one process). Every draw is made for the whole
            # batch, as in one process, and shared out the same way.
            h = finish(raw)
            b = own(batch)
            u, a = h["User"][b[0]], h["Artist"]
            n_items = a.shape[0]  # the catalogue, or the artists of the sub-graph
            if config.loss == "softmax" and config.negatives > 0:
                # sampled softmax: the positive against negatives shared by the batch
                neg = torch.from_numpy(rng.integers(0, n_items, config.negatives))
                logits = torch.cat([(u * a[b[1]]).sum(1, keepdim=True), u @ a[neg].T], 1)
                loss = nn.functional.cross_entropy(
                    logits / config.tau, torch.zeros(len(u), dtype=torch.long)
                )
            elif config.loss == "softmax":
                loss = nn.functional.cross_entropy(u @ a.T / config.tau, b[1])
            else:
                neg = own(torch.from_numpy(rng.integers(0, n_items, batch.shape[1])))
                loss = _bpr((u * a[b[1]]).sum(1), (u * a[neg]).sum(1))
            loss = mean(loss, batch.shape[1])
            if friends is not None and config.friend_weight > 0:
                f = friends[:, torch.from_numpy(rng.integers(0, friends.shape[1], batch.shape[1]))]
                fu = h["User"]
                neg = own(torch.from_numpy(rng.integers(0, n_users, f.shape[1])))
                n_f, f = f.shape[1], own(f)
                loss = loss + config.friend_weight * mean(
                    _bpr(
                        (fu[f[0]] * fu[f[1]]).sum(1) / config.tau,
                        (fu[f[0]] * fu[neg]).sum(1) / config.tau,
                    ),
                    n_f,
                )
            if expert is not None and len(expert[0]) and config.expert_weight > 0:
                src, dst, must = expert
                t = h["Track"]
                rand = torch.from_numpy(rng.integers(0, n_tracks, len(src)))
                n_c = len(src)
                src, dst, must, rand = own(src), own(dst), own(must), own(rand)
                s_pair = (t[src] * t[dst]).sum(1) / config.tau
                s_rand = (t[src] * t[rand]).sum(1) / config.tau
                # must-link: the partner beats a random track; cannot-link: a random track beats it
                sign = must.float() * 2 - 1
                loss = loss + config.expert_weight * mean(
                    nn.functional.softplus(-sign * (s_pair - s_rand)).mean(), n_c
                )
            if track_targets and config.track_weight > 0:
                # at most a batch of each relation's edges a step: the SIMILAR_* relations hold
                # ~20k edges, each scored against every track
                drawn = draw_targets(track_targets)
                if replicas.world == 1:
                    tl = track_link_loss(h, drawn, config.tau)
                else:  # each relation's mean weighed by its own share
                    tl = torch.stack(
                        [
                            mean(track_link_loss(h, {e: own(p)}, config.tau), p.shape[1])
                            for e, p in drawn.items()
                        ]
                    ).mean()
                loss = loss + config.track_weight * tl
                track_total += tl.detach().item()
            opt.zero_grad()
            loss.backward()
            replicas.average_gradients(model.parameters())
            opt.step()
            total += loss.detach().item()
            steps_done = s + 1
        model.eval()
        # without validation pairs every epoch "improves": the last state is kept
        rec = float(epoch)
        if valid is not None and replicas.writes:  # replica 0 validates for every replica
            with torch.no_grad():
                h = finish(encode())
                rec = recall_at_k(h["User"], h["Artist"], pairs, valid)
        # every replica takes replica 0's recall and clock: the same decisions below
        rec, now = replicas.agree([rec, time.perf_counter() - start])
        total, track_total = replicas.average([total, track_total])
        row = {
            "epoch": epoch,
            "loss": total / max(1, steps_done),
            "recall": rec,
            "seconds": now,
        }
        if track_targets and config.track_weight > 0:
            row["track_loss"] = track_total / max(1, steps_done)
        history.append(row)
        # (without validation pairs "recall" only counts epochs: not shown)
        shown = {"recall": f"{rec:.4f}"} if valid is not None else {}
        bar.set_postfix(loss=f"{row['loss']:.4f}", **shown)
        if log:
            log(json.dumps(row))
        if rec > best or best_state is None:  # (NaN: no validation user in this graph)
            best, best_epoch, bad = rec, epoch, 0
            best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
            if ckpt:
                with replacing(ckpt / "best.pt") as tmp:
                    torch.save({"state": best_state, "epoch": epoch, "recall": rec}, tmp)
        else:
            bad += 1
        # stop before an epoch that would end past the time budget (the last one's length)
        (elapsed,) = replicas.agree([time.perf_counter() - start])
        last = elapsed - (history[-2]["seconds"] if len(history) > 1 else 0.0)
        if bad >= config.patience:
            stopped_by = "patience"
            break
        if epoch + 1 < config.epochs and elapsed + last > config.max_seconds:
            stopped_by = "time"
            warning = (
                f"training stopped by the {config.max_seconds:g} s safety limit after "
                f"{epoch + 1} of {config.epochs} epochs: this model depends on the machine's "
                "speed and load; raise max_seconds or lower epochs for a reproducible one"
            )
            if replicas.writes:
                tqdm.write(f"WARNING: {warning}")
            if log:
                log(warning)
            break
    assert best_state is not None
    model.load_state_dict(best_state)
    model.eval()
    with torch.no_grad():
        h = finish(encode())
        final = h if infer is None else finish(encoder(infer)())
    gates: dict[str, Any] = {}
    if isinstance(model, HeteroLightGCN):
        gates = {"/".join(e): w for e, w in model.gates().items()}

    def arrays(emb: dict[str, Tensor]) -> dict[str, np.ndarray]:
        return {k: v.numpy().astype(np.float32) for k, v in emb.items()}

    def encode_over(g: HeteroData) -> dict[str, np.ndarray]:
        with torch_threads(config.threads), torch.no_grad():
            return arrays(finish(encoder(g)()))

    return TrainResult(
        embeddings=arrays(final),
        history=history,
        best_epoch=best_epoch,
        seconds=time.perf_counter() - start,
        gates=gates,
        stopped_by=stopped_by,
        train_embeddings=arrays(h) if infer is not None else arrays(final),
        encode=encode_over,
    )
