"""`handin export gradescope`: the bundle grades an imported module's reference to full marks
when its setup.sh and run_autograder run, as Gradescope runs them, in a plain container built
here (the CPU sandbox image, no network, handin not installed in it)."""

from __future__ import annotations

import json
import shutil
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from handin.cli import main

REPO = Path(__file__).resolve().parents[2]
OTTER = REPO / "tests" / "fixtures" / "interop" / "otter" / "stats.ipynb"


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    root = tmp_path_factory.mktemp("course")
    runner = CliRunner()
    r = runner.invoke(main, ["import", "otter", str(OTTER), "--module", "stats", "--root", str(root)])
    assert r.exit_code == 0, r.output
    r = runner.invoke(main, ["export", "gradescope", str(root / "assignments" / "stats"), "--out", str(root / "dist")])
    assert r.exit_code == 0, r.output
    return root, root / "dist" / "stats-gradescope.zip"


def test_the_bundle_holds_what_gradescope_runs_and_no_solution(bundle):
    _, zip_path = bundle
    names = zipfile.ZipFile(zip_path).namelist()
    assert {"setup.sh", "run_autograder", "requirements.txt"} <= set(names)
    assert "course/graders/stats/test_hidden.py" in names and "lib/handin/judge.py" in names
    assert not [n for n in names if "solution" in n.lower()]
    info = {i.filename: i for i in zipfile.ZipFile(zip_path).infolist()}
    assert info["run_autograder"].external_attr >> 16 & 0o111   # executable, as Gradescope needs


def _autograder(tmp_path: Path, zip_path: Path, submission: Path | None) -> Path:
    ag = tmp_path / "autograder"
    (ag / "source").mkdir(parents=True)
    (ag / "submission").mkdir()
    with zipfile.ZipFile(zip_path) as zf:
        zf.extractall(ag / "source")
    for p in (ag / "source").rglob("*"):     # zipfile drops the mode bits
        if p.name in ("setup.sh", "run_autograder"):
            p.chmod(0o755)
    if submission is not None:
        shutil.copy(submission, ag / "submission" / "stats.ipynb")
    return ag


@pytest.mark.slow
@pytest.mark.parametrize("which", ["solution", "nothing"])
def test_run_autograder_in_a_plain_container(bundle, docker_client, docker_image, tmp_path, which):
    root, zip_path = bundle
    solution = root / "solutions" / "stats" / "solution.ipynb"
    ag = _autograder(tmp_path, zip_path, solution if which == "solution" else None)
    log = docker_client.containers.run(
        docker_image.id, ["bash", "-c", "/autograder/source/setup.sh && /autograder/source/run_autograder"],
        volumes={str(ag): {"bind": "/autograder", "mode": "rw"}}, environment={"HANDIN_PYTHON": "/opt/venv/bin/python"},
        network_mode="none", remove=True, stdout=True, stderr=True).decode(errors="replace")
    doc = json.loads((ag / "results" / "results.json").read_text())
    if which == "solution":
        assert doc["score"] == doc["max_score"] == 8, log[-3000:]
        assert {t["visibility"] for t in doc["tests"]} == {"visible", "after_published"}
        assert all({"name", "score", "max_score", "output", "visibility"} <= set(t) for t in doc["tests"])
    else:
        assert doc["score"] == 0 and "no notebook" in doc["output"], log[-3000:]
