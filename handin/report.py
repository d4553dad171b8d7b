"""HTML feedback reports for one graded submission: one for the student, one for TAs.

Everything in a results dict and in the logs can come from hostile student code
(test messages echo student values, the filename is theirs, the logs are their
stdout). So:

* Jinja2 renders with autoescape on, and each page also carries a
  Content-Security-Policy that forbids scripts, as a second line of defence.
* The templates never see the results dict itself. Each report gets a *view* built
  here, field by field. The student view is an allow-list: a test that is not
  ``visible`` enters it as its name and pass/fail and nothing else, so no template
  change can leak a hidden test's output, detail or points.
* Text is cleaned of ANSI colour codes and control characters (IPython colours its
  tracebacks) before it reaches a template.

The pages are single, self-contained files: inline CSS, no JavaScript, no external
assets; benchmark plots given as base64 PNG are inlined as ``data:`` images.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
from functools import lru_cache
from pathlib import Path
from typing import Any

import jinja2

TEMPLATES_DIR = Path(__file__).parent / "templates"

STATUS_TITLES: dict[str, str] = {
    "ok": "Completed",
    "timeout": "Time limit exceeded",
    "memory": "Out of memory",
    "crash": "Crashed",
    "cell_error": "Error in a notebook cell",
    "invalid": "Submission not accepted",
}

# Plain-language explanations for students. Kept free of quotes so they read the
# same escaped or not.
STATUS_EXPLANATIONS: dict[str, str] = {
    "ok": "Your notebook ran to the end and every test was run against it.",
    "timeout": ("Your notebook ran past its time limit and was stopped. Cells after that point did not "
                "run, so tests that needed them failed. Look for slow loops, too many training epochs, "
                "or work that could be done on smaller data."),
    "memory": ("Your notebook ran out of memory and was stopped. Cells after that point did not run, so "
               "tests that needed them failed. Look for very large tensors, data loaded all at once, or "
               "results kept around (for example a growing list of tensors) that could be freed."),
    "crash": ("The run ended abnormally before the tests could finish: the process running your notebook "
              "died, or the grading environment failed. Tests that could not run count as failed. If the "
              "reason below does not point at your code, ask a TA: they can see more detail."),
    "cell_error": ("One or more of your code cells raised an error. The other cells still ran, so only "
                   "the tests that needed what a failed cell defines failed. Each error and its traceback "
                   "are shown below."),
    "invalid": ("Your submission was not accepted, so none of its code was run and no tests passed. The "
                "reason is shown below. Fix it and hand in again."),
}

# A module with [grading] on_cell_error = "stop" runs no cell after the first that raised.
CELL_ERROR_STOP_EXPLANATION = ("One of your code cells raised an error, so execution stopped there. Later "
                               "cells did not run, and tests that needed them failed. The error and its "
                               "traceback are shown below.")

# The same statuses explained to a TA: what happened to the submission and where to look.
TA_STATUS_EXPLANATIONS: dict[str, str] = {
    "ok": "The notebook ran to the end and every test was run against it.",
    "timeout": ("The notebook ran past its time limit and was stopped. Cells after that point did not run, "
                "so tests that needed them failed. The student output below shows how far it got."),
    "memory": ("The notebook ran out of memory and was stopped. Cells after that point did not run, so tests "
               "that needed them failed. The student output below shows where."),
    "crash": ("The run ended abnormally before the tests could finish: the student process died, the hidden "
              "tests could not run (a grader error, for example a test file that does not import) or the "
              "sandbox failed. Tests that could not run count as failed. The judge log below says which."),
    "cell_error": ("One or more code cells of the notebook raised an error. The other cells still ran, so "
                   "only the tests that needed what a failed cell defines failed. Each error and its "
                   "traceback are listed under Notebook."),
    "invalid": ("The submission was not accepted, so none of its code was run and no tests passed. The "
                "reason is shown below; the student report asks them to fix it and submit a new file."),
}

TA_CELL_ERROR_STOP_EXPLANATION = ("A code cell of the notebook raised an error, so execution stopped there "
                                  "(this module stops at the first error). Later cells did not run, and tests "
                                  "that needed them failed. The error and its traceback are under Notebook.")

VISIBILITY_LABELS: dict[str, str] = {
    "visible": "visible",
    "hidden": "hidden",
    "after_due_date": "hidden until the due date",
    "after_published": "hidden until grades are published",
}

# Environment keys shown in their own rows or sections of the TA report.
_ENV_KNOWN = ("backend", "host", "cpu", "cpu_count", "python", "torch", "gpus", "limits", "protections", "phases")
# What each phase of environment.phases is, for the TA report's "Where the time went".
_PHASE_WORDS = {
    "intake": "intake: the upload read and checked on the host",
    "lease": "waiting for cores and GPUs",
    "prepare": "sandbox set up and both processes started",
    "create": "container created",
    "start": "container started",
    "run": "the run: both processes, until the judge finished",
    "judge_collect": "  judge start-up and test collection (overlaps the notebook)",
    "notebook": "  the notebook, until the student process was ready",
    "tests": "  the hidden tests, after the notebook",
    "stop": "processes stopped, report read",
    "copy_out": "report copied out of the container",
}

_ANSI = re.compile(r"\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)|[@-Z\\-_])")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_BASE64 = re.compile(r"^[A-Za-z0-9+/]+={0,2}$")
_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


# ---------------------------------------------------------------- public API


def render_student_report(results: dict) -> str:
    """The student's report: score, grade, status, late penalty, their notebook error and tests.

    Tests that are not ``visible`` show only their name and whether they passed.
    Of the environment only the backend's name is shown.
    """
    return _env().get_template("student.html").render(r=_student_view(results))


def render_ta_report(results: dict, *, student_log: str = "", judge_log: str = "") -> str:
    """The TA's report: everything in ``results`` plus the student's and the judge's logs.

    The logs are expected to be capped by the caller; they are shown in full.
    """
    return _env().get_template("ta.html").render(
        r=_ta_view(results, student_log=student_log, judge_log=judge_log))


def write_reports(results: dict, out_dir: Path, *, student_log: str = "",
                  judge_log: str = "") -> tuple[Path, Path]:
    """Write ``student.html`` and ``ta.html`` into ``out_dir`` (created if missing).

    Returns (student path, TA path).
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    student_path = out_dir / "student.html"
    ta_path = out_dir / "ta.html"
    # errors="replace": lone surrogates from a student's JSON must not abort the write.
    student_path.write_text(render_student_report(results), encoding="utf-8", errors="replace")
    ta_path.write_text(render_ta_report(results, student_log=student_log, judge_log=judge_log),
                       encoding="utf-8", errors="replace")
    return student_path, ta_path


