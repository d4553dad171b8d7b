"""Per-notebook grading time and CPU against bare execution of the same code, both sandboxes.

For each notebook, interleaved per repeat (bare, local, docker, bare, local, docker, …):

* bare: its code cells exported to one .py file, run with plain ``python`` in the module's
  directory (magics and ``!`` lines dropped), the threads the module's run gets;
* local / docker: ``handin grade MODULE NOTEBOOK --sandbox …`` — the whole path a batch
  grading takes: the command's start-up, intake, the sandbox, the notebook in the student
  process, the hidden suite in the judge, scoring, results.json and both reports.

* warm-local / warm-docker (``--warm``): the same notebook graded by one long-lived grading
  process per sandbox, as a web worker grades (``grade_run`` on a backend kept across
  submissions: the local sandbox's prepared interpreters stay ready between runs); wall and
  CPU per submission, after one grading to warm up. The command's start-up is not in these.

Wall: from start to exit of the command. CPU: every process of the command (a cpuacct
cgroup per call, the host's share included), plus for docker the container's own CPU (its
supervisor's and every process it reaped, from the run's environment). Recorded: medians,
spreads (max − min), overhead (graded − bare, medians) and CPU ratio (graded / bare), and
the median of each phase the run recorded (``environment.phases``: where the seconds went).

    .venv/bin/python benchmarks/grading_overhead.py [--repeats 7] [--sandbox local docker] [--warm]

Writes benchmarks/results/grading_overhead.json and prints a table. Run it as root (cgroups,
the local sandbox's uids) on an otherwise idle host.
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
sys.path.insert(0, str(REPO / "benchmarks" / "anchors"))

from run import run_cmd  # noqa: E402  (benchmarks/anchors/run.py: cgroup CPU per call)
from handin.notebook import read_notebook_file  # noqa: E402
from handin.spec import load_module  # noqa: E402

NOTEBOOKS = [
    ("m02-feedforward", "assignments/m02-feedforward/feedforward.ipynb"),
    ("m02-feedforward", "solutions/m02-feedforward/solution.ipynb"),
]
HANDIN = Path(sys.executable).parent / "handin"


def export(cells: tuple[str, ...]) -> str:
    keep = []
    for cell in cells:
        keep.append("\n".join(ln for ln in cell.splitlines() if not ln.lstrip().startswith(("!", "%"))))
    return "\n\n".join(keep) + "\n"


def _spread(xs: list[float]) -> float:
    return round(max(xs) - min(xs), 3)


class WarmGrader:
    """``grading_overhead.py --serve SANDBOX``: one process, one backend, graded on request.

    It runs in a cpuacct cgroup of its own (with every process it starts: the zygotes, the
    sandboxes), so the CPU of one submission is the cgroup's usage across that request."""

    def __init__(self, sandbox: str, tmp: Path):
        import subprocess
        from run import _new_cgroup
        self.sandbox, self.cg = sandbox, _new_cgroup()
        cg = self.cg

        def enter():
            if cg is not None:
                (cg / "cgroup.procs").write_text(str(os.getpid()))
        self.proc = subprocess.Popen([sys.executable, __file__, "--serve", sandbox], cwd=REPO, text=True,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=open(tmp / f"warm-{sandbox}.log", "w"), preexec_fn=enter)

    def grade(self, module: str, rel: str, out: Path) -> dict:
        before = int((self.cg / "cpuacct.usage").read_text()) if self.cg else 0
        self.proc.stdin.write(json.dumps({"module": module, "notebook": str(REPO / rel), "out": str(out)}) + "\n")
        self.proc.stdin.flush()
        reply = json.loads(self.proc.stdout.readline())
        after = int((self.cg / "cpuacct.usage").read_text()) if self.cg else 0
        return dict(reply, cpu_s=round((after - before) / 1e9, 3))

    def close(self) -> None:
        from run import _drop_cgroup
        self.proc.stdin.close()
        self.proc.wait(timeout=60)
        _drop_cgroup(self.cg)


def serve(sandbox: str) -> None:
    from handin.grading import grade_run
    from sandbox import get_backend
    backend = get_backend(sandbox)
    if hasattr(backend, "prepare_ahead"):
        backend.prepare_ahead = 1  # as a web worker keeps it (server/__init__.py)
    for line in sys.stdin:
        ask = json.loads(line)
        spec = load_module(REPO / "assignments" / ask["module"])
        t0 = time.perf_counter()
        results, _ = grade_run(spec, Path(ask["notebook"]), backend=backend, out_dir=Path(ask["out"]))
        wall = time.perf_counter() - t0
        print(json.dumps({"wall_s": round(wall, 3), "results": results}), flush=True)
    getattr(backend, "close", lambda: None)()


