"""``handin validate``: is a module ready to hand out?

The reference solution must get full marks, the starter must not pass, and
every hidden test must give the same result twice.
"""

from __future__ import annotations

import concurrent.futures as cf
from dataclasses import dataclass, field

from .grading import GradeOptions, grade_file
from .points import text as points_text
from .release import check_public_tests
from .results import list_tests
from .sandboxing import Backend
from .spec import ModuleSpec, matches


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str


@dataclass
class Validation:
    checks: list[Check] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.checks)


def _failing(results: dict) -> str:
    bad = [t["name"] for t in results["tests"] if t["score"] < t["max_score"]]
    return ", ".join(bad[:8]) + (" …" if len(bad) > 8 else "")


def unmatched_points(spec: ModuleSpec) -> list[str]:
    """Keys of [points] that match no test of the hidden suite (a typo would leave marker points)."""
    tests = list_tests(spec.paths.grader_dir)
    return [key for key in spec.points if not any(matches(key, nodeid, name) for nodeid, name, _ in tests)]


def validate_module(spec: ModuleSpec, *, backend: Backend, jobs: int = 2,
                    options: GradeOptions = GradeOptions()) -> Validation:
    v = Validation()
    problems = check_public_tests(spec)
    v.checks.append(Check("public tests stand alone", not problems, "; ".join(problems) or "ok"))
    unmatched = unmatched_points(spec)
    v.checks.append(Check("every points entry names a hidden test", not unmatched,
                          "ok" if not unmatched else "no test matches " + ", ".join(map(repr, unmatched))))
    if spec.benchmark is not None:
        jobs = 1  # timed modules: two gradings at once would disturb each other's baselines
    if not spec.solution.is_file():
        v.checks.append(Check("reference solution", False, f"{spec.solution} does not exist"))
        return v

    runs = [("solution", spec.solution), ("starter", spec.starter), ("solution again", spec.solution)]
    with cf.ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        futures = [pool.submit(grade_file, spec, path, backend=backend, out_dir=None, options=options,
                               sub_id=name.replace(" ", "-")) for name, path in runs]
        sol, starter, sol2 = (f.result() for f in futures)

    # Exact: results.json shows a score equal to max_score only when the exact sum is full.
    full = sol["status"] == "ok" and sol["score"] == sol["max_score"] and sol["max_score"] > 0
    v.checks.append(Check("reference solution gets full marks", full,
                          f"{points_text(sol['score'])}/{points_text(sol['max_score'])}, status {sol['status']}"
                          + ("" if full else f"; not full: {_failing(sol) or sol['status_reason']}")))
    v.checks.append(Check("starter notebook does not pass", not starter["grade"]["passed"]
                          and starter["score"] < starter["max_score"],
                          f"{points_text(starter['score'])}/{points_text(starter['max_score'])}, "
                          f"grade {starter['grade']['label']}"))
    first = {t["name"]: (t["status"], t["score"]) for t in sol["tests"]}
    second = {t["name"]: (t["status"], t["score"]) for t in sol2["tests"]}
    differ = sorted(n for n in first.keys() | second.keys() if first.get(n) != second.get(n))
    v.checks.append(Check("hidden tests are deterministic", not differ,
                          f"{len(first)} tests gave the same result twice" if not differ
                          else "different results on a second run: " + ", ".join(differ)))
    return v