# ---------------------------------------------------------------- jinja


@lru_cache(maxsize=1)
def _env() -> jinja2.Environment:
    # StrictUndefined: the views below always supply every key, so a missing one is
    # a template bug and should fail loudly (in the tests), not render as blank.
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES_DIR),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


# ---------------------------------------------------------------- views


def _student_view(results: dict) -> dict[str, Any]:
    view = _common_view(results)
    tests = []
    for t in _dicts(results.get("tests")):
        visible = t.get("visibility") == "visible"
        passed = t.get("status") == "passed"
        if visible:
            tests.append({**_test_names(t), "visible": True, "passed": passed,
                          "result": _result(t),
                          "points": f"{_num(t.get('score'))} / {_num(t.get('max_score'))}",
                          "output": _text(t.get("output")), "figures": _figures(t)})
        else:
            # Allow-list: title, name and pass/fail only. Nothing else of a hidden test is copied
            # (not even whether its credit was partial: that is part of its points).
            tests.append({**_test_names(t), "visible": False, "passed": passed,
                          "result": "passed" if passed else "failed",
                          "visibility": VISIBILITY_LABELS.get(str(t.get("visibility")), "hidden")})
    view["tests"] = tests
    view["tests_passed"] = sum(t["passed"] for t in tests)
    view["tests_partial"] = sum(t["result"] == "partial" for t in tests)
    view["has_hidden"] = any(not t["visible"] for t in tests)
    env = results.get("environment")
    view["backend"] = _text(env.get("backend")) if isinstance(env, dict) and env.get("backend") else ""
    # Timed benchmarks of visible tests only: a hidden test's numbers stay hidden like its points.
    visible = {t.get("name") for t in _dicts(results.get("tests")) if t.get("visibility") == "visible"}
    view["speedups"] = [_speedup_view(b, for_student=True) for b in _dicts(results.get("benchmarks"))
                        if b.get("kind") == "speedup" and b.get("test") in visible]
    return view


