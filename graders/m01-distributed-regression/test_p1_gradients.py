"""Hidden tests, part 1: partitions, the workers' gradient sums and the driver's aggregate (HIDDEN, not shipped).

Inputs are the judge's own (seeded). Every value that comes back goes through handin.checks, whose
messages never contain expected values. Gradients are compared with rtol 1e-10: they are a
matrix product of float64 numbers, so any correct way of writing them (a loop, einsum, X.T @ r,
another sigmoid formula) agrees to ~1e-14, while every plausible mistake is off by far more.
"""

import numpy as np
import pytest
import reference as ref
from handin.checks import check_close, fail, to_array

RTOL, ATOL = 1e-10, 1e-12


# --------------------------------------------------------------------------- split
def _check_split(student, n, k):
    what = f"split({n}, {k})"
    parts = student.split(n, k)
    if not isinstance(parts, (list, tuple)):
        fail(f"{what} must return a list of index arrays")
    if len(parts) != k:
        fail(f"{what} returned {len(parts)} parts, expected {k}")
    arrays = [to_array(p, f"{what}[{j}]").reshape(-1) for j, p in enumerate(parts)]
    for j, a in enumerate(arrays):
        if not np.array_equal(a, np.round(a)):
            fail(f"{what}[{j}] holds non-integer indices")
    sizes = [len(a) for a in arrays]
    if not np.array_equal(np.concatenate(arrays) if arrays else np.zeros(0), np.arange(n)):
        fail(f"{what}: the parts, one after the other, must be exactly the rows 0..{n - 1} in order "
             "(contiguous parts, every row once)")
    if max(sizes) - min(sizes) > 1:
        fail(f"{what}: part sizes differ by more than one")


@pytest.mark.points(1)
def test_split(student):
    """split: contiguous, near-equal parts that cover every row once.

    Cases with k dividing n, with a remainder, k = 1, k = n and k > n (empty parts).
    """
    for n, k in ((12, 4), (10, 3), (103, 7), (9, 1), (5, 5), (3, 5), (1, 4)):
        _check_split(student, n, k)


# --------------------------------------------------------------------------- partition_gradient
def _pair(value, what):
    if not isinstance(value, (tuple, list)) or len(value) != 2:
        fail(f"{what} must return a pair (g_sum, n_p)")
    g, n = value
    if isinstance(n, (bool, np.bool_)) or not isinstance(n, (int, float, np.integer, np.floating)):
        fail(f"{what}: n_p must be an int (the number of rows)")
    return g, n


def _check_gradient(student, w, X, y, loss, what):
    g, n = _pair(student.partition_gradient(w.copy(), X.copy(), y.copy(), loss), what)
    want_g, want_n = ref.gradient_sum(w, X, y, loss)
    if float(n) != want_n:
        fail(f"{what}: n_p is not the number of rows of the partition")
    got = to_array(g, f"{what}: g_sum")
    if got.shape == want_g.shape and want_n > 1 and np.allclose(got * want_n, want_g, rtol=RTOL, atol=ATOL):
        fail(f"{what}: g_sum is the mean of the per-example gradients; return their sum")
    check_close(got, want_g, f"{what}: g_sum", rtol=RTOL, atol=ATOL)


def _gradient_cases(seed, labels):
    """(w, X, y) for partitions of 1, 2, 37 and 200 rows, with 3 and 6 features."""
    rng = np.random.default_rng(seed)
    for n, d in ((1, 3), (2, 3), (37, 6), (200, 6)):
        X = rng.normal(0.0, 1.0, size=(n, d))
        w = rng.normal(0.0, 1.0, size=d)
        y = (rng.random(n) < 0.5).astype(np.float64) if labels else rng.normal(0.0, 3.0, size=n)
        yield n, w, X, y


@pytest.mark.points(2)
def test_partition_gradient_squared(student):
    """Worker gradient, squared loss: the sum of (x.w - y) x over the partition, and its row count."""
    for n, w, X, y in _gradient_cases(2201, labels=False):
        _check_gradient(student, w, X, y, "squared", f"partition_gradient(..., 'squared') on {n} row(s)")


