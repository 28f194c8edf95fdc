"""Evaluation of cross-cultural recommendation, and its report (``soundbridge evaluate``).

Protocol:

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
  recommender without alignment, and with each OT alignment — in each *space*: the
  affect/function embedding of the audio factors (``"factors"``: "unaligned", "aligned (…)") and
  the GNN's track embeddings (``"gnn"``: "GNN cosine", "GNN aligned (…)"), the latter only when
  the graph holds them and none of the queries' labels trained them
  (``Track.embedding_label_used``).
* **Intervals**: 95% bootstrap intervals of each method's share, and of its difference from the
  unaligned recommender on the same pairs, resampling the queries' societies (songs of one society
  share a recordist and a style; the pairs of one query share its audio).
* **Probes** (:func:`probe_representations`): what each representation carries — the linear
  function and region probes of docs/audio.md (:func:`audio.evaluation.probe`), trained on the
  other societies and scored on the validation societies, for z_a, z_s, z_c, the three together,
  MIRtoolbox and the GNN's track embeddings.

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
from recsys.similar import SPACES, CrossCulturalRecommender

__all__ = [
    "CrossCulturalEvaluation",
    "GNN_METHOD_PREFIX",
    "evaluate_cross_cultural",
    "gnn_leak",
    "long_tail_societies",
    "probe_representations",
    "write_cross_cultural_report",
]

#: What the GNN space's methods are called ("GNN cosine", "GNN aligned (unbalanced)", …).
GNN_METHOD_PREFIX = "GNN"
#: The method every other is compared with (its paired difference interval).
REFERENCE = "unaligned"

Scorer = Callable[[int, np.ndarray, ResolvedCulture], np.ndarray]


@dataclass
class CrossCulturalEvaluation:
    """Per-method mean metrics (with their intervals), per-pair shares, the probes and the fitted
    model.

    Attributes:
        methods: method → ``function_share``, ``function_share_ci95``, ``vs_unaligned`` and
            ``vs_unaligned_ci95`` (the paired difference), ``chance``, ``ratio_to_chance``, …
        per_query: method → Shapes: ``(n_pairs,)`` share of each query–region pair.
        groups: Shapes: ``(n_pairs,)`` the society of each pair's query (the bootstrap's unit).
        probes: representation and target → the probe's figures (see
            :func:`probe_representations`); empty when not run.
        skipped: space → why it was left out (e.g. no GNN embeddings in the graph).
    """

    methods: dict[str, dict[str, Any]]
    per_query: dict[str, np.ndarray]
    n_queries: int
    n_pairs: int
    k: int
    params: dict[str, Any]
    model: CrossCulturalRecommender = field(repr=False)
    groups: np.ndarray = field(default_factory=lambda: np.zeros(0), repr=False)
    probes: dict[str, dict[str, Any]] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "generated": time.strftime("%Y-%m-%dT%H:%M:%S"),
            "k": self.k,
            "queries": self.n_queries,
            "query_target_pairs": self.n_pairs,
            "params": self.params,
            "methods": self.methods,
            "probes": self.probes,
            "skipped": self.skipped,
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


def gnn_leak(catalogue: TrackCatalogue, hide: np.ndarray) -> str | None:
    """Why the catalogue's GNN embeddings cannot be scored on the ``hide`` songs, or ``None``.

    They cannot when there are none, when they do not say which labels trained them, or when the
    label of a hidden labelled song did.

    Shapes:
        hide: ``(n,)`` bool.
    """
    rebuild = "rebuild them with `soundbridge gnn evaluate --force` (after the audio run)"
    if catalogue.gnn is None:
        return "no GNN track embeddings in the graph (run `soundbridge gnn evaluate`)"
    if catalogue.gnn_label_used is None:
        return f"the GNN track embeddings do not say which function labels trained them; {rebuild}"
    n = int((catalogue.gnn_label_used & hide & catalogue.labelled).sum())
    if n:
        return (
            f"the GNN track embeddings were trained with the function labels of {n} songs of the "
            f"validation societies (another audio run's split); {rebuild}, or evaluate with the "
            "audio run they were built with (--audio-run)"
        )
    return None


def evaluate_cross_cultural(
    catalogue: TrackCatalogue,
    validation_societies: Sequence[str],
    *,
    k: int = 10,
    n_targets: int = 5,
    min_judged: int = 10,
    alignments: Sequence[str] = ("unbalanced", "sinkhorn"),
    spaces: Sequence[str] | None = None,
    model: CrossCulturalRecommender | None = None,
    seed: int = 0,
    probes: bool = True,
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
        spaces: the spaces to compare (:data:`recsys.similar.SPACES`); ``None``: every space the
            catalogue allows (the GNN's when :func:`gnn_leak` finds nothing against it, else it
            is left out and ``skipped`` says why).
        model: an unfitted recommender (default parameters when ``None``).
        seed: target drawing.
        probes: also run :func:`probe_representations`.
        progress: called with (done, total) query-target pairs.

    Raises:
        SoundbridgeError: ``spaces`` names ``"gnn"`` and :func:`gnn_leak` says it cannot be
            scored.
    """
    valid = set(map(str, validation_societies))
    hide = np.isin(catalogue.cultures, list(valid))
    labelled = catalogue.labelled
    queries = np.flatnonzero(hide & labelled)
    if len(queries) == 0:
        raise ValueError("no labelled song belongs to the validation societies")
    bad = sorted(set(spaces or ()) - set(SPACES))
    if bad:
        raise ValueError(f"spaces {bad}: choose among {', '.join(SPACES)}")
    skipped: dict[str, str] = {}
    leak = gnn_leak(catalogue, hide)
    if spaces is None:
        spaces = [s for s in SPACES if s != "gnn" or leak is None]
        if leak is not None:
            skipped["gnn"] = leak
    elif "gnn" in spaces and leak is not None:
        raise SoundbridgeError(f"cannot evaluate space='gnn': {leak}")
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

    def space_scorer(space: str, method: str, w: float) -> Scorer:
        def score(q: int, rows: np.ndarray, target: ResolvedCulture) -> np.ndarray:
            return model._scores(q, rows, target, method, w, space)[0]

        return score

    scorers["z_a cosine"] = za_cosine
    if "factors" in spaces:
        scorers["unaligned"] = recommender("none", 0.0)
        for method in alignments:
            scorers[f"aligned ({method})"] = recommender(method, model.weight)
    if "gnn" in spaces:
        scorers[f"{GNN_METHOD_PREFIX} cosine"] = space_scorer("gnn", "none", 0.0)
        for method in alignments:
            scorers[f"{GNN_METHOD_PREFIX} aligned ({method})"] = space_scorer(
                "gnn", method, model.weight
            )

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

    groups = catalogue.cultures[np.array([q for q, _ in pairs], dtype=int)].astype(str)
    methods: dict[str, dict[str, Any]] = {}
    per_query: dict[str, np.ndarray] = {}
    for name, acc in sums.items():
        per_query[name] = np.array(acc["share"])
    for name, acc in sums.items():
        share = float(np.mean(acc["share"]))
        chance = float(np.mean(acc["chance"]))
        methods[name] = {
            "function_share": share,
            "function_share_ci95": list(_bootstrap(per_query[name], groups, seed=seed)),
            "chance": chance,
            "ratio_to_chance": share / chance if chance else float("nan"),
            "ndcg": float(np.mean(acc["ndcg"])),
            "serendipity": float(np.mean(acc["seren"])),
            "minority_exposure": float(np.mean(acc["minor"])),
            "calibration_kl": float(np.mean(acc["calib"])),
        }
        if REFERENCE in per_query and name != REFERENCE:
            diff = per_query[name] - per_query[REFERENCE]
            methods[name]["vs_unaligned"] = float(diff.mean())
            methods[name]["vs_unaligned_ci95"] = list(_bootstrap(diff, groups, seed=seed))
    params = {
        "n_targets": n_targets,
        "min_judged": min_judged,
        "seed": seed,
        "validation_societies": len(valid),
        "spaces": list(spaces),
        "recommender": {key: v for key, v in model.get_params().items() if key != "function_model"},
    }
    found = probe_representations(catalogue, sorted(valid), seed=seed) if probes else {}
    return CrossCulturalEvaluation(
        methods,
        per_query,
        len(queries),
        len(pairs),
        k,
        params,
        model,
        groups=groups,
        probes=found,
        skipped=skipped,
    )