def _ta_view(results: dict, *, student_log: str, judge_log: str) -> dict[str, Any]:
    view = _common_view(results)
    tests = []
    for t in _dicts(results.get("tests")):
        vis = str(t.get("visibility", ""))
        tests.append({
            **_test_names(t),
            "figures": _figures(t),
            "passed": t.get("status") == "passed",
            "result": _result(t),
            "points": f"{_num(t.get('score'))} / {_num(t.get('max_score'))}",
            "visibility": vis if vis in VISIBILITY_LABELS else _text(vis) or "?",
            "visible": vis == "visible",
            "output": _text(t.get("output")),
            "detail": _text(t.get("detail")),
            "duration": f"{_num(t['duration'])} s" if _is_number(t.get("duration")) else "",
        })
    view["tests"] = tests
    view["tests_passed"] = sum(t["passed"] for t in tests)
    view["tests_partial"] = sum(t["result"] == "partial" for t in tests)
    view["output"] = _text(results.get("output"))
    # The status box speaks to the TA, not to the student.
    status = str(results.get("status", ""))
    stopped = isinstance(results.get("notebook"), dict) and results["notebook"].get("on_cell_error") == "stop"
    view["status_explanation"] = (TA_CELL_ERROR_STOP_EXPLANATION if status == "cell_error" and stopped
                                  else TA_STATUS_EXPLANATIONS.get(status, ""))
    view["student_log"] = _text(student_log)
    view["judge_log"] = _text(judge_log)
    view["environment"] = _environment_view(results.get("environment"))
    benchmarks = _dicts(results.get("benchmarks"))
    view["speedups"] = [_speedup_view(b, for_student=False) for b in benchmarks if b.get("kind") == "speedup"]
    view["benchmarks"] = _benchmarks_view([b for b in benchmarks if b.get("kind") != "speedup"])
    review = results.get("review") if isinstance(results.get("review"), dict) else None
    view["review"] = [_text(x) for x in review.get("reasons", []) if isinstance(x, str)] if review else []
    return view


def _result(test: dict) -> str:
    """passed, partial (passed with less than its points) or failed."""
    if test.get("status") != "passed":
        return "failed"
    score, max_score = test.get("score"), test.get("max_score")
    if _is_number(score) and _is_number(max_score) and score < max_score:
        return "partial"
    return "passed"


