"""Per-submission overhead of the docker backend over the local one.

The same small notebook (numpy only, a handful of tests) is graded through
both backends, interleaved (local, docker, local, docker, …), and the medians
compared. The docker backend also reports its phases (create, start, run,
copy out); removal is the rest of its wall time.

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
        backends = {name: get_backend(name) for name in ("local", "docker")}
        times: dict[str, list[float]] = {name: [] for name in backends}
        phases: list[dict] = []
        for _ in range(args.repeats):
            for name, backend in backends.items():
                t = time.perf_counter()
                r = grade_file(spec, nb, backend=backend, out_dir=None, options=GradeOptions())
                times[name].append(time.perf_counter() - t)
                assert r["score"] == 4.5, r["status_reason"]
                if name == "docker":
                    phases.append(r["environment"]["phases"])
    med = {name: statistics.median(v) for name, v in times.items()}
    phase_med = {k: round(statistics.median(p[k] for p in phases), 3) for k in phases[0]}
    result = {
        "benchmark": "sandbox_overhead",
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "host": {"cpu_count": os.cpu_count(), "python": platform.python_version()},
        "repeats": args.repeats,
        "median_s": {k: round(v, 3) for k, v in med.items()},
        "spread_s": {k: round(max(v) - min(v), 3) for k, v in times.items()},
        "docker_overhead_median_s": round(med["docker"] - med["local"], 3),
        "docker_phases_median_s": phase_med,
    }
    out = REPO / "benchmarks" / "results" / "sandbox_overhead.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
