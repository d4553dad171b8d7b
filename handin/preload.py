"""What a module's own files import: the libraries a run's prepared interpreters load ahead.

The local sandbox forks each run's student and judge from zygotes that have already imported
(sandbox.zygote). Which libraries: the harness's own, plus those the module's files name. The
student's side reads only the starter notebook (public: a student's zygote holding what the
hidden tests import would tell students what the hidden tests use); the judge's side reads the
grader folder's Python files. Submissions never choose: a zygote imports as root, outside any
sandbox. Only libraries of this Python count (site-packages, the standard library, handin), never a
file of the module (a grader's helper).
"""

from __future__ import annotations

import ast
import functools
import json
from pathlib import Path

from .pyparse import parse

NOT_GRADING = {"build_notebooks.py", "make_data.py"}  # authoring scripts in a grader folder

# What each role's interpreter imports whatever the module: the harness and its heaviest imports.
HARNESS = {"student": ("IPython.core.interactiveshell", "handin.student"),
           "judge": ("pytest", "handin.judge")}


def for_role(role: str, request) -> tuple[str, ...]:
    """What a prepared interpreter for ``role`` of this run imports ahead."""
    return HARNESS[role] + (request.student_imports if role == "student" else request.judge_imports)


def shared(request) -> list[str]:
    """What one interpreter may import ahead for both roles: the student's harness, the judge's
    libraries (not handin.judge: the student's view of the platform does not hold it, see
    sandbox.student_view) and the starter's imports that the graders use too, never a name only
    the graders import."""
    both = set(request.student_imports) & set(request.judge_imports)
    judge_libraries = [name for name in HARNESS["judge"] if name.split(".")[0] != "handin"]
    return [*HARNESS["student"], *judge_libraries, *sorted(both)]


def imported_names(source: str) -> set[str]:
    """Absolute module names imported anywhere in ``source`` (``a.b`` for ``from a.b import c``)."""
    try:
        tree = parse(source)
    except (SyntaxError, ValueError, RecursionError):
        return set()
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
    return names


@functools.cache
def _importable(top: str) -> bool:
    """Whether ``top`` is a library of this Python (site-packages or the standard library)."""
    import importlib.util
    import sys
    try:
        found = importlib.util.find_spec(top)
    except (ImportError, ValueError):
        return False
    origin = found.origin if found is not None else None
    if found is None or (origin is None and not found.submodule_search_locations):
        return False
    where = origin or next(iter(found.submodule_search_locations))
    return where in ("built-in", "frozen") or where.startswith((sys.prefix, sys.base_prefix)) \
        or "site-packages" in where or top == "handin"


def installed(names: set[str]) -> tuple[str, ...]:
    return tuple(sorted(n for n in names if n != "__future__" and _importable(n.split(".", 1)[0])))


def _cell_source(cell_source: str) -> str:
    # IPython lines (%magic, !shell) are not Python: drop them before parsing.
    return "\n".join(line for line in cell_source.splitlines() if not line.lstrip().startswith(("%", "!")))


@functools.lru_cache(maxsize=64)
def _module_imports(starter: Path, grader_dir: Path, stamp: tuple) -> tuple[tuple[str, ...], tuple[str, ...]]:
    student: set[str] = set()
    try:
        cells = json.loads(starter.read_text(encoding="utf-8")).get("cells", [])
        for cell in cells:
            if cell.get("cell_type") == "code":
                src = cell.get("source", "")
                student |= imported_names(_cell_source("".join(src) if isinstance(src, list) else src))
    except (OSError, ValueError, AttributeError, TypeError):
        pass
    judge: set[str] = set()
    for path in sorted(grader_dir.rglob("*.py")):
        if path.name not in NOT_GRADING:
            try:
                judge |= imported_names(path.read_text(encoding="utf-8"))
            except (OSError, UnicodeDecodeError):
                pass
    return installed(student), installed(judge)


def module_imports(starter: Path, grader_dir: Path) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(student, judge): the installed libraries the starter and the grader files import."""
    files = [starter, *sorted(grader_dir.rglob("*.py"))]
    stamp = tuple((str(p), p.stat().st_mtime_ns) for p in files if p.exists())
    return _module_imports(starter, grader_dir, stamp)