def _common_view(results: dict) -> dict[str, Any]:
    """Fields both reports show: the submission's own data, never the judge's internals."""
    status = str(results.get("status", ""))
    score, max_score = results.get("score"), results.get("max_score")
    percent = results.get("percent")
    if not _is_number(percent):
        percent = (100.0 * score / max_score) if _is_number(score) and _is_number(max_score) and max_score else 0.0
    grade = results.get("grade") if isinstance(results.get("grade"), dict) else {}
    sub = results.get("submission") if isinstance(results.get("submission"), dict) else {}
    nb = results.get("notebook") if isinstance(results.get("notebook"), dict) else {}
    stopped = nb.get("on_cell_error") == "stop"
    return {
        "module": _text(results.get("module")),
        "score": _num(score),
        "max_score": _num(max_score),
        "percent": f"{float(percent):.1f}%",
        "percent_bar": max(0.0, min(100.0, float(percent))),
        "grade_label": _text(grade.get("label")) if grade.get("label") is not None else "",
        "grade_scale": _text(grade.get("scale")),
        "passed": bool(grade.get("passed")),
        "status": status if status in STATUS_TITLES else "unknown",
        "status_title": STATUS_TITLES.get(status, _text(status) or "Unknown status"),
        "status_explanation": (CELL_ERROR_STOP_EXPLANATION if status == "cell_error" and stopped
                               else STATUS_EXPLANATIONS.get(status, "")),
        "status_reason": _text(results.get("status_reason")),
        "execution_time": f"{_num(results['execution_time'])} s" if _is_number(results.get("execution_time")) else "",
        "late": _late_view(results.get("late")),
        "override": _override_view(results.get("override")),
        "notebook": _notebook_view(results.get("notebook"), status),
        "submission": {
            "id": _text(sub.get("id")),
            "filename": _text(sub.get("filename")),
            "sha256": _text(sub.get("sha256")) if sub.get("sha256") else "",
            "size": _size(sub["size"]) if _is_number(sub.get("size")) else "",
        },
    }


def _late_view(late: Any) -> dict[str, Any] | None:
    if not isinstance(late, dict):
        return None
    days = late.get("days_late")
    penalty = late.get("penalty_percent")
    if not days and not penalty:
        return None  # on time: build_results still records the dates, nothing to report
    return {
        "days_late": _num(days) if _is_number(days) else "?",
        "days_word": "day" if days == 1 else "days",
        "penalty_percent": f"{_num(penalty)}%" if _is_number(penalty) else "?",
        "points_deducted": _num(late.get("points_deducted")) if _is_number(late.get("points_deducted")) else "",
        "submitted_at": _text(late.get("submitted_at")),
        "due": _text(late.get("due")),
    }


def _override_view(override: Any) -> dict[str, str] | None:
    """A grade changed by course staff: the score and grade above are theirs; this says what was computed."""
    if not isinstance(override, dict):
        return None
    label = override.get("computed_label")
    return {
        "by": _text(override.get("by")) or "course staff",
        "computed_score": _num(override.get("computed_points")),
        "computed_label": _text(label) if label is not None else "",
        "comment": _text(override.get("comment")),
    }


# What the notebook section says after the errors: why no later cell ran, or that they did.
_AFTER_ERRORS = {
    "timeout": "The run was stopped at its time limit: the cells after that point did not run.",
    "memory": "The run was stopped when it ran out of memory: the cells after that point did not run.",
    "stop": "This module stops a notebook at its first error: the cells after it did not run.",
    "continue": "The cells after a failed cell still ran; only what the failed cells define is missing.",
}


def _notebook_view(nb: Any, status: str = "") -> dict[str, Any] | None:
    if not isinstance(nb, dict):
        return None
    errors = _dicts(nb.get("errors"))
    if not errors and isinstance(nb.get("error"), dict):
        errors = [nb["error"]]  # a results.json from before the error list
    failed = nb.get("cells_failed")
    return {
        "cells_total": _text(nb.get("cells_total")) if nb.get("cells_total") is not None else "?",
        "cells_run": _text(nb.get("cells_run")) if nb.get("cells_run") is not None else "?",
        "cells_failed": _text(failed) if _is_number(failed) else str(len(errors)),
        "after_errors": _AFTER_ERRORS[status if status in ("timeout", "memory") else
                                      "stop" if nb.get("on_cell_error") == "stop" else "continue"],
        "errors": [{
            "cell_index": _text(err["cell_index"] + 1) if type(err.get("cell_index")) is int else "?",
            "ename": _text(err.get("ename")),
            "evalue": _text(err.get("evalue")),
            "traceback": _without_ipython_frames(_text(err.get("traceback"))),
        } for err in errors],
    }


_FRAME = re.compile(r'^  File "(?P<file>[^"]*)", line \d+')
_IPYTHON_FILE = re.compile(r"[/\\](?:IPython|ipykernel)[/\\]")


