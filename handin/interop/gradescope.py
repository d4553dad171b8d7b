"""``handin export gradescope``: an autograder bundle that runs handin's judge on Gradescope.

For courses that must stay on Gradescope. The zip holds what Gradescope asks of an
autograder — ``setup.sh`` (run once when Gradescope builds its image) and
``run_autograder`` (run per submission) — plus handin's own code (``lib/``), the module
(``course/assignments/NAME`` and ``course/graders/NAME``, never the solution) and the
packages to install. ``run_autograder`` grades the submitted notebook with the local
sandbox, exactly as ``handin grade`` does, and copies its ``results.json`` to
``/autograder/results/``: handin's results already use Gradescope's fields (score,
execution_time, output, tests with name, score, max_score, status, output, visibility).

The hidden tests run in the judge process, not in the student's, as everywhere in handin;
on Gradescope the judge and the student share its one container, so the filesystem and
network protections are those bubblewrap gives there (the results record which held).
"""

from __future__ import annotations

import shutil
import stat
import tempfile
import zipfile
from pathlib import Path

from ..spec import ModuleSpec

PACKAGES = Path(__file__).resolve().parents[2]
REQUIREMENTS = PACKAGES / "sandbox" / "images" / "requirements.txt"
# what handin's grading core imports, beside the course packages of the sandbox image
CORE_REQUIREMENTS = ["nbformat>=5.9", "pydantic>=2.6", "jsonschema>=4.20", "jinja2>=3.1", "click>=8.1",
                     "rich>=13.0", "ipython>=8.12", "pytest>=8.0"]
TORCH = "torch==2.13.0"

SETUP = r"""#!/usr/bin/env bash
# Gradescope runs this once, as root, when it builds the autograder's image.
set -euo pipefail
cd "$(dirname "$0")"
if command -v apt-get >/dev/null 2>&1; then
    # bubblewrap isolates the student's process; without it the run says which protections are missing
    (apt-get update -qq && apt-get install -y -qq python3 python3-venv python3-pip bubblewrap) \
        || echo "apt-get failed: going on with what is installed"
fi
PY="${HANDIN_PYTHON:-python3}"
if "$PY" -c "import torch, numpy, nbformat, pydantic, jsonschema, jinja2, click, rich, IPython, pytest" 2>/dev/null; then
    echo "the packages are installed already ($PY)"
else
    "$PY" -m venv "${HANDIN_VENV:-/autograder/venv}"
    PY="${HANDIN_VENV:-/autograder/venv}/bin/python"
    "$PY" -m pip install --quiet --upgrade pip
    "$PY" -m pip install --quiet "@@TORCH@@" --index-url https://download.pytorch.org/whl/cpu
    "$PY" -m pip install --quiet -r requirements.txt
fi
echo "$PY" > python-path
"""

RUN = r"""#!/usr/bin/env bash
# Gradescope runs this for every submission: grade it with handin, write results.json.
set -uo pipefail
ROOT="${HANDIN_AUTOGRADER_ROOT:-/autograder}"
SRC="$ROOT/source"
PY="$(cat "$SRC/python-path" 2>/dev/null || echo python3)"
OUT="$(mktemp -d)"
mkdir -p "$ROOT/results"
export PYTHONPATH="$SRC/lib"
"$PY" -m handin.interop.gradescope_run "$SRC/course/assignments/@@MODULE@@" "$ROOT/submission" \
    "$OUT" "$ROOT/results/results.json"
"""


class ExportError(Exception):
    pass


def export_gradescope(spec: ModuleSpec, out_dir: Path) -> Path:
    """Write ``<out_dir>/<module>-gradescope.zip`` and return its path."""
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / f"{spec.name}-gradescope.zip"
    with tempfile.TemporaryDirectory(prefix="handin-gradescope-") as tmp:
        root = Path(tmp)
        for package in ("handin", "sandbox"):
            shutil.copytree(PACKAGES / package, root / "lib" / package,
                            ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        shutil.copytree(spec.paths.assignment_dir, root / "course" / "assignments" / spec.name,
                        ignore=shutil.ignore_patterns("__pycache__"))
        shutil.copytree(spec.paths.grader_dir, root / "course" / "graders" / spec.name,
                        ignore=shutil.ignore_patterns("__pycache__", "build_notebooks.py", "make_data.py"))
        course_packages = [ln.strip() for ln in REQUIREMENTS.read_text().splitlines()
                           if ln.strip() and not ln.startswith("#")]
        (root / "requirements.txt").write_text("\n".join(dict.fromkeys(course_packages + CORE_REQUIREMENTS)) + "\n")
        _script(root / "setup.sh", SETUP.replace("@@TORCH@@", TORCH))
        _script(root / "run_autograder", RUN.replace("@@MODULE@@", spec.name))
        leaked = [p for p in root.rglob("*") if p.name in ("solution.ipynb",) or "solutions" in p.parts]
        if leaked:
            raise ExportError(f"refusing to ship solution files: {leaked[0]}")
        with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as zf:
            for p in sorted(root.rglob("*")):
                if p.is_file():
                    info = zipfile.ZipInfo(str(p.relative_to(root)), date_time=(1980, 1, 1, 0, 0, 0))
                    info.external_attr = (p.stat().st_mode & 0o777) << 16
                    info.compress_type = zipfile.ZIP_DEFLATED
                    zf.writestr(info, p.read_bytes())
    return target


def _script(path: Path, text: str) -> None:
    path.write_text(text)
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
