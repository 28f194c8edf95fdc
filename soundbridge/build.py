"""``soundbridge build``: the whole pipeline that exists so far, skipping steps whose inputs did not
change.

Each step declares its inputs (files and settings); their fingerprint (paths, sizes, modification
times, settings) is recorded in ``$SOUNDBRIDGE_HOME/build-state.json`` per Neo4j URI after the step
succeeds. A step runs again when its fingerprint differs, when its recorded output is gone from the
graph, or with ``--force``. The pipeline: ingest → audio (train the factor model when there is
none, store the factors on Track nodes) → recommenders (GNN and baselines) → alignment (the
cross-cultural evaluation report that the dashboard's metrics view reads).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import neo4j

from kg.config import Neo4jSettings, soundbridge_home
from kg.ingest import SOURCES, ingest
from kg.stats import graph_counts
from loaders.config import data_root, inputs_fingerprint
from loaders.errors import ConfigError
from loaders.files import replacing

__all__ = [
    "CROSSCULTURAL_REPORT",
    "STEPS",
    "Step",
    "StepResult",
    "cross_cultural_evaluation",
    "run_build",
    "validation_societies",
]


@dataclass(frozen=True)
class Step:
    """A pipeline step: ``run(driver, log)`` does the work; ``inputs()`` lists the files it
    reads and ``graph_inputs(driver)`` what else it reads from the graph (both count in its
    fingerprint); ``present(driver)`` says whether its output is in the graph; ``takes`` says how
    long it takes on the 2-core machine, printed when it starts."""

    name: str
    inputs: Callable[[], Iterable[Path]]
    run: Callable[[neo4j.Driver, Callable[[str], None]], Any]
    present: Callable[[neo4j.Driver], bool]
    graph_inputs: Callable[[neo4j.Driver], Mapping[str, Any]] = lambda _driver: {}
    takes: str = ""


@dataclass(frozen=True)
class StepResult:
    """What happened to one step: ``ran`` or ``skipped`` (inputs unchanged)."""

    name: str
    status: str
    detail: str


def _data_files() -> list[Path]:
    root = data_root()
    files: list[Path] = []
    for folder in SOURCES.values():
        base = root / folder
        if base.is_dir():
            files.extend(p for p in sorted(base.rglob("*")) if p.is_file() and p.suffix != ".mp3")
    return files


def _graph_has_tracks(driver: neo4j.Driver) -> bool:
    return graph_counts(driver).nodes.get("Track", 0) > 0


def _lastfm_files() -> list[Path]:
    base = data_root() / SOURCES["lastfm"]
    return sorted(p for p in base.glob("*.dat") if p.is_file())


def _recommenders_inputs() -> list[Path]:
    """Last.fm's files, and the audio run's split: its held-out societies' function labels are
    kept out of the GNN's training."""
    split = _audio_run() / "split.json"
    return [*_lastfm_files(), *([split] if split.is_file() else [])]


def _run_recommenders(driver: neo4j.Driver, log: Callable[[str], None]) -> Any:
    from recsys.pipeline import build as build_recommenders  # torch: load only when needed

    return build_recommenders(driver, log=log)


def _recommenders_present(driver: neo4j.Driver) -> bool:
    from recsys.pipeline import artefacts_dir

    return (artefacts_dir() / "model.npz").is_file()


#: Where the cross-cultural evaluation report lives under ``$SOUNDBRIDGE_HOME`` (the dashboard's
#: metrics view reads it).
CROSSCULTURAL_REPORT = Path("reports") / "crosscultural"


def _audio_run() -> Path:
    from audio.run import default_run  # torch: load only when needed

    return default_run()


def validation_societies(run: Path) -> list[str]:
    """The societies the audio run held out from every supervised loss (its ``split.json``).

    Raises:
        ConfigError: the run has no ``split.json`` (no trained audio model there).
    """
    from audio.run import held_out_societies

    held = held_out_societies(run)
    if held is None:
        raise ConfigError(
            f"{run / 'split.json'} not found: the validation societies are those the audio model "
            "held out. Store the factors first (`soundbridge build`) or pass --audio-run"
        )
    return held


def cross_cultural_evaluation(
    driver: neo4j.Driver,
    *,
    audio_run: Path | None = None,
    out: Path | None = None,
    **options: Any,
) -> tuple[Any, Path]:
    """Run :func:`recsys.cultural_eval.evaluate_cross_cultural` on the graph's catalogue with the
    audio run's validation societies and write the report (default folder:
    ``$SOUNDBRIDGE_HOME/reports/crosscultural``). ``options`` go to the evaluation.

    Returns:
        The evaluation and the report's path.
    """
    from recsys.catalogue import load_catalogue
    from recsys.cultural_eval import evaluate_cross_cultural, write_cross_cultural_report

    held = validation_societies(audio_run or _audio_run())
    ev = evaluate_cross_cultural(load_catalogue(driver).dataset_only(), held, **options)
    report = write_cross_cultural_report(ev, out or soundbridge_home() / CROSSCULTURAL_REPORT)
    return ev, report


