"""``handin validate``: is a module ready to hand out?

The public tests stand alone, every ``[points]`` key names a test, the release bundle holds
nothing hidden, the hidden suite can be collected, the reference solution gets full marks,
the starter must not pass, and every hidden test gives the same result twice. A check that
fails says why (the failing tests' messages, the collection error) and where the full judge
log of its run is: the three gradings are kept under ``Validation.out_dir``.
"""

from __future__ import annotations

import concurrent.futures as cf
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from .grading import GradeOptions, grade_run
from .points import text as points_text
from .release import ReleaseError, check_public_tests, release
from .results import list_tests
from .sandboxing import Backend
from .spec import ModuleSpec, matches

MAX_TESTS_SHOWN = 8
MAX_LINES = 3
MAX_LINE = 300


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str
    lines: tuple[str, ...] = ()   # why it failed: one line per failing test, the logs to read
    skipped: bool = False         # not checked (something it depends on failed); never counts as passed


@dataclass
class Validation:
    checks: list[Check] = field(default_factory=list)
    out_dir: Path | None = None   # the gradings: <out_dir>/<run>/{results.json,judge.log,student.log,ta.html}

    @property
    def ok(self) -> bool:
        return all(c.ok and not c.skipped for c in self.checks)


def unmatched_points(spec: ModuleSpec) -> list[str]:
    """Keys of [points] that match no test of the hidden suite (a typo would leave marker points)."""
    tests = list_tests(spec.paths.grader_dir)
    return [key for key in spec.points if not any(matches(key, nodeid, name) for nodeid, name, _ in tests)]


def unmatched_points_message(unmatched: list[str]) -> str:
    """What ``validate`` and ``grade`` say about [points] keys that name no test."""
    return ("[points] names a test that does not exist: no test matches " + ", ".join(map(repr, unmatched))
            + " (a typo? keys are test names, node ids or globs)")


def _short(text: str, n: int = MAX_LINES) -> list[str]:
    lines = [ln.rstrip()[:MAX_LINE] for ln in str(text).splitlines() if ln.strip()]
    return lines[:n] + (["…"] if len(lines) > n else [])


def _reason(test: dict) -> list[str]:
    """The first lines of a failing test's message, or of its traceback when it has no message."""
    return _short(test.get("output") or "") or _short(test.get("detail") or "") or ["(no message)"]


def _failing_lines(results: dict) -> list[str]:
    bad = [t for t in results["tests"] if t["score"] < t["max_score"]]
    lines = []
    for t in bad[:MAX_TESTS_SHOWN]:
        what = "partial credit " + f"{points_text(t['score'])}/{points_text(t['max_score'])}" \
            if t["status"] == "passed" else "failed"
        first, *rest = _reason(t)
        lines.append(f"{t['name']} ({what}): {first}")
        lines += [f"    {ln}" for ln in rest]
    if len(bad) > MAX_TESTS_SHOWN:
        lines.append(f"… and {len(bad) - MAX_TESTS_SHOWN} more")
    return lines


def collection_problems(raw: dict | None) -> list[str]:
    """The hidden suite's collection errors (a test file that does not import), one entry per file:
    ``file: the exception``, from the judge's raw report."""
    out = []
    for entry in (raw or {}).get("collection_errors") or []:
        where, _, text = str(entry).partition(": ")
        errors = [ln[1:].strip() for ln in text.splitlines() if ln.startswith("E ")]
        first = errors or _short(text)
        out.append(f"{where or '?'}: " + " / ".join(x[:MAX_LINE] for x in first[:4]))
    return out


def _logs(out_dir: Path, run: str, *, student: bool = False) -> str:
    folder = out_dir / run
    return f"full judge log: {folder / 'judge.log'}" + (f", student log: {folder / 'student.log'}" if student else "")


def _release_check(spec: ModuleSpec) -> Check:
    with tempfile.TemporaryDirectory(prefix="handin-release-check-") as tmp:
        try:
            release(spec, Path(tmp))
        except ReleaseError as exc:
            return Check("release bundle holds nothing hidden", False, "handin release refuses the module",
                         tuple(str(exc).splitlines()))
    return Check("release bundle holds nothing hidden", True,
                 "no hidden test, grader file or solution file in it, byte for byte")


