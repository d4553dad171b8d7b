import datetime as dt

import jsonschema
import pytest

from builders import TOY_TOML, make_toy_module
from handin.results import build_results, late_penalty, list_tests, run_status, schema, score_tests
from handin.sandboxing import RunOutcome
from handin.spec import load_module

SUB = {"id": "s", "filename": "s.ipynb", "sha256": None, "size": None}


def outcome(raw=None, **kw):
    return RunOutcome(raw=raw, wall_seconds=1.0, environment={"limits": {"wall_seconds": 40}}, **kw)


def raw(tests=(), **notebook):
    nb = {"available": True, "cells_run": 3, "cells_total": 3, "error": None, "timed_out": False}
    nb.update(notebook)
    return {"tests": list(tests), "notebook": nb, "collection_errors": [], "pytest_exit_code": 0}


@pytest.mark.parametrize("out,status", [
    (outcome(raw()), "ok"),
    (outcome(raw(error={"cell_index": 2, "ename": "NameError", "evalue": "x"})), "cell_error"),
    (outcome(raw(error={"cell_index": 2, "ename": "MemoryError", "evalue": ""})), "memory"),
    (outcome(raw(timed_out=True, error={"cell_index": 1, "ename": "NotebookTimeout", "evalue": ""})), "timeout"),
    (outcome(None, timed_out=True), "timeout"),
    (outcome(raw(available=False, reason="the student process exited")), "crash"),
    (outcome(raw(available=False, reason="exited"), student_log="std::bad_alloc"), "memory"),
    (outcome(None, error="boom"), "crash"),
    (outcome(dict(raw(), pytest_exit_code=3)), "crash"),
    (outcome(dict(raw(), channel_broken="the student process exited")), "crash"),
])
def test_run_status(out, status):
    assert run_status(out)[0] == status


NAME_ERROR = {"cell_index": 2, "ename": "NameError", "evalue": "name 'x' is not defined", "traceback": "tb"}
ZERO_DIV = {"cell_index": 5, "ename": "ZeroDivisionError", "evalue": "division by zero", "traceback": "tb"}
TIMEOUT = {"cell_index": 7, "ename": "NotebookTimeout", "evalue": "the notebook ran past its 15 s", "traceback": ""}


def test_run_status_names_how_many_cells_failed_and_the_first():
    one = outcome(raw(error=NAME_ERROR, errors=[NAME_ERROR], cells_failed=1))
    assert run_status(one) == ("cell_error", "code cell 3 raised NameError: name 'x' is not defined; "
                                             "the other cells ran")
    two = outcome(raw(error=NAME_ERROR, errors=[NAME_ERROR, ZERO_DIV], cells_failed=2))
    assert run_status(two) == ("cell_error", "2 code cells raised errors, the first code cell 3: "
                                             "NameError: name 'x' is not defined; the other cells ran")
    stopped = outcome(raw(error=NAME_ERROR, errors=[NAME_ERROR], cells_failed=1, cells_run=3))
    assert run_status(stopped, "stop") == ("cell_error", "execution stopped at code cell 3: NameError: "
                                                         "name 'x' is not defined")


def test_a_timeout_after_cell_errors_is_a_timeout_in_its_own_cell():
    out = outcome(raw(error=NAME_ERROR, errors=[NAME_ERROR, TIMEOUT], cells_failed=1, timed_out=True))
    assert run_status(out) == ("timeout", "the notebook ran past its time budget in code cell 8")
    memory = dict(ZERO_DIV, ename="MemoryError")
    assert run_status(outcome(raw(error=NAME_ERROR, errors=[NAME_ERROR, memory])))[0] == "memory"


def test_results_list_every_cell_error(toy_module):
    hostile = [NAME_ERROR, "junk", {"cell_index": -4, "ename": 7, "evalue": "x" * 9000}, TIMEOUT]
    r = build_results(toy_module, submission=SUB,
                      outcome=outcome(raw(error=NAME_ERROR, errors=hostile, cells_failed=2, timed_out=True)))
    jsonschema.validate(r, schema())
    nb = r["notebook"]
    assert nb["error"] == NAME_ERROR and nb["errors"][0] == NAME_ERROR and len(nb["errors"]) == 3
    assert nb["errors"][1]["cell_index"] is None and len(nb["errors"][1]["evalue"]) == 2000
    assert nb["cells_failed"] == 2 and nb["on_cell_error"] == "continue"
    assert r["status"] == "timeout"


