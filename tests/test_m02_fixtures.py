"""The m02 module end to end: every demo submission gets the score and status it must get.

The whole folder is graded as one batch (two at a time) with the module's own
limits, as `make run` does — once in the local sandbox and once in docker: the
same submissions must get the same results in both.
"""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from handin.grading import grade_batch
from handin.results import schema
from handin.spec import load_module
from sandbox import get_backend

REPO = Path(__file__).resolve().parent.parent
FIXTURES = REPO / "tests" / "fixtures" / "m02-feedforward"
EXPECTED = json.loads((REPO / "tests" / "fixtures" / "m02-feedforward.expected.json").read_text())

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module", params=["local", "docker"])
def graded(request, tmp_path_factory, docker_image):
    spec = load_module(REPO / "assignments" / "m02-feedforward")
    files = [FIXTURES / name for name in EXPECTED]
    out = tmp_path_factory.mktemp(f"m02-results-{request.param}")
    results = grade_batch(spec, files, backend=get_backend(request.param), out_dir=out, jobs=2)
    return {r["submission"]["filename"]: r for r in results}, out


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_fixture_gets_its_score_and_status(graded, name):
    results, _ = graded
    r = results[name]
    want = EXPECTED[name]
    jsonschema.validate(r, schema())
    if want["status"] is not None:
        assert r["status"] == want["status"], r["status_reason"]
    assert want["score_min"] <= r["score"] <= want["score_max"], (r["score"], r["status_reason"])
    assert r["max_score"] == 29


def test_infinite_loop_still_scores_its_earlier_cells(graded):
    r = graded[0]["infinite_loop.ipynb"]
    assert r["status"] == "timeout" and r["score"] == 19


def test_hostile_submissions_leave_no_trace_of_hidden_material(graded):
    results, out = graded
    grader = REPO / "graders" / "m02-feedforward"
    secrets = [p.read_text() for p in [*grader.glob("test_*.py"), grader / "reference.py"]]
    needles = [line.strip() for s in secrets for line in s.splitlines()
               if len(line.strip()) > 30 and not line.strip().startswith(("#", "import", "from", '"'))]
    assert len(needles) > 20
    for name in ("read_graders.ipynb", "fake_results.ipynb", "monkeypatch.ipynb"):
        sub = results[name]["submission"]["id"]
        log = (out / sub / "student.log").read_text()
        assert not any(n in log for n in needles), name
    assert "found 0 files" in (out / results["read_graders.ipynb"]["submission"]["id"] / "student.log").read_text()


def test_hostile_runs_all_had_full_protection(graded):
    results, _ = graded
    for name, r in results.items():
        if r["status"] != "invalid":
            assert all(r["environment"]["protections"].values()), name


def test_reports_for_the_student_hide_hidden_test_output(graded):
    results, out = graded
    r = results["partial.ipynb"]
    html = (out / r["submission"]["id"] / "student.html").read_text()
    ta = (out / r["submission"]["id"] / "ta.html").read_text()
    hidden_failed = [t for t in r["tests"] if t["visibility"] != "visible" and t["status"] == "failed"]
    assert hidden_failed
    for t in hidden_failed:
        assert t["name"].split("::")[-1] in html
        if t["output"]:
            assert t["output"][:40] not in html
            assert t["output"][:40].replace("'", "&#39;").replace('"', "&#34;")[:20] in ta or t["output"][:20] in ta
