"""What the build's ``recommenders`` step costs: wall time, each model's fit, peak memory, as JSON.

Runs ``soundbridge gnn evaluate --force`` (the build's ``recommenders`` step, every model of
``recsys.pipeline.DEFAULT_MODELS`` with its defaults) as a user would, against the server of the
environment (``NEO4J_URI``, ingested, the audio factors stored) and ``SOUNDBRIDGE_HOME``, and
records its wall time, the peak resident memory of the process (``ru_maxrss`` of the child),
each model's fit seconds from the report's ``metrics.json`` and the served GNN's seconds per
epoch. Run it on an idle machine: the targets are 15 minutes for the step and 10 for the
served model's fit on the 2-core CPU.

    python bench/recsys_build_time.py --out bench/results/recsys_build.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from recsys.pipeline import SERVED, artefacts_dir

SOUNDBRIDGE = Path(sys.executable).with_name("soundbridge")
#: Targets on the idle 2-core machine, seconds.
STEP_TARGET, SERVED_TARGET = 15 * 60.0, 10 * 60.0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=Path("bench/results/recsys_build.json"))
    args = ap.parse_args()
    load = os.getloadavg()
    start = time.perf_counter()
    done = subprocess.run([str(SOUNDBRIDGE), "gnn", "evaluate", "--force"], check=False)
    wall = time.perf_counter() - start
    if done.returncode != 0:
        sys.exit(f"soundbridge gnn evaluate --force failed (exit {done.returncode})")
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    metrics = json.loads((artefacts_dir() / "metrics.json").read_text())
    fits = {r["model"]: r["fit_seconds"] for r in metrics["models"]}
    served = fits.get(SERVED, float("nan"))
    figures = {
        "measured": time.strftime("%Y-%m-%d"),
        "machine": {
            "cpus": os.cpu_count(),
            "load_average_at_start": load,
            "python": platform.python_version(),
        },
        "step_seconds": wall,
        "step_target_seconds": STEP_TARGET,
        "served_fit_seconds": served,
        "served_target_seconds": SERVED_TARGET,
        "within_targets": bool(wall <= STEP_TARGET and served <= SERVED_TARGET),
        "peak_rss_mb": peak_mb,
        "fit_seconds": fits,
        "served": (curve := metrics.get("cold_start", {}).get(SERVED, {})),
    }
    if curve.get("epochs"):
        # the inner split's epochs and those of training again on every row
        figures["served_fit_seconds_per_epoch"] = served / (
            curve["epochs"] + curve.get("refit_epochs", 0)
        )
    recall = {r["model"]: r["recall"] for r in metrics["models"]}
    figures["recall"] = recall
    figures["recall_ratio_to_best_peer"] = recall.get(SERVED, np.nan) / max(
        v for k, v in recall.items() if k != SERVED and "(member of" not in k
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(figures, indent=2, default=float))
    print(
        json.dumps(
            {k: figures[k] for k in ("step_seconds", "served_fit_seconds", "within_targets")}
        )
    )


if __name__ == "__main__":
    main()
