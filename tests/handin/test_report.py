"""HTML feedback reports: what the student may see, what the TA sees, and escaping."""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path

import jsonschema
import pytest
from markupsafe import escape

from handin.report import (CELL_ERROR_STOP_EXPLANATION, STATUS_EXPLANATIONS, TA_CELL_ERROR_STOP_EXPLANATION,
                           TA_STATUS_EXPLANATIONS, render_student_report, render_ta_report, write_reports)

SCHEMA = json.loads((Path(__file__).resolve().parents[2] / "handin" / "schema"
                     / "results.schema.json").read_text())
XSS = "<script>alert(1)</script>"
XSS_ESCAPED = str(escape(XSS))


def _test(name: str, *, passed: bool = True, points: float = 1.0, visibility: str = "visible",
          output: str = "", detail: str = "", duration: float = 0.1) -> dict:
    return {"name": name, "score": points if passed else 0.0, "max_score": points,
            "status": "passed" if passed else "failed", "output": output, "visibility": visibility,
            "detail": detail, "duration": duration}


def make_results(tests: list[dict] | None = None, *, status: str = "ok", reason: str = "the notebook ran to the end",
                 late: dict | None = None, notebook: dict | None | str = "default",
                 environment: dict | None = None, filename: str = "lab1.ipynb",
                 benchmarks: list[dict] | None = None, grade: dict | None = None) -> dict:
    """A results dict shaped like build_results' output, checked against the schema."""
    tests = tests if tests is not None else [_test("test_a.py::test_shape", output="ok")]
    raw = sum(t["score"] for t in tests)
    max_score = sum(t["max_score"] for t in tests)
    score = raw - (late or {}).get("points_deducted", 0.0)
    percent = 100.0 * score / max_score if max_score else 0.0
    doc = {
        "score": score, "max_score": max_score, "execution_time": 12.5,
        "output": f"Score {score:g}/{max_score:g}. Status: {status} ({reason}).",
        "tests": tests, "status": status, "status_reason": reason, "percent": round(percent, 3),
        "grade": grade or {"scale": "a-f", "label": "C", "passed": True},
        "late": late, "module": "lab1-mlp",
        "submission": {"id": "s-0001", "filename": filename, "sha256": "ab" * 32, "size": 20480},
        "notebook": ({"cells_total": 12, "cells_run": 12, "error": None}
                     if notebook == "default" else notebook),
        "benchmarks": benchmarks or [],
        "environment": environment if environment is not None else {
            "backend": "docker", "host": "gpu-node-7.internal", "cpu": "AMD EPYC 7763", "cpu_count": 16,
            "python": "3.11.9", "torch": "2.13.0", "gpus": [{"name": "NVIDIA H100", "memory_mib": 81559}],
            "limits": {"wall_seconds": 600, "memory_bytes": 8 * 2**30, "cpus": 4},
            "protections": {"network_isolation": True, "seccomp": True, "read_only_root": False},
        },
    }
    jsonschema.validate(doc, SCHEMA, cls=jsonschema.Draft202012Validator)
    return doc


def _mixed_tests() -> list[dict]:
    return [
        _test("test_mlp.py::test_forward_shape", points=2, output="VISIBLE_MSG shapes match",
              detail="VISIBLE_DETAIL full assertion report"),
        _test("test_mlp.py::test_backward", passed=False, points=2,
              output="VISIBLE_FAIL_MSG grad mismatch", detail="VISIBLE_FAIL_DETAIL traceback"),
        _test("test_hidden.py::test_accuracy", passed=False, points=7.25, visibility="hidden",
              output="HIDDEN_MSG expected 0.9731 got 0.5", detail="HIDDEN_DETAIL expected=0.9731",
              duration=3.1415),
        _test("test_hidden.py::test_after_due", points=1.5, visibility="after_due_date",
              output="AFTERDUE_MSG", detail="AFTERDUE_DETAIL"),
        _test("test_hidden.py::test_published", passed=False, points=1, visibility="after_published",
              output="PUBLISHED_MSG", detail="PUBLISHED_DETAIL"),
    ]


