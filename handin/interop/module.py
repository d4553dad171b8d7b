"""Write an imported assignment as a handin module: starter, reference, hidden and public tests.

Both importers (otter-grader, nbgrader) reduce their format to the same pieces: a starter
notebook, a reference notebook, the support files the notebook reads, the import lines
of the teacher's notebook, and a list of :class:`Case` (code, points, hidden or not). This
module writes those pieces out as ``assignments/NAME``, ``solutions/NAME`` and
``graders/NAME``, in the layout every other module has, so that ``handin validate``,
``release``, ``grade`` and the web platform treat it like any other.
"""

from __future__ import annotations

import ast
import dataclasses
import inspect
import json
import re
import shutil
from pathlib import Path

import nbformat

from . import cases as cases_runtime

PUBLIC_FILE = "test_public.py"
HIDDEN_FILE = "test_hidden.py"
STARTER_NAME = "starter.ipynb"
_RUNNERS = {"doctest": "run_doctest", "source": "run_source", "function": "run_function"}


class ImportError_(Exception):
    """The source cannot be imported; the message says why (one line for the CLI)."""


@dataclasses.dataclass(frozen=True)
class Case:
    """One gradeable test case of the source assignment."""

    test: str          # the pytest function name it becomes (test_…)
    title: str         # what the report shows
    kind: str          # doctest | source | function (handin.interop.cases runners)
    code: str
    points: float
    hidden: bool


@dataclasses.dataclass
class Imported:
    module: str
    title: str
    course: str
    source_format: str           # "otter-grader" | "nbgrader"
    source: Path
    starter: nbformat.NotebookNode
    solution: nbformat.NotebookNode
    cases: list[Case]
    imports: str = ""
    files: list[tuple[str, bytes]] = dataclasses.field(default_factory=list)  # (path as the notebook opens it, content)
    notes: list[str] = dataclasses.field(default_factory=list)   # what the import left out, for the teacher


@dataclasses.dataclass(frozen=True)
class Written:
    assignment_dir: Path
    solution: Path
    grader_dir: Path
    points: float
    public: int
    hidden: int


def notebook_imports(nb: nbformat.NotebookNode) -> str:
    """The top-level import statements of a notebook's code cells, in order, one per line."""
    lines: list[str] = []
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        try:
            tree = ast.parse(_python_only(cell.source))
        except SyntaxError:
            continue
        for node in tree.body:
            if isinstance(node, (ast.Import, ast.ImportFrom)) and not (isinstance(node, ast.ImportFrom) and node.level):
                line = ast.unparse(node)
                if line not in lines:
                    lines.append(line)
    return "\n".join(lines)


def notebook_title(nb: nbformat.NotebookNode) -> str:
    """The first Markdown heading of a notebook ('' when it has none)."""
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            for line in cell.source.splitlines():
                if line.startswith("#"):
                    return line.lstrip("#").strip()[:200]
    return ""


def _python_only(source: str) -> str:
    return "\n".join("" if ln.lstrip().startswith(("!", "%")) else ln for ln in source.splitlines())