def measure(module: str, rel: str, repeats: int, sandboxes: list[str], tmp: Path,
            warm: dict[str, WarmGrader] | None = None) -> dict:
    spec = load_module(REPO / "assignments" / module)
    nb = read_notebook_file(REPO / rel, max_bytes=spec.intake.max_notebook_size, max_cells=spec.intake.max_cells)
    script = tmp / "notebook.py"
    script.write_text(export(nb.code_cells))
    threads = str(spec.resources.cpus)
    bare_env = {"PATH": "/usr/bin:/bin", "OMP_NUM_THREADS": threads, "MKL_NUM_THREADS": threads,
                "MPLBACKEND": "Agg", "HOME": str(tmp)}
    warm = warm or {}
    modes = [*sandboxes, *(f"warm-{s}" for s in warm)]
    runs: dict[str, list[dict]] = {"bare": [], **{m: [] for m in modes}}
    for sandbox, grader in warm.items():  # one grading each to warm up (zygotes, caches): not counted
        grader.grade(module, rel, tmp / f"warmup-{sandbox}")
    for i in range(repeats):
        runs["bare"].append(run_cmd([sys.executable, str(script)], cwd=spec.paths.assignment_dir,
                                    log=tmp / "bare.log", env=bare_env))
        for sandbox in sandboxes:
            out = tmp / f"{sandbox}-{i}"
            r = run_cmd([str(HANDIN), "grade", str(spec.paths.assignment_dir), str(REPO / rel), "--sandbox", sandbox,
                         "--out", str(out)], cwd=REPO, log=tmp / f"{sandbox}.log", docker=sandbox == "docker")
            results = json.loads(next(out.glob("*/results.json")).read_text())
            env = results["environment"]
            container = env.get("container_cpu_seconds")
            r.update(score=f"{results['score']:g}/{results['max_score']:g}", status=results["status"],
                     execution_time=results["execution_time"], phases=env.get("phases") or {},
                     container_cpu_s=container,
                     total_cpu_s=round(r["cpu_s"] + (container or 0.0), 3))
            runs[sandbox].append(r)
        for sandbox, grader in warm.items():
            r = grader.grade(module, rel, tmp / f"warm-{sandbox}-{i}")
            results = r.pop("results")
            env = results["environment"]
            container = env.get("container_cpu_seconds")
            r.update(score=f"{results['score']:g}/{results['max_score']:g}", status=results["status"],
                     execution_time=results["execution_time"], phases=env.get("phases") or {},
                     interpreters=env.get("interpreters"), container_cpu_s=container,
                     total_cpu_s=round(r["cpu_s"] + (container or 0.0), 3))
            runs[f"warm-{sandbox}"].append(r)
    bare_wall = statistics.median(x["wall_s"] for x in runs["bare"])
    bare_cpu = statistics.median(x["cpu_s"] for x in runs["bare"])
    row = {"notebook": rel, "repeats": repeats,
           "bare": {"wall_median_s": round(bare_wall, 3), "wall_spread_s": _spread([x["wall_s"] for x in runs["bare"]]),
                    "cpu_median_s": round(bare_cpu, 3), "cpu_spread_s": _spread([x["cpu_s"] for x in runs["bare"]])}}
    for sandbox in modes:
        xs = runs[sandbox]
        wall = statistics.median(x["wall_s"] for x in xs)
        cpu = statistics.median(x["total_cpu_s"] for x in xs)
        names = list(xs[0]["phases"])
        row[sandbox] = {
            "score": xs[-1]["score"], "status": xs[-1]["status"],
            "wall_median_s": round(wall, 3), "wall_spread_s": _spread([x["wall_s"] for x in xs]),
            "overhead_s": round(wall - bare_wall, 3),
            "cpu_median_s": round(cpu, 3), "cpu_spread_s": _spread([x["total_cpu_s"] for x in xs]),
            "cpu_ratio": round(cpu / bare_cpu, 2) if bare_cpu else None,
            "run_median_s": round(statistics.median(x["execution_time"] for x in xs), 3),
            "phases_median_s": {n: round(statistics.median(x["phases"].get(n, 0.0) for x in xs), 3) for n in names},
        }
        if "interpreters" in xs[-1]:
            row[sandbox]["interpreters"] = xs[-1]["interpreters"]
        if sandbox.endswith("docker"):
            row[sandbox]["container_cpu_median_s"] = round(statistics.median(x["container_cpu_s"] or 0.0 for x in xs), 3)
    return row


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--sandbox", nargs="+", default=["local", "docker"], choices=("local", "docker"))
    ap.add_argument("--warm", action="store_true", help="also grade in one long-lived process per sandbox")
    ap.add_argument("--serve", choices=("local", "docker"), help=argparse.SUPPRESS)
    ap.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "grading_overhead.json")
    args = ap.parse_args()
    if args.serve:
        return serve(args.serve)
    load_before = os.getloadavg()[0]
    t0 = time.monotonic()
    with tempfile.TemporaryDirectory() as tmp:
        warm = {s: WarmGrader(s, Path(tmp)) for s in args.sandbox} if args.warm else {}
        try:
            rows = [measure(module, rel, args.repeats, args.sandbox, Path(tmp), warm) for module, rel in NOTEBOOKS]
        finally:
            for grader in warm.values():
                grader.close()
    modes = [*args.sandbox, *(f"warm-{s}" for s in warm)]
    result = {
        "benchmark": "grading_overhead",
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "host": {"cpu_count": os.cpu_count(), "python": platform.python_version(), "machine": platform.machine(),
                 "load_1min_before": round(load_before, 2), "load_1min_after": round(os.getloadavg()[0], 2)},
        "minutes": round((time.monotonic() - t0) / 60, 1),
        "rows": rows,
    }
    args.out.parent.mkdir(exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"{'notebook':48} {'':11} {'wall s':>7} {'±':>5} {'over s':>7} {'cpu s':>6} {'cpu x':>6}  phases (median s)")
    for r in rows:
        b = r["bare"]
        print(f"{r['notebook']:48} {'bare':11} {b['wall_median_s']:7.2f} {b['wall_spread_s']:5.2f} {'':>7} "
              f"{b['cpu_median_s']:6.2f}")
        for sandbox in modes:
            s = r[sandbox]
            phases = " ".join(f"{k}={v:.2f}" for k, v in s["phases_median_s"].items())
            print(f"{'':48} {sandbox:11} {s['wall_median_s']:7.2f} {s['wall_spread_s']:5.2f} {s['overhead_s']:7.2f} "
                  f"{s['cpu_median_s']:6.2f} {s['cpu_ratio']:6.2f}  {phases}")


if __name__ == "__main__":
    main()
