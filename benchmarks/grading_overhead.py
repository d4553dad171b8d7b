"""Per-notebook grading wall time against bare execution of the same code.

For each notebook: (a) its code cells exported to one .py file and run with
plain ``python`` in the module's directory (magics and ``!`` lines dropped);
(b) the full grading path: intake, the local sandbox (bubblewrap, two uids),
the notebook in the student process, the hidden suite in the judge, scoring.
Both are repeated, interleaved (ABAB…), and the medians compared.

    .venv/bin/python benchmarks/grading_overhead.py [--repeats 5]

Writes benchmarks/results/grading_overhead.json and prints a table.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from handin.grading import GradeOptions, grade_file  # noqa: E402
from handin.notebook import read_notebook_file  # noqa: E402
from handin.spec import load_module  # noqa: E402
from sandbox import LocalBackend  # noqa: E402

NOTEBOOKS = [
    ("m02-feedforward", "solutions/m02-feedforward/solution.ipynb"),
    ("m02-feedforward", "assignments/m02-feedforward/feedforward.ipynb"),
]


def export(cells: tuple[str, ...]) -> str:
    keep = []
    for cell in cells:
        keep.append("\n".join(ln for ln in cell.splitlines() if not ln.lstrip().startswith(("!", "%"))))
    return "\n\n".join(keep) + "\n"


def bare_run(script: Path, cwd: Path, threads: int) -> float:
    env = {"PATH": "/usr/bin:/bin", "OMP_NUM_THREADS": str(threads), "MPLBACKEND": "Agg"}
    t = time.perf_counter()
    subprocess.run([sys.executable, str(script)], cwd=cwd, env=env, capture_output=True)
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    backend = LocalBackend()
    rows = []
    for module, rel in NOTEBOOKS:
        spec = load_module(REPO / "assignments" / module)
        nb_path = REPO / rel
        nb = read_notebook_file(nb_path, max_bytes=spec.intake.max_notebook_size, max_cells=spec.intake.max_cells)
        with tempfile.TemporaryDirectory() as tmp:
            script = Path(tmp) / "notebook.py"
            script.write_text(export(nb.code_cells))
            bare, graded, nb_secs, test_secs = [], [], [], []
            for _ in range(args.repeats):
                bare.append(bare_run(script, spec.paths.assignment_dir, spec.resources.cpus))
                t = time.perf_counter()
                r = grade_file(spec, nb_path, backend=backend, out_dir=None, options=GradeOptions())
                graded.append(time.perf_counter() - t)
            rows.append({
                "notebook": rel, "repeats": args.repeats, "score": f"{r['score']:g}/{r['max_score']:g}",
                "bare_median_s": round(statistics.median(bare), 3),
                "bare_spread_s": round(max(bare) - min(bare), 3),
                "graded_median_s": round(statistics.median(graded), 3),
                "graded_spread_s": round(max(graded) - min(graded), 3),
                "overhead_s": round(statistics.median(graded) - statistics.median(bare), 3),
                "ratio": round(statistics.median(graded) / statistics.median(bare), 2),
            })
    result = {
        "benchmark": "grading_overhead",
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "host": {"cpu_count": __import__("os").cpu_count(), "python": platform.python_version(),
                 "machine": platform.machine()},
        "protections": backend.protections(),
        "rows": rows,
    }
    out = REPO / "benchmarks" / "results" / "grading_overhead.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"{'notebook':55} {'bare s':>8} {'graded s':>9} {'overhead':>9} {'ratio':>6}")
    for r in rows:
        print(f"{r['notebook']:55} {r['bare_median_s']:8.2f} {r['graded_median_s']:9.2f} "
              f"{r['overhead_s']:9.2f} {r['ratio']:6.2f}")


if __name__ == "__main__":
    main()