def test_fixture_helper_matches_schema():
    jsonschema.Draft202012Validator.check_schema(SCHEMA)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(dict(make_results(), status="exploded"), SCHEMA)


def test_student_report_hides_non_visible_tests():
    html = render_student_report(make_results(_mixed_tests()))
    for shown in ("VISIBLE_MSG shapes match", "VISIBLE_FAIL_MSG grad mismatch",
                  "test_mlp.py::test_forward_shape", "test_mlp.py::test_backward",
                  # hidden tests: by name only
                  "test_hidden.py::test_accuracy", "test_hidden.py::test_after_due",
                  "test_hidden.py::test_published"):
        assert shown in html, shown
    for secret in ("HIDDEN_MSG", "HIDDEN_DETAIL", "0.9731", "AFTERDUE_MSG", "AFTERDUE_DETAIL",
                   "PUBLISHED_MSG", "PUBLISHED_DETAIL", "7.25", "3.14",
                   # details are TA-only even for visible tests
                   "VISIBLE_DETAIL", "VISIBLE_FAIL_DETAIL"):
        assert secret not in html, secret


def test_student_report_hidden_row_shows_pass_fail():
    tests = [_test("test_h.py::test_one", visibility="hidden", output="SECRET1"),
             _test("test_h.py::test_two", passed=False, visibility="hidden", output="SECRET2")]
    html = render_student_report(make_results(tests))
    rows = re.findall(r"<tr>\s*<td class=\"name\">(.*?)</td>\s*<td>(.*?)</td>", html, re.S)
    assert [(name, "passed" in badge, "failed" in badge) for name, badge in rows] == [
        ("test_h.py::test_one", True, False), ("test_h.py::test_two", False, True)]


def test_student_report_shows_only_backend_of_environment():
    html = render_student_report(make_results())
    assert "docker" in html
    for internal in ("gpu-node-7", "EPYC", "H100", "read_only_root", "seccomp", "2.13.0", "wall_seconds"):
        assert internal not in html, internal


def test_student_report_basics():
    html = render_student_report(make_results(_mixed_tests()))
    assert "lab1-mlp" in html
    assert "3.5 / 13.75" in html  # 2 + 1.5 of 2 + 2 + 7.25 + 1.5 + 1
    assert "25.5%" in html
    assert ">C<" in html and "not passed" not in html
    failed = render_student_report(make_results(grade={"scale": "points", "label": None, "passed": False}))
    assert "not passed" in failed


def test_xss_is_escaped_in_both_reports():
    tests = [_test(f"test_x.py::test_{XSS}", output=f"msg {XSS}", detail=f"detail {XSS}"),
             _test("test_x.py::test_hidden", visibility="hidden", output=XSS)]
    nb = {"cells_total": 3, "cells_run": 2,
          "error": {"cell_index": 2, "ename": "ValueError", "evalue": XSS, "traceback": f"tb {XSS}"}}
    results = make_results(tests, filename=f"{XSS}.ipynb", notebook=nb, status="cell_error",
                           reason=f"stopped: {XSS}",
                           benchmarks=[{"name": XSS, "median": 1.0}])
    results["environment"]["protections"][XSS] = False
    student = render_student_report(results)
    ta = render_ta_report(results, student_log=f"print {XSS}", judge_log=f"judge {XSS}")
    for html in (student, ta):
        assert "<script" not in html.lower()
        assert XSS_ESCAPED in html
    assert f"msg {XSS_ESCAPED}" in student
    assert f"{XSS_ESCAPED}.ipynb" in student and f"{XSS_ESCAPED}.ipynb" in ta
    assert f"print {XSS_ESCAPED}" in ta and f"judge {XSS_ESCAPED}" in ta
    assert f"detail {XSS_ESCAPED}" in ta


def test_attribute_breakout_is_escaped():
    evil = '" onmouseover="alert(1)'
    results = make_results([_test("test_q.py::test_q", output=evil)], filename=evil,
                           benchmarks=[{"plot": evil}])
    for html in (render_student_report(results), render_ta_report(results, student_log=evil)):
        assert evil not in html
        assert 'onmouseover="' not in html


