"""Hidden test: how much faster the student's pipeline runs than naive model parallelism
(HIDDEN, not shipped).

The judge times the student's ``pipeline_step`` (8 micro-batches, 2 stages) against its
own naive model parallelism — the same stages, one micro-batch, on rank processes the
judge starts and no student code touches — pinned to the same cores, interleaved, with a
fresh secret seed per trial; every timed run is checked against the baseline's weights.
Points come from assignment.toml's [benchmark] thresholds for the detected hardware
profile; a speedup above the number of stages or a busy host is held for TA review.
"""

import pytest

# Wide layers, a batch that leaves micro-batches big enough to keep the matmuls efficient.
CPU_TASK = dict(d_in=64, width=256, depth=8, batch=2048, lr=0.01, act="tanh")
GPU_TASK = dict(d_in=1024, width=4096, depth=8, batch=4096, lr=0.001, act="tanh")
# A copy of assignment.toml's [benchmark] run parameters, used only when the sandbox
# backend does not pass that section to the judge.
SUITE_DEFAULTS = {"world_sizes": [2], "threads_per_rank": 1, "micro_batches": 8, "steps": 8, "warmup": 2,
                  "trials": 7, "max_extra_trials": 4, "quiet_cores": 0.3, "quiet_wait": 20.0,
                  "single_rank_check": False}


@pytest.mark.points(5)
@pytest.mark.visibility("visible")
def test_pipeline_speedup(bench):
    """Measured speedup of your pipeline over naive model parallelism."""
    if bench.hardware("cuda")["gpu_count"] >= 2:
        task = bench.task(device="cuda", **GPU_TASK)
    else:
        task = bench.task(**CPU_TASK)
    bench.pipeline_speedup(task, name="GPipe (8 micro-batches) vs naive model parallelism, 2 stages",
                           defaults=SUITE_DEFAULTS)
