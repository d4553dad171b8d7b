"""The notebook's definitions, exported as a module for the rank processes."""

from __future__ import annotations

import importlib.util

from handin.bench import export

CELLS = [
    "import math\nfrom collections import OrderedDict as OD\nSIZE = 3\nNAMES = ('a', 'b')\nSCALE: float = 2.5",
    "%matplotlib inline\n!pip install nothing\nmodel = make()\nprint('training...')\nfor i in range(10**9):\n    pass",
    "def double(x, k=SIZE):\n    return x * 2 * k\n\nclass Box:\n    side = SIZE\n    def area(self):\n        return self.side ** 2",
    "def broken(:\n    pass",
    "total = double(2)\nif __name__ == '__main__':\n    print(total)\nwith open('/etc/hostname') as f:\n    pass",
    "import os\nWHO = os.environ['HOME']\nx = y = 4\n(a := 1)",
]


def test_only_definitions_are_kept():
    source, notes = export.definitions(CELLS)
    assert "import math" in source and "OrderedDict as OD" in source and "SIZE = 3" in source
    assert "def double" in source and "class Box" in source and "SCALE: float = 2.5" in source
    assert "x = y = 4" in source
    assert "WHO = os.environ['HOME']" in source   # no call: kept (it runs at import in the ranks)
    for gone in ("make()", "print", "range", "pip", "matplotlib", "total =", "__name__", "open(", ":="):
        assert gone not in source, gone
    assert len(notes) == 1 and "code cell 4" in notes[0]   # the fourth code cell (index 3)


def test_the_module_imports_and_works(tmp_path):
    path = export.write_module(CELLS, tmp_path, "nbmod")
    spec = importlib.util.spec_from_file_location("nbmod", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    assert mod.double(1) == 6 and mod.Box().area() == 9 and mod.OD is not None
    assert not hasattr(mod, "model") and not hasattr(mod, "total")


def test_fingerprint_changes_with_the_cells():
    assert export.fingerprint(CELLS) == export.fingerprint(list(CELLS))
    assert export.fingerprint(CELLS) != export.fingerprint(CELLS[:-1])


def test_a_cell_that_raised_keeps_its_definitions_guarded(tmp_path):
    """The notebook ran on past a failed cell: the ranks get what it defined, and what failed
    in it (here an import) fails quietly in the ranks too instead of failing their import."""
    cells = ["import math", "import not_a_module\ndef half(x):\n    return x / 2\nLIMIT = 3\nhalf(None)",
             "def quarter(x):\n    return half(half(x))"]
    path = export.write_module(cells, tmp_path, "nbfailed", failed={1})
    source = path.read_text()
    assert "try:\n    import not_a_module\nexcept Exception:\n    pass" in source
    assert source.count("except Exception:") == 3  # import, def, assignment of cell 1; not cell 0 or 2
    assert "try:\n    import math" not in source
    spec = importlib.util.spec_from_file_location("nbfailed", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    assert mod.quarter(8) == 2 and mod.LIMIT == 3


def test_the_student_launcher_exports_the_cells_that_ran_with_the_failed_ones_guarded(monkeypatch, tmp_path):
    from types import SimpleNamespace

    from handin.bench import launcher
    monkeypatch.setattr(launcher, "_LAUNCHER", None)
    cells = ["import math", "import not_a_module", "def area(r):\n    return math.pi * r * r", "while True: pass",
             "def never(): pass"]
    summary = {"cells_run": 3, "errors": [{"cell_index": 1, "ename": "ModuleNotFoundError"},
                                          {"cell_index": 3, "ename": "NotebookTimeout"}]}
    server = SimpleNamespace(config=SimpleNamespace(cells=cells, call_seconds=5.0), notebook=summary)
    launcher.handle(server, {"op": "bench_close"})
    made = launcher._LAUNCHER
    assert made.cells == cells[:3] and made.failed == {1, 3}
    source, _ = export.definitions(made.cells, made.failed)
    assert "def never" not in source and "try:\n    import not_a_module" in source


def test_an_assignment_that_reads_a_left_out_name_is_guarded(tmp_path):
    cells = ["import numpy as np\ndata = np.load('train.npz')\nX, y = data['X'], data['y']\nSHAPE = np.float64",
             "def width():\n    return 3\nW = width\nN = X"]
    source, _ = export.definitions(cells)
    assert "try:\n    X, y = (data['X'], data['y'])\nexcept Exception:\n    pass" in source
    assert "try:\n    N = X" in source                       # X is bound only inside a guard
    assert "\nSHAPE = np.float64" in source and "\nW = width" in source   # their names are bound: unguarded
    path = export.write_module(cells, tmp_path, "nb_guarded")
    spec = importlib.util.spec_from_file_location("nb_guarded", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    assert mod.width() == 3 and mod.W is mod.width and not hasattr(mod, "X") and not hasattr(mod, "N")