def _without_ipython_frames(tb: str) -> str:
    """A cell's traceback without the frames of IPython itself, which runs the cell: only the
    student's own code (and the libraries it called) is theirs to read."""
    out, skipping = [], False
    for line in tb.split("\n"):
        frame = _FRAME.match(line)
        if frame:
            skipping = bool(_IPYTHON_FILE.search(frame["file"]))
        elif not line.startswith("    "):
            skipping = False
        if not skipping:
            out.append(line)
    return "\n".join(out)


def _environment_view(env: Any) -> dict[str, Any]:
    env = env if isinstance(env, dict) else {}
    facts = [(key, _compact(env[key])) for key in ("backend", "host", "cpu", "cpu_count", "python", "torch")
             if env.get(key) not in (None, "")]
    gpus = env.get("gpus")
    gpus = [_compact(g) for g in gpus] if isinstance(gpus, list) else ([_compact(gpus)] if gpus else [])
    limits = env.get("limits") if isinstance(env.get("limits"), dict) else {}
    protections = env.get("protections") if isinstance(env.get("protections"), dict) else {}
    prot_rows = [{"name": _text(name), "active": value is True} for name, value in protections.items()]
    return {
        "empty": not env,
        "facts": facts,
        "gpus": gpus,
        "limits": [(_text(k), _limit_text(str(k), v)) for k, v in limits.items()],
        "protections": prot_rows,
        "inactive": [p["name"] for p in prot_rows if not p["active"]],
        "other": [(_text(k), _compact(v)) for k, v in env.items() if k not in _ENV_KNOWN],
        "phases": _phases_view(env.get("phases")),
    }


def _phases_view(phases: Any) -> list[dict[str, str]]:
    if not isinstance(phases, dict):
        return []
    rows = []
    for key, seconds in phases.items():
        if _is_number(seconds):
            words = _PHASE_WORDS.get(str(key), "")
            rows.append({"name": _text(key), "what": words.strip(), "nested": words.startswith("  "),
                         "seconds": f"{seconds:.3f}"})
    return rows


def _test_names(t: dict) -> dict[str, str]:
    """A test's title (its docstring's first line; the function name when it has none), the
    function name, and the full node id (file::function) that TAs see beside the title."""
    nodeid = _text(t.get("name"))
    function = nodeid.split("::")[-1]
    title = _text(t.get("title")).strip()
    return {"name": nodeid, "function": function, "title": title or function, "has_title": bool(title)}


def _figures(t: dict) -> list[dict[str, str]]:
    figures = []
    for f in _dicts(t.get("figures")):
        uri = _png_data_uri(f.get("png"))
        if uri:
            figures.append({"caption": _text(f.get("caption")), "uri": uri})
    return figures


def _benchmarks_view(benchmarks: Any) -> dict[str, Any]:
    """A generic table: one column per key seen in any entry, in first-seen order."""
    rows_in = _dicts(benchmarks)
    columns: list[str] = []
    for b in rows_in:
        columns.extend(k for k in b if k not in columns)
    rows = [[_cell(b[k]) if k in b else {"text": "", "image": ""} for k in columns] for b in rows_in]
    return {"columns": [_text(c) for c in columns], "rows": rows}


_SPEEDUP_STATUS = {
    "scored": "scored",
    "flagged": "held for TA review",
    "not scored": "not scored on this hardware",
    "failed": "did not verify",
    "recorded": "recorded",
}


