"""`handin import otter|nbgrader`: a teacher's existing assignment becomes a module that
`handin validate` passes, with the source's points and its public/hidden split, and nothing
of the solution or the hidden tests in what students get.

The sources (tests/fixtures/interop/, built by build_sources.py) are checked against the
real tools first: `otter assign` (which the importer itself runs) and `nbgrader
generate_assignment` (run here in a throwaway course folder) accept them.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from click.testing import CliRunner

from handin.authoring import patch, read, write
from handin.cli import main
from handin.grading import grade_run
from handin.interop import cases
from handin.release import release
from handin.spec import load_module
from handin.validate import validate_module
from sandbox import get_backend

REPO = Path(__file__).resolve().parents[2]
SOURCES = REPO / "tests" / "fixtures" / "interop"
OTTER = SOURCES / "otter" / "stats.ipynb"
NBGRADER = SOURCES / "nbgrader" / "stats" / "stats.ipynb"
BIN = Path(sys.executable).parent

# Text of the solutions and of the hidden tests: none of it may reach a student.
SOLUTION_TEXT = ["sum(xs) / len(xs)", "(x - m) ** 2", "heights.std()"]
HIDDEN_TEXT = {"stats-otter": ["0.5, 1.5, 4.0", "1.0, 2.0, 3.0, 4.0", "z.std(), 1"],
               "stats-nbgrader": ["1.0, 2.0, 3.0, 4.0", "z.std(), 1"]}


def _import(kind: str, source: Path, root: Path, module: str, *extra: str):
    r = CliRunner().invoke(main, ["import", kind, str(source), "--module", module, "--root", str(root),
                                  "--course", "Test course", *extra])
    return r


def _bundle_text(spec, tmp_path: Path) -> str:
    bundle = release(spec, tmp_path / "bundle")
    return "\n".join(p.read_text(errors="replace") for p in bundle.rglob("*") if p.is_file())


@pytest.fixture(scope="module")
def imported(tmp_path_factory):
    root = tmp_path_factory.mktemp("course")
    for kind, source, module in (("otter", OTTER, "stats-otter"), ("nbgrader", NBGRADER, "stats-nbgrader")):
        r = _import(kind, source, root, module)
        assert r.exit_code == 0, r.output
    return root


@pytest.mark.slow
@pytest.mark.parametrize("module,points", [("stats-otter", 8), ("stats-nbgrader", 8)])
def test_the_imported_module_validates_with_the_sources_points(imported, module, points, tmp_path):
    spec = load_module(imported / "assignments" / module)
    v = validate_module(spec, backend=get_backend("local"), out_dir=tmp_path)
    failed = [f"{c.name}: {c.detail} {c.lines}" for c in v.checks if not c.ok]
    assert not failed, failed
    sol = json.loads((tmp_path / "solution" / "results.json").read_text())
    assert sol["score"] == sol["max_score"] == points


@pytest.mark.parametrize("module", ["stats-otter", "stats-nbgrader"])
def test_students_get_no_solution_and_no_hidden_test(imported, module, tmp_path):
    spec = load_module(imported / "assignments" / module)
    shipped = _bundle_text(spec, tmp_path)
    assert "heights.csv" in shipped and "mean" in shipped
    for text in SOLUTION_TEXT + HIDDEN_TEXT[module]:
        assert text not in shipped, text
    hidden = (spec.paths.grader_dir / "test_hidden.py").read_text()
    assert all(t in hidden for t in HIDDEN_TEXT[module])


def test_otter_points_and_split_follow_the_source(imported):
    spec = load_module(imported / "assignments" / "stats-otter")
    # q1: 2 points over three cases (two public); q2: [1, 2] per case; q3: 3 over two cases
    assert spec.points == pytest.approx({"test_q1_1": 2 / 3, "test_q1_2": 2 / 3, "test_q1_3": 2 / 3,
                                         "test_q2_1": 1.0, "test_q2_2": 2.0, "test_q3_1": 1.5, "test_q3_2": 1.5})
    public = (spec.paths.grader_dir / "test_public.py").read_text()
    assert "def test_q1_1" in public and "def test_q1_3" not in public
    starter = nbformat.read(spec.starter, as_version=4)
    assert not any("grader.check" in c.source or "otter" in c.source for c in starter.cells)


def test_nbgrader_starter_is_what_generate_assignment_releases(imported, tmp_path):
    """The real `nbgrader generate_assignment` accepts the source, and its student version
    has the same code as the importer's starter (nbgrader's own preprocessors made both)."""
    course = tmp_path / "nbcourse"
    (course / "source").mkdir(parents=True)
    subprocess.run(["cp", "-r", str(NBGRADER.parent), str(course / "source" / "stats")], check=True)
    (course / "nbgrader_config.py").write_text('c = get_config()\nc.CourseDirectory.root = "."\n')
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}  # nbgrader runs alembic
    r = subprocess.run([str(BIN / "nbgrader"), "generate_assignment", "stats", "--force"], cwd=course, env=env,
                       capture_output=True, text=True, timeout=600)
    released = course / "release" / "stats" / "stats.ipynb"
    assert r.returncode == 0 and released.is_file(), r.stdout[-2000:] + r.stderr[-2000:]
    theirs = [c.source for c in nbformat.read(released, as_version=4).cells if c.cell_type == "code"]
    spec = load_module(imported / "assignments" / "stats-nbgrader")
    ours = [c.source for c in nbformat.read(spec.starter, as_version=4).cells if c.cell_type == "code"]
    assert ours == theirs


def test_nbgrader_manual_cells_are_reported_not_graded(tmp_path):
    r = _import("nbgrader", NBGRADER, tmp_path, "m")
    assert r.exit_code == 0, r.output
    assert "manually graded cell discussion (1 points)" in " ".join(r.output.split())
    spec = load_module(tmp_path / "assignments" / "m")
    assert set(spec.points) == {"test_test_mean", "test_test_variance", "test_test_standardise"}


@pytest.mark.slow
@pytest.mark.parametrize("module,lost,status", [("stats-otter", 2, "ok"), ("stats-nbgrader", 2, "cell_error")])
def test_a_wrong_answer_loses_only_its_questions_points(imported, module, lost, status, tmp_path):
    """A student whose mean is off by one for every list: the mean tests fail, the rest pass
    (variance and the z-scores use numpy or their own mean, and still pass). nbgrader keeps
    the visible test cells in the student's notebook, so there the failing assert is also a
    cell error, as the student saw it in Jupyter."""
    spec = load_module(imported / "assignments" / module)
    nb = read(spec.solution)
    patch(nb, "def mean", "return sum(xs) / len(xs)", "return sum(xs) / len(xs) + 1")
    patch(nb, "def variance", "m = mean(xs)", "m = sum(xs) / len(xs)")
    write(nb, tmp_path, "wrong.ipynb")
    r, _ = grade_run(spec, tmp_path / "wrong.ipynb", backend=get_backend("local"), out_dir=tmp_path / "out",
                     sub_id="wrong")
    assert r["status"] == status, r["status_reason"]
    assert r["score"] == pytest.approx(r["max_score"] - lost), [(t["name"], t["status"]) for t in r["tests"]]


def test_import_errors_are_one_message(tmp_path):
    bad = tmp_path / "broken.ipynb"
    bad.write_text("{not json")
    for kind in ("otter", "nbgrader"):
        r = _import(kind, bad, tmp_path, "x")
        assert r.exit_code == 2 and "error:" in r.output and "Traceback" not in r.output, r.output
    r = _import("otter", tmp_path / "missing.ipynb", tmp_path, "x")
    assert r.exit_code == 2 and "not a notebook file" in r.output
    assert _import("nbgrader", NBGRADER, tmp_path, "Bad Name!").exit_code == 2
    assert _import("nbgrader", NBGRADER, tmp_path, "twice").exit_code == 0
    again = _import("nbgrader", NBGRADER, tmp_path, "twice")
    assert again.exit_code == 2 and "--force" in again.output
    assert _import("nbgrader", NBGRADER, tmp_path, "twice", "--force").exit_code == 0


class _Student:
    """A student namespace seen through attributes, like the proxy (and the public tests' conftest)."""

    def __init__(self, **names):
        self.__dict__.update(names)


def test_test_code_reads_the_students_names_and_the_judges_modules():
    import numpy as np

    class FakeNumpy:
        @staticmethod
        def isclose(a, b):
            return True   # a student's "numpy" that says yes to everything

    student = _Student(mean=lambda xs: sum(xs) / len(xs), np=FakeNumpy, z=np.array([-1.0, 1.0]))
    cases.run_source(student, "assert mean([1, 3]) == 2\nassert np.allclose(z.mean(), 0)", "import numpy as np")
    with pytest.raises(cases.CaseFailed):
        cases.run_source(student, "assert np.isclose(mean([1, 3]), 5)", "import numpy as np")
    with pytest.raises(cases.CaseFailed, match="NameError"):
        cases.run_source(student, "assert variance([1]) == 0")
    cases.run_doctest(student, ">>> mean([2, 4])\n3.0\n>>> np.isclose(mean([1.0]), 1.0)\nTrue", "import numpy as np")
    with pytest.raises(cases.CaseFailed, match="expected 4.0"):
        cases.run_doctest(student, ">>> mean([2, 4])\n4.0")
    text = _Student(mean=lambda xs: str(sum(xs) / len(xs)))   # "2.5" is not 2.5, as in doctest
    with pytest.raises(cases.CaseFailed):
        cases.run_doctest(text, ">>> mean([2.5])\n2.5")
    cases.run_doctest(_Student(flag=np.True_), ">>> flag\nTrue")     # numpy 2's repr, numpy 1's output
    cases.run_function(student, "def test_mean(mean):\n    assert mean([5]) == 5")
    with pytest.raises(cases.CaseFailed):
        cases.run_function(student, "def test_mean(mean, z):\n    assert len(z) == 3")
