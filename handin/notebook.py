"""Intake: turn an uploaded file into the code cells a sandbox runs, or say why not."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .units import format_size

SAFE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")


class IntakeError(Exception):
    """The file cannot be graded; the message tells the student what to fix."""


@dataclass(frozen=True)
class Notebook:
    code_cells: tuple[str, ...]
    n_cells: int
    sha256: str
    size: int


def submission_id(filename: str) -> str:
    """A name safe to use as a directory, derived from an uploaded file name.

    Path parts, ``..`` and odd characters never reach the file system: the
    stem is reduced to ``[A-Za-z0-9._-]`` and, when anything had to change,
    suffixed with a short hash of the original so two names cannot collide.
    """
    stem = filename.replace("\\", "/").rsplit("/", 1)[-1]
    if stem.endswith(".ipynb"):
        stem = stem[: -len(".ipynb")]
    clean = re.sub(r"[^A-Za-z0-9._-]+", "_", stem).strip("._-")[:80]
    if clean and SAFE_ID.match(clean) and clean == stem and ".." not in clean:
        return clean
    digest = hashlib.sha256(filename.encode("utf-8", "surrogateescape")).hexdigest()[:8]
    return f"{clean.replace('..', '_') or 'submission'}-{digest}"


def read_notebook_file(path: Path, *, max_bytes: int, max_cells: int) -> Notebook:
    """Check a file on disk; reads at most ``max_bytes + 1`` bytes of it."""
    if path.suffix != ".ipynb":
        raise IntakeError(f"not a notebook: expected a .ipynb file, got {path.name!r}")
    try:
        size = path.stat().st_size
        if size > max_bytes:
            raise IntakeError(_too_large(size, max_bytes))
        with path.open("rb") as fh:
            data = fh.read(max_bytes + 1)
    except OSError as exc:
        raise IntakeError(f"cannot read the file: {exc.strerror or exc}") from None
    return parse_notebook(data, max_bytes=max_bytes, max_cells=max_cells)


def parse_notebook(data: bytes, *, max_bytes: int, max_cells: int) -> Notebook:
    if len(data) > max_bytes:
        raise IntakeError(_too_large(len(data), max_bytes))
    if not data.strip():
        raise IntakeError("the file is empty")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise IntakeError("not a notebook: the file is not UTF-8 text") from None
    try:
        nb = json.loads(text)
    except json.JSONDecodeError as exc:
        raise IntakeError(f"not a notebook: the file is not JSON ({exc.msg} at line {exc.lineno}, "
                          f"column {exc.colno})") from None
    except RecursionError:
        raise IntakeError("not a notebook: the JSON is nested too deeply") from None
    if not isinstance(nb, dict):
        raise IntakeError("not a notebook: the JSON is not an object with cells")
    version = nb.get("nbformat")
    if "worksheets" in nb or (isinstance(version, int) and version < 4):
        raise IntakeError(f"this is an nbformat {version or 3} notebook; open it in Jupyter and save it "
                          "again (File → Save) to convert it to version 4")
    if version != 4:
        raise IntakeError("not a notebook: missing or unknown 'nbformat' (expected 4)")
    cells = nb.get("cells")
    if not isinstance(cells, list):
        raise IntakeError("not a notebook: 'cells' is missing or not a list")
    if len(cells) > max_cells:
        raise IntakeError(f"the notebook has {len(cells)} cells; the limit is {max_cells}")
    code = []
    for i, cell in enumerate(cells, start=1):   # counted from 1, as a reader counts Jupyter's cells
        if not isinstance(cell, dict) or cell.get("cell_type") not in ("code", "markdown", "raw"):
            raise IntakeError(f"not a notebook: cell {i} has no valid cell_type")
        source = cell.get("source", "")
        if isinstance(source, list) and all(isinstance(s, str) for s in source):
            source = "".join(source)
        if not isinstance(source, str):
            raise IntakeError(f"not a notebook: cell {i} has a source that is not text")
        if cell["cell_type"] == "code":
            code.append(source)
    if not any(s.strip() for s in code):
        raise IntakeError("the notebook has no code in it: hand in the notebook you worked in")
    return Notebook(code_cells=tuple(code), n_cells=len(cells),
                    sha256=hashlib.sha256(data).hexdigest(), size=len(data))


def _too_large(size: int, limit: int) -> str:
    return (f"the notebook is {format_size(size)}; the limit is {format_size(limit)} "
            "(clear all outputs — Edit → Clear All Outputs — and save again)")


# ---------------------------------------------------------------- the run's notebook summary

def code_cell(index: int) -> str:
    """How a person names a code cell: counted from 1 in the order the notebook shows them.

    Results keep ``cell_index`` counted from 0 (it indexes the code cells); every sentence a
    student or TA reads goes through here.
    """
    return f"code cell {index + 1}"


MAX_CELL_ERRORS = 1000  # cell errors a summary lists (intake's default cell cap); the rest are only counted


def cell_errors(summary: Any) -> list[dict]:
    """The cell errors of the student process's notebook summary, as plain bounded fields.

    The summary comes from the process that runs student code, so nothing in it is trusted:
    every entry is rebuilt here. An older summary with only ``error`` gives that one.
    """
    if not isinstance(summary, dict):
        return []
    raw = summary.get("errors")
    if not isinstance(raw, list):
        raw = [summary["error"]] if isinstance(summary.get("error"), dict) else []
    out = []
    for e in raw[:MAX_CELL_ERRORS + 1]:  # + the timeout that ends a run
        if isinstance(e, dict):
            index = e.get("cell_index")
            out.append({"cell_index": index if type(index) is int and index >= 0 else None,
                        "ename": str(e.get("ename") or "")[:200], "evalue": str(e.get("evalue") or "")[:2000],
                        "traceback": str(e.get("traceback") or "")[:20_000]})
    return out
