"""The course modules shipped in this repository: specs, points, notebooks and student bundles."""

from __future__ import annotations

import dataclasses
import importlib.util

import nbformat
import pytest

from builders import REPO
from handin.authoring import build
from handin.release import release
from handin.results import list_tests
from handin.spec import load_module
from handin.validate import unmatched_points

MODULES = sorted(p.parent.name for p in (REPO / "assignments").glob("*/assignment.toml"))


def test_the_modules_are_found():
    assert {"m01-distributed-regression", "m02-feedforward", "m03-cnn", "m04-optimizers", "m05-regularization",
            "m06-rnn", "m07-uncertainty", "m08-generative", "m09-data-parallel", "m10-model-parallel",
            "m11-data-pipeline", "m12-serving", "m13-observability", "m14-rl"} <= set(MODULES)


@pytest.mark.parametrize("module", MODULES)
def test_every_test_has_a_title(module):
    """Reports show each test's title (its docstring's first line): no module leaves one out."""
    from handin.results import read_titles
    titles = read_titles(REPO / "graders" / module)
    assert titles and not [nodeid for nodeid, title in titles.items() if not title]


@pytest.mark.parametrize("module", MODULES)
def test_every_points_key_names_a_hidden_test_and_every_test_has_points(module):
    spec = load_module(REPO / "assignments" / module)
    assert unmatched_points(spec) == []
    tests = list_tests(spec.paths.grader_dir)
    ids = [nodeid for nodeid, _, _ in tests]
    points = {nodeid: spec.test_points(nodeid, name, marker, ids) for nodeid, name, marker in tests}
    assert all(p > 0 for p in points.values()), points
    typo = dataclasses.replace(spec, points={**spec.points, "test_that_does_not_exist": 1.0})
    assert unmatched_points(typo) == ["test_that_does_not_exist"]


@pytest.mark.parametrize("module", MODULES)
def test_the_notebooks_are_what_the_build_script_writes(module):
    script = REPO / "graders" / module / "build_notebooks.py"
    loader = importlib.util.spec_from_file_location(f"build_{module.replace('-', '_')}", script)
    mod = importlib.util.module_from_spec(loader)
    loader.loader.exec_module(mod)
    prefix = module.split("-", 1)[0]
    for which, path in (("starter", mod.STARTER_PATH), ("solution", mod.SOLUTION_PATH)):
        assert nbformat.writes(build(mod.CELLS, which, prefix)) + "\n" == path.read_text(), \
            f"{path.relative_to(REPO)} differs from what {script.relative_to(REPO)} writes: run it"


@pytest.mark.parametrize("module", MODULES)
def test_the_student_bundle_holds_no_hidden_code(module, tmp_path):
    spec = load_module(REPO / "assignments" / module)
    bundle = release(spec, tmp_path)
    shipped = {p.name for p in bundle.rglob("*") if p.is_file()}
    assert spec.starter.name in shipped and "solution.ipynb" not in shipped
    hidden = {p.name for p in spec.paths.grader_dir.glob("test_*.py")} - set(spec.grading.public_tests)
    assert hidden and not hidden & shipped
    assert "build_notebooks.py" not in shipped


def test_the_readme_lists_every_module_with_its_points_and_scale():
    """The README's module table is what a newcomer reads first: it must match the modules."""
    from handin.results import max_score
    rows = {}
    for line in (REPO / "README.md").read_text().splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 5 and cells[0].startswith("`m") and cells[0].endswith("`"):
            rows[cells[0].strip("`")] = (cells[3], cells[4])
    for module in MODULES:
        spec = load_module(REPO / "assignments" / module)
        assert rows.get(module) == (f"{max_score(spec):g}", spec.grading.scale), module
