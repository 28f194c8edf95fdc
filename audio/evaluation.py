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
    """

    accuracy: float
    balanced_accuracy: float
    chance: float
    n_train: int
    n_test: int
    labels: list[str] = field(default_factory=list)
    confusion: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))


def probe(
    x_train: np.ndarray,
    y_train: Sequence[str],
    x_test: np.ndarray,
    y_test: Sequence[str],
    *,
    c: float = 0.5,
    seed: int = 0,
) -> ProbeResult:
    """Fit a linear probe on the training side and score it on the test side.

    Args:
        x_train: Shapes: ``(n_train, dim)``. y_train: ``n_train`` labels.
        x_test: Shapes: ``(n_test, dim)``. y_test: ``n_test`` labels.
        c: inverse L2 strength of the logistic regression.
        seed: solver seed.
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import balanced_accuracy_score, confusion_matrix
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    clf = make_pipeline(StandardScaler(), LogisticRegression(C=c, max_iter=3000, random_state=seed))
    clf.fit(x_train, list(y_train))
    pred = clf.predict(x_test)
    labels = sorted(set(y_train) | set(y_test))
    return ProbeResult(
        accuracy=float(np.mean(pred == np.asarray(y_test))),
        balanced_accuracy=float(balanced_accuracy_score(list(y_test), pred)),
        chance=1.0 / len(set(y_test)),
        n_train=len(y_train),
        n_test=len(y_test),
        labels=labels,
        confusion=confusion_matrix(list(y_test), pred, labels=labels),
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
        "| probe | accuracy | balanced accuracy | chance | train | test |",
        "|---|---|---|---|---|---|",
    ]
    for name, r in probes.items():
        lines.append(
            f"| {name} | {r.accuracy:.3f} | {r.balanced_accuracy:.3f} | {r.chance:.3f} | "
            f"{r.n_train} | {r.n_test} |"
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