def probe_representations(
    catalogue: TrackCatalogue,
    validation_societies: Sequence[str],
    *,
    seed: int = 0,
    n_boot: int = 1000,
) -> dict[str, dict[str, Any]]:
    """The function and region probes of docs/audio.md on each representation of the tracks.

    Linear probes (:func:`audio.evaluation.probe`: standardise + logistic regression) are fitted
    on the songs of the other societies and scored on those of ``validation_societies``: the
    function (public labels) by accuracy, the HRAF region by balanced accuracy over chance, each
    with a 95% interval resampling the validation societies. Representations: ``z_a``, ``z_s``,
    ``z_c``, ``z_c+z_s+z_a`` (the three side by side), MIRtoolbox (tracks that have it) and
    ``GNN`` (the GNN's track embeddings, when :func:`gnn_leak` finds nothing against them).

    Returns:
        ``"<target> from <representation>"`` → ``accuracy``, ``accuracy_ci95``,
        ``balanced_over_chance``, ``balanced_over_chance_ci95``, ``chance``, ``n_train``,
        ``n_test``.
    """
    from audio.evaluation import probe

    held = np.isin(catalogue.cultures, list(map(str, validation_societies)))
    tree = catalogue.tree
    region = np.array([tree.ancestor(c, "region") or "" for c in catalogue.cultures.tolist()])
    fn = catalogue.functions.astype(str)
    views: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    every = np.ones(len(catalogue), dtype=bool)
    for name, x in (
        ("z_a", catalogue.za),
        ("z_s", catalogue.zs),
        ("z_c", catalogue.zc),
        ("z_c+z_s+z_a", catalogue.factors),
    ):
        views[name] = (x.astype(np.float64), every)
    if catalogue.mir is not None:
        views["MIRtoolbox"] = (catalogue.mir, np.isfinite(catalogue.mir).all(axis=1))
    if catalogue.gnn is not None and gnn_leak(catalogue, held) is None:
        views["GNN"] = (catalogue.gnn.astype(np.float64), np.isfinite(catalogue.gnn).all(axis=1))
    out: dict[str, dict[str, Any]] = {}
    society = catalogue.cultures.astype(str)
    for target, y, known in (
        ("function", fn, catalogue.labelled),
        ("region", region, region != ""),
    ):
        for name, (x, ok) in views.items():
            if target == "region" and name in ("z_c", "z_c+z_s+z_a"):
                continue  # docs/audio.md reads the region from z_a, z_s and MIRtoolbox
            tr, te = known & ok & ~held, known & ok & held
            if tr.sum() == 0 or te.sum() == 0:
                continue
            r = probe(x[tr], y[tr], x[te], y[te], seed=seed, groups_test=society[te], n_boot=n_boot)
            out[f"{target} from {name}"] = {
                "accuracy": r.accuracy,
                "accuracy_ci95": list(r.accuracy_ci95) if r.accuracy_ci95 else None,
                "balanced_over_chance": r.ratio,
                "balanced_over_chance_ci95": list(r.ratio_ci95) if r.ratio_ci95 else None,
                "chance": r.chance,
                "n_train": r.n_train,
                "n_test": r.n_test,
            }
    return out


def _bootstrap(
    x: np.ndarray, groups: np.ndarray | None = None, seed: int = 0, n: int = 1000
) -> tuple[float, float]:
    """95% percentile interval of the mean of ``x``, resampling whole ``groups`` when given.

    Shapes:
        x, groups: ``(m,)``.

    Examples:
        >>> _bootstrap(np.ones(6), np.array(list("aabbcc")))
        (1.0, 1.0)
    """
    rng = np.random.default_rng(seed)
    if groups is None or len(groups) != len(x):
        means = rng.choice(x, size=(n, len(x)), replace=True).mean(axis=1)
    else:
        keys, inverse = np.unique(groups, return_inverse=True)
        sums = np.bincount(inverse, weights=x, minlength=len(keys))
        counts = np.bincount(inverse, minlength=len(keys)).astype(float)
        draw = rng.integers(0, len(keys), size=(n, len(keys)))
        means = sums[draw].sum(axis=1) / counts[draw].sum(axis=1)
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
        if "function_share_ci95" not in m:  # an evaluation made by hand
            m["function_share_ci95"] = list(_bootstrap(ev.per_query[name], ev.groups))
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
        f"with a public function; top {ev.k}. Intervals: 95% bootstrap over the queries' "
        "societies; 'vs unaligned' is the paired difference from the unaligned recommender.",
        "",
        "| method | share serving the query's function | 95% CI | vs unaligned (95% CI) | "
        "chance | x chance | nDCG | serendipity | minority exposure | calibration KL |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for n in names:
        m = data["methods"][n]
        lo, hi = m["function_share_ci95"]
        vs = "—"
        if "vs_unaligned" in m:
            a, b = m["vs_unaligned_ci95"]
            vs = f"{m['vs_unaligned']:+.3f} ({a:+.3f} to {b:+.3f})"
        lines.append(
            f"| {n} | {m['function_share']:.3f} | {lo:.3f}-{hi:.3f} | {vs} | {m['chance']:.3f} | "
            f"{m['ratio_to_chance']:.2f} | {m['ndcg']:.3f} | {m['serendipity']:.3f} | "
            f"{m['minority_exposure']:.3f} | {m['calibration_kl']:.3f} |"
        )
    for space, why in ev.skipped.items():
        lines += ["", f"Space '{space}' left out: {why}."]
    if ev.probes:
        lines += [
            "",
            "## What each representation carries (linear probes, validation societies)",
            "",
            "| probe | accuracy (95% CI) | balanced accuracy / chance (95% CI) | train / test |",
            "|---|---|---|---|",
        ]
        for name, p in ev.probes.items():
            acc, ratio = p["accuracy_ci95"], p["balanced_over_chance_ci95"]
            acc_ci = f" ({acc[0]:.3f}-{acc[1]:.3f})" if acc else ""
            ratio_ci = f" ({ratio[0]:.2f}-{ratio[1]:.2f})" if ratio else ""
            lines.append(
                f"| {name} | {p['accuracy']:.3f}{acc_ci} | "
                f"{p['balanced_over_chance']:.2f}{ratio_ci} | {p['n_train']} / {p['n_test']} |"
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
