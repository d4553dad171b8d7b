"""Fixtures of the harness tests: a real student process (and its ranks) behind a judge-side Bench."""

from __future__ import annotations

import pytest

from builders import REPO, StudentProcesses
from handin.bench.harness import Bench


@pytest.fixture
def start(tmp_path):
    """``start(cells, call_seconds=30, grader=None)``: a student process that ran ``cells``, and a Bench
    talking to it (with ``grader``, a module's folder name, the Bench has that module's reference code)."""
    with StudentProcesses(tmp_path) as students:
        benches: list[Bench] = []

        def run(cells, call_seconds=30, grader=None):
            channel, summary, _ = students.start(cells, ready_seconds=60, call_seconds=call_seconds,
                                                 notebook_seconds=60, threads=2)
            assert summary["error"] is None, summary["error"]
            benches.append(Bench(channel, {"reference": "reference.py"}, REPO / "graders" / grader) if grader
                           else Bench(channel))
            return benches[-1]

        yield run
        for bench in benches:
            bench.close()   # the judge's own ranks, if a test started them
