"""Builders for small real modules and notebooks on disk, shared by the tests."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

from handin import wire
from handin.proxy import Channel

REPO = Path(__file__).resolve().parent.parent

TOY_TOML = """
[assignment]
title = "Toy"
course = "Test course"
module = "toy"
starter = "starter.ipynb"
data = ["data"]

[grading]
scale = "a-f"
pass_threshold = 50
public_tests = ["test_public.py"]

[resources]
cpus = 1
memory = "2GiB"
wall_time = "40s"
notebook_time = "15s"
call_time = "4s"
"""

TOY_PUBLIC = '''
def test_double_public(student):
    assert student.double(2) == 4
'''

TOY_HIDDEN = '''
import numpy as np
import pytest
from helper import SECRET

@pytest.mark.points(2)
def test_double(student):
    assert student.double(21) == 42

def test_scale(student, credit):
    out = student.scale(np.arange(4.0))
    np.testing.assert_allclose(out, np.arange(4.0) * 3)
    credit(0.5, "half credit")

def test_guess(student):
    assert student.guess() != SECRET  # grader-local modules import in the judge
'''


def write_notebook(path: Path, cells: list[str], nbformat: int = 4) -> Path:
    nb = {"nbformat": nbformat, "nbformat_minor": 5, "metadata": {},
          "cells": [{"cell_type": "code", "metadata": {}, "source": c, "outputs": [],
                     "execution_count": None} for c in cells]}
    path.write_text(json.dumps(nb))
    return path


def make_toy_module(root: Path, *, toml: str = TOY_TOML, hidden: str = TOY_HIDDEN) -> Path:
    a = root / "assignments" / "toy"
    g = root / "graders" / "toy"
    s = root / "solutions" / "toy"
    for d in (a / "data", g, s):
        d.mkdir(parents=True)
    (a / "assignment.toml").write_text(textwrap.dedent(toml))
    (a / "data" / "numbers.txt").write_text("1 2 3\n")
    write_notebook(a / "starter.ipynb", ["def double(x):\n    raise NotImplementedError",
                                         "def scale(x):\n    raise NotImplementedError"])
    write_notebook(s / "solution.ipynb", [
        "import numpy as np\nnumbers = open('data/numbers.txt').read().split()",
        "def double(x):\n    return 2 * x",
        "def scale(x):\n    return np.asarray(x) * 3",
        "def guess():\n    return None",
    ])
    (g / "test_public.py").write_text(TOY_PUBLIC)
    (g / "test_hidden.py").write_text(hidden)
    (g / "helper.py").write_text("SECRET = 'the hidden answer 4521'\n")
    return a


class StudentProcesses:
    """``handin.student`` processes joined to the test by a socket pair, as the sandbox joins
    them to the judge, but with no sandbox. Used as a context manager: on exit it kills the
    processes still running."""

    def __init__(self, workdir: Path):
        self.workdir = workdir
        self.procs: list[subprocess.Popen] = []

    def start(self, cells: list[str], *, ready_seconds: float, call_seconds: float,
              **config) -> tuple[Channel, dict, subprocess.Popen]:
        """Run ``cells`` in a new student process and wait for its notebook summary.

        ``config`` is the rest of the student's JSON config (notebook_seconds, threads, ...).
        The process's stdout and stderr are piped together to ``proc.stdout``.
        """
        a, b = socket.socketpair()
        cfg = {"cells": cells, "fd": b.fileno(), "call_seconds": call_seconds, **config}
        path = self.workdir / f"s{len(self.procs)}.json"
        path.write_text(json.dumps(cfg))
        proc = subprocess.Popen([sys.executable, "-m", "handin.student", str(path)], pass_fds=[b.fileno()],
                                cwd=self.workdir, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        b.close()
        self.procs.append(proc)
        channel = Channel(a, call_seconds=call_seconds,
                          max_message_bytes=config.get("max_message_bytes", wire.DEFAULT_MAX_BYTES))
        return channel, channel.wait_ready(ready_seconds), proc

    def __enter__(self) -> StudentProcesses:
        return self

    def __exit__(self, *exc) -> None:
        for proc in self.procs:
            proc.kill()
            proc.wait()