def _audio_inputs() -> list[Path]:
    model = _audio_run() / "model.pt"
    ccmc = data_root() / SOURCES["ccmc"] / "cldf"
    files = sorted(p for p in ccmc.glob("*.csv") if p.is_file()) if ccmc.is_dir() else []
    return files + ([model] if model.is_file() else [])


def _run_audio(driver: neo4j.Driver, log: Callable[[str], None]) -> Any:
    from audio.run import export_factors, install_packaged_run, train_run

    run = _audio_run()
    if not (run / "model.pt").is_file() and not install_packaged_run(run, log=log):
        log(
            "audio: no trained model yet and none packaged; training the default configuration "
            "(about 14 minutes on 2 cores)"
        )
        train_run(run, log=log)
    out = run / "factors.parquet"
    export_factors(run, out, driver=driver, log=log)
    return out


def _factors_present(driver: neo4j.Driver) -> bool:
    from recsys.catalogue import count_tracks_with_factors

    return count_tracks_with_factors(driver) > 0


def _run_alignment(driver: neo4j.Driver, log: Callable[[str], None]) -> Any:
    _, report = cross_cultural_evaluation(driver)
    log(f"alignment: report written to {report}")
    return report


def _alignment_inputs() -> list[Path]:
    """The audio run, Last.fm's files, and the GNN's embeddings (the evaluation scores the GNN's
    space too, so a retrained GNN reruns it)."""
    from recsys.pipeline import artefacts_dir

    embeddings = artefacts_dir() / "embeddings.npz"
    return [*_audio_inputs(), *_lastfm_files(), *([embeddings] if embeddings.is_file() else [])]


def _alignment_present(driver: neo4j.Driver) -> bool:
    return (soundbridge_home() / CROSSCULTURAL_REPORT / "metrics.json").is_file()


def _recommenders_graph_inputs(driver: neo4j.Driver) -> dict[str, Any]:
    """What the GNN reads from the graph besides Last.fm: the experts' must/cannot links and the
    Tracks' audio factors (its Track input features); a change to either reruns it."""
    from audio.graph import factors_fingerprint
    from kg.expert import constraints

    return {
        "expert_constraints": sorted((c.source, c.target, c.kind) for c in constraints(driver)),
        "track_factors": factors_fingerprint(driver),
    }


STEPS: list[Step] = [
    Step(
        name="ingest",
        inputs=_data_files,
        run=lambda driver, log: ingest(driver, log=log),
        present=_graph_has_tracks,
        takes="about 20 s",
    ),
    Step(
        name="audio",
        inputs=_audio_inputs,
        run=_run_audio,
        present=_factors_present,
        takes="seconds from the packaged model; about 14 minutes when it trains one",
    ),
    Step(
        name="recommenders",
        inputs=_recommenders_inputs,
        run=_run_recommenders,
        present=_recommenders_present,
        graph_inputs=_recommenders_graph_inputs,
        takes="about 11 minutes",
    ),
    Step(
        name="alignment",
        inputs=_alignment_inputs,
        run=_run_alignment,
        present=_alignment_present,
        takes="about a minute",
    ),
]


def run_build(
    driver: neo4j.Driver,
    settings: Neo4jSettings,
    *,
    force: bool = False,
    only: Iterable[str] | None = None,
    log: Callable[[str], None] = lambda _m: None,
) -> list[StepResult]:
    """Run every step of :data:`STEPS` whose inputs changed (all of them with ``force``).

    Args:
        only: run just these steps (by name), e.g. ``["ingest"]`` for the demo.
    """
    names = None if only is None else set(only)
    unknown = (names or set()) - {s.name for s in STEPS}
    if unknown:
        raise ConfigError(
            f"unknown build step(s) {sorted(unknown)}; steps: {[s.name for s in STEPS]}"
        )
    state_path = settings.home / "build-state.json"
    state: dict[str, dict[str, str]] = {}
    if state_path.exists():
        state = json.loads(state_path.read_text())
    mine = state.setdefault(settings.uri, {})
    results = []
    for step in STEPS:
        if names is not None and step.name not in names:
            continue
        fp = inputs_fingerprint(step.inputs(), step.graph_inputs(driver))
        if not force and mine.get(step.name) == fp and step.present(driver):
            results.append(StepResult(step.name, "skipped", "inputs unchanged"))
            log(f"{step.name}: skipped (inputs unchanged; --force to run it anyway)")
            continue
        log(f"{step.name}: running" + (f" ({step.takes} on 2 cores)" if step.takes else ""))
        step.run(driver, log)
        mine[step.name] = fp
        with replacing(state_path) as tmp:
            tmp.write_text(json.dumps(state, indent=2))
        results.append(StepResult(step.name, "ran", ""))
    return results
