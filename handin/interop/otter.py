"""``handin import otter``: an otter-grader source notebook becomes a handin module.

otter-grader does the parsing: ``otter assign`` (its own code, run in this process) turns
the source notebook — ``# ASSIGNMENT CONFIG``, ``# BEGIN QUESTION`` with points, solution
blocks and ``# SOLUTION`` lines, ``# BEGIN/END TESTS`` with ``# HIDDEN`` cells — into a
student notebook, an autograder notebook and test files, and otter's test-file classes
read the test cases with their resolved points and hidden flags. This module only maps
those onto handin's layout: the student notebook is the starter, the autograder notebook
the reference, public cases go to the shipped tests and hidden ones stay in the grader.
The cells otter adds for its own client (``grader = otter.Notebook()``,
``grader.check("q1")``, the export cell) are left out: handin grades the notebook as it is.
"""

from __future__ import annotations

import ast
import contextlib
import inspect
import io
import logging
import tempfile
from pathlib import Path

import nbformat

from .module import Case, Imported, ImportError_, notebook_imports, notebook_title, test_name

NEEDS = "otter-grader 7 (pip install 'handin[interop]')"


def _otter():
    try:
        import otter.assign  # noqa: F401
        from otter.nbmeta_config import NBMetadataConfig
        from otter.test_files import OKTestFile, create_test_file
    except ImportError as exc:  # pragma: no cover - the interop extra is part of the test install
        raise ImportError_(f"`handin import otter` needs {NEEDS}: {exc}") from None
    return otter.assign, NBMetadataConfig, create_test_file, OKTestFile


def import_otter(source: Path, *, module: str, title: str | None = None, course: str = "") -> Imported:
    assign, NBMetadataConfig, create_test_file, OKTestFile = _otter()
    source = Path(source).resolve()
    if not source.is_file() or source.suffix != ".ipynb":
        raise ImportError_(f"{source}: not a notebook file (.ipynb)")
    with tempfile.TemporaryDirectory(prefix="handin-otter-") as tmp:
        dist = Path(tmp) / "dist"
        log = io.StringIO()
        handler = logging.StreamHandler(log)
        otter_log = logging.getLogger("otter")
        otter_log.addHandler(handler)
        try:
            with contextlib.redirect_stdout(log), contextlib.redirect_stderr(log):
                assign.main(str(source), str(dist), no_pdfs=True, no_run_tests=True)
        except Exception as exc:  # otter's own message says what is wrong with the source
            raise ImportError_(f"otter assign rejected {source.name}: {type(exc).__name__}: {exc}") from None
        finally:
            otter_log.removeHandler(handler)
        autograder = dist / "autograder" / source.name
        student = dist / "student" / source.name
        if not autograder.is_file() or not student.is_file():
            raise ImportError_(f"otter assign wrote no notebooks for {source.name}:\n{log.getvalue()[-2000:]}")
        solution_nb = nbformat.read(autograder, as_version=4)
        starter_nb = nbformat.read(student, as_version=4)
        cases = _cases(autograder, solution_nb, dist / "autograder" / "tests", NBMetadataConfig, create_test_file,
                       OKTestFile)
        shipped = dist / "student"
        files = [(str(p.relative_to(shipped)), p.read_bytes()) for p in sorted(shipped.rglob("*"))
                 if p.is_file() and p != student and p.relative_to(shipped).parts[0] != "tests"]
    config_name = (solution_nb.metadata.get("otter") or {}).get("assignment_name") or source.stem
    for nb in (solution_nb, starter_nb):
        nb.cells = [c for c in nb.cells if not _otter_client_cell(c)]
        nb.metadata.pop("otter", None)
    return Imported(module=module, title=title or notebook_title(solution_nb) or str(config_name), course=course, source_format="otter-grader",
                    source=source, starter=starter_nb, solution=solution_nb, cases=cases,
                    imports=notebook_imports(solution_nb), files=files)


def _cases(autograder: Path, nb, tests_dir: Path, NBMetadataConfig, create_test_file, OKTestFile) -> list[Case]:
    """Every test case otter found, with otter's resolved points and hidden flags."""
    config = NBMetadataConfig.from_notebook(nb)
    if tests_dir.is_dir() and any(tests_dir.glob("*.py")):
        files = [create_test_file(str(p), config) for p in sorted(tests_dir.glob("*.py"))]
    else:
        names = list(((nb.metadata.get("otter") or {}).get("tests") or {}))
        files = [create_test_file(str(autograder), config, test_name=n) for n in names]
    cases = []
    for tf in files:
        n = len(tf.test_cases)
        for i, tc in enumerate(tf.test_cases, 1):
            ok = isinstance(tf, OKTestFile) or isinstance(tc.body, str) and ">>>" in tc.body
            code = tc.body if isinstance(tc.body, str) else inspect.getsource(getattr(tc.body, "test_func", tc.body))
            kind = "doctest" if ok else ("function" if _defines_function(code) else "source")
            where = f"{'hidden ' if tc.hidden else ''}test {i} of {n}" if n > 1 else ("hidden test" if tc.hidden else "test")
            cases.append(Case(test=test_name(tf.name, str(i)) if n > 1 else test_name(tf.name),
                              title=f"Question {tf.name}: {where}", kind=kind, code=code,
                              points=float(tc.points or 0.0), hidden=bool(tc.hidden)))
    return cases


def _defines_function(code: str) -> bool:
    try:
        return any(isinstance(n, ast.FunctionDef) for n in ast.parse(code).body)
    except SyntaxError:
        return False


def _otter_client_cell(cell) -> bool:
    """A code cell of otter's own client: ``import otter``, ``grader = otter.Notebook(...)``,
    ``grader.check(...)``, ``grader.check_all()``, ``grader.export(...)``."""
    if cell.cell_type != "code":
        return False
    try:
        body = ast.parse(cell.source).body
    except SyntaxError:
        return False
    if not body:
        return False

    def client(node) -> bool:
        if isinstance(node, ast.Import):
            return all(a.name.split(".")[0] == "otter" for a in node.names)
        if isinstance(node, ast.Assign):
            return any(isinstance(n, ast.Name) and n.id == "otter" for n in ast.walk(node.value))
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Call):
            f = node.value.func
            return isinstance(f, ast.Attribute) and isinstance(f.value, ast.Name) and f.value.id == "grader"
        return False
    return all(client(n) for n in body)