def test_ta_report_has_everything():
    nb = {"cells_total": 10, "cells_run": 4,
          "error": {"cell_index": 4, "ename": "RuntimeError", "evalue": "CUDA out of bounds",
                    "traceback": "Traceback (most recent call last):\n  File cell 4\nRuntimeError: boom"}}
    results = make_results(_mixed_tests(), notebook=nb, status="cell_error",
                           reason="execution stopped at code cell 4: RuntimeError: boom")
    html = render_ta_report(results, student_log="STUDENT_STDOUT epoch 1 loss 0.3",
                            judge_log="JUDGE_LOG collected 5 items")
    for wanted in ("VISIBLE_MSG", "VISIBLE_DETAIL", "VISIBLE_FAIL_DETAIL", "HIDDEN_MSG", "HIDDEN_DETAIL",
                   "AFTERDUE_DETAIL", "PUBLISHED_DETAIL", "7.25", "3.142 s",
                   "STUDENT_STDOUT epoch 1 loss 0.3", "JUDGE_LOG collected 5 items",
                   "RuntimeError: boom", "CUDA out of bounds",
                   "gpu-node-7.internal", "AMD EPYC 7763", "NVIDIA H100", "2.13.0", "wall_seconds",
                   "8.0 GiB", "network_isolation", "seccomp"):
        assert wanted in html, wanted
    # the inactive protection is flagged, in its row and in the banner
    row = re.search(r'<tr class="inactive">\s*<td class="name">read_only_root</td>\s*<td>(.*?)</td>', html, re.S)
    assert row and "INACTIVE" in row.group(1)
    assert re.search(r"1 protection\s+inactive for this run:</strong> read_only_root", html)
    active = re.search(r'<tr>\s*<td class="name">seccomp</td>\s*<td>(.*?)</td>', html, re.S)
    assert active and "active" in active.group(1) and "INACTIVE" not in active.group(1)


def test_ta_report_without_inactive_protections_has_no_banner():
    env = {"backend": "docker", "protections": {"seccomp": True}, "limits": {}}
    html = render_ta_report(make_results(environment=env))
    assert "INACTIVE" not in html and "inactive for this run" not in html


def test_notebook_error_shown_to_student_without_ansi():
    tb = "\x1b[0;31mZeroDivisionError\x1b[0m Traceback\n  x = 1 / 0\n\x1b[0;31mZeroDivisionError\x1b[0m: division by zero"
    nb = {"cells_total": 5, "cells_run": 3,
          "error": {"cell_index": 3, "ename": "ZeroDivisionError", "evalue": "division by zero", "traceback": tb}}
    html = render_student_report(make_results(notebook=nb, status="cell_error", reason="stopped at code cell 4"))
    assert "Code cell 4 raised" in html   # cell_index counts from 0; people count code cells from 1
    assert "x = 1 / 0" in html and "ZeroDivisionError: division by zero" in html
    assert "\x1b" not in html
    assert re.search(r"<pre>[^<]*x = 1 / 0", html)


@pytest.mark.parametrize("status", sorted(STATUS_EXPLANATIONS))
def test_status_explanations(status):
    results = make_results(status=status, reason=f"REASON_{status}")
    student, ta = render_student_report(results), render_ta_report(results)
    assert str(escape(STATUS_EXPLANATIONS[status])) in student
    assert str(escape(TA_STATUS_EXPLANATIONS[status])) in ta
    assert str(escape(STATUS_EXPLANATIONS[status])) not in ta
    for html in (student, ta):
        assert f"REASON_{status}" in html


@pytest.mark.parametrize("status", sorted(STATUS_EXPLANATIONS))
def test_the_ta_report_speaks_to_the_ta(status):
    results = make_results(status=status, reason="r")
    nb = results["notebook"]
    ta = render_ta_report(results)
    for words in ("Your notebook", "your notebook", "your code", "Your submission", "hand in again", "ask a TA"):
        assert words not in ta, (status, words)
    assert sorted(TA_STATUS_EXPLANATIONS) == sorted(STATUS_EXPLANATIONS)
    if nb is not None:
        stop = render_ta_report(dict(results, status="cell_error", notebook=dict(nb, on_cell_error="stop")))
        assert str(escape(TA_CELL_ERROR_STOP_EXPLANATION)) in stop and "your code" not in stop


