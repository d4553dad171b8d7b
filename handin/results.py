"""From what the sandbox saw to ``results.json``: status, points, late penalty, grade.

The judge only says which tests passed (and with what partial credit). Points,
visibility, the late penalty and the grade are decided here, on the host, from
the module's spec, so nothing the sandbox returns can raise a score beyond what
the spec allows.
"""

from __future__ import annotations

import ast
import datetime as dt
import json
import math
import sys
from fractions import Fraction
from functools import lru_cache
from pathlib import Path
from typing import Any

from .notebook import Notebook, cell_errors, code_cell
from .bench.scoring import apply_benchmarks
from .points import exact, shown, text as points_text
from .pyparse import parse
from .sandboxing import RunOutcome
from .spec import ModuleSpec

SCHEMA_PATH = Path(__file__).parent / "schema" / "results.schema.json"
STATUSES = ("ok", "timeout", "memory", "crash", "cell_error", "invalid")
_MEMORY_SIGNS = ("MemoryError", "std::bad_alloc", "Cannot allocate memory", "out of memory")


@lru_cache(maxsize=1)
def schema() -> dict:
    return json.loads(SCHEMA_PATH.read_text())


def validate_results(doc: dict) -> None:
    """Raise ``jsonschema.ValidationError`` when ``doc`` is not a valid results.json."""
    _jsonschema().validate(doc, schema())


def _jsonschema():
    """jsonschema, imported without its RFC 3987 "iri" format check.

    When the optional ``rfc3987_syntax`` package is installed (jupyter-events brings it),
    importing jsonschema compiles its grammar: 1.6 s of every ``handin`` command. The
    results schema uses no iri formats, so the check is left out of this import; other
    code can still import ``rfc3987_syntax`` afterwards.
    """
    if "jsonschema" not in sys.modules and "rfc3987_syntax" not in sys.modules:
        sys.modules["rfc3987_syntax"] = None   # an ImportError for jsonschema's optional import
        try:
            import jsonschema
        finally:
            if sys.modules.get("rfc3987_syntax", 0) is None:
                del sys.modules["rfc3987_syntax"]
    import jsonschema
    return jsonschema


def list_tests(grader_dir: Path) -> list[tuple[str, str, float | None]]:
    """(node id, name, marker points) of the suite's tests, read without importing it.

    Used where no run produced a test list (invalid submissions, a failed
    sandbox) so the result still shows the module's full ``max_score``.
    Parametrised tests count once.
    """
    found = []
    for path in sorted(grader_dir.glob("test_*.py")):
        try:
            tree = parse(path.read_text(encoding="utf-8"))
        except (SyntaxError, UnicodeDecodeError):
            continue
        for nodeid, fn in _test_functions(path.name, tree):
            found.append((nodeid, fn.name, _marker_points(fn)))
    return found


def read_titles(grader_dir: Path) -> dict[str, str]:
    """Node id → title (the first line of the test's docstring), read without importing the suite."""
    from .judge import title_of
    titles = {}
    for path in sorted(grader_dir.glob("test_*.py")):
        try:
            tree = parse(path.read_text(encoding="utf-8"))
        except (SyntaxError, UnicodeDecodeError):
            continue
        for nodeid, fn in _test_functions(path.name, tree):
            titles[nodeid] = title_of(ast.get_docstring(fn))
    return titles


def _test_functions(filename: str, tree: ast.Module):
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and node.name.startswith("test"):
            yield f"{filename}::{node.name}", node
        elif isinstance(node, ast.ClassDef) and node.name.startswith("Test"):
            for item in node.body:
                if isinstance(item, ast.FunctionDef) and item.name.startswith("test"):
                    yield f"{filename}::{node.name}::{item.name}", item


