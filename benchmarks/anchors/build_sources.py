"""Write the two source notebooks of the anchors benchmark: one small assignment, "Statistics
by hand" (mean, variance, standardising a column of a CSV file), once in otter-grader's
``otter assign`` format (sources/otter/stats.ipynb) and once with nbgrader cell metadata
(sources/nbgrader/stats/stats.ipynb). The same assignment as
tests/fixtures/interop/build_sources.py (which real ``otter assign`` and ``nbgrader
generate_assignment`` accept), written by that script's builders, with one change: the otter
config says ``tests: files: true`` (test files in tests/, which ``otter generate`` zips), and the
hidden q2 expression is wrapped in ``bool()`` so its saved output ``True`` holds under numpy 2
(which prints ``np.True_``):

    python3 benchmarks/anchors/build_sources.py        (needs nbformat; run.py calls it)

Both versions grade the same code for 8 autograded points (otter: q1 2, q2 1+2, q3 3; nbgrader:
2 + 3 + 3, plus 1 manually graded point that no tool autogrades). The hidden tests hold these
texts, which no honest student notebook contains, so run.py can tell when one leaked:
``variance([1.0, 2.0, 3.0, 4.0])`` and ``np.allclose(z.std(), 1)`` (both tools), and
``mean([0.5, 1.5, 4.0])`` (otter only).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

HERE = Path(__file__).resolve().parent / "sources"
FIXTURE_BUILDER = Path(__file__).resolve().parents[2] / "tests" / "fixtures" / "interop" / "build_sources.py"


def _builders():
    spec = importlib.util.spec_from_file_location("interop_build_sources", FIXTURE_BUILDER)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def otter() -> None:
    _builders().otter(HERE, test_files=True)


def nbgrader() -> None:
    _builders().nbgrader(HERE)


if __name__ == "__main__":
    otter()
    nbgrader()