def without_outputs(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    nb = nbformat.from_dict(json.loads(json.dumps(nb)))
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
    nbformat.validate(nb)
    return nb


def test_name(*parts: str) -> str:
    """A pytest function name from a question/cell name: test_q1_2, test_correct_squares."""
    name = "_".join(re.sub(r"\W+", "_", p).strip("_").lower() for p in parts if p)
    return "test_" + (name or "case")


MAX_FILES_BYTES = 100 * 2**20


def support_files(folder: Path, *, skip) -> list[tuple[str, bytes]]:
    """The files beside a source notebook (recursively), as the notebook opens them."""
    found = [p for p in sorted(folder.rglob("*")) if p.is_file() and not skip(p.relative_to(folder))]
    total = sum(p.stat().st_size for p in found)
    if total > MAX_FILES_BYTES:
        raise ImportError_(f"{folder}: {total / 2**20:.0f} MiB of files beside the notebook (at most "
                           f"{MAX_FILES_BYTES // 2**20} MiB): move the notebook to a folder of its own")
    return [(str(p.relative_to(folder)), p.read_bytes()) for p in found]


def write_module(imp: Imported, root: Path, *, force: bool = False) -> Written:
    """Write the module under ``root`` (the course repository: assignments/, solutions/, graders/)."""
    if not re.fullmatch(r"[a-z0-9][a-z0-9._-]{0,63}", imp.module):
        raise ImportError_(f"module name {imp.module!r}: use lower-case letters, digits, '-', '_' or '.'")
    if not imp.cases:
        raise ImportError_(f"{imp.source}: no autograded tests found")
    names = [c.test for c in imp.cases]
    if len(set(names)) != len(names):
        raise ImportError_(f"{imp.source}: two tests would have the same name: "
                           + ", ".join(sorted({n for n in names if names.count(n) > 1})))
    a, s, g = (root / part / imp.module for part in ("assignments", "solutions", "graders"))
    existing = [p for p in (a, s, g) if p.exists()]
    if existing and not force:
        raise ImportError_(f"{existing[0]} already exists (use --force to replace the module)")
    for p in existing:
        shutil.rmtree(p)
    for p in (a, s, g):
        p.mkdir(parents=True)

    data = []
    for rel, content in imp.files:
        target = a / rel
        if a.resolve() not in target.resolve().parents:
            raise ImportError_(f"support file {rel!r} is outside the assignment folder")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content)
        data.append(rel)

    nbformat.write(without_outputs(imp.starter), a / STARTER_NAME)
    nbformat.write(without_outputs(imp.solution), s / "solution.ipynb")
    public = [c for c in imp.cases if not c.hidden]
    hidden = [c for c in imp.cases if c.hidden]
    (g / PUBLIC_FILE).write_text(_test_file(imp, public, embed_runtime=True))
    if hidden:
        (g / HIDDEN_FILE).write_text(_test_file(imp, hidden, embed_runtime=False))
    (a / "assignment.toml").write_text(_toml(imp, data))
    return Written(a, s / "solution.ipynb", g, sum(c.points for c in imp.cases), len(public), len(hidden))


def _toml(imp: Imported, data: list[str]) -> str:
    points = "\n".join(f'"{c.test}" = {c.points!r}' for c in imp.cases)
    data_line = "data = [" + ", ".join(json.dumps(d) for d in data) + "]\n" if data else ""
    return f"""# {imp.module}: imported from {imp.source.name} ({imp.source_format}) by `handin import`.
# Re-import to pick up changes to the source; edit freely otherwise (it is a module like any other).

[assignment]
title = {json.dumps(imp.title)}
course = {json.dumps(imp.course or f"Imported from {imp.source_format}")}
module = "{imp.module}"
starter = "{STARTER_NAME}"
{data_line}
[grading]
scale = "points"
public_tests = ["{PUBLIC_FILE}"]
hidden_visibility = "after_published"
seed = 0

[points]
# one test per test case of the source, with the source's points
{points}

[resources]
cpus = 1
memory = "2GiB"
gpus = 0
wall_time = "120s"
notebook_time = "60s"
call_time = "20s"
"""


def _test_file(imp: Imported, cases: list[Case], *, embed_runtime: bool) -> str:
    which = "public (shipped with the starter)" if embed_runtime else "hidden (never shipped)"
    head = [f'"""Tests imported from {imp.source.name} ({imp.source_format}): {which}.',
            "",
            "Each test runs one test case of the source in the judge, the student's names looked",
            'up through the student proxy (handin.interop.cases). Written by `handin import`."""',
            "", "import pytest", ""]
    if embed_runtime:
        # students run the public tests without handin: they carry the runner with them
        runtime = inspect.getsource(cases_runtime)
        body = runtime.split('"""', 2)[2].lstrip("\n")
        body = body.replace("from __future__ import annotations\n", "")
        head += ["# ---- handin.interop.cases, copied (stdlib only) " + "-" * 30, body.rstrip(), "# " + "-" * 78, ""]
    else:
        head += ["from handin.interop.cases import CaseFailed, run_doctest, run_function, run_source", ""]
    head += [f"IMPORTS = {imp.imports!r}", "", "",
             "def _run(runner, student, code):",
             "    try:",
             "        runner(student, code, IMPORTS)",
             "    except CaseFailed as exc:",
             "        pytest.fail(str(exc), pytrace=False)", ""]
    for c in cases:
        head += ["", f"def {c.test}(student):", f'    """{_docstring(c.title)}"""',
                 f"    _run({_RUNNERS[c.kind]}, student, {c.code!r})", ""]
    return "\n".join(head).rstrip() + "\n"


def _docstring(text: str) -> str:
    return " ".join(text.split()).replace("\\", "\\\\").replace('"""', "'''")