def _marker_points(fn: ast.FunctionDef) -> float | None:
    for dec in fn.decorator_list:
        if (isinstance(dec, ast.Call) and isinstance(dec.func, ast.Attribute) and dec.func.attr == "points"
                and dec.args and isinstance(dec.args[0], ast.Constant)
                and isinstance(dec.args[0].value, (int, float))):
            return float(dec.args[0].value)
    return None


# ---------------------------------------------------------------- status


def run_status(outcome: RunOutcome, on_cell_error: str = "continue") -> tuple[str, str]:
    """(status, one-line reason) of a run that got past intake."""
    raw = outcome.raw or {}
    nb = raw.get("notebook") or {}
    errors = cell_errors(nb)
    log = outcome.student_log[-20_000:]
    if outcome.error and not outcome.timed_out:
        return "crash", f"the sandbox failed: {outcome.error}"
    if outcome.timed_out:
        return "timeout", f"the run was stopped at its {outcome.environment.get('limits', {}).get('wall_seconds', '?')} s wall-clock limit"
    if nb.get("timed_out"):
        where = _in_cell(errors[-1] if errors else {})  # the timeout is the last entry
        return "timeout", f"the notebook ran past its time budget{where}"
    memory = next((e for e in errors if e["ename"] == "MemoryError"), None)
    if memory or (not nb.get("available", True) and any(s in log for s in _MEMORY_SIGNS)):
        return "memory", "the notebook ran out of memory" + _in_cell(memory or {})
    if not nb.get("available", True):
        return "crash", f"the student process ended before the tests: {nb.get('reason', 'unknown')}"
    if raw.get("collection_errors") or raw.get("pytest_exit_code", 0) not in (0, 1, 5):
        return "crash", "the hidden tests could not run (a grader error; a TA has the details)"
    broken = raw.get("channel_broken")
    if broken and "did not answer" not in broken:
        return "crash", f"the student process failed during the tests: {broken}"
    if errors:
        first = errors[0]
        what = f"{first['ename']}: {first['evalue'][:300]}"
        if on_cell_error == "stop":
            return "cell_error", f"execution stopped at {code_cell(first['cell_index'])}: {what}"
        failed = _cells_failed(nb, errors)
        if failed > 1:
            return "cell_error", (f"{failed} code cells raised errors, the first {code_cell(first['cell_index'])}: "
                                  f"{what}; the other cells ran")
        return "cell_error", f"{code_cell(first['cell_index'])} raised {what}; the other cells ran"
    return "ok", "the notebook ran to the end"


def _in_cell(error: dict) -> str:
    return f" in {code_cell(error['cell_index'])}" if error.get("cell_index") is not None else ""


def _cells_failed(nb: dict, errors: list[dict]) -> int:
    """Cells that raised (a timeout is not one of them); counted by the student process past the cap."""
    n = nb.get("cells_failed")
    listed = sum(1 for e in errors if e["ename"] != "NotebookTimeout")
    return n if type(n) is int and n >= listed else listed


# ---------------------------------------------------------------- scoring


def late_penalty(spec: ModuleSpec, submitted_at: dt.datetime | None) -> dict | None:
    due = spec.deadline.due
    if due is None or submitted_at is None:
        return None
    if submitted_at.tzinfo is None:
        raise ValueError("submitted_at must carry a time zone")
    late_by = (submitted_at - due).total_seconds()
    days = max(0, math.ceil(late_by / 86400)) if late_by > 0 else 0
    return {"submitted_at": submitted_at.isoformat(), "due": due.isoformat(), "days_late": days,
            "penalty_percent": shown(_late_percent(spec, days))}


def _late_percent(spec: ModuleSpec, days: int) -> Fraction:
    d = spec.deadline
    if days == 0:
        return Fraction(0)
    if d.max_late_days and days > d.max_late_days:
        return Fraction(100)
    return min(Fraction(100), exact(d.late_penalty_per_day) * days)


