"""``handin import nbgrader``: an nbgrader source notebook becomes a handin module.

nbgrader does the parsing: its cell-metadata helpers (``nbgrader.utils``) tell solution,
autograder-test and manually graded cells apart and give each test cell's points and
``grade_id``, and its own preprocessors make the starter exactly as ``nbgrader
generate_assignment`` would (``ClearSolutions`` replaces ``### BEGIN/END SOLUTION`` regions
with its stub, ``ClearHiddenTests`` removes ``### BEGIN/END HIDDEN TESTS`` regions,
``ClearOutput`` the outputs). Each autograder test cell becomes one handin test with the
cell's points, run in the judge against the student proxy: a cell with hidden tests is a
hidden test (its visible part stays in the starter, as in nbgrader), a cell without is a
public one. Manually graded cells have no place in an autograder and are reported.
"""

from __future__ import annotations

import copy
import re
from pathlib import Path

import nbformat

from .module import Case, Imported, ImportError_, notebook_imports, notebook_title, support_files, test_name

NEEDS = "nbgrader 0.9 (pip install 'handin[interop]')"
_MARKER = re.compile(r"^\s*#+\s*(BEGIN|END)\s+(SOLUTION|HIDDEN TESTS)\s*$", re.IGNORECASE)


def _nbgrader():
    try:
        from nbgrader import utils
        from nbgrader.preprocessors import ClearHiddenTests, ClearOutput, ClearSolutions
    except ImportError as exc:  # pragma: no cover - the interop extra is part of the test install
        raise ImportError_(f"`handin import nbgrader` needs {NEEDS}: {exc}") from None
    return utils, (ClearSolutions, ClearHiddenTests, ClearOutput)


def import_nbgrader(source: Path, *, module: str, title: str | None = None, course: str = "") -> Imported:
    utils, preprocessors = _nbgrader()
    source = Path(source).resolve()
    if not source.is_file() or source.suffix != ".ipynb":
        raise ImportError_(f"{source}: not a notebook file (.ipynb)")
    try:
        nb = nbformat.read(source, as_version=4)
    except Exception as exc:  # noqa: BLE001 - nbformat raises several kinds
        raise ImportError_(f"{source}: not a readable notebook: {exc}") from None

    cases, manual = [], []
    for cell in nb.cells:
        if not utils.is_grade(cell):
            continue
        grade_id = cell.metadata["nbgrader"].get("grade_id") or f"cell{len(cases) + 1}"
        points = float(cell.metadata["nbgrader"].get("points") or 0.0)
        if utils.is_solution(cell) or cell.cell_type != "code":
            manual.append(f"{grade_id} ({points:g} points)")
            continue
        hidden = any(_MARKER.match(ln) and "HIDDEN" in ln.upper() for ln in cell.source.splitlines())
        cases.append(Case(test=test_name(grade_id), title=_title(grade_id, cell.source, hidden), kind="source",
                          code=_unmarked(cell.source), points=points, hidden=hidden))

    starter = copy.deepcopy(nb)
    resources = {}
    try:
        for pp in preprocessors:
            starter, resources = pp().preprocess(starter, resources)
    except Exception as exc:  # noqa: BLE001 - nbgrader's message says which cell is wrong
        raise ImportError_(f"nbgrader could not make the student version of {source.name}: {exc}") from None
    solution = copy.deepcopy(nb)
    for cell in solution.cells:
        if cell.cell_type == "code":
            cell.source = _unmarked(cell.source)
    for version in (starter, solution):
        version.metadata.pop("celltoolbar", None)
    files = support_files(source.parent, skip=_ignored)
    notes = [f"manually graded cell {m} left out: grade it by hand (a TA override)" for m in manual]
    return Imported(module=module, title=title or notebook_title(nb) or source.stem.replace("_", " ").capitalize(),
                   course=course, source_format="nbgrader", source=source, starter=starter, solution=solution,
                   cases=cases, imports=notebook_imports(solution), files=files, notes=notes)


def _unmarked(source: str) -> str:
    """The cell without nbgrader's region markers (the code between them stays)."""
    return "\n".join(ln for ln in source.splitlines() if not _MARKER.match(ln))


def _title(grade_id: str, source: str, hidden: bool) -> str:
    first = next((ln.strip().lstrip("#").strip() for ln in source.splitlines() if ln.strip()), "")
    if first and source.lstrip().startswith("#") and not _MARKER.match(first) and "HIDDEN" not in first.upper():
        return first
    return f"Test cell {grade_id}{' (with hidden tests)' if hidden else ''}"


def _ignored(rel: Path) -> bool:
    return any(part.startswith(".") or part in ("__pycache__", "autograded", "feedback", "release", "submitted")
               for part in rel.parts) or rel.suffix == ".ipynb"
