"""Hidden test: how much faster the student's partitioned gradient descent runs on 2 processes.

The judge times the student's ``partition_gradient`` and ``aggregate`` in the grader's own
loop (``handin.bench.regression``) on 2 rank processes — each holds half of the partitions,
the grader all-gathers the partial results every step — against its own unpartitioned
gradient descent in one process with one thread (strong scaling: a perfect split is 2x).
Interleaved trials, a fresh secret seed (initial weights) per trial, every timed run checked
against the judge's result. The points come from assignment.toml's [benchmark] thresholds for
the hardware profile the judge detects (applied on the host); a busy host or a suspicious
single-rank path is held for TA review.
"""

import pytest

# Logistic regression on 64 features, 262 144 rows (128 MiB of float64) in 4 partitions of
# uneven size (1:2:1:2, 2 per rank): about 25 ms of numpy per step on one core against a
# 2 KiB all-gather per step (1-3 ms over gloo on loopback, which large steps amortise).
TASK = dict(loss="logistic", rows=262144, d_in=64, partitions=4, lr=0.5)
# A copy of assignment.toml's [benchmark] run parameters, used only when the sandbox
# backend does not pass that section to the judge.
SUITE_DEFAULTS = {"world_sizes": [2], "threads_per_rank": 1, "baseline_threads": "per_rank", "steps": 20,
                  "warmup": 3, "trials": 5, "max_extra_trials": 4, "quiet_cores": 0.3, "quiet_wait": 20.0,
                  "single_rank_check": True, "single_rank_slack": 2.0}


@pytest.mark.points(5)
@pytest.mark.visibility("visible")
def test_speedup(bench):
    """Measured speedup of your partitioned gradient descent on 2 processes."""
    bench.speedup(bench.regression_task(**TASK), mode="partitions",
                  name="partition_gradient and aggregate on 2 ranks", defaults=SUITE_DEFAULTS)
