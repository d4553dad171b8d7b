"""Per-submission overhead of the docker backend over the local one.

The same small notebook (numpy only, a handful of tests) is graded through
both backends, interleaved (local, docker, local, docker, …), and the medians
compared, each in the ways a run can start its processes (``environment.interpreters``):

* local-fresh: two fresh interpreters per run (``prepared=False``);
* local: forked from the backend's zygotes (prepared interpreters, kept across runs);
* docker: a container per run, its supervisor importing once and forking both processes;
* docker-prepared: a container started ahead (``prepare_ahead=1``, as a web worker has it).

The docker backends also report their phases (create, start or ready, run, copy out);
removal is the rest of the wall time. A pause after each docker-prepared run lets its pool
refill, as it would between uploads; the pause is not timed.

    .venv/bin/python benchmarks/sandbox_overhead.py [--repeats 15]

Writes benchmarks/results/sandbox_overhead.json and prints a table.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))

from builders import make_toy_module, write_notebook  # noqa: E402
from handin.grading import GradeOptions, grade_file  # noqa: E402
from handin.spec import load_module  # noqa: E402
from sandbox import get_backend  # noqa: E402

CELLS = ["import numpy as np", "def double(x):\n    return 2 * x", "def scale(x):\n    return np.asarray(x) * 3",
         "def guess():\n    return None"]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=15)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        spec = load_module(make_toy_module(Path(tmp) / "course"))
        nb = write_notebook(Path(tmp) / "sub.ipynb", CELLS)
        backends = {"local-fresh": get_backend("local", prepared=False), "local": get_backend("local"),
                    "docker": get_backend("docker"), "docker-prepared": get_backend("docker", prepare_ahead=1)}
        times: dict[str, list[float]] = {name: [] for name in backends}
        phases: dict[str, list[dict]] = {name: [] for name in backends}
        interpreters: dict[str, set] = {name: set() for name in backends}
        for name, backend in backends.items():  # one run each to warm up (zygotes, the pool): not counted
            grade_file(spec, nb, backend=backend, out_dir=None, options=GradeOptions())
        time.sleep(5)
        for _ in range(args.repeats):
            for name, backend in backends.items():
                t = time.perf_counter()
                r = grade_file(spec, nb, backend=backend, out_dir=None, options=GradeOptions())
                times[name].append(time.perf_counter() - t)
                assert r["score"] == 4.5, r["status_reason"]
                phases[name].append(r["environment"]["phases"])
                interpreters[name].add(r["environment"].get("interpreters"))
                if name == "docker-prepared":
                    time.sleep(3)  # the pool refills, as between two uploads
        for backend in backends.values():
            getattr(backend, "close", lambda: None)()
    med = {name: statistics.median(v) for name, v in times.items()}
    phase_med = {name: {k: round(statistics.median(p.get(k, 0.0) for p in ps), 3) for k in ps[-1]}
                 for name, ps in phases.items()}
    result = {
        "benchmark": "sandbox_overhead",
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "host": {"cpu_count": os.cpu_count(), "python": platform.python_version()},
        "repeats": args.repeats,
        "median_s": {k: round(v, 3) for k, v in med.items()},
        "spread_s": {k: round(max(v) - min(v), 3) for k, v in times.items()},
        "interpreters": {k: sorted(map(str, v)) for k, v in interpreters.items()},
        "docker_overhead_median_s": round(med["docker"] - med["local"], 3),
        "docker_prepared_overhead_median_s": round(med["docker-prepared"] - med["local"], 3),
        "phases_median_s": phase_med,
    }
    out = REPO / "benchmarks" / "results" / "sandbox_overhead.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