def _comparison_words(b: dict) -> str:
    """The speedup's baseline in a sentence a student can read."""
    world, threads, base = b.get("world_size"), b.get("threads_per_rank"), b.get("baseline_threads")
    if not all(isinstance(v, int) for v in (world, threads, base)):
        return ""
    ranks = f"{world} rank{'s' if world != 1 else ''} with {threads} thread{'s' if threads != 1 else ''} each"
    if b.get("mode") in ("pipeline", "gpipe") or b.get("micro_batches") is not None:
        return (f"your pipeline on {ranks} against the grader's naive model parallelism (the same stages, "
                "one micro-batch, so one stage works at a time) on the same cores")
    one = f"one process with {base} thread{'s' if base != 1 else ''}"
    loop = "training loop"
    if b.get("mode") == "partitions":
        ranks = f"your partition_gradient and aggregate on {ranks}"
        loop = "gradient descent over all the rows at once"
    else:
        ranks = f"your {ranks}"
    if base == threads:
        return (f"{ranks} against the grader's own {loop} in {one}: strong scaling, the same "
                "work spread over more workers (a perfect split of the work is a speedup of "
                f"{world}x)")
    return (f"{ranks} against the grader's own {loop} in {one}, the same total threads: "
            "what splitting the work over processes gains beyond threads (about 1x is typical on CPUs)")


def _speedup_view(b: dict, *, for_student: bool) -> dict[str, Any]:
    """A timed speedup: summary, trials table and the plot (rendered here from the numbers)."""
    def num(key: str, fmt: str = "{:.3f}", src: dict | None = None) -> str:
        v = (src or b).get(key)
        return fmt.format(v) if _is_number(v) else ""

    hw = b.get("hardware") if isinstance(b.get("hardware"), dict) else {}
    th = b.get("thresholds") if isinstance(b.get("thresholds"), dict) else {}
    single = b.get("single_rank") if isinstance(b.get("single_rank"), dict) else {}
    gpus = hw.get("gpus") if isinstance(hw.get("gpus"), list) else []
    hardware = _text(hw.get("cpu_model"))
    if hw.get("cores_usable") is not None:
        hardware += f", {_text(hw.get('cores_usable'))} core(s) used"
    if gpus:
        hardware += ", GPUs: " + ", ".join(_text(g) for g in gpus[:8])
    facts = [
        ("What was compared", _comparison_words(b)),
        ("Hardware profile", _text(b.get("profile"))),
        ("Hardware", hardware),
        ("Backend", _text(b.get("backend"))),
        ("Ranks × threads", f"{_text(b.get('world_size'))} × {_text(b.get('threads_per_rank'))}"),
        ("Baseline", f"{_text(b.get('baseline'))} with {_text(b.get('baseline_threads'))} thread(s)"),
        ("Steps (warm-up)", f"{_text(b.get('steps'))} ({_text(b.get('warmup'))})"),
        *([("Micro-batches (ideal speedup)", f"{_text(b.get('micro_batches'))} ({num('ideal_speedup', '{:.2f}x')})")]
          if b.get("micro_batches") is not None else []),
        ("Speedup (median)", num("speedup", "{:.2f}x")),
        ("Efficiency", num("efficiency", "{:.0%}")),
        ("Range over trials", f"{num('speedup_min', '{:.2f}x')} – {num('speedup_max', '{:.2f}x')}"),
        ("Spread (max − min) / median", num("spread", "{:.0%}")),
        ("Median times", f"baseline {num('baseline_median_s')} s, parallel {num('parallel_median_s')} s"),
    ]
    if th:
        unit = "x" if th.get("metric") == "speedup" else ""
        facts.append(("Thresholds", f"{_text(th.get('metric'))}: none at or below {num('floor', '{:g}', th)}{unit}, "
                                    f"full from {num('target', '{:g}', th)}{unit} ({_text(th.get('profile'))})"))
    if _is_number(b.get("points_fraction")):
        facts.append(("Points", f"{100 * b['points_fraction']:.0f}% of the test's points"))
    if single and not for_student:
        facts.append(("Student code on 1 rank", _text(single["not_checked"]) if single.get("not_checked") else
                      f"{num('seconds', '{:.3f}', single)} s ({num('ratio_to_baseline', '{:.2f}', single)}x "
                      "the baseline)"))
    if b.get("note") and not for_student:
        facts.append(("Note", _text(b.get("note"))))
    trials = []
    for t in _dicts(b.get("trials")):
        trials.append({"trial": _text(t.get("trial")), "baseline": num("baseline_s", "{:.4f}", t),
                       "parallel": num("parallel_s", "{:.4f}", t), "speedup": num("speedup", "{:.3f}x", t),
                       "others": num("baseline_others_cores", "{:.2f}", t),
                       "busy": num("parallel_busy_cores", "{:.2f}", t),
                       "verified": t.get("verified") is True, "disturbed": t.get("disturbed") is True})
    discarded = [{"attempt": _text(d.get("attempt")), "baseline": num("baseline_s", "{:.4f}", d),
                  "others": num("others_cores", "{:.2f}", d), "reason": _text(d.get("reason"))}
                 for d in _dicts(b.get("discarded"))]
    status = str(b.get("status", "recorded"))
    plot = ""
    try:
        from .bench.plot import render_base64
        plot = _png_data_uri(render_base64(b))
    except Exception:  # a plot is a nicety: never let it break a report
        plot = ""
    return {
        "name": _text(b.get("name")),
        "status": status if status in _SPEEDUP_STATUS else "recorded",
        "status_text": _SPEEDUP_STATUS.get(status, _text(status)),
        "facts": [(k, v) for k, v in facts if v and v.strip(" ×–,()") not in ("", "s, parallel  s")],
        "flags": [] if for_student else [_text(f) for f in b.get("flags", []) if isinstance(f, str)],
        "problems": [] if for_student else [_text(p) for p in b.get("problems", []) if isinstance(p, str)],
        "trials": trials,
        "discarded": [] if for_student else discarded,
        "plot": plot,
    }