def validate_module(spec: ModuleSpec, *, backend: Backend, jobs: int = 2,
                    options: GradeOptions = GradeOptions(), out_dir: Path | None = None) -> Validation:
    v = Validation()
    problems = check_public_tests(spec)
    v.checks.append(Check("public tests stand alone", not problems, "ok" if not problems else "see below",
                          tuple(problems)))
    if not problems:
        v.checks.append(_release_check(spec))
    unmatched = unmatched_points(spec)
    points_check = Check("every points entry names a hidden test", not unmatched,
                         "ok" if not unmatched else unmatched_points_message(unmatched))
    if spec.benchmark is not None:
        jobs = 1  # timed modules: two gradings at once would disturb each other's baselines
    if not spec.solution.is_file():
        v.checks.append(points_check)
        v.checks.append(Check("reference solution", False, f"{spec.solution} does not exist"))
        return v

    out_dir = Path(out_dir) if out_dir is not None else Path(tempfile.mkdtemp(prefix=f"handin-validate-{spec.name}-"))
    v.out_dir = out_dir
    runs = [("solution", spec.solution), ("starter", spec.starter), ("solution-again", spec.solution)]
    with cf.ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        futures = [pool.submit(grade_run, spec, path, backend=backend, out_dir=out_dir, options=options,
                               sub_id=name) for name, path in runs]
        (sol, sol_out), (starter, _), (sol2, _) = (f.result() for f in futures)

    # A test file that does not import: pytest runs nothing, so nothing else can be judged.
    broken = collection_problems(sol_out.raw if sol_out else None)
    if broken:
        v.checks.append(Check("hidden tests can be collected", False,
                              f"{len(broken)} test file(s) failed to import (a collection error)",
                              tuple(broken) + (_logs(out_dir, "solution"),)))
        not_checked = "not checked: the hidden tests could not be collected"
        v.checks.append(points_check if not points_check.ok else
                        Check(points_check.name, False, not_checked, skipped=True))
        v.checks.append(Check("reference solution gets full marks", False, not_checked, skipped=True))
        v.checks.append(Check("starter notebook does not pass", False, not_checked, skipped=True))
        v.checks.append(Check("hidden tests are deterministic", False, not_checked, skipped=True))
        return v
    v.checks.append(Check("hidden tests can be collected", True, f"{len(sol['tests'])} tests"))
    v.checks.append(points_check)

    # Exact: results.json shows a score equal to max_score only when the exact sum is full.
    # A timed test that this host could not score (a profile without thresholds, a busy host)
    # earns nothing here through no fault of the module: its points are left out, and said so.
    unscored = {name: b for name, b in _timed(sol).items() if b.get("status") in ("flagged", "not scored")}
    full = (sol["status"] == "ok" and sol["max_score"] > 0 and
            all(t["score"] == t["max_score"] for t in sol["tests"] if t["name"] not in unscored))
    lines: list[str] = []
    if not full:
        if sol["status"] != "ok":
            lines.append(f"status {sol['status']}: {sol['status_reason']}")
        lines += _failing_lines(sol)
        lines.append(_logs(out_dir, "solution", student=sol["status"] != "ok"))
    note = "".join(f"; {name} not scored on this host ({b.get('status')}, profile {b.get('profile')}): its "
                   "points are not checked" for name, b in sorted(unscored.items()))
    v.checks.append(Check("reference solution gets full marks", full,
                          f"{points_text(sol['score'])}/{points_text(sol['max_score'])}, status {sol['status']}"
                          + note + ("" if full else "; not full:"), tuple(lines)))

    starter_fails = not starter["grade"]["passed"] and starter["score"] < starter["max_score"]
    passing = [t["name"] for t in starter["tests"] if t["status"] == "passed" and t["score"] > 0]
    v.checks.append(Check("starter notebook does not pass", starter_fails,
                          f"{points_text(starter['score'])}/{points_text(starter['max_score'])}, "
                          f"grade {starter['grade']['label']}",
                          () if starter_fails else
                          (("the starter already passes: " + ", ".join(passing[:MAX_TESTS_SHOWN])
                            + (" …" if len(passing) > MAX_TESTS_SHOWN else "")),
                           _logs(out_dir, "starter"))))

    first = {t["name"]: t for t in sol["tests"]}
    second = {t["name"]: t for t in sol2["tests"]}
    if sol["status"] == sol2["status"] == "crash" and not first and not second:
        v.checks.append(Check("hidden tests are deterministic", False,
                              "not checked: no test ran under the solution", skipped=True))
        return v
    # A timed test's points follow its measurement, which differs from run to run: its outcome must not.
    timed = _timed(sol).keys() | _timed(sol2).keys()

    def key(t: dict | None):
        return None if t is None else (t["status"],) if t["name"] in timed else (t["status"], t["score"])
    differ = sorted(n for n in first.keys() | second.keys() if key(first.get(n)) != key(second.get(n)))
    lines = []
    for n in differ[:MAX_TESTS_SHOWN]:
        a, b = first.get(n), second.get(n)
        said = [f"{t['status']} {points_text(t['score'])}/{points_text(t['max_score'])}" if t else "absent"
                for t in (a, b)]
        failed = next((t for t in (a, b) if t and t["status"] != "passed"), None)
        lines.append(f"{n}: {said[0]} then {said[1]}" + (f": {_reason(failed)[0]}" if failed else ""))
    if differ:
        lines += [_logs(out_dir, "solution"), _logs(out_dir, "solution-again")]
    v.checks.append(Check("hidden tests are deterministic", not differ,
                          f"{len(first)} tests gave the same result twice"
                          + (f" (timed: {', '.join(sorted(timed))}, by outcome)" if timed else "") if not differ
                          else "different results on a second run: " + ", ".join(differ), tuple(lines)))
    return v


def _timed(results: dict) -> dict[str, dict]:
    """The timed tests of a result (node id → its benchmark record)."""
    return {b["test"]: b for b in results.get("benchmarks") or []
            if isinstance(b, dict) and isinstance(b.get("test"), str)}
