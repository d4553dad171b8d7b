"""The student bundle: starter notebook, its public data, the public tests — nothing hidden.

``handin release`` writes ``<out>/<module>/`` and ``<out>/<module>.zip``. The
public tests come with a small ``conftest.py`` so students can run them with
plain ``pytest`` against their own notebook. Before writing, the bundle is
checked: no hidden test, no reference module, no solution file may be in it.
"""

from __future__ import annotations

import ast
import hashlib
import json
import shutil
import zipfile
from pathlib import Path

from .pyparse import parse
from .spec import ModuleSpec

TEMPLATES = Path(__file__).parent / "templates"


class ReleaseError(Exception):
    pass


def strip_outputs(notebook_path: Path) -> str:
    nb = json.loads(notebook_path.read_text(encoding="utf-8"))
    for cell in nb.get("cells", []):
        if cell.get("cell_type") == "code":
            cell["outputs"] = []
            cell["execution_count"] = None
    return json.dumps(nb, indent=1, ensure_ascii=False) + "\n"


def check_public_tests(spec: ModuleSpec) -> list[str]:
    """Problems that would make the public tests leak hidden material or break in the bundle."""
    grader = spec.paths.grader_dir
    local_modules = {p.stem for p in grader.glob("*.py")} - {Path(f).stem for f in spec.grading.public_tests}
    problems = []
    for f in spec.grading.public_tests:
        path = grader / f
        try:
            tree = parse(path.read_text(encoding="utf-8"), filename=str(path))
        except FileNotFoundError:
            problems.append(f"{path}: listed in [grading] public_tests but does not exist")
            continue
        except (OSError, UnicodeDecodeError, SyntaxError, ValueError) as exc:
            problems.append(f"{path}: cannot be read as Python: {type(exc).__name__}: {exc}")
            continue
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name.split(".")[0] for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module.split(".")[0]]
            for name in names:
                if name in local_modules:
                    problems.append(f"{path}: imports {name!r} from the hidden grader directory; "
                                    "public tests must stand alone")
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and "heldout" in node.value:
                problems.append(f"{path}: mentions held-out data ({node.value!r})")
    return problems


def release(spec: ModuleSpec, out: Path) -> Path:
    """Write the bundle and its zip; every problem is a :class:`ReleaseError` (nothing is left behind)."""
    problems = check_public_tests(spec)
    if problems:
        raise ReleaseError("\n".join(problems))
    bundle = out / spec.name
    try:
        if bundle.exists():
            shutil.rmtree(bundle)
        bundle.mkdir(parents=True)
        _write_bundle(spec, bundle)
        _check_bundle(spec, bundle)
        archive = out / f"{spec.name}.zip"
        with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
            for p in sorted(bundle.rglob("*")):
                if p.is_file():
                    zf.write(p, Path(spec.name) / p.relative_to(bundle))
    except ReleaseError:
        shutil.rmtree(bundle, ignore_errors=True)
        raise
    except (OSError, ValueError) as exc:  # a missing starter or data path, a notebook that is not JSON, …
        shutil.rmtree(bundle, ignore_errors=True)
        what = f"{exc.filename}: {exc.strerror}" if isinstance(exc, OSError) and exc.filename else str(exc)
        raise ReleaseError(f"cannot write the bundle in {bundle}: {what}") from exc
    return bundle


def _write_bundle(spec: ModuleSpec, bundle: Path) -> None:
    if not spec.starter.is_file():
        raise ReleaseError(f"{spec.starter}: the starter notebook ([assignment] starter) does not exist")
    try:
        starter = strip_outputs(spec.starter)
    except (ValueError, AttributeError, TypeError) as exc:
        raise ReleaseError(f"{spec.starter}: the starter is not a notebook (JSON with cells): {exc}") from exc
    (bundle / spec.assignment.starter).write_text(starter, encoding="utf-8")
    for rel in spec.assignment.data:
        src = spec.paths.assignment_dir / rel
        if not src.exists():
            raise ReleaseError(f"{src}: listed in [assignment] data but does not exist")
        dst = bundle / rel
        dst.parent.mkdir(parents=True, exist_ok=True)
        (shutil.copytree if src.is_dir() else shutil.copy2)(src, dst)
    if spec.grading.public_tests:
        tests = bundle / "tests"
        tests.mkdir()
        for f in spec.grading.public_tests:
            shutil.copy2(spec.paths.grader_dir / f, tests / f)
        conftest = (TEMPLATES / "student_conftest.py").read_text()
        (tests / "conftest.py").write_text(conftest.replace("@@NOTEBOOK@@", spec.assignment.starter)
                                           .replace("@@ON_CELL_ERROR@@", spec.grading.on_cell_error))
    (bundle / "README.md").write_text(_readme(spec))


def bundle_leaks(spec: ModuleSpec, bundle: Path) -> list[str]:
    """Files of ``bundle`` equal, byte for byte, to a hidden grader file or a solution file."""
    public = {spec.paths.grader_dir / f for f in spec.grading.public_tests}
    secret = [p for p in spec.paths.grader_dir.rglob("*") if p.is_file() and p not in public]
    secret += [p for p in spec.paths.solution_dir.rglob("*") if p.is_file()]
    secret = [p for p in secret if p.stat().st_size > 0]  # an empty file holds no secret
    secret_hashes = {_sha(p): p for p in secret}
    leaks = []
    for p in sorted(bundle.rglob("*")):
        if not p.is_file():
            continue
        hidden = secret_hashes.get(_sha(p))
        if hidden is None:
            continue
        hint = "hidden tests and solutions never go into a release"
        if spec.paths.grader_dir in hidden.parents and _is_public_data(spec, bundle, p):
            hint = ("it is a copy of the module's public data: remove it from the grader folder; "
                    "hidden tests read public data through the `public_data` fixture")
        leaks.append(f"{hidden} would be shipped as {p.relative_to(bundle)}; {hint}")
    return leaks


def _is_public_data(spec: ModuleSpec, bundle: Path, shipped: Path) -> bool:
    rel = shipped.relative_to(bundle)
    return any(rel == Path(d) or Path(d) in rel.parents for d in spec.assignment.data)


def _check_bundle(spec: ModuleSpec, bundle: Path) -> None:
    """Refuse a bundle that contains any hidden grader file or solution file, byte for byte."""
    leaks = bundle_leaks(spec, bundle)
    if leaks:
        raise ReleaseError("\n".join(leaks))


def _sha(p: Path) -> str:
    return hashlib.sha256(p.read_bytes()).hexdigest()


def _readme(spec: ModuleSpec) -> str:
    a = spec.assignment
    due = spec.deadline.due.isoformat() if spec.deadline.due else "see the course page"
    lines = [f"# {a.title}", "", f"{a.course} — module `{a.module}`", "", a.description.strip(), "",
             f"Work in `{a.starter}` and hand in that notebook. Deadline: {due}.", ""]
    if spec.grading.public_tests:
        lines += ["Check your work with the public tests (a few of the grader's tests; most are hidden):",
                  "", "    python -m pip install pytest numpy", "    python -m pytest tests", "",
                  "Set HANDIN_NOTEBOOK=path/to/your.ipynb to test another copy of the notebook.", ""]
    lines += ["Your notebook is run top to bottom in a fresh sandbox without network access;",
              "`!` shell commands and `%pip` are not run there. Load data from the `data/` folder",
              "with relative paths, as the starter does.",
              ("A cell that raises an error stops the run there: the cells after it do not run."
               if spec.grading.on_cell_error == "stop" else
               "A cell that raises an error is reported, and the cells after it still run.")]
    return "\n".join(lines) + "\n"
