"""The student process and the judge's proxy, joined by a real socket (no sandbox)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from builders import StudentProcesses
from handin.proxy import MissingName, StudentError, StudentProxy, StudentUnavailable


@pytest.fixture
def start(tmp_path):
    with StudentProcesses(tmp_path) as students:
        def run(cells, **config):
            channel, summary, proc = students.start(
                cells, ready_seconds=30, **{"notebook_seconds": 20, "call_seconds": 2, **config})
            return StudentProxy(channel, summary), summary, proc

        yield run


def test_shell_escapes_and_subprocess_magics_do_not_run(start, tmp_path):
    cells = ["!touch escaped.txt", "files = !ls", "%%bash\ntouch bashed.txt", "%pip install nothing",
             "%matplotlib inline\nx = 41 + 1"]
    student, summary, proc = start(cells)
    assert summary["error"] is None and summary["cells_run"] == 5
    assert student.x == 42 and student.files == []
    assert not (tmp_path / "escaped.txt").exists() and not (tmp_path / "bashed.txt").exists()
    proc.kill()
    assert b"shell command not run by the grader" in proc.stdout.read()


def test_cell_error_is_recorded_and_the_next_cells_run(start):
    student, summary, _ = start(["a = 1", "def f():\n    return 1 / 0\nf()", "b = 2", "import nope", "c = 3"])
    assert summary["on_cell_error"] == "continue" and not summary["timed_out"]
    assert [(e["cell_index"], e["ename"]) for e in summary["errors"]] == [(1, "ZeroDivisionError"),
                                                                          (3, "ModuleNotFoundError")]
    assert summary["error"] == summary["errors"][0]  # the first, as before
    assert "ZeroDivisionError" in summary["errors"][0]["traceback"] and "return 1 / 0" in summary["errors"][0]["traceback"]
    assert summary["cells_run"] == 5 and summary["cells_failed"] == 2
    assert (student.a, student.b, student.c) == (1, 2, 3)
    assert student.f.type_name == "function"  # what the failed cell defined before it raised
    with pytest.raises(MissingName, match=r"code cell 2 raised ZeroDivisionError and 1 more"):
        student.nope


def test_cell_error_stops_execution_under_stop(start):
    student, summary, _ = start(["a = 1", "def f():\n    return 1 / 0\nf()", "b = 2"], on_cell_error="stop")
    err = summary["error"]
    assert err["cell_index"] == 1 and err["ename"] == "ZeroDivisionError"
    assert "ZeroDivisionError" in err["traceback"]
    assert summary["errors"] == [err] and summary["cells_run"] == 2  # cells 0 and 1 ran; 1 raised
    assert student.a == 1
    with pytest.raises(MissingName, match="stopped at code cell 2: ZeroDivisionError"):
        student.b


def test_a_timeout_ends_the_run_after_earlier_cell_errors(start):
    student, summary, _ = start(["a = 1", "1 / 0", "while True:\n    pass", "b = 2"], notebook_seconds=1)
    assert summary["timed_out"]
    assert [(e["cell_index"], e["ename"]) for e in summary["errors"]] == [(1, "ZeroDivisionError"),
                                                                          (2, "NotebookTimeout")]
    assert summary["cells_run"] == 2 and summary["cells_failed"] == 1
    assert student.a == 1
    with pytest.raises(MissingName, match="stopped at code cell 3: NotebookTimeout"):
        student.b


def test_a_cell_that_swallows_the_timeout_still_ends_the_run(start):
    cells = ["import time\ntry:\n    while True:\n        pass\nexcept BaseException:\n    pass", "b = 2"]
    student, summary, _ = start(cells, notebook_seconds=1)
    assert summary["timed_out"] and summary["errors"][-1]["cell_index"] == 1
    assert "b" not in student


def test_many_failing_cells_fit_one_summary(capsys):
    from handin.student import make_shell, run_cells  # in this process: the tracebacks are printed too
    cells = [f"raise ValueError('x' * 5000 + '{i}')" for i in range(300)] + ["ok = 1"]
    shell = make_shell()
    summary = run_cells(shell, cells, 60)
    capsys.readouterr()
    assert summary["cells_failed"] == 300 and len(summary["errors"]) == 300 and summary["cells_run"] == 301
    assert sum(len(e["traceback"]) for e in summary["errors"]) <= 200_000
    assert all(len(e["evalue"]) <= 2000 for e in summary["errors"])
    assert shell.user_ns["ok"] == 1


def test_handles_stay_in_the_student_process(start):
    cells = ["import torch\nclass M(torch.nn.Module):\n    def __init__(self):\n        super().__init__()\n"
             "        self.fc = torch.nn.Linear(3, 2)\n    def forward(self, x):\n        return self.fc(x)",
             "def gen():\n    yield 1\n    yield 2"]
    student, _, _ = start(cells)
    m = student.M()
    assert m.type_name == "M"
    out = m(torch.ones(4, 3))
    assert isinstance(out, torch.Tensor) and out.shape == (4, 2) and not out.requires_grad
    params = list(m.parameters())
    assert [tuple(p.shape) for p in params] == [(2, 3), (2,)]
    m.load_state_dict({"fc.weight": torch.zeros(2, 3), "fc.bias": torch.ones(2)})
    assert torch.equal(m(torch.ones(1, 3)), torch.ones(1, 2))
    assert list(student.gen()) == [1, 2]
    with pytest.raises(TypeError, match="no truth value"):
        bool(m)
    assert (m == m) and not (m == student.M())  # identity only; student __eq__ never runs


def test_student_exceptions_and_lambdas(start):
    student, _, _ = start(["def boom(x):\n    raise KeyError(x)", "def apply(f, x):\n    return f(x)"])
    with pytest.raises(StudentError) as info:
        student.boom("k")
    assert info.value.type_name == "KeyError" and "boom" in info.value.student_traceback
    with pytest.raises(TypeError, match="cannot be sent"):
        student.apply(lambda v: v, 1)
    assert "boom" in student and "nope" not in student


def test_slow_call_is_interrupted_and_the_process_keeps_serving(start):
    student, _, _ = start(["def spin():\n    while True:\n        pass", "def ok():\n    return np.arange(3)",
                           "import numpy as np"], call_seconds=1)
    with pytest.raises(StudentError, match="CallTimeout"):
        student.spin()
    np.testing.assert_array_equal(student.ok(), np.arange(3))


def test_call_that_ignores_the_interrupt_breaks_the_channel(start):
    student, _, _ = start(["import signal\ndef stuck():\n    signal.signal(signal.SIGALRM, signal.SIG_IGN)\n"
                           "    while True:\n        pass"], call_seconds=0.5)
    with pytest.raises(StudentUnavailable, match="did not answer"):
        student.stuck()
    with pytest.raises(StudentUnavailable):  # later calls fail fast
        student.stuck


def test_oversized_results_are_refused(start):
    student, _, _ = start(["import numpy as np\ndef big():\n    return np.zeros(2_000_000)"],
                          max_message_bytes=1_000_000)
    with pytest.raises(StudentError, match="cannot be returned"):
        student.big()


def test_notebook_budget_interrupts_a_loop(start):
    student, summary, _ = start(["a = 1", "while True:\n    pass", "b = 2"], notebook_seconds=1)
    assert summary["timed_out"] and summary["error"]["cell_index"] == 1
    assert student.a == 1