def _exact_tests(spec: ModuleSpec, raw_tests: list[dict]) -> list[dict]:
    """Tests with their points as exact fractions (``score`` and ``max_score``)."""
    ids = [str(t.get("nodeid", "")) for t in raw_tests]
    tests = []
    for t in raw_tests:
        nodeid = str(t.get("nodeid", ""))[:500]
        name = str(t.get("name", nodeid.split("::")[-1]))[:300]
        marker = t.get("marker_points")
        marker = float(marker) if isinstance(marker, (int, float)) and math.isfinite(marker) and marker >= 0 else None
        max_score = spec.test_points(nodeid, name, marker, ids)
        passed = t.get("outcome") == "passed"
        fraction = t.get("fraction", 1.0)
        fraction = exact(fraction) if isinstance(fraction, (int, float)) and 0 <= fraction <= 1 else Fraction(0)
        score = max_score * fraction if passed else Fraction(0)
        message = str(t.get("credit_message") or "") if passed else str(t.get("message") or "")
        if t.get("outcome") == "not run":
            message = "not run"
        entry = {
            "name": nodeid, "title": str(t.get("title") or "")[:200], "score": score, "max_score": max_score,
            "status": "passed" if passed else "failed",
            "output": message[:4000],
            "visibility": spec.test_visibility(nodeid, t.get("marker_visibility")),
            "detail": str(t.get("detail") or "")[:20_000],
            "duration": round(float(t.get("duration") or 0.0), 3),
        }
        figures = [f for f in t.get("figures") or [] if isinstance(f, dict) and isinstance(f.get("png"), str)]
        if figures:
            entry["figures"] = [{"caption": str(f.get("caption") or "")[:200], "png": f["png"]} for f in figures[:4]]
        tests.append(entry)
    return tests


def _shown_tests(tests: list[dict]) -> list[dict]:
    return [dict(t, score=shown(t["score"], t["max_score"]), max_score=shown(t["max_score"])) for t in tests]


def score_tests(spec: ModuleSpec, raw_tests: list[dict]) -> list[dict]:
    """The judge's test records → results.json tests (points rounded for output)."""
    return _shown_tests(_exact_tests(spec, raw_tests))


def _unrun_tests(spec: ModuleSpec, reason: str) -> list[dict]:
    found = list_tests(spec.paths.grader_dir)
    titles = read_titles(spec.paths.grader_dir)
    return _exact_tests(spec, [{"nodeid": n, "name": name, "title": titles.get(n, ""), "marker_points": pts,
                                "outcome": "not run", "message": reason} for n, name, pts in found])


def max_score(spec: ModuleSpec) -> float:
    """The module's total points, read from its suite without running it."""
    return shown(sum((t["max_score"] for t in _unrun_tests(spec, "")), Fraction(0)))


# Where a run's seconds went, in the order they happen: the sandbox's own phases (local:
# prepare, run, stop; docker: lease, create, start, run, copy_out), then inside "run" the
# judge's: its start-up and the suite's collection (imports), the notebook (from the judge's
# start until the student said it was done; the collection overlaps it), and the tests.
JUDGE_PHASES = (("judge_collect", "collect_seconds"), ("notebook", "notebook_seconds"), ("tests", "tests_seconds"))


def run_phases(outcome: RunOutcome) -> dict[str, float]:
    phases = {k: v for k, v in (outcome.environment.get("phases") or {}).items()
              if isinstance(v, (int, float)) and not isinstance(v, bool)}
    raw = outcome.raw or {}
    for name, key in JUDGE_PHASES:
        if isinstance(raw.get(key), (int, float)) and not isinstance(raw.get(key), bool):
            phases[name] = round(float(raw[key]), 3)
    return phases