def test_partial_credit_shows_as_partial_with_its_points():
    tests = [_test("test_a.py::test_full", points=2, output="fine"),
             _test("test_a.py::test_half", points=4, output="half credit: loss 0.7"),
             _test("test_b.py::test_gone", passed=False, points=1, output="wrong")]
    tests[1]["score"] = 2.0
    results = make_results(tests)
    student, ta = render_student_report(results), render_ta_report(results)
    for html in (student, ta):
        row = re.search(r"test_a\.py::test_half</td>.*?</tr>", html, re.S).group(0)
        assert ">partial<" in row and "2 / 4" in row and ">passed<" not in row
        full = re.search(r"test_a\.py::test_full</td>.*?</tr>", html, re.S).group(0)
        assert ">passed<" in full and "2 / 2" in full
        gone = re.search(r"test_b\.py::test_gone</td>.*?</tr>", html, re.S).group(0)
        assert ">failed<" in gone
        assert "2 of 3 tests passed, 1 of them with partial credit." in html


def test_timeout_explanation_is_plain():
    assert "time limit" in STATUS_EXPLANATIONS["timeout"]
    assert "other cells still ran" in STATUS_EXPLANATIONS["cell_error"]
    assert "later cells" in CELL_ERROR_STOP_EXPLANATION.replace("Later", "later")


def _failed_cells_notebook(policy: str) -> dict:
    errors = [{"cell_index": 2, "ename": "NameError", "evalue": "name 'grad_chek' is not defined",
               "traceback": "Traceback\n  grad_chek(params)\nNameError: name 'grad_chek' is not defined"},
              {"cell_index": 7, "ename": "ZeroDivisionError", "evalue": "division by zero",
               "traceback": "Traceback\n  1 / 0\nZeroDivisionError: division by zero"}]
    return {"cells_total": 9, "cells_run": 9 if policy == "continue" else 3, "cells_failed": len(errors),
            "error": errors[0], "errors": errors if policy == "continue" else errors[:1], "on_cell_error": policy}


def test_every_failed_cell_is_listed_in_both_reports():
    nb = _failed_cells_notebook("continue")
    hidden = [_test("test_h.py::test_secret", passed=False, visibility="hidden", output="HIDDEN_MSG",
                    detail="HIDDEN_DETAIL")]
    results = make_results(hidden, notebook=nb, status="cell_error",
                           reason="2 code cells raised errors, the first code cell 3: NameError")
    student, ta = render_student_report(results), render_ta_report(results)
    assert str(escape(STATUS_EXPLANATIONS["cell_error"])) in student
    assert str(escape(TA_STATUS_EXPLANATIONS["cell_error"])) in ta
    for html in (student, ta):
        assert "Code cell 3 raised" in html and "Code cell 8 raised" in html
        assert "grad_chek(params)" in html and "1 / 0" in html
        assert "cells that raised an error: 2" in html
        assert "The cells after a failed cell still ran" in html
    assert "HIDDEN_MSG" not in student and "HIDDEN_DETAIL" not in student


def test_stop_policy_says_later_cells_did_not_run():
    results = make_results(notebook=_failed_cells_notebook("stop"), status="cell_error",
                           reason="execution stopped at code cell 3: NameError")
    assert str(escape(CELL_ERROR_STOP_EXPLANATION)) in render_student_report(results)
    assert str(escape(TA_CELL_ERROR_STOP_EXPLANATION)) in render_ta_report(results)
    for html in (render_student_report(results), render_ta_report(results)):
        assert "Code cell 3 raised" in html and "Code cell 8" not in html
        assert "the cells after it did not run" in html


def test_a_results_file_with_only_the_first_error_still_renders():
    nb = {"cells_total": 5, "cells_run": 3,
          "error": {"cell_index": 3, "ename": "KeyError", "evalue": "'k'", "traceback": "tb"}}
    html = render_student_report(make_results(notebook=nb, status="cell_error", reason="r"))
    assert "Code cell 4 raised" in html


