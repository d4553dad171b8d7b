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


def test_cell_error_stops_execution_with_index_and_traceback(start):
    student, summary, _ = start(["a = 1", "def f():\n    return 1 / 0\nf()", "b = 2"])
    err = summary["error"]
    assert err["cell_index"] == 1 and err["ename"] == "ZeroDivisionError"
    assert "ZeroDivisionError" in err["traceback"]
    assert summary["cells_run"] == 1
    assert student.a == 1
    with pytest.raises(MissingName, match="stopped at code cell 1"):
        student.b


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
