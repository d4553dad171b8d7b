"""The student's side sees the allowlisted runtime of the platform and nothing else, in both sandboxes.

From inside a run, the notebook tries to import every module of handin, sandbox and server
(enumerated here from the checkout, so a module added later is tried too), lists what its
process has loaded, and every platform .py file it can open; then it does the same from a
fresh interpreter started the way the rank processes are. Anything outside
:data:`sandbox.student_view.STUDENT_MODULES` fails the test.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from builders import REPO, write_notebook
from handin.grading import grade_file
from sandbox import get_backend
from sandbox.student_view import STUDENT_MODULES, build, module_files

TOPS = ("handin", "sandbox", "server")


def platform_modules() -> list[str]:
    """Every importable module name of the platform's three packages, from the files in the checkout."""
    names = []
    for top in TOPS:
        for path in sorted((REPO / top).rglob("*.py")):
            parts = path.relative_to(REPO).with_suffix("").parts
            if parts[-1] == "__init__":
                parts = parts[:-1]
            if all(p.isidentifier() for p in parts):
                names.append(".".join(parts))
    return names


PROBE = '''
import importlib, json, os, sys
CANDIDATES = {candidates!r}
importable = []
for name in CANDIDATES:
    try:
        importlib.import_module(name)
        importable.append(name)
    except BaseException:
        pass
loaded = sorted(m for m in sys.modules if m.split(".")[0] in {tops!r})
readable = set()
for top in {tops!r}:
    places = list(getattr(sys.modules.get(top), "__path__", None) or [])
    places += [os.path.join(p or ".", top) for p in sys.path] + ["/judge/lib/" + top, {host!r} + "/" + top]
    for place in places:
        for folder, _, files in os.walk(place):
            for f in files:
                if f.endswith(".py"):
                    path = os.path.join(folder, f)
                    try:
                        with open(path) as fh:
                            fh.read(1)
                    except OSError:
                        continue
                    readable.add(top + path[len(place):])
print("{tag} " + json.dumps({{"importable": importable, "loaded": loaded, "readable": sorted(readable)}}))
'''


def _probe(tag: str) -> str:
    return PROBE.format(candidates=platform_modules(), tops=TOPS, host=str(REPO), tag=tag)


NOTEBOOK = [
    "def double(x):\n    return 2 * x",
    _probe("VIEW-STUDENT"),
    # a fresh interpreter with the rank processes' import path (handin.bench.launcher.Pool)
    "import subprocess, sys\nfrom pathlib import Path\nimport handin.bench.launcher as _l\n"
    "_here = str(Path(_l.__file__).resolve().parent.parent.parent)\n"
    "_env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in (os.environ.get('PYTHONPATH', ''), _here) if p))\n"
    f"print(subprocess.run([sys.executable, '-c', {_probe('VIEW-RANK')!r}], env=_env, capture_output=True,\n"
    "                     text=True, timeout=60).stdout)",
]


def _report(log: str, tag: str) -> dict:
    line = next((ln for ln in log.splitlines() if ln.startswith(tag + " ")), None)
    assert line is not None, f"no {tag} line in the student's log:\n{log[-3000:]}"
    return json.loads(line[len(tag) + 1:])


@pytest.mark.slow
@pytest.mark.parametrize("backend_name", ["local", "docker"])
def test_the_student_side_sees_only_the_allowlist(toy_module, tmp_path, backend_name, request):
    if backend_name == "docker":
        request.getfixturevalue("docker_image")
    nb = write_notebook(tmp_path / "sub.ipynb", NOTEBOOK)
    r = grade_file(toy_module, nb, backend=get_backend(backend_name), out_dir=tmp_path / "out")
    assert r["environment"]["protections"]["filesystem_hidden"], r["environment"]["protections"]
    log = (tmp_path / "out" / "sub" / "student.log").read_text()
    allowed = set(STUDENT_MODULES)
    allowed_files = {rel for rel, _ in module_files()}
    for tag in ("VIEW-STUDENT", "VIEW-RANK"):
        seen = _report(log, tag)
        assert set(seen["importable"]) - allowed == set(), (tag, sorted(set(seen["importable"]) - allowed))
        assert set(seen["loaded"]) - allowed == set(), (tag, sorted(set(seen["loaded"]) - allowed))
        assert set(seen["readable"]) - allowed_files == set(), (tag, sorted(set(seen["readable"]) - allowed_files))
        # the probe worked: the runtime itself is there
        assert {"handin.student", "handin.bench.rank", "handin.bench.pipeline"} <= set(seen["importable"]), tag
        assert "handin/bench/rank.py" in seen["readable"], tag
    assert r["score"] >= 2   # the run itself went on: test_double's 2 points


def test_the_view_holds_the_allowlist_only_read_only_and_per_content(tmp_path):
    view = build(tmp_path)
    files = {str(p.relative_to(view)) for p in view.rglob("*.py")}
    assert files == {rel for rel, _ in module_files()}
    assert not (view / "handin" / "judge.py").exists() and not (view / "handin" / "bench" / "harness.py").exists()
    assert all(not os.access(p, os.W_OK) or os.geteuid() == 0 for p in view.rglob("*.py"))
    assert all(p.stat().st_mode & 0o777 == 0o444 for p in view.rglob("*.py"))
    assert build(tmp_path) == view                       # the same contents: the same folder
    assert list(tmp_path.glob(".building-*")) == []


def test_no_allowlisted_file_holds_reference_code():
    """What the student can read defines no partition, schedule, GPipe step or gradient."""
    for rel, src in module_files():
        text = src.read_text()
        for name in ("def partition(", "def gpipe_step(", "def gradient_sum(", "def schedule_problems(",
                     "def partition_problems(", "def reference_descent(", "def descend("):
            assert name not in text, (rel, name)


def test_allowlisted_modules_exist():
    for rel, src in module_files():
        assert Path(src).is_file(), rel
