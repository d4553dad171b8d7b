"""Hidden tests, part 2: the intercept, predictions and distributed gradient descent (HIDDEN, not shipped).

The judge builds its own design matrices (intercept column included, as the notebook asks
`fit` to receive them) and calls the student's `fit` with explicit `partitions`, `lr` and
`steps`; every value that comes back goes through handin.checks.
"""

import numpy as np
import pytest
import reference as ref
from handin.checks import check_close, fail, to_array


def _fit(student, A, y, loss, partitions, lr, steps, what):
    w = to_array(student.fit(A.copy(), y.copy(), loss, partitions=partitions, lr=lr, steps=steps), what)
    if w.shape != (A.shape[1],):
        fail(f"{what} returned shape {w.shape}, expected ({A.shape[1]},)")
    if not np.all(np.isfinite(w)):
        fail(f"{what} returned NaN or inf")
    return w


@pytest.mark.points(1)
def test_add_intercept_and_predict(student):
    """add_intercept puts a column of ones first; predict is X @ w and predict_proba is sigmoid(X @ w)."""
    rng = np.random.default_rng(2301)
    for n in (6, 1):
        X = rng.normal(size=(n, 3))
        check_close(student.add_intercept(X.copy()), ref.add_intercept(X), f"add_intercept of {n} row(s)",
                    rtol=0.0, atol=0.0)
    A, w = ref.add_intercept(rng.normal(size=(7, 3))), rng.normal(0.0, 2.0, size=4)
    check_close(student.predict(w.copy(), A.copy()), A @ w, "predict", rtol=1e-12, atol=1e-12)
    check_close(student.predict_proba(w.copy(), A.copy()), ref.sigmoid(A @ w), "predict_proba",
                rtol=1e-10, atol=1e-14)


@pytest.mark.points(2)
def test_fit_follows_gradient_descent(student):
    """fit does exactly `steps` full-batch gradient steps of size `lr` from w = 0, on the mean gradient.

    One step and seven steps over three partitions, both losses, against the judge's own gradient
    descent (rtol 1e-9: the two differ only in the order of floating-point sums).
    """
    A, y = ref.regression_problem(2302, 50, 4)
    _, labels = ref.classification_problem(2303, 50, 4)
    for loss, target, lr in (("squared", y, 0.3), ("logistic", labels, 1.5)):
        for steps in (1, 7):
            what = f"fit(..., {loss!r}, partitions=3, lr={lr}, steps={steps})"
            w = _fit(student, A, target, loss, 3, lr, steps, what)
            check_close(w, ref.gradient_descent(A, target, loss, lr, steps), what, rtol=1e-9, atol=1e-12)


@pytest.mark.points(3)
def test_fit_partition_invariance(student):
    """fit gives the same weights with 1, 2, 4 or 7 partitions, also with uneven and empty partitions.

    103 rows (so the partitions differ in size) and 5 rows over 8 partitions (three are empty);
    compared with the student's own 1-partition result, rtol 1e-9 (only the order of the sums
    differs, and gradient descent does not amplify rounding errors).
    """
    A, y = ref.regression_problem(2304, 103, 4)
    _, labels = ref.classification_problem(2305, 103, 4)
    small, small_y = ref.regression_problem(2306, 5, 2)
    cases = [(A, y, "squared", 0.3, 40, (2, 4, 7)),
             (A, labels, "logistic", 1.5, 40, (2, 4, 7)),
             (small, small_y, "squared", 0.2, 20, (8,))]
    for X, target, loss, lr, steps, counts in cases:
        one = _fit(student, X, target, loss, 1, lr, steps, f"fit(..., {loss!r}, partitions=1) on {len(X)} rows")
        for k in counts:
            what = f"fit(..., {loss!r}, partitions={k}) on {len(X)} rows"
            w = _fit(student, X, target, loss, k, lr, steps, what)
            if not np.allclose(w, one, rtol=1e-9, atol=1e-12):
                fail(f"{what} differs from the same fit with partitions=1 "
                     f"(max abs diff {float(np.max(np.abs(w - one))):.3g})")


@pytest.mark.points(2)
def test_linear_converges_to_least_squares(student):
    """Linear regression by distributed gradient descent reaches the least-squares solution.

    400 judge rows, 5 features plus intercept, 4 partitions, lr 0.5, 300 steps. The eigenvalues of
    A^T A / n lie in about [0.3, 1.9], so each step shrinks the error by a factor of at most 0.85:
    after 300 steps gradient descent is at np.linalg.lstsq's solution to rounding (~1e-15). The
    tolerance (rtol 1e-6, atol 1e-8) only leaves room for floating-point differences; a gradient
    that is off by a constant factor still converges here (and loses the gradient tests instead).
    """
    A, y = ref.regression_problem(2307, 400, 5)
    w = _fit(student, A, y, "squared", 4, 0.5, 300, "fit(..., 'squared', partitions=4, lr=0.5, steps=300)")
    check_close(w, ref.least_squares(A, y), "linear-regression weights after 300 steps (against least squares)",
                rtol=1e-6, atol=1e-8)


@pytest.mark.points(2)
def test_logistic_converges_to_sklearn(student):
    """Logistic regression by distributed gradient descent reaches scikit-learn's maximum-likelihood fit.

    400 judge rows with noisy labels (not separable), 4 features plus intercept, 4 partitions,
    lr 2, 500 steps: the Hessian's eigenvalues at the optimum lie in about [0.05, 0.31], so each step
    shrinks the error by a factor of at most 0.9 and 500 steps reach the optimum to ~1e-15.
    scikit-learn's LogisticRegression (no effective penalty, newton-cg with tol 1e-12) agrees with
    Newton's method to ~1e-13; the coefficients must match with rtol 1e-6, atol 1e-8 (room for
    rounding only) and the mean log-loss must not be above scikit-learn's by more than 1e-10.
    """
    A, y = ref.classification_problem(2308, 400, 4)
    w = _fit(student, A, y, "logistic", 4, 2.0, 500, "fit(..., 'logistic', partitions=4, lr=2.0, steps=500)")
    want = ref.sklearn_logistic(A, y)
    check_close(w, want, "logistic-regression weights after 500 steps (against scikit-learn)",
                rtol=1e-6, atol=1e-8)
    if ref.mean_log_loss(w, A, y) > ref.mean_log_loss(want, A, y) + 1e-10:
        fail("the mean log-loss after 500 steps is above scikit-learn's minimum")
