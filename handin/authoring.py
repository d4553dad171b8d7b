"""Helpers for the scripts that build a module's notebooks and its test fixtures.

A module's ``graders/<module>/build_notebooks.py`` lists its cells once, each code
cell with a starter and a solution body, and writes both notebooks from that list
(:func:`write_pair`): the starter and the solution always have the same cells in the
same order, with stable cell ids. Fixture builders (``tests/fixtures/build_*.py``)
start from the solution and patch cells found by a marker string
(:func:`cell_of`, :func:`replace_cell`, :func:`patch`, :func:`add_cell`).

These scripts run by hand when the course content changes; their outputs are
committed, so nothing here runs while grading.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Iterable

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

TODO = "    # YOUR CODE HERE\n    raise NotImplementedError\n"
METADATA = {
    "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
    "language_info": {"name": "python"},
}

Cell = tuple  # ("md", text) or ("code", starter, solution)


class AuthoringError(SystemExit):
    """A marker or patch target that is not where the script expects it (stops the script)."""


def md(text: str) -> Cell:
    return ("md", text.strip("\n"))


def code(starter: str, solution: str | None = None) -> Cell:
    """A code cell: ``starter`` in the starter notebook, ``solution`` (default the same) in the solution."""
    return ("code", starter.strip("\n"), (solution if solution is not None else starter).strip("\n"))


def notebook(cells: Iterable[nbformat.NotebookNode]) -> nbformat.NotebookNode:
    nb = new_notebook(cells=list(cells), metadata=copy.deepcopy(METADATA))
    nbformat.validate(nb)
    return nb


def build(cells: list[Cell], which: str, id_prefix: str) -> nbformat.NotebookNode:
    """The ``which`` ("starter" or "solution") notebook of ``cells``, with ids ``<prefix>-NN``."""
    if which not in ("starter", "solution"):
        raise ValueError("which must be starter or solution")
    out = []
    for i, cell in enumerate(cells):
        if cell[0] == "md":
            c = new_markdown_cell(cell[1])
        else:
            c = new_code_cell(cell[1] if which == "starter" else cell[2])
        c["id"] = f"{id_prefix}-{i:02d}"  # stable ids (nbformat would draw random ones)
        out.append(c)
    return notebook(out)


def write_pair(cells: list[Cell], id_prefix: str, starter: Path, solution: Path, repo: Path | None = None) -> None:
    """Write the starter and the solution notebook of ``cells``."""
    for which, path in (("starter", starter), ("solution", solution)):
        path.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(build(cells, which, id_prefix), str(path))
        print("wrote", path.relative_to(repo) if repo is not None else path)


# ---------------------------------------------------------------- fixtures


def read(path: Path) -> nbformat.NotebookNode:
    return nbformat.read(str(path), as_version=4)


def code_cell_index(nb: nbformat.NotebookNode, marker: str) -> int:
    """Index (into ``nb.cells``) of the one code cell whose source contains ``marker``."""
    hits = [i for i, c in enumerate(nb.cells) if c.cell_type == "code" and marker in c.source]
    if len(hits) != 1:
        raise AuthoringError(f"expected exactly one code cell containing {marker!r}, found {len(hits)}")
    return hits[0]


def cell_of(nb: nbformat.NotebookNode, marker: str) -> nbformat.NotebookNode:
    return nb.cells[code_cell_index(nb, marker)]


def replace_cell(nb: nbformat.NotebookNode, marker: str, source: str) -> None:
    cell_of(nb, marker).source = source.strip("\n")


def patch(nb: nbformat.NotebookNode, marker: str, old: str, new: str) -> None:
    """Replace ``old`` by ``new`` (exactly once) in the code cell containing ``marker``."""
    cell = cell_of(nb, marker)
    if cell.source.count(old) != 1:
        raise AuthoringError(f"patch target not found exactly once in the cell with {marker!r}: {old!r}")
    cell.source = cell.source.replace(old, new)


def code_cell(source: str, cell_id: str) -> nbformat.NotebookNode:
    cell = new_code_cell(source.strip("\n"))
    cell["id"] = cell_id
    return cell


def markdown_cell(source: str, cell_id: str) -> nbformat.NotebookNode:
    cell = new_markdown_cell(source.strip("\n"))
    cell["id"] = cell_id
    return cell


def add_cell(nb: nbformat.NotebookNode, source: str, cell_id: str) -> None:
    nb.cells.append(code_cell(source, cell_id))


def insert_after(nb: nbformat.NotebookNode, marker: str, cell: nbformat.NotebookNode) -> None:
    nb.cells.insert(code_cell_index(nb, marker) + 1, cell)


def from_scratch(title: str, *sources: str) -> nbformat.NotebookNode:
    """A notebook with a title and one code cell per source (ids ``fx-NN``)."""
    cells = [markdown_cell(f"# {title}", "fx-00")]
    cells += [code_cell(src, f"fx-{i:02d}") for i, src in enumerate(sources, 1)]
    return notebook(cells)


def write(nb: nbformat.NotebookNode, directory: Path, name: str) -> None:
    nbformat.validate(nb)
    directory.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, str(directory / name))
    print("wrote", name)


# --------------------------------------------------------------------------- module data
def write_npz(path: Path, **arrays) -> None:
    """Like ``np.savez_compressed``, but byte-reproducible (fixed timestamps, sorted names), so a
    module's ``make_data.py`` rewrites its committed data files unchanged."""
    import io
    import zipfile

    import numpy as np

    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name in sorted(arrays):
            buf = io.BytesIO()
            np.lib.format.write_array(buf, np.ascontiguousarray(arrays[name]), allow_pickle=False)
            info = zipfile.ZipInfo(name + ".npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            zf.writestr(info, buf.getvalue())


def write_digits_split(public: Path, hidden: Path, *, split_seed: int, noise_seed: int,
                       noise_sigma: float = 0.5, heldout_fraction: float = 0.2) -> None:
    """scikit-learn's 8x8 digits split for a module: ``public`` gets the stratified training
    part, ``hidden`` the held-out part with fixed-seed gaussian noise (clipped to [0, 16]), so
    its rows are not byte-identical to the copy inside scikit-learn. Both hold X (float32,
    (n, 64), pixel values 0..16) and y (int64, (n,)); the class counts are printed."""
    import numpy as np
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    X = digits.data.astype(np.float32)
    y = digits.target.astype(np.int64)
    X_tr, X_ho, y_tr, y_ho = train_test_split(X, y, test_size=heldout_fraction, random_state=split_seed,
                                              stratify=y)
    noise = np.random.default_rng(noise_seed).normal(0.0, noise_sigma, size=X_ho.shape)
    X_ho = np.clip(X_ho.astype(np.float64) + noise, 0.0, 16.0).astype(np.float32)
    write_npz(public, X=X_tr, y=y_tr)
    write_npz(hidden, X=X_ho, y=y_ho)
    for which, path, X_, y_ in (("public", public, X_tr, y_tr), ("hidden", hidden, X_ho, y_ho)):
        print(f"{which:7} {path}: X{X_.shape} {X_.dtype}, y{y_.shape} {y_.dtype}; "
              f"class counts {np.bincount(y_).tolist()}")
