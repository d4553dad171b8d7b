"""Run the public tests against your notebook: ``python -m pytest tests``.

The grader runs your notebook in a sandbox and calls your functions from a
separate process; here they simply run in this one. Shell commands (``!``)
and magics (``%``) in your notebook are skipped, as in the grader.
"""

import json
import os
from pathlib import Path

import pytest

NOTEBOOK = os.environ.get("HANDIN_NOTEBOOK", str(Path(__file__).resolve().parent.parent / "@@NOTEBOOK@@"))
ON_CELL_ERROR = "@@ON_CELL_ERROR@@"  # as in the grader: "continue" runs the next cells, "stop" does not


def pytest_configure(config):
    config.addinivalue_line("markers", "points(n): points of the test")
    config.addinivalue_line("markers", "visibility(v): who sees the result")


def _code_cells(path):
    nb = json.loads(Path(path).read_text(encoding="utf-8"))
    for cell in nb["cells"]:
        if cell["cell_type"] == "code":
            src = cell["source"] if isinstance(cell["source"], str) else "".join(cell["source"])
            lines = [ln for ln in src.splitlines() if not ln.lstrip().startswith(("!", "%"))]
            yield "\n".join(lines)


class _Namespace:
    """The notebook's globals as attributes; ``"name" in student`` works as in the grader."""

    def __init__(self, ns):
        self.__dict__.update(ns)

    def __contains__(self, name):
        return name in self.__dict__


@pytest.fixture(scope="session")
def student():
    namespace = {"__name__": "__main__"}
    here = os.getcwd()
    os.chdir(Path(__file__).resolve().parent.parent)  # the bundle: data/ is here
    try:
        for i, source in enumerate(_code_cells(NOTEBOOK), start=1):   # code cells counted as people do
            try:
                exec(compile(source, f"<cell {i}>", "exec"), namespace)
            except Exception as exc:  # as in the grader: recorded; the other cells' names still count
                if ON_CELL_ERROR == "stop":
                    print(f"code cell {i} raised {type(exc).__name__}: {exc}; later cells were not run")
                    break
                print(f"code cell {i} raised {type(exc).__name__}: {exc}; the next cells still run")
    finally:
        os.chdir(here)
    return _Namespace(namespace)


@pytest.fixture
def credit():
    return lambda fraction, message=None: None


@pytest.fixture
def grader_dir():
    return Path(__file__).resolve().parent


@pytest.fixture
def public_data():
    """The module's public data as the notebook sees it: public_data / "data" / "train.npz"."""
    return Path(__file__).resolve().parent.parent
