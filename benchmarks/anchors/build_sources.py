"""Write the two source notebooks of the anchors benchmark: one small assignment, "Statistics
by hand" (mean, variance, standardising a column of a CSV file), once in otter-grader's
``otter assign`` format (sources/otter/stats.ipynb) and once with nbgrader cell metadata
(sources/nbgrader/stats/stats.ipynb). The same assignment as
tests/fixtures/interop/build_sources.py (which real ``otter assign`` and ``nbgrader
generate_assignment`` accept), copied so the benchmark does not depend on the test fixtures, with one change: the otter
config says ``tests: files: true`` (test files in tests/, which ``otter generate`` zips), and the hidden q2 expression is wrapped
in ``bool()`` so its saved output ``True`` holds under numpy 2 (which prints ``np.True_``):

    python3 benchmarks/anchors/build_sources.py        (needs nbformat; run.py calls it)

Both versions grade the same code for 8 autograded points (otter: q1 2, q2 1+2, q3 3; nbgrader:
2 + 3 + 3, plus 1 manually graded point that no tool autogrades). The hidden tests hold these
texts, which no honest student notebook contains, so run.py can tell when one leaked:
``variance([1.0, 2.0, 3.0, 4.0])`` and ``np.allclose(z.std(), 1)`` (both tools), and
``mean([0.5, 1.5, 4.0])`` (otter only).
"""

from __future__ import annotations

from pathlib import Path

import nbformat
from nbformat import v4

HERE = Path(__file__).resolve().parent / "sources"
CSV = "height,weight\n1.62,58.0\n1.75,70.5\n1.80,81.0\n1.68,64.2\n1.91,90.1\n"
KERNEL = {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
          "language_info": {"name": "python"}}


def _out(text: str, n: int):
    return [v4.new_output("execute_result", data={"text/plain": text}, execution_count=n)]


def otter() -> None:
    raw, md, code = v4.new_raw_cell, v4.new_markdown_cell, v4.new_code_cell
    cells = [
        raw("# ASSIGNMENT CONFIG\nname: stats\nfiles:\n    - heights.csv\nexport_cell: false\n"
            "check_all_cell: false\ngenerate: false\ntests:\n    files: true\n"),
        md("# Statistics by hand\n\nNo statistics library: write each function yourself."),
        code("import numpy as np"),
        raw("# BEGIN QUESTION\nname: q1\npoints: 2"),
        md("**Question 1.** Write `mean(xs)`, the arithmetic mean of a list of numbers."),
        raw("# BEGIN SOLUTION"),
        code("def mean(xs):\n    # BEGIN SOLUTION\n    return sum(xs) / len(xs)\n    # END SOLUTION"),
        raw("# END SOLUTION"),
        raw("# BEGIN TESTS"),
        code("assert mean([1, 2, 3]) == 2"),
        code("mean([2.5])", outputs=_out("2.5", 1)),
        code("# HIDDEN\nassert abs(mean([0.5, 1.5, 4.0]) - 2.0) < 1e-12"),
        raw("# END TESTS"),
        raw("# END QUESTION"),
        raw("# BEGIN QUESTION\nname: q2\npoints:\n    - 1\n    - 2"),
        md("**Question 2.** Write `variance(xs)`, the population variance (divide by n)."),
        raw("# BEGIN SOLUTION"),
        code("def variance(xs):\n    m = mean(xs) # SOLUTION\n    return sum((x - m) ** 2 for x in xs) / len(xs) # SOLUTION"),
        raw("# END SOLUTION"),
        raw("# BEGIN TESTS"),
        code("variance([1, 1, 1])", outputs=_out("0.0", 2)),
        code("# HIDDEN\nbool(np.isclose(variance([1.0, 2.0, 3.0, 4.0]), 1.25))", outputs=_out("True", 3)),
        raw("# END TESTS"),
        raw("# END QUESTION"),
        raw("# BEGIN QUESTION\nname: q3\npoints: 3"),
        md("**Question 3.** Read `heights.csv` and set `z` to the standardised heights "
           "(subtract the mean, divide by the population standard deviation)."),
        raw("# BEGIN SOLUTION"),
        code("heights = np.loadtxt('heights.csv', delimiter=',', skiprows=1)[:, 0]\n"
             "z = (heights - heights.mean()) / heights.std() # SOLUTION"),
        raw("# END SOLUTION"),
        raw("# BEGIN TESTS"),
        code("len(z)", outputs=_out("5", 4)),
        code("# HIDDEN\nassert np.allclose(z.mean(), 0) and np.allclose(z.std(), 1)"),
        raw("# END TESTS"),
        raw("# END QUESTION"),
    ]
    folder = HERE / "otter"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "heights.csv").write_text(CSV)
    _write(v4.new_notebook(cells=cells, metadata=KERNEL), folder / "stats.ipynb")


