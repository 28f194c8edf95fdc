"""Evaluation of cross-cultural recommendation, and its report (``soundbridge evaluate``).

Protocol (issue "cross-cultural alignment", *Done when*):

* **Queries**: the labelled songs of the *validation societies* — the societies the audio model
  held out from every supervised loss (its run's ``split.json``). Their labels are hidden from the
  recommender too (``CrossCulturalRecommender.fit(..., hide=...)``): a query's function is never
  known to the method that ranks for it.
* **Targets**: for each query, ``n_targets`` HRAF regions other than its own, drawn (seeded) among
  the regions with at least ``min_judged`` labelled songs.
* **Candidates**: the target region's songs whose function is public (judged), the query excluded;
  every method ranks all of them and keeps its top ``k``. The share of the top ``k`` serving the
  query's function is compared with *chance*, the share of the candidates that do.
* **Methods**: MIRtoolbox cosine (the surface-acoustic baseline), z_a cosine, the
  recommender without alignment, and with each OT alignment.

Beyond accuracy, per list: nDCG@k (relevance = same function), serendipity (z_s distance ×
z_a similarity, :func:`recsys.cultural_metrics.serendipity`), minority exposure (share of results
from the catalogue's long-tail societies — those outside the head that holds half of the tracks)
and calibration (Steck's KL between the target culture's society distribution and the list's).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from loaders.errors import SoundbridgeError
from recsys import cultural_metrics as cm
from recsys.catalogue import TrackCatalogue
from recsys.cultures import ResolvedCulture
from recsys.embedding import unit_rows
from recsys.similar import CrossCulturalRecommender

__all__ = [
    "CrossCulturalEvaluation",
    "evaluate_cross_cultural",
    "long_tail_societies",
    "write_cross_cultural_report",
]

Scorer = Callable[[int, np.ndarray, ResolvedCulture], np.ndarray]


@dataclass
class CrossCulturalEvaluation:
    """Per-method mean metrics, per-query shares (for confidence intervals) and the fitted model."""

    methods: dict[str, dict[str, float]]
    per_query: dict[str, np.ndarray]
    n_queries: int
    n_pairs: int
    k: int
    params: dict[str, Any]
    model: CrossCulturalRecommender = field(repr=False)

    def to_json(self) -> dict[str, Any]:
        return {
            "generated": time.strftime("%Y-%m-%dT%H:%M:%S"),
            "k": self.k,
            "queries": self.n_queries,
            "query_target_pairs": self.n_pairs,
            "params": self.params,
            "methods": self.methods,
        }


def long_tail_societies(catalogue: TrackCatalogue) -> set[str]:
    """Societies outside the head (by track count, the head holds the first half of tracks)."""
    societies, counts = np.unique(catalogue.cultures[catalogue.cultures != ""], return_counts=True)
    order = np.argsort(-counts, kind="stable")
    cum = np.cumsum(counts[order])
    head = set(societies[order][cum <= cum[-1] / 2].tolist())
    return set(societies.tolist()) - head


def _mir_scorer(catalogue: TrackCatalogue) -> Scorer | None:
    if catalogue.mir is None:
        return None
    m = catalogue.mir
    ok = np.isfinite(m).all(axis=1)
    mu, sd = m[ok].mean(axis=0), m[ok].std(axis=0) + 1e-9
    z = np.where(ok[:, None], (m - mu) / sd, 0.0)
    z = unit_rows(z)
    return lambda q, rows, target: z[rows] @ z[q]


def evaluate_cross_cultural(
    catalogue: TrackCatalogue,
    validation_societies: Sequence[str],
    *,
    k: int = 10,
    n_targets: int = 5,
    min_judged: int = 10,
    alignments: Sequence[str] = ("unbalanced", "sinkhorn"),
    model: CrossCulturalRecommender | None = None,
    seed: int = 0,
    progress: Callable[[int, int], None] | None = None,
) -> CrossCulturalEvaluation:
    """Run the protocol above.

    Args:
        catalogue: the tracks (with their public labels).
        validation_societies: society ids whose labelled songs are the queries (labels hidden).
        k: list length.
        n_targets: target regions per query.
        min_judged: a region is a target only with at least this many labelled songs.
        alignments: OT methods to compare (``"fgw"`` is slow: ~0.3 s a query).
        model: an unfitted recommender (default parameters when ``None``).
        seed: target drawing.
        progress: called with (done, total) query-target pairs.
    """
    valid = set(map(str, validation_societies))
    hide = np.isin(catalogue.cultures, list(valid))
    labelled = catalogue.labelled
    queries = np.flatnonzero(hide & labelled)
    if len(queries) == 0:
        raise ValueError("no labelled song belongs to the validation societies")
    base = model or CrossCulturalRecommender(seed=seed)
    model = CrossCulturalRecommender(**base.get_params()).fit(catalogue, hide=hide)
    tree = catalogue.tree
    region_of = np.array([tree.ancestor(c, "region") or "" for c in catalogue.cultures.tolist()])
    regions = sorted(
        r
        for r in set(region_of.tolist())
        if r and (labelled & (region_of == r)).sum() >= min_judged
    )
    rng = np.random.default_rng(seed)
    pairs: list[tuple[int, str]] = []
    for qq in queries.tolist():
        others = [r for r in regions if r != region_of[qq]]
        for r in rng.choice(others, size=min(n_targets, len(others)), replace=False):
            pairs.append((qq, str(r)))

    scorers: dict[str, Scorer] = {}
    mir = _mir_scorer(catalogue)
    if mir is not None:
        scorers["MIRtoolbox cosine"] = mir
    za = model.za_

    def za_cosine(q: int, rows: np.ndarray, target: ResolvedCulture) -> np.ndarray:
        return za[rows] @ za[q]

    def recommender(method: str, w: float) -> Scorer:
        def score(q: int, rows: np.ndarray, target: ResolvedCulture) -> np.ndarray:
            return model._scores(q, rows, target, method, w)[0]

        return score

    scorers["z_a cosine"] = za_cosine
    scorers["unaligned"] = recommender("none", 0.0)
    for method in alignments:
        scorers[f"aligned ({method})"] = recommender(method, model.weight)

    tail = long_tail_societies(catalogue)
    zs = catalogue.zs.astype(np.float64)
    sums: dict[str, dict[str, list[float]]] = {
        name: {m: [] for m in ("share", "chance", "ndcg", "seren", "minor", "calib")}
        for name in scorers
    }
    judged_cache: dict[str, np.ndarray] = {}
    for done, (qi, r) in enumerate(pairs, 1):
        q = int(qi)
        rows = judged_cache.get(r)
        if rows is None:
            rows = np.flatnonzero((region_of == r) & labelled)
            judged_cache[r] = rows
        rows = rows[rows != q]
        target = ResolvedCulture((r,), tree.name.get(r, r), "region", "id")
        truth = catalogue.functions[q]
        rel_all = catalogue.functions[rows] == truth
        chance = float(rel_all.mean())
        socs, cnt = np.unique(catalogue.cultures[rows], return_counts=True)
        target_dist = dict(zip(socs.tolist(), cnt.tolist(), strict=True))
        for name, scorer in scorers.items():
            s = scorer(q, rows, target)
            top = np.lexsort((catalogue.track_ids[rows], -s))[:k]
            res = rows[top]
            rel = rel_all[top]
            style = np.linalg.norm(zs[res] - zs[q], axis=1) / model.style_median_
            affect = (1.0 + model.za_[res] @ model.za_[q]) / 2.0
            cult = catalogue.cultures[res].tolist()
            acc = sums[name]
            acc["share"].append(float(rel.mean()))
            acc["chance"].append(chance)
            acc["ndcg"].append(cm.ndcg_at_k(rel.astype(float), int(rel_all.sum())))
            acc["seren"].append(cm.serendipity(np.clip(style / 2.0, 0, 1), affect))
            acc["minor"].append(cm.minority_exposure(cult, tail))
            acc["calib"].append(cm.calibration_kl(cult, target_dist))
        if progress is not None:
            progress(done, len(pairs))

    methods: dict[str, dict[str, float]] = {}
    per_query: dict[str, np.ndarray] = {}
    for name, acc in sums.items():
        share = float(np.mean(acc["share"]))
        chance = float(np.mean(acc["chance"]))
        per_query[name] = np.array(acc["share"])
        methods[name] = {
            "function_share": share,
            "chance": chance,
            "ratio_to_chance": share / chance if chance else float("nan"),
            "ndcg": float(np.mean(acc["ndcg"])),
            "serendipity": float(np.mean(acc["seren"])),
            "minority_exposure": float(np.mean(acc["minor"])),
            "calibration_kl": float(np.mean(acc["calib"])),
        }
    params = {
        "n_targets": n_targets,
        "min_judged": min_judged,
        "seed": seed,
        "validation_societies": len(valid),
        "recommender": {key: v for key, v in model.get_params().items() if key != "function_model"},
    }
    return CrossCulturalEvaluation(methods, per_query, len(queries), len(pairs), k, params, model)


def _bootstrap(x: np.ndarray, seed: int = 0, n: int = 1000) -> tuple[float, float]:
    rng = np.random.default_rng(seed)
    means = rng.choice(x, size=(n, len(x)), replace=True).mean(axis=1)
    lo, hi = np.percentile(means, [2.5, 97.5])
    return float(lo), float(hi)


def _heatmap(
    model: CrossCulturalRecommender, source: str, target: str, path: Path
) -> dict[str, Any] | None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    tree = model.catalogue_.tree
    try:
        s, t = tree.resolve(source), tree.resolve(target)
    except SoundbridgeError:  # an unknown culture: no heatmap for this pair
        return None
    srows, trows = model.rows(s.ids), model.rows(t.ids)
    if len(srows) == 0 or len(trows) == 0:
        return None
    sa, ta, plan = model.aligner("unbalanced").plan("+".join(s.ids), srows, "+".join(t.ids), trows)
    cat = model.catalogue_
    lab = model.labels_

    def order(rows: np.ndarray) -> np.ndarray:
        return np.lexsort((cat.track_ids[rows], np.where(lab[rows] == "", "~", lab[rows])))

    oi, oj = order(sa), order(ta)
    p = plan[np.ix_(oi, oj)]
    fig, ax = plt.subplots(figsize=(8, 7))
    ax.imshow(p / p.max(), cmap="viridis", aspect="auto")
    ax.set_yticks(range(len(oi)), [lab[i] or "?" for i in sa[oi]], fontsize=6)
    ax.set_xticks(range(len(oj)), [lab[j] or "?" for j in ta[oj]], fontsize=6, rotation=90)
    ax.set_ylabel(f"{s.name} (songs by public function; ? = not public)")
    ax.set_xlabel(t.name)
    ax.set_title(f"Unbalanced OT plan: {s.name} → {t.name}")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    i, j = np.unravel_index(np.argsort(-plan, axis=None)[:5], plan.shape)
    return {
        "source": s.name,
        "target": t.name,
        "image": path.name,
        "top_pairs": [
            (str(cat.names[sa[a]]), lab[sa[a]] or "?", str(cat.names[ta[b]]), lab[ta[b]] or "?")
            for a, b in zip(i, j, strict=True)
        ],
    }


def write_cross_cultural_report(
    ev: CrossCulturalEvaluation,
    out: Path,
    *,
    heatmaps: Sequence[tuple[str, str]] = (
        ("Western Africa", "Central Andes"),
        ("Polynesia", "Eastern Europe"),
        ("East Asia", "Amazon and Orinoco"),
    ),
) -> Path:
    """Write ``report.md``, ``metrics.json`` and PNG plots into ``out``; returns the report path."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out.mkdir(parents=True, exist_ok=True)
    data = ev.to_json()
    for name, m in data["methods"].items():
        lo, hi = _bootstrap(ev.per_query[name])
        m["function_share_ci95"] = [lo, hi]
    (out / "metrics.json").write_text(json.dumps(data, indent=2))

    names = list(ev.methods)
    fig, axes = plt.subplots(1, 4, figsize=(16, 4))
    share = [ev.methods[n]["function_share"] for n in names]
    err = np.array([data["methods"][n]["function_share_ci95"] for n in names]).T
    axes[0].bar(names, share, yerr=[np.array(share) - err[0], err[1] - np.array(share)])
    axes[0].axhline(ev.methods[names[0]]["chance"], color="k", ls="--", label="chance")
    axes[0].axhline(1.5 * ev.methods[names[0]]["chance"], color="r", ls=":", label="1.5 x chance")
    axes[0].set_title(f"share of top {ev.k} serving the query's function")
    axes[0].legend(fontsize=7)
    for ax, key, title in zip(
        axes[1:],
        ("serendipity", "minority_exposure", "calibration_kl"),
        (
            "serendipity (style distance x affect)",
            "minority exposure",
            "calibration KL (lower=better)",
        ),
        strict=True,
    ):
        ax.bar(names, [ev.methods[n][key] for n in names])
        ax.set_title(title)
    for ax in axes:
        ax.tick_params(axis="x", rotation=60, labelsize=7)
    fig.tight_layout()
    fig.savefig(out / "metrics.png", dpi=110)
    plt.close(fig)

    maps = []
    for i, (a, b) in enumerate(heatmaps):
        h = _heatmap(ev.model, a, b, out / f"plan_{i}.png")
        if h is not None:
            maps.append(h)

    lines = [
        "# Cross-cultural recommendation: evaluation",
        "",
        f"Queries: {ev.n_queries} labelled songs of {ev.params['validation_societies']} validation "
        f"societies (labels hidden from every method), each against {ev.params['n_targets']} "
        f"other HRAF regions ({ev.n_pairs} query-region pairs); candidates: the region's songs "
        f"with a public function; top {ev.k}.",
        "",
        "| method | share serving the query's function | 95% CI | chance | x chance | nDCG | "
        "serendipity | minority exposure | calibration KL |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for n in names:
        m = data["methods"][n]
        lo, hi = m["function_share_ci95"]
        lines.append(
            f"| {n} | {m['function_share']:.3f} | {lo:.3f}-{hi:.3f} | {m['chance']:.3f} | "
            f"{m['ratio_to_chance']:.2f} | {m['ndcg']:.3f} | {m['serendipity']:.3f} | "
            f"{m['minority_exposure']:.3f} | {m['calibration_kl']:.3f} |"
        )
    lines += ["", "![metrics](metrics.png)", "", "## Transport plans", ""]
    for h in maps:
        lines += [f"### {h['source']} → {h['target']}", "", f"![plan]({h['image']})", ""]
        lines += ["Most strongly coupled pairs:", ""]
        lines += [f"- {a} ({fa}) ↔ {b} ({fb})" for a, fa, b, fb in h["top_pairs"]]
        lines.append("")
    report = out / "report.md"
    report.write_text("\n".join(lines) + "\n")
    return report
