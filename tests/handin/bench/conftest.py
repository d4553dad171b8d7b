"""Fixtures of the harness tests: a real student process (and its ranks) behind a judge-side Bench."""

from __future__ import annotations

import pytest

from builders import StudentProcesses
from handin.bench.harness import Bench


@pytest.fixture
def start(tmp_path):
    """``start(cells, call_seconds=30)``: a student process that ran ``cells``, and a Bench talking to it."""
    with StudentProcesses(tmp_path) as students:
        benches: list[Bench] = []

        def run(cells, call_seconds=30):
            channel, summary, _ = students.start(cells, ready_seconds=60, call_seconds=call_seconds,
                                                 notebook_seconds=60, threads=2)
            assert summary["error"] is None, summary["error"]
            benches.append(Bench(channel))
            return benches[-1]

        yield run
        for bench in benches:
            bench.close()   # the judge's own ranks, if a test started them
