"""Data-parallel training of the encoders over several processes (``torch.distributed``, gloo).

Launched by ``torchrun`` (one process a *replica*, on one machine or several)::

    torchrun --nproc-per-node 2 --no-python soundbridge gnn train --distributed --threads 1

How the work is split (:func:`gnn.train.train` with a :class:`Replicas` of ``world`` W):

- every replica holds the whole training graph (~50k nodes, ~0.2M edges: small) and a copy of
  the model, initialised from the same seed and then aligned on replica 0's parameters;
- every replica makes the same random draws (the same generators, seeded by ``config.seed``):
  the epoch's permutation of the LISTENED pairs and, per step, the negatives, the FRIEND pairs,
  the random tracks of the expert constraints and the track edges. Each replica then takes its
  **share of every step's batch** — the r-th of W contiguous blocks of the batch's pairs, and of
  each auxiliary term's pairs (:meth:`Replicas.own`) — and weighs each term by its share's size
  (:meth:`Replicas.mean`), so that the gradients summed over the replicas and divided by W
  (:meth:`Replicas.average_gradients`, one ``all_reduce`` a step) are the single process's
  gradient of the whole step, up to float rounding. The batch size, the number of Adam steps an
  epoch and the learning rate therefore mean what they mean in one process, and a model trained
  on W replicas is the one trained in one process with the same seed (the order of the float
  sums aside).
  Sharding whole batches instead (replica r takes batches r, r+W, …) would halve the steps of
  an epoch and double the effective batch: another optimisation, whose epochs and learning rate
  would have to be chosen again. The price of keeping the step: each replica propagates over
  the whole graph every step (forward and backward); only the batch's part — the
  full-catalogue softmax of its users, the auxiliary terms — is divided among the replicas;
- replica 0 alone computes the validation Recall@20 after each epoch and broadcasts it with its
  clock (:meth:`Replicas.agree`), so every replica takes the same early-stopping and time-limit
  decisions and stops at the same epoch; replica 0 alone writes checkpoints, logs and shows
  progress (:attr:`Replicas.writes`).

:func:`data_parallel` joins the process group that ``torchrun`` describes in the environment
(``RANK``, ``WORLD_SIZE``, ``MASTER_ADDR``, ``MASTER_PORT``) and makes every
:func:`gnn.train.train` call inside the block data-parallel — the recommender
(:class:`recsys.gnn.HeteroGNN`) calls it twice (the inner split, then the refit) and has no
parameter for a process group, hence a block rather than an argument.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta

import torch
import torch.distributed as dist
from torch import Tensor, nn

from loaders.errors import ConfigError

__all__ = ["LAUNCH", "Replicas", "current", "data_parallel", "launched_by_torchrun"]

#: The launch the messages suggest (two processes on this machine).
LAUNCH = "torchrun --nproc-per-node 2 --no-python soundbridge gnn train --distributed"

#: What torchrun sets in each process's environment (``env://`` rendezvous).
_ENV = ("RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT")

_active: Replicas | None = None


@dataclass(frozen=True)
class Replicas:
    """This process's place among the W replicas, and the collective steps of training.

    ``Replicas()`` (rank 0 of 1) is the single process: every method is then the identity, so
    :func:`gnn.train.train` runs one code path and the single process stays what it was.
    With ``world > 1`` the methods use the default process group (:func:`data_parallel`).

    Attributes:
        rank: this replica, ``0 ≤ rank < world``.
        world: the number of replicas.

    Examples:
        >>> r = Replicas(rank=1, world=2)
        >>> r.own(torch.arange(5)).tolist()  # the second of two blocks of 5
        [2, 3, 4]
        >>> round(float(r.mean(torch.tensor(1.0), 5)), 4)  # 3 of the 5 rows: weight 2 * 3 / 5
        1.2
        >>> Replicas().own(torch.arange(5)).tolist()
        [0, 1, 2, 3, 4]
    """

    rank: int = 0
    world: int = 1

    @property
    def writes(self) -> bool:
        """Whether this replica writes checkpoints and logs (replica 0)."""
        return self.rank == 0

    def _bounds(self, n: int) -> tuple[int, int]:
        return n * self.rank // self.world, n * (self.rank + 1) // self.world

    def own(self, t: Tensor) -> Tensor:
        """This replica's block of the last dimension (W contiguous blocks, sizes within one).

        Shapes:
            t: ``(..., n)``; returns ``(..., n_r)``, ``n_r`` = ⌊n(r+1)/W⌋ − ⌊nr/W⌋.
        """
        if self.world == 1:
            return t
        lo, hi = self._bounds(t.shape[-1])
        return t[..., lo:hi]

    def mean(self, term: Tensor, n: int) -> Tensor:
        """Weigh ``term``, a mean over this replica's share of ``n`` items, for the average.

        Returns ``term · W · n_r / n``: averaged over the replicas these give the mean over all
        ``n`` items, whatever the shares' sizes. An empty share gives ``0`` (its ``term``, the
        mean of nothing, is NaN and is left out of the graph).

        Shapes:
            term: a scalar; returns a scalar.
        """
        if self.world == 1:
            return term
        lo, hi = self._bounds(n)
        if hi == lo:
            return torch.zeros((), dtype=term.dtype)
        return term * (self.world * (hi - lo) / n)

    def average_gradients(self, params: Iterable[nn.Parameter]) -> None:
        """Replace every gradient with its mean over the replicas (one ``all_reduce``).

        A parameter without a gradient on one replica counts as zero there; one without a
        gradient on every replica keeps none (so Adam skips it, as in one process).
        """
        if self.world == 1:
            return
        ps = [p for p in params if p.requires_grad]
        flat = torch.cat(
            [(p.grad if p.grad is not None else torch.zeros_like(p)).reshape(-1) for p in ps]
            + [torch.tensor([float(p.grad is not None) for p in ps])]
        )
        dist.all_reduce(flat)
        had = flat[-len(ps) :]
        at = 0
        for p, n in zip(ps, had, strict=True):
            size = p.numel()
            if n > 0:
                p.grad = (flat[at : at + size] / self.world).view_as(p).clone()
            at += size

    def align(self, module: nn.Module) -> None:
        """Give every replica replica 0's parameters and buffers (its initialisation)."""
        if self.world == 1:
            return
        with torch.no_grad():
            for t in [*module.parameters(), *module.buffers()]:
                dist.broadcast(t.data, src=0)

    def agree(self, values: Sequence[float]) -> list[float]:
        """Replica 0's ``values`` on every replica (e.g. its validation recall and clock).

        Shapes:
            values: ``(k,)``; returns ``(k,)``.
        """
        if self.world == 1:
            return list(values)
        t = torch.tensor(list(values), dtype=torch.float64)
        dist.broadcast(t, src=0)
        return t.tolist()

    def average(self, values: Sequence[float]) -> list[float]:
        """The mean of ``values`` over the replicas (e.g. the epoch's summed losses).

        Shapes:
            values: ``(k,)``; returns ``(k,)``.
        """
        if self.world == 1:
            return list(values)
        t = torch.tensor(list(values), dtype=torch.float64)
        dist.all_reduce(t)
        return (t / self.world).tolist()

    def check_same(self, what: str, values: Sequence[float]) -> None:
        """Raise on every replica unless all hold the same ``values`` (e.g. graph sizes).

        Raises:
            ConfigError: naming the first replica that differs from replica 0.
        """
        if self.world == 1:
            return
        mine = torch.tensor(list(values), dtype=torch.float64)
        every = [torch.empty_like(mine) for _ in range(self.world)]
        dist.all_gather(every, mine)
        for r, v in enumerate(every):
            if not torch.equal(v, every[0]):
                raise ConfigError(
                    f"replica {r}'s {what} ({v.tolist()}) differs from replica 0's "
                    f"({every[0].tolist()}): every process must read the same data and "
                    "settings (the same Neo4j server, SOUNDBRIDGE_DATA and options)"
                )


