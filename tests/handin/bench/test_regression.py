"""Partitioned gradient descent (m01's timed part): the grader's loop around the student's two
functions, on real rank processes, checked against the judge's unpartitioned numpy algorithm."""

from __future__ import annotations

import numpy as np
import pytest

from handin.bench import regression
from handin.bench.harness import BenchError
from handin.bench.tasks import TaskError

pytestmark = pytest.mark.slow

SUMS = '''
import numpy as np

def partition_gradient(w, X, y, loss):
    z = X @ w
    r = z - y if loss == "squared" else 1 / (1 + np.exp(-z)) - y
    return X.T @ r, len(y)

def aggregate(partials):
    total = sum(g for g, _ in partials)
    return total / sum(n for _, n in partials)
'''

MEANS = SUMS + '''
def mean_gradient(w, X, y, loss):            # each partition's mean: averages of averages
    g, n = partition_gradient(w, X, y, loss)
    return g / max(n, 1), n

def mean_of_means(partials):
    return sum(g for g, _ in partials) / len(partials)
'''

SMALL = dict(rows=1001, d_in=8, partitions=4, uneven=False)   # near-equal partitions: 250, 250, 250, 251 rows


@pytest.mark.parametrize("loss", regression.LOSSES)
def test_a_correct_implementation_matches_the_unpartitioned_algorithm(start, loss):
    bench = start([SUMS], grader="m01-distributed-regression")
    task = bench.regression_task(loss=loss, **SMALL)
    run = bench.run(task, world_size=2, mode="partitions", steps=5)
    assert bench.check(run) == []
    assert [r.samples for r in run.ranks] == [500 * 5, 501 * 5] and [r.batches for r in run.ranks] == [5, 5]
    ref = bench.reference(task, run.seed, 5)
    assert np.allclose(run.weights(0)["w"], ref["w"], rtol=1e-12, atol=1e-14)
    start_w = regression.initial_weights(task, run.seed)
    assert not np.allclose(ref["w"], start_w)          # the steps moved the weights


def test_averages_of_averages_are_caught_with_uneven_partitions(start):
    bench = start([MEANS], grader="m01-distributed-regression")
    task = bench.regression_task(loss="squared", rows=1200, d_in=8, partitions=4)   # 200, 400, 200, 400 rows
    run = bench.run(task, world_size=2, mode="partitions", steps=3,
                    options={"partition_gradient_fn": "mean_gradient", "aggregate_fn": "mean_of_means"})
    problems = bench.check(run)
    assert problems and all("reference" in p for p in problems), problems


def test_a_wrong_return_type_is_the_students_error(start):
    bench = start(grader="m01-distributed-regression", cells=[SUMS + "\ndef bare(w, X, y, loss):\n    return X.T @ (X @ w - y)\n"])
    task = bench.regression_task(**SMALL)
    with pytest.raises(Exception, match=r"pair \(g_sum, n\)"):
        bench.run(task, world_size=2, mode="partitions", steps=1, options={"partition_gradient_fn": "bare"})


def test_a_timed_run_is_verified_against_a_one_thread_unpartitioned_baseline(start):
    bench = start([SUMS], grader="m01-distributed-regression")
    task = bench.regression_task(rows=20000, d_in=16, partitions=4)   # 3333, 6667, 3333, 6667 rows
    rec = bench.speedup(task, mode="partitions", steps=5, warmup=1, trials=2,
                        defaults={"quiet_cores": 64.0, "baseline_threads": "per_rank"})
    assert rec["verified"] and len(rec["trials"]) == 2 and rec["problems"] == []
    assert rec["baseline_threads"] == 1 and rec["world_size"] == 2 and rec["mode"] == "partitions"
    assert "all the rows at once" in rec["baseline"] and "4 partitions on 2 ranks" in rec["name"]
    assert rec["samples_per_rank"] == [10000 * 5, 10000 * 5]
    assert rec["single_rank"]["ratio_to_baseline"] > 0


def test_a_cached_result_from_the_warm_up_is_caught(start):
    cells = [SUMS + '''
class _Cache:
    import handin.bench.regression as _r
    _orig = _r.run_descent
    _seen = {}
    def _fast(task, seed, steps, **kw):
        key = task["data_seed"]
        if key not in _Cache._seen:
            _Cache._seen[key] = _Cache._orig(task, seed, steps, **kw)
        return _Cache._seen[key]
    _r.run_descent = _fast
''']
    bench = start(cells, grader="m01-distributed-regression")
    with pytest.raises(BenchError, match="timed run failed: trial 1: .*reference"):
        bench.speedup(bench.regression_task(**SMALL), mode="partitions", steps=3, warmup=1, trials=2,
                      defaults={"quiet_cores": 64.0})


def test_tasks_are_checked():
    assert regression.check_task()["loss"] == "logistic"
    for bad in ({"loss": "hinge"}, {"rows": 0}, {"d_in": 1}, {"device": "cuda"}, {"width": 3}, {"lr": -1},
                {"uneven": 1}):
        with pytest.raises(TaskError):
            regression.check_task(bad)
    assert regression.partition_bounds(2, 4) == [(0, 0), (0, 1), (1, 1), (1, 2)]
    assert regression.partition_bounds(12, 4, uneven=True) == [(0, 2), (2, 6), (6, 8), (8, 12)]
    assert regression.partition_bounds(10, 4) == [(0, 2), (2, 5), (5, 7), (7, 10)]
    with pytest.raises(TaskError):
        regression.rank_partitions(regression.check_task(partitions=3), 0, 2)