def test_three_tests_sharing_two_points_add_up_to_exactly_two(tmp_path):
    spec = load_module(make_toy_module(tmp_path, toml=TOY_TOML + '\n[points]\n"test_*" = 2\n'))
    names = ["test_a", "test_b", "test_c"]
    passed = [{"nodeid": f"test_hidden.py::{n}", "name": n, "outcome": "passed"} for n in names]
    r = build_results(spec, submission=SUB, outcome=outcome(raw(passed)))
    jsonschema.validate(r, schema())
    assert [t["max_score"] for t in r["tests"]] == [0.666667] * 3  # rounded for display only
    assert r["score"] == r["max_score"] == 2 and r["percent"] == 100
    assert "Score 2/2 (100.0%)" in r["output"]
    # one test a hair short of full credit is never rounded up to full marks
    nearly = passed[:2] + [dict(passed[2], fraction=0.9999999)]
    r = build_results(spec, submission=SUB, outcome=outcome(raw(nearly)))
    assert r["score"] < r["max_score"] == 2 and r["tests"][2]["score"] < r["tests"][2]["max_score"]
    assert r["percent"] < 100
    thirds = [dict(t, fraction=1 / 3) for t in passed]  # partial credit is exact too: 3 × 2/3 × 1/3
    r = build_results(spec, submission=SUB, outcome=outcome(raw(thirds)))
    assert r["score"] == 0.666667 and r["percent"] == pytest.approx(100 / 3, abs=1e-3)


def test_late_penalty_on_split_points_is_exact(tmp_path):
    spec = load_module(make_toy_module(tmp_path, toml=TOY_TOML + '\n[points]\n"test_*" = 2\n' + """
[deadline]
due = 2027-01-31T23:59:00+01:00
late_penalty_per_day = 10
max_late_days = 5
"""))
    tests = [{"nodeid": f"test_hidden.py::{n}", "name": n, "outcome": "passed"} for n in ("test_a", "test_b", "test_c")]
    r = build_results(spec, submission=SUB, outcome=outcome(raw(tests)),
                      submitted_at=dt.datetime.fromisoformat("2027-02-02T12:00:00+01:00"))
    assert r["late"]["penalty_percent"] == 20 and r["late"]["points_deducted"] == 0.4
    assert r["score"] == 1.6 and r["percent"] == 80


def test_score_tests_clamps_what_the_sandbox_says(toy_module):
    tests = score_tests(toy_module, [
        {"nodeid": "test_hidden.py::test_double", "name": "test_double", "outcome": "passed", "fraction": 7.0,
         "marker_points": 2},
        {"nodeid": "test_hidden.py::test_scale", "name": "test_scale", "outcome": "passed", "fraction": 0.25,
         "marker_points": -5},
        {"nodeid": "test_public.py::test_double_public", "name": "test_double_public", "outcome": "failed",
         "fraction": 1.0, "message": "nope"},
    ])
    by = {t["name"].split("::")[1]: t for t in tests}
    assert by["test_double"]["score"] == 0  # a fraction outside [0, 1] counts as nothing
    assert by["test_scale"]["max_score"] == 1 and by["test_scale"]["score"] == 0.25  # negative marker ignored
    assert by["test_double_public"]["score"] == 0 and by["test_double_public"]["visibility"] == "visible"
    assert by["test_scale"]["visibility"] == "after_published"


def test_invalid_submission_lists_every_test_unrun(toy_module):
    r = build_results(toy_module, submission=SUB, intake_error="not JSON")
    jsonschema.validate(r, schema())
    assert r["status"] == "invalid" and r["score"] == 0 and r["max_score"] == 5
    assert {t["name"] for t in r["tests"]} == {n for n, _, _ in list_tests(toy_module.paths.grader_dir)}
    assert r["grade"] == {"scale": "a-f", "label": "F", "passed": False}


def _late_spec(tmp_path, per_day, max_days):
    return load_module(make_toy_module(tmp_path, toml=TOY_TOML + f"""
[deadline]
due = 2027-01-31T23:59:00+01:00
late_penalty_per_day = {per_day}
max_late_days = {max_days}
"""))


@pytest.mark.parametrize("when,days,percent", [
    ("2027-01-31T23:59:00+01:00", 0, 0), ("2027-01-31T22:00:00+00:00", 0, 0),
    ("2027-02-01T00:00:30+01:00", 1, 10), ("2027-02-03T23:59:00+01:00", 3, 30),
    ("2027-02-04T00:00:01+01:00", 4, 100),
])
def test_late_penalty(tmp_path, when, days, percent):
    spec = _late_spec(tmp_path, 10, 3)
    late = late_penalty(spec, dt.datetime.fromisoformat(when))
    assert late["days_late"] == days and late["penalty_percent"] == percent


def test_late_penalty_reduces_the_score_but_not_below_zero(tmp_path):
    spec = _late_spec(tmp_path, 40, 0)
    tests = [{"nodeid": "test_hidden.py::test_double", "name": "test_double", "outcome": "passed", "marker_points": 2}]
    r = build_results(spec, submission=SUB, outcome=outcome(raw(tests)),
                      submitted_at=dt.datetime.fromisoformat("2027-02-02T12:00:00+01:00"))
    jsonschema.validate(r, schema())
    assert r["late"]["penalty_percent"] == 80 and r["score"] == 0.4  # 2 − 80% of 2, exactly
    assert "late" in r["output"]
    r = build_results(spec, submission=SUB, outcome=outcome(raw(tests)),
                      submitted_at=dt.datetime.fromisoformat("2027-02-03T12:00:00+01:00"))
    assert r["late"]["penalty_percent"] == 100 and r["score"] == 0  # 3 × 40% is capped at all of it