def test_invalid_results_render():
    reason = "not run: the submission was not accepted"
    tests = [_test("test_a.py::test_one", passed=False, points=2, output=reason),
             _test("test_b.py::test_two", passed=False, points=3, visibility="hidden", output=reason)]
    results = make_results(tests, status="invalid", reason="the file is not a notebook", notebook=None,
                           environment={}, grade={"scale": "pass-fail", "label": "F", "passed": False})
    results.pop("percent")
    del results["benchmarks"]
    jsonschema.validate(results, SCHEMA)
    student = render_student_report(results)
    ta = render_ta_report(results)
    assert str(escape(STATUS_EXPLANATIONS["invalid"])) in student
    assert str(escape(TA_STATUS_EXPLANATIONS["invalid"])) in ta
    for html in (student, ta):
        assert "the file is not a notebook" in html
        assert "0 / 5" in html and "0.0%" in html
        assert "The notebook was not run." in html
    assert reason in student  # the visible test's message
    assert "No environment recorded" in ta and "No benchmarks." in ta


def test_late_penalty_shown():
    late = {"submitted_at": "2025-03-03T10:00:00+00:00", "due": "2025-03-01T23:59:00+00:00",
            "days_late": 2, "penalty_percent": 20.0, "points_deducted": 0.4}
    results = make_results([_test("test_a.py::test_one", points=2)], late=late)
    for html in (render_student_report(results), render_ta_report(results)):
        assert re.search(r"handed in 2 days\s+late", html)
        assert "20%" in html and "0.4 points deducted" in html
        assert "2025-03-01T23:59:00+00:00" in html
        assert "1.6 / 2" in html


def test_on_time_shows_no_late_notice():
    late = {"submitted_at": "2025-03-01T10:00:00+00:00", "due": "2025-03-01T23:59:00+00:00",
            "days_late": 0, "penalty_percent": 0.0}
    for late_value in (late, None):
        html = render_student_report(make_results(late=late_value))
        assert "Late submission" not in html


def test_benchmarks_generic_table_and_inline_plot():
    png = b"\x89PNG\r\n\x1a\n" + b"\x00" * 40
    plot = base64.b64encode(png).decode()
    bench = [{"name": "allreduce", "world_sizes": [1, 2, 4], "median": 1.25, "speedup": 3.5, "plot": plot},
             {"name": "ddp", "median": 2.0, "efficiency": 0.875, "plot": "plots/ddp.png"}]
    results = make_results(benchmarks=bench)
    ta = render_ta_report(results)
    for wanted in ("world_sizes", "[1, 2, 4]", "speedup", "efficiency", "0.875", "plots/ddp.png",
                   f'src="data:image/png;base64,{plot}"'):
        assert wanted in ta, wanted
    assert "allreduce" not in render_student_report(results)


def test_reports_are_self_contained():
    results = make_results(_mixed_tests())
    for html in (render_student_report(results), render_ta_report(results, student_log="x")):
        assert html.lstrip().startswith("<!DOCTYPE html>")
        assert "<style>" in html
        assert "<script" not in html and "<link" not in html
        assert not re.search(r"""(?:src|href)\s*=\s*(?!["']?(?:data:|#))""", html)
        assert "@import" not in html and "url(" not in html


def test_write_reports(tmp_path):
    results = make_results(_mixed_tests())
    out = tmp_path / "reports" / "s-0001"
    student_path, ta_path = write_reports(results, out, student_log="STUDENT_LOG_LINE",
                                          judge_log="JUDGE_LOG_LINE\ud800")
    assert (student_path, ta_path) == (out / "student.html", out / "ta.html")
    student, ta = student_path.read_text(encoding="utf-8"), ta_path.read_text(encoding="utf-8")
    assert "HIDDEN_MSG" not in student and "STUDENT_LOG_LINE" not in student
    assert "HIDDEN_MSG" in ta and "STUDENT_LOG_LINE" in ta and "JUDGE_LOG_LINE" in ta


