"""Public tests for m01-distributed-regression (shipped to students).

These are a few of the autograder's tests. The autograder runs your notebook top to bottom
and gives each test a ``student`` object: ``student.split(10, 3)`` calls the ``split`` your
notebook defined. The hidden tests check the same functions (and ``fit``, ``w_linear`` and
``w_logistic``) in the same way, on inputs of their own.
"""

import numpy as np
import pytest


def _array(value, what):
    try:
        return np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        pytest.fail(f"{what} did not return a numeric array", pytrace=False)


@pytest.mark.points(1)
def test_split_small_example(student):
    """split(10, 3) gives parts of 4, 3 and 3 consecutive rows."""
    parts = student.split(10, 3)
    if not isinstance(parts, (list, tuple)) or len(parts) != 3:
        pytest.fail("split(10, 3) must return a list of 3 index arrays", pytrace=False)
    expected = [[0, 1, 2, 3], [4, 5, 6], [7, 8, 9]]
    for j, (part, want) in enumerate(zip(parts, expected)):
        got = _array(part, f"split(10, 3)[{j}]").reshape(-1)
        if got.shape != (len(want),) or not np.array_equal(got, want):
            pytest.fail(f"split(10, 3)[{j}] should be {want}", pytrace=False)


@pytest.mark.points(1)
def test_partition_gradient_small_example(student):
    """partition_gradient of two rows, by hand, for both losses."""
    X = np.array([[1.0, 2.0], [3.0, 1.0]])
    y = np.array([0.0, 1.0])
    # squared loss at w = (1, -1): residuals x.w - y are -1 and 1, so g_sum = -(1, 2) + (3, 1) = (2, -1)
    # logistic loss at w = 0: p = 0.5 for both rows, so g_sum = 0.5 (1, 2) - 0.5 (3, 1) = (-1, 0.5)
    for loss, w, want in (("squared", np.array([1.0, -1.0]), [2.0, -1.0]),
                          ("logistic", np.zeros(2), [-1.0, 0.5])):
        out = student.partition_gradient(w, X, y, loss)
        if not isinstance(out, (tuple, list)) or len(out) != 2:
            pytest.fail(f"partition_gradient(..., {loss!r}) must return a pair (g_sum, n_p)", pytrace=False)
        g, n = out
        if n != 2:
            pytest.fail(f"partition_gradient(..., {loss!r}) must return n_p = 2 for two rows", pytrace=False)
        g = _array(g, f"partition_gradient(..., {loss!r})")
        if g.shape != (2,) or not np.allclose(g, want, rtol=1e-10, atol=1e-12):
            halved = g.shape == (2,) and np.allclose(2.0 * g, want)
            hint = " (the sum over the two rows, not their mean)" if halved else ""
            pytest.fail(f"partition_gradient(w, X, y, {loss!r}) should return g_sum = {want}{hint}", pytrace=False)


@pytest.mark.points(1)
def test_aggregate_small_example(student):
    """aggregate of a 2-row and a 1-row partition is the mean over the 3 rows."""
    partials = [(np.array([2.0, 4.0]), 2), (np.array([3.0, 0.0]), 1)]
    g = _array(student.aggregate(partials), "aggregate")
    if g.shape != (2,) or not np.allclose(g, [5.0 / 3.0, 4.0 / 3.0], rtol=1e-10, atol=1e-12):
        pytest.fail("aggregate([((2, 4), 2), ((3, 0), 1)]) should be (5/3, 4/3): "
                    "the sum of the sums divided by the total number of rows", pytrace=False)