def launched_by_torchrun(environ: Mapping[str, str] | None = None) -> int:
    """The ``WORLD_SIZE`` torchrun set for this process (``0`` when it did not launch it)."""
    env = os.environ if environ is None else environ
    try:
        return int(env.get("WORLD_SIZE", "0"))
    except ValueError:
        return 0


def current() -> Replicas | None:
    """The replicas of the enclosing :func:`data_parallel` block (``None`` outside one)."""
    return _active


@contextmanager
def data_parallel(
    backend: str = "gloo", timeout: timedelta = timedelta(minutes=30)
) -> Iterator[Replicas]:
    """Join torchrun's process group; :func:`gnn.train.train` is data-parallel inside the block.

    Every process of the launch must enter the block with the same data and settings. The
    process group is left at the end of the block.

    Args:
        backend: ``"gloo"`` (CPU); ``"nccl"`` would need the model on GPUs, which training
            does not place.
        timeout: how long a collective waits for the other replicas (e.g. while one reads the
            graph) before failing.

    Raises:
        ConfigError: outside a torchrun launch (its variables missing or malformed) or without
            the backend, with the launch to use.
    """
    global _active
    missing = [v for v in _ENV if not os.environ.get(v)]
    if missing:
        raise ConfigError(
            f"--distributed needs the variables torchrun sets ({', '.join(missing)} missing); "
            f"launch it with torchrun, e.g. `{LAUNCH}`"
        )
    try:
        rank, world = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
    except ValueError as e:
        raise ConfigError(
            f"RANK={os.environ['RANK']!r} and WORLD_SIZE={os.environ['WORLD_SIZE']!r} must be "
            f"whole numbers; launch with torchrun, e.g. `{LAUNCH}`"
        ) from e
    if not 0 <= rank < world:
        raise ConfigError(f"RANK={rank} is not below WORLD_SIZE={world}; launch with torchrun")
    if backend == "gloo" and not dist.is_gloo_available():
        raise ConfigError("this torch build has no gloo backend; install torch with it")
    if _active is not None or dist.is_initialized():
        raise ConfigError("data_parallel blocks do not nest: this process already joined one")
    dist.init_process_group(backend, timeout=timeout)
    _active = Replicas(rank=dist.get_rank(), world=dist.get_world_size())
    try:
        yield _active
    finally:
        _active = None
        dist.destroy_process_group()