def build_results(spec: ModuleSpec, *, submission: dict, outcome: RunOutcome | None = None,
                  notebook: Notebook | None = None, intake_error: str | None = None,
                  submitted_at: dt.datetime | None = None, execution_time: float = 0.0,
                  intake_seconds: float | None = None) -> dict:
    benchmarks: list[dict] = []
    review: dict | None = None
    if intake_error is not None or outcome is None:
        status, reason = "invalid", intake_error or "no run"
        tests = _unrun_tests(spec, "not run: the submission was not accepted")
        nb_summary = None
        environment: dict[str, Any] = {}
    else:
        status, reason = run_status(outcome, spec.grading.on_cell_error)
        if outcome.raw is not None:
            # Timed benchmarks: thresholds for the detected hardware profile → test fractions.
            raw_tests, benchmarks, review = apply_benchmarks(spec, outcome.raw.get("tests", []),
                                                             outcome.raw.get("benchmarks"))
            tests = _exact_tests(spec, raw_tests)
        else:
            tests = _unrun_tests(spec, f"not run: {reason}")
        raw_nb = (outcome.raw or {}).get("notebook") or {}
        errors = cell_errors(raw_nb)
        nb_summary = {
            "cells_total": len(notebook.code_cells) if notebook else raw_nb.get("cells_total"),
            "cells_run": raw_nb.get("cells_run"),
            "cells_failed": _cells_failed(raw_nb, errors),
            "error": errors[0] if errors else None,
            "errors": errors,
            "on_cell_error": spec.grading.on_cell_error,
        }
        environment = dict(outcome.environment, protections=outcome.protections)
        profiles = sorted({str(b["profile"]) for b in benchmarks if isinstance(b.get("profile"), str)})
        if profiles:  # the hardware profile the benchmark thresholds were looked up for
            environment["benchmark_profile"] = ", ".join(profiles)
        environment["phases"] = ({} if intake_seconds is None else {"intake": round(intake_seconds, 3)}) \
            | run_phases(outcome)
        runtime = (outcome.raw or {}).get("runtime")
        if isinstance(runtime, dict):  # what the sandbox ran, over what the host has
            environment.update({k: str(v)[:40] for k, v in runtime.items() if k in ("python", "numpy", "torch")})
        execution_time = outcome.wall_seconds

    # Exact sums: a full pass scores exactly max_score, whatever the splits and credits.
    raw_score = sum((t["score"] for t in tests), Fraction(0))
    max_score = sum((t["max_score"] for t in tests), Fraction(0))
    late = late_penalty(spec, submitted_at)
    score = raw_score
    if late and late["penalty_percent"]:
        deducted = min(raw_score, max_score * _late_percent(spec, late["days_late"]) / 100)
        late["points_deducted"] = shown(deducted)
        score = raw_score - deducted
    percent = 100 * score / max_score if max_score else Fraction(0)
    grade = spec.scale.grade(float(percent) if status != "invalid" else 0.0)
    score_out, max_out = shown(score, max_score), shown(max_score)

    label = f" — grade {grade.label}" if grade.label else ""
    summary = [f"Score {points_text(score_out)}/{points_text(max_out)} ({float(percent):.1f}%){label}, "
               f"{'passed' if grade.passed else 'not passed'}.",
               f"Status: {status} ({reason})."]
    if review:
        summary.append(f"Held for TA review: {len(review['reasons'])} benchmark issue(s); "
                       "the points affected are 0 until a TA has looked.")
    if late and late["days_late"]:
        summary.append(f"Handed in {late['days_late']} day(s) late: {late['penalty_percent']:g}% of the "
                       f"points deducted.")
    return {
        "score": score_out,
        "max_score": max_out,
        "execution_time": round(execution_time, 3),
        "output": " ".join(summary),
        "tests": _shown_tests(tests),
        "status": status,
        "status_reason": reason,
        "percent": shown(percent, Fraction(100), 3),
        "grade": {"scale": grade.scale, "label": grade.label, "passed": grade.passed},
        "late": late,
        "module": spec.name,
        "submission": submission,
        "notebook": nb_summary,
        "benchmarks": benchmarks,
        "review": review,
        "environment": environment,
    }
