"""Test titles and figures, end to end: a grader's docstrings and attached images reach
results.json and the reports; a bad figure fails only its own test."""

from __future__ import annotations

import base64

import pytest

from builders import make_toy_module
from handin.grading import grade_run
from handin.results import read_titles, validate_results
from handin.spec import load_module
from sandbox import get_backend

HIDDEN = '''
import io

import numpy as np
import pytest


@pytest.mark.points(2)
def test_double(student):
    """Doubling works for a large number.

    The detail lines below the title are for whoever reads the grader.
    """
    assert student.double(21) == 42


@pytest.mark.visibility("visible")
def test_picture(student, figure):
    """Your scaled numbers, drawn."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(2, 2))
    ax.plot(np.asarray(student.scale(np.arange(4.0))))
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    figure(buf.getvalue(), "scale(0..3)")


def test_not_a_picture(figure):
    """A figure that is not a PNG fails its test."""
    figure(b"GIF89a not a png", "broken")


def test_untitled(student):
    assert student.scale(1.0) == 3.0
'''


@pytest.mark.slow
def test_titles_and_figures_reach_results_and_reports(tmp_path):
    spec = load_module(make_toy_module(tmp_path / "course", hidden=HIDDEN))
    results, _ = grade_run(spec, spec.solution, backend=get_backend("local"), out_dir=tmp_path / "out",
                           sub_id="sol")
    validate_results(results)
    tests = {t["name"]: t for t in results["tests"]}
    assert tests["test_hidden.py::test_double"]["title"] == "Doubling works for a large number."
    assert tests["test_hidden.py::test_untitled"]["title"] == ""
    assert tests["test_public.py::test_double_public"]["title"] == ""
    pic = tests["test_hidden.py::test_picture"]
    assert pic["status"] == "passed" and pic["figures"][0]["caption"] == "scale(0..3)"
    assert base64.b64decode(pic["figures"][0]["png"]).startswith(b"\x89PNG")
    broken = tests["test_hidden.py::test_not_a_picture"]
    assert broken["status"] == "failed" and "PNG" in broken["output"] and "figures" not in broken
    student = (tmp_path / "out" / "sol" / "student.html").read_text()
    ta = (tmp_path / "out" / "sol" / "ta.html").read_text()
    assert "Doubling works for a large number." in student and "detail lines" not in student
    assert pic["figures"][0]["png"][:200] in student and pic["figures"][0]["png"][:200] in ta
    assert "test_hidden.py::test_double" in ta


def test_titles_are_read_without_importing_the_suite(tmp_path):
    spec = load_module(make_toy_module(tmp_path / "course", hidden=HIDDEN + "\nraise SystemExit('imported')\n"))
    titles = read_titles(spec.paths.grader_dir)
    assert titles["test_hidden.py::test_picture"] == "Your scaled numbers, drawn."
    assert titles["test_hidden.py::test_untitled"] == ""
