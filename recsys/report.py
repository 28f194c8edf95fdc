"""The comparison report: ``report.md`` with the figures of every model and PNG plots."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["write_report"]

_COLUMNS = [
    ("recall", "Recall@k"),
    ("ndcg", "NDCG@k"),
    ("coverage", "coverage"),
    ("exposure_recommended", "non-Western (recs)"),
    ("exposure_history", "non-Western (history)"),
    ("friend_hit_rate", "friend hit@10"),
    ("fit_seconds", "fit s"),
]


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return "n/a" if math.isnan(v) else f"{v:.4f}" if abs(v) < 10 else f"{v:.0f}"
    return str(v)


def write_report(folder: Path, metrics: dict[str, Any], histories: dict[str, np.ndarray]) -> Path:
    """Write ``report.md``, ``metrics.png`` and ``training.png`` into ``folder``.

    Args:
        metrics: as built by :func:`recsys.pipeline.build` (``models``: one dict per model).
        histories: model → ``(epochs, 4)`` rows of (epoch, loss, validation recall, seconds).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = metrics["models"]
    names = [r["model"] for r in rows]
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.6))
    for ax, (key, label) in zip(axes, _COLUMNS[:2] + _COLUMNS[5:6], strict=True):
        ax.bar(names, [r[key] for r in rows], color="#4c72b0")
        ax.set_title(label)
        ax.tick_params(axis="x", rotation=30)
    fig.tight_layout()
    fig.savefig(folder / "metrics.png", dpi=110)
    plt.close(fig)

    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6))
    for name, h in histories.items():
        if len(h):
            axes[0].plot(h[:, 0], h[:, 1], label=name)
            axes[1].plot(h[:, 0], h[:, 2], label=name)
    axes[0].set_title("training loss")
    axes[1].set_title("inner validation Recall@20")
    for ax in axes:
        ax.set_xlabel("epoch")
        if ax.lines:  # models without training curves (MostPop, EASE, …) leave it empty
            ax.legend()
    fig.tight_layout()
    fig.savefig(folder / "training.png", dpi=110)
    plt.close(fig)

    k = rows[0]["k"] if rows else 20
    lines = [
        "# soundbridge recommenders: comparison",
        "",
        f"Split: {metrics['split']['train']:,} training plays, {metrics['split']['valid']:,} "
        f"held out (10% per user with ≥10 artists, seed {metrics['split']['seed']}); every model "
        "is evaluated by `recsys.evaluate.evaluate` on the same rows.",
        "",
        "| model | " + " | ".join(c[1].replace("k", str(k), 1) for c in _COLUMNS) + " |",
        "|---|" + "---|" * len(_COLUMNS),
    ]
    for r in rows:
        lines.append(f"| {r['model']} | " + " | ".join(_fmt(r[c]) for c, _ in _COLUMNS) + " |")
    by = {r["model"]: r for r in rows}
    served = metrics.get("served_model")
    peers = [r for r in rows if r["model"] != served and "(member of" not in r["model"]]
    if served in by and peers:
        best = max(peers, key=lambda r: r["recall"])
        ratio = by[served]["recall"] / best["recall"]
        lines += [
            "",
            f"{served} / the best peer ({best['model']}) Recall@{k}: **{ratio:.3f}** on this "
            f"seed ({'at or above' if ratio >= 1.05 else 'below'} 1.05; the target is judged on "
            "the mean over seeds with intervals apart: `bench/recsys_bench.py`).",
        ]
    if "served_over" in metrics:
        lines += [
            "",
            f"Once scored, {served}'s learned parameters were propagated over all "
            f"{metrics['served_over']['plays']:,} public plays (the held-out rows included, no "
            "training again): that is the model `soundbridge recommend` and "
            "`export-user-recs` serve.",
        ]
    for name, b in metrics.get("blend", {}).items():
        weights = ", ".join(f"{m} {w:g}" for m, w in b["weights"].items())
        lines += ["", f"{name}: weights {weights}, chosen on the inner validation split."]
    for name, t in metrics.get("tuned", {}).items():
        chosen = ", ".join(f"{p} = {v:g}" for p, v in t["chosen"].items())
        lines += ["", f"{name}: {chosen}, chosen on the inner validation split."]
    for name, c in metrics.get("cold_start", {}).items():
        tried = ", ".join(f"{o}: {r:.4f}" for o, r in c["valid_recall"].items())
        what = (
            "no score offset helped the artists without training listeners, so they stay out "
            "of reach"
            if math.isnan(c["offset"])
            else f"{c['artists']:,} artists without training listeners get an embedding "
            f"predicted from their tags and the score offset {c['offset']:g}, chosen on the "
            "inner validation pairs"
        )
        lines += ["", f"{name}: {what} (Recall@20 per offset, -inf = left unreachable: {tried})."]
        if c.get("refit_epochs"):
            lines += [
                "",
                f"{name}: {c['epochs']} epochs on the inner split (the best: "
                f"{c['best_epoch'] + 1}, stopped by {c['stopped_by']}), then trained again from "
                f"the start on every training row for {c['refit_epochs']}: the model scored above.",
            ]
    lines += ["", "![metrics](metrics.png)", "", "![training](training.png)", ""]
    path = folder / "report.md"
    path.write_text("\n".join(lines))
    return path
