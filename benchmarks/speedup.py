"""Repeatability of a timed module's speedup grade: honest notebooks and contrasts graded N times each.

Each grading is the full path (intake, sandbox, notebook, hidden suite, host scoring); the
speedup test inside it times 5 interleaved (baseline, parallel) trial pairs. Recorded per
grading: the points, the median speedup of its trials, their min–max and spread, the
median baseline and parallel times, trials re-run because the host was busy, flags.
An honest contrast fixture is graded too:

* m01-distributed-regression: the student's partition_gradient and aggregate on 2 ranks
  against the grader's unpartitioned gradient descent in one process with one thread;
  contrast: a partition gradient that materialises every row's gradient
  (``per_example_gradients``).
* m09-data-parallel: 2 ranks against the grader's single process with one thread (strong scaling); contrast: one blocking
  all-reduce per parameter (``per_parameter``).
* m10-model-parallel: a 2-stage GPipe with 8 micro-batches against the grader's naive model
  parallelism; contrast: a submission that partitions by layer count (``equal_layers``;
  its pipeline is the solution's).

    .venv/bin/python benchmarks/speedup.py m01 [--repeats 5] [--sandbox local docker]
    .venv/bin/python benchmarks/speedup.py m09 [--repeats 5] [--sandbox local docker]
    .venv/bin/python benchmarks/speedup.py m10 [--repeats 5] [--sandbox local docker]
    .venv/bin/python benchmarks/speedup.py m10 --repeats 10 --notebooks solution correct sleep_in_naive_path \\
        --contrast equal_layers --sandbox local docker

``--notebooks`` takes any notebook expected to earn full marks (the solution, a fixture name of
the module, or a path), ``--contrast`` those expected at or under the floor. Rounds interleave:
each grades every notebook once under every sandbox, so a slow stretch of the host touches all of
them alike. The result ends with a ``calibration`` entry: per honest notebook its slowest median
and the standard deviation of its medians, the highest target that stays two deviations below
the slowest (``target_at_most``), the fastest contrast, and whether the module's thresholds for
this host's profile satisfy both.

Writes benchmarks/results/speedup_<module>.json (or --out) and prints a table. Run it on
an otherwise idle host: the harness flags trials that others disturbed, and this script
reports them.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import platform
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from handin.bench import hardware  # noqa: E402
from handin.grading import GradeOptions, grade_file  # noqa: E402
from handin.spec import load_module  # noqa: E402
from sandbox import get_backend  # noqa: E402

# short name → (module folder, node id of the speedup test, contrast fixture)
MODULES = {
    "m01": ("m01-distributed-regression", "test_speedup.py::test_speedup", "per_example_gradients"),
    "m09": ("m09-data-parallel", "test_speedup.py::test_speedup", "per_parameter"),
    "m10": ("m10-model-parallel", "test_speedup.py::test_pipeline_speedup", "equal_layers"),
}
SPEEDUP = ""


def grade_once(spec, path: Path, backend, label: str) -> dict:
    t = time.perf_counter()
    r = grade_file(spec, path, backend=backend, out_dir=None, options=GradeOptions(),
                   sub_id=label)
    wall = time.perf_counter() - t
    test = next(x for x in r["tests"] if x["name"] == SPEEDUP)
    b = next((x for x in r["benchmarks"] if x.get("test") == SPEEDUP), {})
    return {
        "score": r["score"], "max_score": r["max_score"], "status": r["status"],
        "speedup_points": test["score"], "speedup_max_points": test["max_score"],
        "benchmark_status": b.get("status"), "profile": b.get("profile"),
        "speedup_median": b.get("speedup"), "speedup_min": b.get("speedup_min"), "speedup_max": b.get("speedup_max"),
        "spread": b.get("spread"), "iqr_spread": b.get("iqr_spread"), "decision_trials": b.get("decision_trials"),
        "trial_speedups": [x["speedup"] for x in b.get("trials", [])],
        "baseline_median_s": b.get("baseline_median_s"), "parallel_median_s": b.get("parallel_median_s"),
        "single_rank_ratio": (b.get("single_rank") or {}).get("ratio_to_baseline"),
        "discarded_trials": len(b.get("discarded", [])), "flags": b.get("flags", []),
        "benchmark_seconds": b.get("seconds"), "grading_seconds": round(wall, 2),
    }


def summarize(runs: list[dict]) -> dict:
    meds = [r["speedup_median"] for r in runs if isinstance(r["speedup_median"], (int, float))]
    points = [r["speedup_points"] for r in runs]
    return {
        "gradings": len(runs),
        "scores": [r["score"] for r in runs],
        "speedup_points": points,
        "same_points_every_time": len(set(points)) == 1,
        "median_of_medians": round(statistics.median(meds), 4) if meds else None,
        "min_median": min(meds) if meds else None,
        "max_median": max(meds) if meds else None,
        "spread_of_medians": round((max(meds) - min(meds)) / statistics.median(meds), 4) if meds else None,
        "flagged": sum(1 for r in runs if r["flags"]),
        "discarded_trials": sum(r["discarded_trials"] for r in runs),
    }


def calibration(doc: dict, honest: list[str], contrast: list[str], profile: dict | None) -> dict:
    """What the thresholds must satisfy: every honest notebook's slowest median clearly above the
    full-marks target (two standard deviations of its medians), every contrast at or under the floor."""
    def medians(label: str) -> list[float]:
        return [r["speedup_median"] for subs in doc["sandboxes"].values() for r in subs.get(label, {}).get("runs", [])
                if isinstance(r.get("speedup_median"), (int, float))]
    rows = {}
    for label in honest:
        meds = medians(label)
        if len(meds) >= 2:
            sd = statistics.stdev(meds)
            rows[label] = {"slowest": min(meds), "stdev": round(sd, 4), "target_at_most": round(min(meds) - 2 * sd, 4)}
    worst_contrast = max((m for label in contrast for m in medians(label)), default=None)
    out = {"honest": rows, "contrast_fastest": worst_contrast,
           "target_at_most": min((r["target_at_most"] for r in rows.values()), default=None)}
    if profile:
        out["profile"] = profile
        out["target_ok"] = out["target_at_most"] is not None and profile["target"] <= out["target_at_most"]
        out["floor_ok"] = worst_contrast is None or worst_contrast <= profile["floor"]
    return out


def main() -> None:
    global SPEEDUP
    ap = argparse.ArgumentParser()
    ap.add_argument("module", choices=sorted(MODULES))
    ap.add_argument("--repeats", type=int, default=5, help="gradings of each honest notebook per sandbox")
    ap.add_argument("--contrast-repeats", type=int, default=2, help="gradings of each contrast notebook per sandbox")
    ap.add_argument("--notebooks", nargs="+", default=None,
                    help="honest notebooks (full marks expected): 'solution', a fixture name of the module "
                         "(e.g. correct, sleep_in_naive_path) or a path; default: the reference solution")
    ap.add_argument("--contrast", nargs="*", default=None,
                    help="contrast notebooks (at or under the floor expected); default: the module's own")
    ap.add_argument("--sandbox", nargs="+", default=["local"], choices=("local", "docker"))
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()
    folder, SPEEDUP, contrast = MODULES[args.module]
    out = args.out or REPO / "benchmarks" / "results" / f"speedup_{args.module}.json"

    def resolve(name: str) -> tuple[str, Path]:
        if name == "solution":
            return "reference solution", REPO / "solutions" / folder / "solution.ipynb"
        path = Path(name)
        if not path.suffix:
            path = REPO / "tests" / "fixtures" / folder / f"{name}.ipynb"
        return f"{path.stem} fixture", path.resolve()

    honest = [resolve(n) for n in (args.notebooks or ["solution"])]
    contrasts = [resolve(n) for n in (args.contrast if args.contrast is not None else [contrast])]
    spec = load_module(REPO / "assignments" / folder)
    hw = hardware.detect("cpu")
    prof = spec.benchmark.profiles.get(hardware.profile(hw)) if spec.benchmark else None
    doc = {
        "benchmark": f"speedup_{args.module}",
        "when": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "host": {"cpu_model": hw["cpu_model"], "cpu_count": hw["cores_online"], "python": platform.python_version(),
                 "machine": platform.machine()},
        "benchmark_section": spec.benchmark.model_dump(mode="json") if spec.benchmark else None,
        "order": "interleaved: each round grades every notebook once in every sandbox",
        "sandboxes": {},
    }
    backends = {name: get_backend(name) for name in args.sandbox}
    plan = [(label, path, args.repeats) for label, path in honest] + \
           [(label, path, args.contrast_repeats) for label, path in contrasts]
    print(f"{'sandbox':8} {'submission':30} {'#':>2} {'score':>8} {'pts':>5} {'median':>7} {'min':>6} {'max':>6} "
          f"{'base s':>7} {'par s':>7} {'disc':>4} flags")
    for i in range(max(n for _, _, n in plan)):
        for label, path, n in plan:
            if i >= n:
                continue
            for sandbox, backend in backends.items():
                subs = doc["sandboxes"].setdefault(sandbox, {})
                entry = subs.setdefault(label, {"notebook": str(path.relative_to(REPO)), "runs": []})
                run = grade_once(spec, path, backend, f"{path.stem}-{i + 1}")
                entry["runs"].append(run)
                print(f"{sandbox:8} {label:30} {i + 1:>2} {run['score']:>5g}/{run['max_score']:<2g} "
                      f"{run['speedup_points']:>5.3g} {run['speedup_median'] or 0:>7.3f} {run['speedup_min'] or 0:>6.3f} "
                      f"{run['speedup_max'] or 0:>6.3f} {run['baseline_median_s'] or 0:>7.3f} "
                      f"{run['parallel_median_s'] or 0:>7.3f} {run['discarded_trials']:>4} "
                      f"{'; '.join(run['flags'])[:60]}", flush=True)
    for subs in doc["sandboxes"].values():
        for entry in subs.values():
            entry["summary"] = summarize(entry["runs"])
    doc["calibration"] = calibration(doc, [label for label, _ in honest], [label for label, _ in contrasts],
                                     prof.model_dump(mode="json") if prof else None)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(doc, indent=2) + "\n")
    for sandbox, subs in doc["sandboxes"].items():
        for label, sub in subs.items():
            m = sub["summary"]
            print(f"{sandbox}, {label}: points {m['speedup_points']} (same every time: {m['same_points_every_time']}), "
                  f"median speedups {m['min_median']}–{m['max_median']} (median {m['median_of_medians']})")
    print("calibration:", json.dumps(doc["calibration"]))
    print(f"wrote {out.relative_to(REPO) if out.is_relative_to(REPO) else out}")


if __name__ == "__main__":
    main()