def nbgrader() -> None:
    def meta(grade_id, *, solution=False, grade=False, locked=False, points=None):
        m = {"grade": grade, "solution": solution, "locked": locked, "grade_id": grade_id, "schema_version": 3}
        if points is not None:
            m["points"] = points
        return {"nbgrader": m}

    md, code = v4.new_markdown_cell, v4.new_code_cell
    cells = [
        md("# Statistics by hand\n\nNo statistics library: write each function yourself.",
           metadata=meta("intro", locked=True)),
        code("import numpy as np", metadata=meta("imports", locked=True)),
        md("Write `mean(xs)`, the arithmetic mean of a list of numbers."),
        code("def mean(xs):\n    ### BEGIN SOLUTION\n    return sum(xs) / len(xs)\n    ### END SOLUTION",
             metadata=meta("mean", solution=True)),
        code("# mean of small lists\nassert mean([1, 2, 3]) == 2\nassert mean([2.5]) == 2.5",
             metadata=meta("test_mean", grade=True, locked=True, points=2)),
        md("Write `variance(xs)`, the population variance (divide by n)."),
        code("def variance(xs):\n    ### BEGIN SOLUTION\n    m = mean(xs)\n"
             "    return sum((x - m) ** 2 for x in xs) / len(xs)\n    ### END SOLUTION",
             metadata=meta("variance", solution=True)),
        code("assert variance([1, 1, 1]) == 0\n### BEGIN HIDDEN TESTS\n"
             "assert np.isclose(variance([1.0, 2.0, 3.0, 4.0]), 1.25)\n### END HIDDEN TESTS",
             metadata=meta("test_variance", grade=True, locked=True, points=3)),
        md("Read `heights.csv` and set `z` to the standardised heights."),
        code("heights = np.loadtxt('heights.csv', delimiter=',', skiprows=1)[:, 0]\n"
             "### BEGIN SOLUTION\nz = (heights - heights.mean()) / heights.std()\n### END SOLUTION",
             metadata=meta("standardise", solution=True)),
        code("assert len(z) == 5\n### BEGIN HIDDEN TESTS\n"
             "assert np.allclose(z.mean(), 0) and np.allclose(z.std(), 1)\n### END HIDDEN TESTS",
             metadata=meta("test_standardise", grade=True, locked=True, points=3)),
        md("In two sentences: when is the population variance the wrong choice?"),
        md("YOUR ANSWER HERE", metadata=meta("discussion", solution=True, grade=True, points=1)),
    ]
    folder = HERE / "nbgrader" / "stats"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "heights.csv").write_text(CSV)
    _write(v4.new_notebook(cells=cells, metadata=KERNEL), folder / "stats.ipynb")


def _write(nb, path: Path) -> None:
    for i, cell in enumerate(nb.cells):
        cell["id"] = f"{path.parent.name}-{i:02d}"
    nbformat.validate(nb)
    path.write_text(nbformat.writes(nb) + "\n")


if __name__ == "__main__":
    otter()
    nbgrader()