def _png(color: int) -> str:
    import io

    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(1, 1))
    ax.imshow([[color, 0, 1], [0, 1, 0]] if color == 1 else [[0, 0, 1], [1, 1, 0]])
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def test_reports_show_test_titles_and_the_ta_keeps_the_test_id():
    tests = [dict(_test("test_rnn.py::test_lstm_gates", output="gate 2 differs"), title="LSTM gates match torch"),
             dict(_test("test_rnn.py::test_clip", passed=False, visibility="hidden", output="secret 0.123"),
                  title="Gradient clipping by global norm"),
             _test("test_rnn.py::test_untitled")]
    r = make_results(tests)
    student, ta = render_student_report(r), render_ta_report(r)
    for title in ("LSTM gates match torch", "Gradient clipping by global norm"):
        assert title in student and title in ta
    assert "test_rnn.py::test_lstm_gates" not in student     # the student reads the title, not the path
    assert "test_rnn.py::test_lstm_gates" in ta and "test_rnn.py::test_clip" in ta
    assert "test_untitled" in student                        # no docstring: the function name
    assert "secret 0.123" not in student and "secret 0.123" in ta


def test_figures_follow_the_visibility_of_their_test():
    shown, kept = _png(1), _png(2)
    tests = [dict(_test("test_vae.py::test_samples"), title="Samples from your decoder",
                  figures=[{"caption": "64 samples", "png": shown}]),
             dict(_test("test_vae.py::test_elbo", visibility="hidden"), title="Held-out ELBO",
                  figures=[{"caption": "held-out reconstructions", "png": kept}]),
             dict(_test("test_vae.py::test_junk"), figures=[{"caption": "not a png", "png": "aGVsbG8gd29ybGQgaGVsbG8="}])]
    r = make_results(tests)
    student, ta = render_student_report(r), render_ta_report(r)
    assert f"data:image/png;base64,{shown}" in student and "64 samples" in student
    assert kept not in student and "held-out reconstructions" not in student
    assert kept in ta and shown in ta
    assert "aGVsbG8gd29ybGQgaGVsbG8=" not in student + ta     # only real PNGs become images


def test_a_timeout_report_says_the_cells_after_it_did_not_run():
    errors = [{"cell_index": 4, "ename": "NotebookTimeout", "evalue": "the notebook ran past its 60 s time budget",
               "traceback": ""}]
    nb = {"cells_total": 9, "cells_run": 4, "cells_failed": 0, "error": errors[0], "errors": errors,
          "on_cell_error": "continue", "timed_out": True}
    results = make_results(notebook=nb, status="timeout", reason="the notebook ran past its time limit")
    for html in (render_student_report(results), render_ta_report(results)):
        assert "stopped at its time limit: the cells after that point did not run" in html
        assert "still ran" not in html.split("<h2>Notebook</h2>")[1]


IPYTHON_TB = """Traceback (most recent call last):
  File "/usr/local/lib/python3.11/site-packages/IPython/core/interactiveshell.py", line 3577, in run_code
    exec(code_obj, self.user_global_ns, self.user_ns)
  File "<ipython-input-3-0d94bd8c8c7a>", line 3, in <module>
    f()
  File "<ipython-input-3-0d94bd8c8c7a>", line 2, in f
    return 1/0
           ~^~
ZeroDivisionError: division by zero"""


def test_tracebacks_leave_out_ipythons_own_frames():
    nb = {"cells_total": 5, "cells_run": 5, "cells_failed": 1, "on_cell_error": "continue",
          "errors": [{"cell_index": 3, "ename": "ZeroDivisionError", "evalue": "division by zero",
                      "traceback": IPYTHON_TB}]}
    results = make_results(notebook=nb, status="cell_error", reason="r")
    for html in (render_student_report(results), render_ta_report(results)):
        tb = html.split("<pre>")[1].split("</pre>")[0]
        assert "interactiveshell" not in tb and "exec(code_obj" not in tb
        assert tb.startswith("Traceback (most recent call last):")
        assert "line 3, in &lt;module&gt;\n    f()" in tb and "return 1/0\n           ~^~" in tb
        assert tb.endswith("ZeroDivisionError: division by zero")
