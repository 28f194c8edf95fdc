"""How good are the factors? Linear probes on society-grouped splits, retrieval, MIG, and a report.

* :func:`probe`: standardise + multinomial logistic regression, fit on the training side only.
* :func:`retrieval_top1`: same-melody retrieval across instruments by cosine similarity of ``z_c``.
* :func:`mutual_information_gap`: MIG (Chen et al., 2018) of latent dimensions vs known factors.
* :func:`write_report`: Markdown with PNG plots (2-D maps, confusion matrices).

Examples:
    >>> import numpy as np
    >>> z = np.stack([np.eye(3), np.eye(3) + 0.01], axis=1)  # 3 tunes x 2 instruments x 3 dims
    >>> retrieval_top1(z)
    1.0
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

__all__ = [
    "ProbeResult",
    "bootstrap_ci",
    "format_interval",
    "probe",
    "retrieval_top1",
    "mutual_information_gap",
    "pca_2d",
    "write_report",
]


@dataclass
class ProbeResult:
    """A probe's scores on the test side.

    Attributes:
        accuracy: share of test rows predicted right.
        balanced_accuracy: mean recall over the classes present in the test side.
        chance: ``1 / number of classes present in the test side`` (chance of balanced accuracy,
            and of accuracy for balanced classes).
        n_train: training rows. n_test: test rows.
        labels: class names (rows/columns of ``confusion``).
        confusion: counts, true × predicted. Shapes: ``(classes, classes)``.
        accuracy_ci95, ratio_ci95: 95% bootstrap intervals of ``accuracy`` and of
            ``balanced_accuracy / chance`` (resampling the test side's groups — societies — when
            given, else its rows; each resample's chance from the classes it holds); ``None``
            when not computed.
    """

    accuracy: float
    balanced_accuracy: float
    chance: float
    n_train: int
    n_test: int
    labels: list[str] = field(default_factory=list)
    confusion: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))
    accuracy_ci95: tuple[float, float] | None = None
    ratio_ci95: tuple[float, float] | None = None

    @property
    def ratio(self) -> float:
        """``balanced_accuracy / chance`` (what the region targets are stated in)."""
        return self.balanced_accuracy / self.chance


def _balanced(y: np.ndarray, pred: np.ndarray) -> float:
    """Mean recall over the classes present in ``y`` (scikit-learn's balanced accuracy)."""
    classes = np.unique(y)
    return float(np.mean([np.mean(pred[y == c] == c) for c in classes]))


def format_interval(ci: tuple[float, float] | None, digits: int = 2) -> str:
    """``"lo–hi"`` for a report, ``"—"`` when there is no interval."""
    return "—" if ci is None else f"{ci[0]:.{digits}f}–{ci[1]:.{digits}f}"


def bootstrap_ci(
    y_test: np.ndarray,
    pred: np.ndarray,
    groups: np.ndarray | None = None,
    *,
    n_boot: int = 1000,
    seed: int = 0,
) -> tuple[tuple[float, float], tuple[float, float]]:
    """95% percentile intervals of accuracy and of balanced accuracy / chance over resamples.

    Songs of one society are not independent (same recordist, same style), so with ``groups``
    whole groups are resampled (a cluster bootstrap), which gives the wider, honest interval.

    Args:
        y_test: Shapes: ``(n,)`` true labels. pred: ``(n,)`` predicted labels.
        groups: ``(n,)`` group of each row (e.g. society id), or ``None`` for rows.
        n_boot: resamples. seed: random state.

    Returns:
        ``((acc_lo, acc_hi), (ratio_lo, ratio_hi))``; a resample's chance is one over the
        number of classes it holds.
    """
    y, pr = np.asarray(y_test), np.asarray(pred)
    g = np.arange(len(y)) if groups is None else np.asarray(groups)
    keys, inverse = np.unique(g, return_inverse=True)
    members = [np.flatnonzero(inverse == i) for i in range(len(keys))]
    rng = np.random.default_rng(seed)
    acc, bal = np.empty(n_boot), np.empty(n_boot)
    for b in range(n_boot):
        rows = np.concatenate([members[i] for i in rng.integers(0, len(keys), len(keys))])
        acc[b] = np.mean(y[rows] == pr[rows])
        bal[b] = _balanced(y[rows], pr[rows]) * len(np.unique(y[rows]))
    lo, hi = np.percentile(acc, [2.5, 97.5]), np.percentile(bal, [2.5, 97.5])
    return (float(lo[0]), float(lo[1])), (float(hi[0]), float(hi[1]))


def probe(
    x_train: np.ndarray,
    y_train: Sequence[str],
    x_test: np.ndarray,
    y_test: Sequence[str],
    *,
    c: float = 0.5,
    seed: int = 0,
    groups_test: Sequence[str] | None = None,
    n_boot: int = 1000,
) -> ProbeResult:
    """Fit a linear probe on the training side and score it on the test side.

    Args:
        x_train: Shapes: ``(n_train, dim)``. y_train: ``n_train`` labels.
        x_test: Shapes: ``(n_test, dim)``. y_test: ``n_test`` labels.
        c: inverse L2 strength of the logistic regression.
        seed: solver seed.
        groups_test: ``n_test`` group ids (societies) for the cluster-bootstrap intervals;
            ``None`` resamples rows.
        n_boot: bootstrap resamples for the intervals (0: none).
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import confusion_matrix
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    clf = make_pipeline(StandardScaler(), LogisticRegression(C=c, max_iter=3000, random_state=seed))
    clf.fit(x_train, list(y_train))
    pred = clf.predict(x_test)
    labels = sorted(set(y_train) | set(y_test))
    acc_ci, bal_ci = (
        bootstrap_ci(
            np.asarray(y_test),
            pred,
            None if groups_test is None else np.asarray(groups_test),
            n_boot=n_boot,
            seed=seed,
        )
        if n_boot > 0
        else (None, None)
    )
    return ProbeResult(
        accuracy=float(np.mean(pred == np.asarray(y_test))),
        balanced_accuracy=_balanced(np.asarray(y_test), pred),
        chance=1.0 / len(set(y_test)),
        n_train=len(y_train),
        n_test=len(y_test),
        labels=labels,
        confusion=confusion_matrix(list(y_test), pred, labels=labels),
        accuracy_ci95=acc_ci,
        ratio_ci95=bal_ci,
    )


def retrieval_top1(zc: np.ndarray) -> float:
    """Top-1 same-melody retrieval across instruments, averaged over ordered instrument pairs.

    For each query tune in instrument ``i``, the gallery is every tune in instrument ``j != i``;
    a hit is when the most cosine-similar gallery item is the same tune.

    Args:
        zc: content factors. Shapes: ``(n_tunes, n_instruments, dim)``.

    Returns:
        Hit rate in [0, 1] (chance: ``1 / n_tunes``).
    """
    z = zc / (np.linalg.norm(zc, axis=2, keepdims=True) + 1e-12)
    n_tunes, n_inst, _ = z.shape
    hits = []
    for i in range(n_inst):
        for j in range(n_inst):
            if i != j:
                sim = z[:, i] @ z[:, j].T
                hits.append(np.mean(sim.argmax(axis=1) == np.arange(n_tunes)))
    return float(np.mean(hits))


def _entropy(labels: np.ndarray) -> float:
    _, counts = np.unique(labels, return_counts=True)
    p = counts / counts.sum()
    return float(-(p * np.log(p)).sum())


def mutual_information_gap(
    latents: np.ndarray, factors: dict[str, np.ndarray], bins: int = 20
) -> dict[str, float]:
    """Mutual Information Gap per factor and its mean.

    Each latent dimension is discretised into ``bins`` equal-width bins; for each factor the MI
    with every dimension is computed, and the gap between the two largest is divided by the
    factor's entropy.

    Args:
        latents: Shapes: ``(n, dim)``.
        factors: name → integer labels. Shapes: each ``(n,)``.
        bins: histogram bins per dimension.

    Returns:
        ``{factor: gap, ..., "mig": mean gap, "<factor>_best_dim": index}`` (gaps in [0, 1]).
    """
    from sklearn.metrics import mutual_info_score

    binned = []
    for d in range(latents.shape[1]):
        edges = np.histogram_bin_edges(latents[:, d], bins=bins)
        binned.append(np.digitize(latents[:, d], edges[1:-1]))
    out: dict[str, float] = {}
    gaps = []
    for name, y in factors.items():
        mi = np.array([mutual_info_score(y, b) for b in binned])
        order = np.argsort(mi)[::-1]
        gap = (mi[order[0]] - mi[order[1]]) / max(_entropy(y), 1e-12)
        out[name] = float(gap)
        out[f"{name}_best_dim"] = float(order[0])
        gaps.append(gap)
    out["mig"] = float(np.mean(gaps))
    return out


def pca_2d(x: np.ndarray) -> np.ndarray:
    """First two principal components. Shapes: ``(n, dim)`` → ``(n, 2)``."""
    centred = x - x.mean(axis=0)
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    return np.asarray(centred @ vt[:2].T)


def _scatter(path: Path, xy: np.ndarray, labels: Sequence[str], title: str, top: int = 10) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = np.asarray([str(v) for v in labels])
    names, counts = np.unique(labels, return_counts=True)
    keep = set(names[np.argsort(counts)[::-1][:top]])
    fig, ax = plt.subplots(figsize=(6, 5))
    other = np.array([lab not in keep for lab in labels])
    ax.scatter(xy[other, 0], xy[other, 1], s=6, c="lightgrey", label="other")
    for name in sorted(keep):
        m = labels == name
        ax.scatter(xy[m, 0], xy[m, 1], s=8, label=name)
    ax.set_title(title)
    ax.legend(fontsize=6, markerscale=1.5, loc="best")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _confusion(path: Path, result: ProbeResult, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = len(result.labels)
    fig, ax = plt.subplots(figsize=(max(4, 0.35 * n + 2), max(4, 0.35 * n + 2)))
    ax.imshow(result.confusion, cmap="Blues")
    ax.set_xticks(range(n), result.labels, rotation=90, fontsize=6)
    ax.set_yticks(range(n), result.labels, fontsize=6)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write_report(
    out_dir: Path,
    *,
    results: dict[str, object],
    probes: dict[str, ProbeResult],
    maps: dict[str, tuple[np.ndarray, Sequence[str]]],
    confusions: Sequence[str],
) -> Path:
    """Write ``report.md`` and its PNG plots into ``out_dir``.

    Args:
        out_dir: created if needed.
        results: headline figures (name → value), printed as a table, first.
        probes: probe name → result; a table of all, a confusion matrix for those in
            ``confusions``.
        maps: plot name → (factor values ``(n, dim)``, colour labels) for 2-D PCA maps.
        confusions: which probes get a confusion-matrix plot.

    Returns:
        The report's path.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    lines = ["# Audio factors: evaluation", ""]
    lines += ["## Headline figures", "", "| figure | value |", "|---|---|"]
    for k, v in results.items():
        lines.append(f"| {k} | {v:.3f} |" if isinstance(v, float) else f"| {k} | {v} |")
    lines += ["", "## Linear probes (society-grouped split)", ""]
    lines += [
        "95% intervals: bootstrap over the test side's societies (whole societies resampled); "
        "each resample's chance counts the classes it holds.",
        "",
        "| probe | accuracy | 95% interval | balanced accuracy | balanced / chance | "
        "95% interval | chance | train | test |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name, r in probes.items():
        lines.append(
            f"| {name} | {r.accuracy:.3f} | {format_interval(r.accuracy_ci95)} | "
            f"{r.balanced_accuracy:.3f} | {r.ratio:.2f} | "
            f"{format_interval(r.ratio_ci95)} | {r.chance:.3f} | {r.n_train} | {r.n_test} |"
        )
    lines += ["", "## Confusion matrices", ""]
    for name in confusions:
        fname = "confusion_" + name.replace(" ", "_").replace("/", "-") + ".png"
        _confusion(out_dir / fname, probes[name], name)
        lines += [f"![{name}]({fname})", ""]
    lines += ["## 2-D maps (PCA)", ""]
    for name, (x, labels) in maps.items():
        fname = "map_" + name.replace(" ", "_").replace("/", "-") + ".png"
        _scatter(out_dir / fname, pca_2d(x), labels, name)
        lines += [f"![{name}]({fname})", ""]
    path = out_dir / "report.md"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path
