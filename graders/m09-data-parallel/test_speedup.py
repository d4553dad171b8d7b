"""Hidden test: how much faster the student's data-parallel training runs (HIDDEN, not shipped).

The judge times the student's ``all_reduce_gradients`` on 2 ranks against its own
single-process training with one rank's threads (strong scaling) (``bench.speedup``): interleaved
trials, a fresh secret seed per trial, every timed run checked against the judge's
reference. The points come from assignment.toml's [benchmark] thresholds for the
hardware profile the judge detects (applied on the host); a speedup above the world
size, a busy host or a suspicious single-rank path is held for TA review.
"""

import pytest

# Narrow layers and a large batch: on CPU the step is compute-bound and the gradients are
# small (one ~90 KiB all-reduce per step). tanh keeps fp32 runs comparable (no ReLU kinks).
CPU_TASK = dict(d_in=64, width=64, depth=6, batch=8192, lr=0.02, act="tanh")
# On GPUs the same loop needs far more work per step to be worth timing (untested here).
GPU_TASK = dict(d_in=1024, width=2048, depth=8, batch=8192, lr=0.002, act="tanh")
# A copy of assignment.toml's [benchmark] run parameters, used only when the sandbox
# backend does not pass that section to the judge.
SUITE_DEFAULTS = {"world_sizes": [2], "threads_per_rank": 1, "baseline_threads": "per_rank", "steps": 12,
                  "warmup": 3, "trials": 5, "max_extra_trials": 4, "quiet_cores": 0.3, "quiet_wait": 20.0,
                  "single_rank_check": True, "single_rank_slack": 2.0}


@pytest.mark.points(6)
@pytest.mark.visibility("visible")
def test_speedup(bench):
    """Measured speedup of your data-parallel training."""
    gpus = bench.hardware("cuda")["gpu_count"]
    if gpus >= 2:
        task = bench.task(device="cuda", **GPU_TASK)
    else:
        task = bench.task(**CPU_TASK)
    bench.speedup(task, mode="allreduce", name="all_reduce_gradients on 2 ranks", defaults=SUITE_DEFAULTS)