@pytest.mark.points(2)
def test_partition_gradient_logistic(student):
    """Worker gradient, logistic loss: the sum of (sigmoid(x.w) - y) x over the partition, and its row count.

    Labels are 0.0 and 1.0; one partition has rows with x.w around +-40, where a careless sigmoid
    overflows.
    """
    for n, w, X, y in _gradient_cases(2202, labels=True):
        _check_gradient(student, w, X, y, "logistic", f"partition_gradient(..., 'logistic') on {n} row(s)")
    w = np.array([4.0, -4.0, 2.0])
    X = np.array([[10.0, 0.0, 0.0], [0.0, 10.0, 0.0], [1.0, 1.0, 1.0], [-5.0, 5.0, 0.5]])
    y = np.array([0.0, 1.0, 1.0, 0.0])
    _check_gradient(student, w, X, y, "logistic", "partition_gradient(..., 'logistic') with large |x.w|")


@pytest.mark.points(1)
def test_partition_gradient_empty_partition(student):
    """Worker gradient of an empty partition: a zero vector and 0 rows."""
    w = np.array([0.5, -1.0, 2.0, 0.25])
    for loss in ("squared", "logistic"):
        what = f"partition_gradient(..., {loss!r}) on 0 rows"
        g, n = _pair(student.partition_gradient(w.copy(), np.zeros((0, 4)), np.zeros(0), loss), what)
        if float(n) != 0:
            fail(f"{what}: n_p must be 0")
        check_close(g, np.zeros(4), f"{what}: g_sum", rtol=0.0, atol=0.0)


# --------------------------------------------------------------------------- aggregate
def _partials(seed, sizes, d=5):
    rng = np.random.default_rng(seed)
    return [(rng.normal(0.0, float(n) + 1.0, size=d) if n else np.zeros(d), n) for n in sizes]


def _mean(partials):
    return sum(g for g, _ in partials) / sum(n for _, n in partials)


@pytest.mark.points(2)
def test_aggregate_weighted_mean(student):
    """Driver: aggregate is the mean over all rows (sum of sums / sum of counts), with uneven and empty partitions."""
    cases = (("one partition", [17]),
             ("partitions of 1, 10 and 4 rows", [1, 10, 4]),
             ("partitions of 3, 0, 50 and 0 rows", [3, 0, 50, 0]),
             ("equal partitions of 8 rows", [8, 8, 8]))
    for i, (name, sizes) in enumerate(cases):
        partials = _partials(2210 + i, sizes)
        check_close(student.aggregate([(g.copy(), n) for g, n in partials]), _mean(partials),
                    f"aggregate of {name}", rtol=RTOL, atol=ATOL)


@pytest.mark.points(1)
def test_aggregate_order_independent(student):
    """Driver: the aggregate does not depend on the order in which workers answer.

    The same partials (one of them empty) in four orders must give the same result (rtol 1e-12:
    only the order of the sums differs). Whether that result is the right mean is
    test_aggregate_weighted_mean's question.
    """
    partials = _partials(2220, [0, 6, 1, 13, 2, 7])
    first = None
    for i, order in enumerate(([0, 1, 2, 3, 4, 5], [5, 4, 3, 2, 1, 0], [3, 0, 5, 1, 4, 2], [1, 3, 5, 0, 2, 4])):
        what = f"aggregate of the same partials in order {i + 1}"
        got = to_array(student.aggregate([(partials[j][0].copy(), partials[j][1]) for j in order]), what)
        if got.shape != (5,):
            fail(f"{what} has shape {got.shape}, expected (5,)")
        if not np.all(np.isfinite(got)):
            fail(f"{what} contains NaN or inf")
        if first is None:
            first = got
        elif not np.allclose(got, first, rtol=1e-12, atol=1e-13):
            fail(f"{what} differs from the same partials in order 1 "
                 f"(max abs diff {float(np.max(np.abs(got - first))):.3g})")
