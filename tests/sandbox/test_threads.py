"""Thread settings of a run: untimed runs wait passively, timed runs keep OpenMP's default."""

from __future__ import annotations

from pathlib import Path

from handin.sandboxing import Limits, RunRequest, thread_env


def _request(benchmark):
    return RunRequest(label="x", cells=("1",), grader_dir=Path("/nonexistent"), data=(),
                      limits=Limits(wall_seconds=10, notebook_seconds=5, call_seconds=2, memory_bytes=2**30, cpus=2),
                      benchmark=benchmark)


def test_untimed_runs_wait_passively_and_timed_runs_do_not():
    assert thread_env(_request(None)) == {"OMP_NUM_THREADS": "2", "MKL_NUM_THREADS": "2",
                                          "OMP_WAIT_POLICY": "PASSIVE"}
    assert thread_env(_request({"world_sizes": [2]})) == {"OMP_NUM_THREADS": "2", "MKL_NUM_THREADS": "2"}
