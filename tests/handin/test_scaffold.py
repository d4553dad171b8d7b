"""`handin new` starts a module that `handin validate` passes and `handin release` bundles at once."""

from __future__ import annotations

import subprocess
import sys

import pytest

from builders import REPO

HANDIN = [sys.executable, "-m", "handin.cli"]


def _run(args, cwd):
    return subprocess.run(HANDIN + args, cwd=cwd, capture_output=True, text=True, timeout=300)


@pytest.mark.slow
@pytest.mark.parametrize("sandbox_name", ["local", "docker"])
def test_new_module_validates_and_releases(tmp_path, sandbox_name, request):
    if sandbox_name == "docker":
        request.getfixturevalue("docker_image")   # the real engine and image (built when missing)
    r = _run(["new", "m42-linreg", "--title", "Linear regression", "--course", "Test course"], tmp_path)
    assert r.returncode == 0, r.stderr
    for rel in ("assignments/m42-linreg/assignment.toml", "assignments/m42-linreg/linreg.ipynb",
                "assignments/m42-linreg/data/train.npz", "solutions/m42-linreg/solution.ipynb",
                "graders/m42-linreg/build_notebooks.py", "graders/m42-linreg/test_public.py",
                "graders/m42-linreg/test_hidden.py", "graders/m42-linreg/data/heldout.npz"):
        assert (tmp_path / rel).is_file(), rel
    toml = (tmp_path / "assignments/m42-linreg/assignment.toml").read_text()
    for section in ("[assignment]", "[grading]", "[points]", "[resources]", "# [deadline]", "[intake]"):
        assert section in toml
    r = _run(["validate", "assignments/m42-linreg", "--sandbox", sandbox_name], tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "reference solution gets full marks: 10/10" in r.stdout
    assert "✓ release bundle holds nothing hidden" in r.stdout
    r = _run(["release", "assignments/m42-linreg", "--out", "dist"], tmp_path)
    assert r.returncode == 0, r.stderr
    shipped = {p.relative_to(tmp_path / "dist" / "m42-linreg").as_posix()
               for p in (tmp_path / "dist" / "m42-linreg").rglob("*") if p.is_file()}
    assert "linreg.ipynb" in shipped and "data/train.npz" in shipped
    assert not any("heldout" in f or "hidden" in f or "build_notebooks" in f for f in shipped), shipped
    # the public and the hidden test read the training data through public_data, not a copy in graders/
    for test in ("test_public.py", "test_hidden.py"):
        assert 'public_data / "data" / "train.npz"' in (tmp_path / "graders/m42-linreg" / test).read_text()
    assert not (tmp_path / "graders/m42-linreg/data/train.npz").exists()
    # and the bundle's conftest gives the public test the same fixture
    sol = tmp_path / "solutions/m42-linreg/solution.ipynb"
    run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"],
                         cwd=tmp_path / "dist" / "m42-linreg", capture_output=True, text=True,
                         env={"HANDIN_NOTEBOOK": str(sol), "PATH": "/usr/bin:/bin"}, timeout=120)
    assert run.returncode == 0, run.stdout + run.stderr


def test_new_refuses_bad_names_and_existing_modules(tmp_path):
    r = _run(["new", "Bad Name", "--title", "x", "--course", "y"], tmp_path)
    assert r.returncode == 2 and "lower-case" in r.stderr and "Traceback" not in r.stderr
    (tmp_path / "graders" / "m01-x").mkdir(parents=True)
    r = _run(["new", "m01-x", "--title", "x", "--course", "y"], tmp_path)
    assert r.returncode == 2 and "already exist" in r.stderr
    assert not (tmp_path / "assignments" / "m01-x").exists()
