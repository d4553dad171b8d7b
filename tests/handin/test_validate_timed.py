"""`handin validate` on a timed module (m01): a timed test's points follow its measurement.

A backend stands in for the sandbox here (the timed runs themselves are graded for real in
tests/test_module_fixtures.py): it answers every correctness test as passed for the solution
and as failed for the starter, with a speedup record of the host's choosing.
"""

from __future__ import annotations

from builders import REPO
from handin.results import list_tests
from handin.sandboxing import RunOutcome
from handin.spec import load_module
from handin.validate import validate_module

M01 = REPO / "assignments" / "m01-distributed-regression"
SPEEDUP = "test_speedup.py::test_speedup"


class TimedBackend:
    name = "scripted"

    def __init__(self, spec, speedups: list[tuple[str, float]]):
        self.spec, self.speedups = spec, list(speedups)   # (profile, speedup) per solution run, in order

    def protections(self):
        return {"rlimits": True}

    def run(self, request) -> RunOutcome:
        solution = request.label.startswith("solution")
        tests = [{"nodeid": node, "name": name, "title": "", "file": node.split("::")[0], "marker_points": None,
                  "marker_visibility": None, "outcome": "passed" if solution else "failed", "fraction": 1.0,
                  "message": "", "detail": "", "duration": 0.0}
                 for node, name, _ in list_tests(self.spec.paths.grader_dir)]
        benchmarks = []
        if solution:
            profile, speedup = self.speedups.pop(0)
            benchmarks.append({"name": "partition_gradient and aggregate on 2 ranks", "test": SPEEDUP,
                               "kind": "speedup", "mode": "partitions", "profile": profile,
                               "profiles_tried": [profile], "world_size": 2, "threads_per_rank": 1,
                               "baseline_threads": 1, "speedup": speedup, "verified": True, "problems": [],
                               "flags": [], "trials": [{"trial": 1, "baseline_s": 0.5, "parallel_s": 0.5 / speedup,
                                                              "speedup": speedup, "verified": True}]})
        raw = {"version": 1, "notebook": {"available": True, "cells_run": len(request.cells), "errors": []},
               "tests": tests, "collection_errors": [], "pytest_exit_code": 0 if solution else 1,
               "benchmarks": benchmarks}
        return RunOutcome(raw=raw, wall_seconds=1.0, protections=self.protections(), environment={})


def _checks(speedups, tmp_path):
    spec = load_module(M01)
    v = validate_module(spec, backend=TimedBackend(spec, speedups), out_dir=tmp_path)
    return {c.name: c for c in v.checks}


def test_a_timed_test_this_host_cannot_score_is_left_out_of_full_marks(tmp_path):
    checks = _checks([("cpu-64", 1.9), ("cpu-64", 1.4)], tmp_path)
    full = checks["reference solution gets full marks"]
    assert full.ok and "26/31" in full.detail and "not scored on this host" in full.detail
    assert checks["hidden tests are deterministic"].ok


def test_a_timed_tests_points_may_differ_between_runs_but_not_its_outcome(tmp_path):
    checks = _checks([("cpu-2", 1.6), ("cpu-2", 1.02)], tmp_path)
    assert checks["reference solution gets full marks"].ok            # 1.6x: above the target
    deterministic = checks["hidden tests are deterministic"]
    assert deterministic.ok and "by outcome" in deterministic.detail


def test_a_scored_speedup_below_the_target_is_not_full_marks(tmp_path):
    checks = _checks([("cpu-2", 1.02), ("cpu-2", 1.6)], tmp_path)   # between the floor (1.0) and the target (1.05)
    assert not checks["reference solution gets full marks"].ok