def _cell(value: Any) -> dict[str, str]:
    image = _png_data_uri(value)
    return {"text": "" if image else _compact(value), "image": image}


def _png_data_uri(value: Any) -> str:
    """A ``data:image/png`` URI when ``value`` is a base64 PNG (bare or as a data URI), else ''."""
    if not isinstance(value, str) or len(value) < 16:
        return ""
    payload = value.removeprefix("data:image/png;base64,")
    payload = re.sub(r"\s+", "", payload)
    if not _BASE64.match(payload):
        return ""
    try:
        head = base64.b64decode(payload[:64], validate=True)
    except (binascii.Error, ValueError):
        return ""
    return "data:image/png;base64," + payload if head.startswith(_PNG_MAGIC) else ""


# ---------------------------------------------------------------- formatting


def _text(value: Any) -> str:
    """``value`` as display text: ANSI codes and control characters removed, CRLF folded."""
    if value is None:
        return ""
    s = value if isinstance(value, str) else str(value)
    s = s.replace("\r\n", "\n").replace("\r", "\n")
    return _CONTROL.sub("", _ANSI.sub("", s))


def _compact(value: Any) -> str:
    if isinstance(value, (dict, list, tuple)):
        try:
            return _text(json.dumps(value, ensure_ascii=False, default=str))
        except (ValueError, TypeError, RecursionError):
            return _text(repr(value))
    if _is_number(value):
        return _num(value)
    return _text(value)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _num(value: Any) -> str:
    """A score-like number: ``3`` for 3.0, ``2.5``, at most three decimals."""
    if not _is_number(value):
        return _text(value) if value is not None else "?"
    if float(value).is_integer():
        return str(int(value))
    return f"{value:.3f}".rstrip("0").rstrip(".")


def _size(n: float) -> str:
    units = ("bytes", "KiB", "MiB", "GiB", "TiB")
    x, i = float(n), 0
    while x >= 1024 and i < len(units) - 1:
        x, i = x / 1024, i + 1
    return f"{int(x)} bytes" if i == 0 else f"{x:.1f} {units[i]}"


def _limit_text(key: str, value: Any) -> str:
    if _is_number(value) and (key.endswith("bytes") or key.endswith("_size") or key == "max_output"):
        return f"{_num(value)} ({_size(value)})"
    if _is_number(value) and key.endswith("seconds"):
        return f"{_num(value)} s"
    return _compact(value)


def _dicts(value: Any) -> list[dict]:
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []
