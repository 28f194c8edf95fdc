"""The metrics view's data: the cross-cultural evaluation report (``soundbridge evaluate``).

The dashboard only reads ``$SOUNDBRIDGE_HOME/reports/crosscultural/metrics.json`` (written by
:func:`recsys.cultural_eval.write_cross_cultural_report`); it never runs the evaluation itself,
which takes minutes. A missing or unreadable report is an answer, not an error: the view says
what to run.

Examples:
    >>> import json, tempfile
    >>> from pathlib import Path
    >>> home = Path(tempfile.mkdtemp())
    >>> read_metrics(home)["available"]
    False
    >>> path = home / REPORT
    >>> path.parent.mkdir(parents=True)
    >>> _ = path.write_text(json.dumps({"methods": {"ot": {"serendipity": 0.4, "ndcg": 0.5}}}))
    >>> [m["key"] for m in read_metrics(home)["metrics"]]
    ['serendipity', 'ndcg']
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from kg.config import soundbridge_home
from soundbridge.build import CROSSCULTURAL_REPORT

__all__ = ["METRICS", "REPORT", "dashboard_home", "read_metrics"]

#: Where the report lives under ``SOUNDBRIDGE_HOME``.
REPORT = CROSSCULTURAL_REPORT / "metrics.json"

#: The metrics the view knows how to title, in display order: key → (title, what is better).
#: ``chance`` is drawn inside the ``function_share`` chart, not on its own.
METRICS: dict[str, tuple[str, str]] = {
    "minority_exposure": ("Minority exposure", "share of results from long-tail societies; higher"),
    "calibration_kl": (
        "Calibration (KL divergence)",
        "society mix of results vs the culture's; lower",
    ),
    "serendipity": ("Serendipity", "relevant and unexpected; higher"),
    "function_share": ("Function share vs chance", "results serving the query's function; higher"),
    "ndcg": ("nDCG", "ranking of same-function results; higher"),
}


def dashboard_home() -> Path:
    """``SOUNDBRIDGE_HOME`` (:func:`kg.config.soundbridge_home`), made absolute."""
    return soundbridge_home().absolute()


def _missing(path: Path, why: str) -> dict[str, Any]:
    return {
        "available": False,
        "path": str(path),
        "message": f"{why}. Run `soundbridge evaluate` to write the cross-cultural evaluation "
        "report, then open this view again.",
    }


def read_metrics(home: Path) -> dict[str, Any]:
    """The report as the metrics view draws it.

    Args:
        home: ``SOUNDBRIDGE_HOME``.

    Returns:
        ``{"available": False, "path", "message"}`` when there is no usable report; else
        ``{"available": True, "path", "generated", "methods": {method: {metric: value}}, "metrics":
        [{"key", "title", "better", "ci": bool}]}`` with every numeric metric that some method
        has (known ones first, in :data:`METRICS` order; ``chance`` folded into
        ``function_share``), and ``<metric>_ci95`` pairs kept for error bars.
    """
    path = home / REPORT
    if not path.is_file():
        return _missing(path, f"No cross-cultural evaluation report yet: {path} does not exist")
    try:
        data = json.loads(path.read_text("utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        return _missing(path, f"The report {path} cannot be read ({e})")
    methods = data.get("methods") if isinstance(data, dict) else None
    if not isinstance(methods, dict) or not methods:
        return _missing(path, f'The report {path} has no "methods" object')
    clean: dict[str, dict[str, Any]] = {}
    keys: list[str] = []
    for name, values in methods.items():
        if not isinstance(values, dict):
            continue
        row: dict[str, Any] = {}
        for k, v in values.items():
            if _number(v):
                row[k] = float(v)
                if k not in keys:
                    keys.append(k)
            elif (
                k.endswith("_ci95") and isinstance(v, list) and len(v) == 2 and all(map(_number, v))
            ):
                row[k] = [float(v[0]), float(v[1])]
        clean[str(name)] = row
    ordered = [k for k in METRICS if k in keys] + [k for k in keys if k not in METRICS]
    ordered = [k for k in ordered if k != "chance" or "function_share" not in keys]
    metrics = [
        {
            "key": k,
            "title": METRICS.get(k, (k.replace("_", " ").capitalize(), ""))[0],
            "better": METRICS.get(k, ("", ""))[1],
            "ci": any(f"{k}_ci95" in row for row in clean.values()),
        }
        for k in ordered
    ]
    return {
        "available": True,
        "path": str(path),
        "generated": data.get("generated"),
        "methods": clean,
        "metrics": metrics,
    }


def _number(v: object) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)
