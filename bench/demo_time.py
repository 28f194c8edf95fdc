"""How long a newcomer waits: ``soundbridge demo`` from a fresh ``SOUNDBRIDGE_HOME``.

Runs the README's first command (``make demo`` runs ``soundbridge demo`` once ``make setup`` is
done) with a new, empty home and a free loopback port, so it starts the local Neo4j, ingests every
dataset, installs the packaged audio run, stores the factors and answers. Records, from the
command's start: when the server answered, when the first cross-cultural answer (the first line
of "Songs like the Ewe song …") was printed, and when the command ended; then stops the server.

    python bench/demo_time.py --out bench/results/demo_time.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

from private_server import free_port

REPO = Path(__file__).resolve().parents[1]
SOUNDBRIDGE = Path(sys.executable).with_name("soundbridge")
#: The budget the first answer must meet on the 2-core machine once `make setup` is done.
TARGET_SECONDS = 300.0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "demo_time.json")
    args = ap.parse_args()

    with tempfile.TemporaryDirectory(prefix="soundbridge-demo-") as home:
        env = {k: v for k, v in os.environ.items() if not k.startswith("NEO4J_")}
        env.update({"NEO4J_URI": f"bolt://127.0.0.1:{free_port()}", "SOUNDBRIDGE_HOME": home})
        env.setdefault("SOUNDBRIDGE_DATA", str((REPO.parent / "shared" / "data").resolve()))
        marks: dict[str, float] = {}
        lines: list[str] = []
        start = time.perf_counter()

        def watch(stream, name: str) -> None:  # type: ignore[no-untyped-def]
            answer_section = False
            for line in stream:
                now = time.perf_counter() - start
                lines.append(f"{now:7.1f}s {name}: {line.rstrip()}")
                print(lines[-1], flush=True)
                if line.startswith("ingest: running"):
                    marks.setdefault("server_answered_s", now)
                if line.startswith("== Songs like"):
                    answer_section = True
                elif answer_section and line.startswith("1. "):
                    marks.setdefault("first_cross_cultural_answer_s", now)

        proc = subprocess.Popen(
            [str(SOUNDBRIDGE), "demo"],
            env=env,
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        readers = [
            threading.Thread(target=watch, args=(proc.stdout, "out")),
            threading.Thread(target=watch, args=(proc.stderr, "err")),
        ]
        for r in readers:
            r.start()
        rc = proc.wait()
        for r in readers:
            r.join()
        marks["total_s"] = time.perf_counter() - start
        subprocess.run([str(SOUNDBRIDGE), "neo4j", "stop"], env=env, check=False)

    first = marks.get("first_cross_cultural_answer_s")
    result = {
        "what": "soundbridge demo, fresh SOUNDBRIDGE_HOME: start to first cross-cultural answer",
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform()},
        "exit_code": rc,
        **{k: round(v, 1) for k, v in marks.items()},
        "target_s": TARGET_SECONDS,
        "meets_target": first is not None and first <= TARGET_SECONDS,
        "log_tail": lines[-40:],
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    print(json.dumps({k: v for k, v in result.items() if k != "log_tail"}, indent=2))
    sys.exit(0 if rc == 0 and first is not None else 1)


if __name__ == "__main__":
    main()
