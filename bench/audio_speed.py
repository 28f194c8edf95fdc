"""Audio factor speed: factors per second at inference, and training time per epoch.

Inference: the trained model of a run folder turns ``--tracks`` real CCMC clips (about 10 s each,
4 windows of 3 s) into factors, after one warm-up batch; the figure is tracks per second and
windows per second, decoding excluded (clips come from the decode cache). For a model with a
pretrained tagger (``pretrained="MSD_musicnn"``, the default) the two stages are also timed apart:
the tagger's embedding (computed once per recording and cached on disk by the commands) and the
factor heads given that embedding.
Training: seconds per epoch, read from the run's ``history.json`` (what `soundbridge audio
train` measured), plus the epoch count and total.

Usage::

    python bench/audio_speed.py --run $SOUNDBRIDGE_HOME/audio/default \\
        --out bench/results/audio_speed.json

Needs SOUNDBRIDGE_DATA and a trained run (``soundbridge audio train``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from pathlib import Path

import torch

from audio.dataset import load_ccmc_audio
from audio.factorizer import AudioFactorizer
from audio.frontend import track_windows
from loaders.config import data_root


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    home = Path(os.environ.get("SOUNDBRIDGE_HOME") or "~/.soundbridge").expanduser()
    parser.add_argument("--run", type=Path, default=home / "audio" / "default")
    parser.add_argument("--tracks", type=int, default=200)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", type=Path, default=Path("bench/results/audio_speed.json"))
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    model = AudioFactorizer.load(args.run / "model.pt")
    ccmc = load_ccmc_audio(data_root() / "ccmc")
    waves = ccmc.track_waves()[: args.tracks]
    n_windows = sum(len(track_windows(w, model.frontend_)) for w in waves)
    model.transform(waves[:8])  # warm-up
    start = time.perf_counter()
    model.transform(waves)
    seconds = time.perf_counter() - start
    stages: dict[str, float] = {}
    if model.pretrained is not None:
        start = time.perf_counter()
        context = model.embed(waves)
        stages["pretrained_embedding_seconds"] = time.perf_counter() - start
        start = time.perf_counter()
        model.transform(waves, context=context)
        stages["factor_heads_seconds"] = time.perf_counter() - start
        stages["factor_heads_tracks_per_second"] = len(waves) / stages["factor_heads_seconds"]

    history_file = args.run / "history.json"
    history = json.loads(history_file.read_text()) if history_file.is_file() else model.history_
    epoch_seconds = [float(h["seconds"]) for h in history]
    result = {
        "machine": {
            "platform": platform.platform(),
            "cpu_count": os.cpu_count(),
            "torch_threads": args.threads,
            "torch": torch.__version__,
        },
        "inference": {
            "tracks": len(waves),
            "windows": n_windows,
            "seconds": seconds,
            "tracks_per_second": len(waves) / seconds,
            "windows_per_second": n_windows / seconds,
            "pretrained": model.pretrained,
            **stages,
        },
        "training": {
            "epochs": len(epoch_seconds),
            "seconds_per_epoch_median": statistics.median(epoch_seconds) if epoch_seconds else None,
            "seconds_per_epoch": epoch_seconds,
            "total_seconds": sum(epoch_seconds),
            "note": "shared 2-core CPU: other jobs ran at the same time",
        },
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result["inference"], indent=2))
    print(json.dumps({k: v for k, v in result["training"].items() if k != "seconds_per_epoch"}))


if __name__ == "__main__":
    main()
