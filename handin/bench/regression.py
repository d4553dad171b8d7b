"""Distributed gradient descent for linear and logistic regression: the grader's half (m01).

The classical algorithm made scalable: the rows are cut into *partitions*, each
partition's gradient is computed where its rows live, and one aggregation step
turns the partial results into the gradient of the whole data set. The student
writes the two pieces of maths; the grader owns everything else:

``partition_gradient(w, X, y, loss) -> (g_sum, n)``
    the sum over one partition's rows of the per-example gradient, and its row count;
``aggregate(partials) -> g``
    the mean gradient over all rows from the list of every partition's ``(g_sum, n)``.

Per rank, :func:`run_descent` is the grader's loop around them (mode ``partitions``):
rank ``r`` of ``W`` holds partitions ``r·P/W … (r+1)·P/W − 1`` of the grader's data,
computes their partial results with the student's ``partition_gradient``, the
grader all-gathers every rank's partials (gloo; a few hundred bytes a step), each
rank calls the student's ``aggregate`` on all of them in partition order and takes
the step ``w ← w − lr·g``. The judge's baseline and reference is the unpartitioned
algorithm in one process: the module's own (its grader folder's ``descend``, named by
``[benchmark] reference``), never in the student's reach. This file is the rank runtime:
it computes no gradient.

A task is a plain dict (it crosses the judge–student channel) checked by
:func:`check_task`; the data come from its ``data_seed``, the initial weights from
the trial's seed, so nothing can be computed ahead of the judge's clock.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from .tasks import SEED_MASK, TaskError, make_task

MODE = "partitions"
FUNCTIONS = ("partition_gradient", "aggregate")
LOSSES = ("squared", "logistic")
TASK_DEFAULTS: dict[str, Any] = {
    "family": "regression",
    "loss": "logistic",    # squared: 1/2 (x·w − y)²; logistic: log-loss, y in {0, 1}
    "rows": 65536,         # rows of the data set
    "d_in": 64,            # features, the first one a constant 1 (the intercept)
    "partitions": 4,       # partitions of the rows (a multiple of the world size)
    "uneven": True,        # partition sizes alternate one and two shares (each rank's total the same
                           # when it holds an even number): an unweighted mean of means is wrong here
    "lr": 0.5,
    "data_seed": 0,        # the data set; the initial weights come from the trial's seed
    "device": "cpu",       # numpy: always cpu
}


def check_task(task: dict | None = None, **overrides: Any) -> dict:
    """A complete, checked regression task dict (defaults filled in)."""
    t = dict(TASK_DEFAULTS)
    for source in (task or {}), overrides:
        for key, value in source.items():
            if key not in TASK_DEFAULTS:
                raise TaskError(f"unknown regression task key {key!r}")
            t[key] = value
    if type(t["uneven"]) is not bool:
        raise TaskError("task uneven must be true or false")
    if t["family"] != "regression":
        raise TaskError("a regression task has family 'regression'")
    if t["loss"] not in LOSSES:
        raise TaskError(f"task loss must be one of {LOSSES}")
    for key, top in (("rows", 1 << 22), ("d_in", 4096), ("partitions", 1024)):
        if type(t[key]) is not int or not 1 <= t[key] <= top:
            raise TaskError(f"task {key} must be an int in 1..{top}, got {t[key]!r}")
    if t["d_in"] < 2:
        raise TaskError("task d_in must be at least 2 (the intercept and one feature)")
    if not isinstance(t["lr"], (int, float)) or not 0 < float(t["lr"]) < 100:
        raise TaskError("task lr must be a positive number")
    t["lr"] = float(t["lr"])
    if type(t["data_seed"]) is not int:
        raise TaskError("task data_seed must be an int")
    t["data_seed"] &= SEED_MASK
    if t["device"] != "cpu":
        raise TaskError("regression tasks run on the cpu (numpy)")
    return t


def checked(task: dict, mode: str) -> dict:
    """The task of a run in ``mode``, checked: a regression task in mode ``partitions``, else a
    training task (:func:`handin.bench.tasks.make_task`)."""
    return check_task(task) if mode == MODE else make_task(task)


def is_regression(task: dict) -> bool:
    return isinstance(task, dict) and task.get("family") == "regression"


# ---------------------------------------------------------------- data

_POOLS: dict[tuple, tuple[np.ndarray, np.ndarray]] = {}


def data_set(task: dict) -> tuple[np.ndarray, np.ndarray]:
    """(X, y) float64 from the task's data seed (cached per process): standard normal features
    after a column of ones; y from a hidden linear model (squared: plus noise; logistic: labels
    drawn with the model's probabilities)."""
    key = (task["data_seed"], task["rows"], task["d_in"], task["loss"])
    if key not in _POOLS:
        rng = np.random.default_rng(task["data_seed"])
        X = np.empty((task["rows"], task["d_in"]))
        X[:, 0] = 1.0
        X[:, 1:] = rng.standard_normal((task["rows"], task["d_in"] - 1))
        w = rng.standard_normal(task["d_in"]) / np.sqrt(task["d_in"])
        z = X @ w
        if task["loss"] == "squared":
            y = z + 0.1 * rng.standard_normal(task["rows"])
        else:
            y = (rng.random(task["rows"]) < 1.0 / (1.0 + np.exp(-z))).astype(np.float64)
        _POOLS.clear()
        _POOLS[key] = (X, y)
    return _POOLS[key]


def initial_weights(task: dict, seed: int) -> np.ndarray:
    rng = np.random.default_rng((int(seed) * 2654435761 + 97) & SEED_MASK)
    return 0.1 * rng.standard_normal(task["d_in"])


def partition_bounds(rows: int, k: int, uneven: bool = False) -> list[tuple[int, int]]:
    """k contiguous row ranges covering 0..rows−1 once: near-equal sizes (differing by at most
    one), or with ``uneven`` sizes of one and two shares in turn (1, 2, 1, 2, …)."""
    weights = [1 + (i % 2) for i in range(k)] if uneven else [1] * k
    cuts = [rows * sum(weights[:i]) // sum(weights) for i in range(k + 1)]
    return list(zip(cuts[:-1], cuts[1:]))


def rank_partitions(task: dict, rank: int, world: int) -> list[int]:
    k = task["partitions"]
    if k % world:
        raise TaskError(f"{k} partitions do not split over {world} ranks")
    per = k // world
    return list(range(rank * per, (rank + 1) * per))


# ---------------------------------------------------------------- the grader's maths


def blas_threads(n: int):
    """A context that limits numpy's BLAS to ``n`` threads in this process (threadpoolctl)."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # no BLAS control: numpy's env defaults apply
        import contextlib
        return contextlib.nullcontext()
    return threadpool_limits(limits=int(n), user_api="blas")


# ---------------------------------------------------------------- the ranks' loop


@dataclass
class Counter:
    samples: int = 0     # rows handed to partition_gradient
    batches: int = 0     # steps taken


@dataclass
class Trained:
    weights: dict[str, np.ndarray]
    sampler: Counter = field(default_factory=Counter)


def _partial(value: Any, d: int, where: str) -> tuple[np.ndarray, int]:
    if not isinstance(value, (tuple, list)) or len(value) != 2:
        raise TypeError(f"{where} must return a pair (g_sum, n), got {type(value).__name__}")
    g, n = value
    g = np.asarray(g, dtype=np.float64)
    if g.shape != (d,):
        raise ValueError(f"{where} returned a gradient of shape {g.shape}; the weights have shape ({d},)")
    if isinstance(n, np.integer):
        n = int(n)
    if type(n) is not int or n < 0:
        raise TypeError(f"{where} must return the row count as a non-negative int, got {n!r:.40}")
    return g, n


def run_descent(task: dict, seed: int, steps: int, *, rank: int = 0, world: int = 1,
                partition_gradient: Callable, aggregate: Callable, group: Any = None,
                mark: Callable[[str, int], None] = lambda phase, step: None) -> Trained:
    """Gradient descent over the task's partitions with the student's two functions."""
    X, y = data_set(task)
    bounds = partition_bounds(task["rows"], task["partitions"], task["uneven"])
    mine = [bounds[p] for p in rank_partitions(task, rank, world)]
    d, lr, loss = task["d_in"], task["lr"], task["loss"]
    w = initial_weights(task, seed)
    count = Counter()
    for step in range(steps):
        mark("forward", step)
        local = np.empty((len(mine), d + 1))
        for i, (a, b) in enumerate(mine):
            g, n = _partial(partition_gradient(w.copy(), X[a:b], y[a:b], loss), d, "partition_gradient")
            local[i, :d], local[i, d] = g, n
            count.samples += b - a
        mark("sync", step)
        table = _all_gather(local, world, group)
        partials = [(row[:d].copy(), int(row[d])) for row in table]
        g = np.asarray(aggregate(partials), dtype=np.float64)
        if g.shape != (d,):
            raise ValueError(f"aggregate returned shape {g.shape}; the weights have shape ({d},)")
        mark("step", step)
        w = w - lr * g
        count.batches += 1
    mark("done", steps)
    return Trained({"w": w}, count)


def _all_gather(local: np.ndarray, world: int, group: Any) -> np.ndarray:
    """Every rank's partial results, stacked in rank (= partition) order."""
    if world == 1:
        return local
    import torch
    import torch.distributed as dist
    mine = torch.from_numpy(local)
    out = [torch.empty_like(mine) for _ in range(world)]
    dist.all_gather(out, mine, group=group)
    return torch.cat(out).numpy()


def row_problems(task: dict, ranks: list, steps: int) -> list[str]:
    """Each rank must have handed its own partitions' rows to partition_gradient every step."""
    bounds = partition_bounds(task["rows"], task["partitions"], task["uneven"])
    problems = []
    world = len(ranks)
    for r in ranks:
        rows = sum(b - a for a, b in (bounds[p] for p in rank_partitions(task, r.rank, world)))
        if r.samples != rows * steps or r.batches != steps:
            problems.append(f"rank {r.rank} computed gradients on {r.samples} rows in {r.batches} step(s); "
                            f"its partitions hold {rows} rows, {steps} step(s) make {rows * steps}")
    return problems
