"""Hidden tests, part 3: the minimum-norm solution and gradient descent on least squares
(HIDDEN, not shipped).

The judge draws its own well-conditioned wide systems (reference.wide_problem): gradient
descent with the default step 1/sigma_max^2 and 10 000 steps converges to machine precision
on them, so results are compared with rtol 1e-5, atol 1e-6 (a converged float64 run agrees
with pinv(A) @ b to ~1e-13; the wrong answers these tests catch are off by O(1)).
"""

import numpy as np
import pytest
import reference as ref
from handin.checks import check_close, fail, to_array

RTOL, ATOL = 1e-5, 1e-6


def _solve(student, A, b, x0, **kwargs):
    x = to_array(student.least_squares_gd(A, b, x0, **kwargs), "least_squares_gd")
    if x.shape != (A.shape[1],):
        fail(f"least_squares_gd returned shape {x.shape}, expected {(A.shape[1],)}")
    if not np.all(np.isfinite(x)):
        fail("least_squares_gd returned NaN or inf")
    return x


def _fits(A, b, x, what):
    if np.linalg.norm(A @ x - b) > 1e-6 * (1.0 + np.linalg.norm(b)):
        fail(f"{what}: the result does not solve A x = b (gradient descent has not converged)")


@pytest.mark.points(1)
def test_min_norm_solution(student):
    """min_norm_solution gives A^T (A A^T)^{-1} b.

    Compared with numpy's pseudo-inverse solution on two wide systems.
    """
    for m, n, seed in ((15, 40, 21), (3, 10, 22)):
        A, b = ref.wide_problem(m, n, seed)
        check_close(student.min_norm_solution(A, b), ref.min_norm(A, b),
                    f"min_norm_solution on a {m}x{n} system", rtol=RTOL, atol=ATOL)


@pytest.mark.points(1)
def test_gd_update_rule(student):
    """least_squares_gd takes the steps it is asked for, with the learning rate given.

    One step and seven steps with lr = 0.05 from a random start, and three steps with the
    default lr = 1 / sigma_max(A)^2, compared with x <- x - lr * A^T (A x - b).
    """
    A, b = ref.wide_problem(8, 20, 23)
    x0 = np.random.default_rng(24).normal(size=20)
    default_lr = 1.0 / np.linalg.norm(A, 2) ** 2
    for lr, steps, what in ((0.05, 1, "one step with lr=0.05"), (0.05, 7, "seven steps with lr=0.05"),
                            (None, 3, "three steps with the default lr")):
        x = _solve(student, A, b, x0.copy(), lr=lr, steps=steps)
        check_close(x, ref.gd_steps(A, b, x0, default_lr if lr is None else lr, steps),
                    f"least_squares_gd: {what}", rtol=RTOL, atol=ATOL)


@pytest.mark.points(3)
def test_gd_from_zero_is_min_norm(student):
    """Gradient descent from zero reaches the minimum-norm solution.

    On two over-parameterised systems of the grader's, least_squares_gd(A, b, zeros) with its
    defaults must solve A x = b and agree with pinv(A) @ b.
    """
    for m, n, seed in ((30, 100, 25), (12, 50, 26)):
        A, b = ref.wide_problem(m, n, seed)
        x = _solve(student, A, b, np.zeros(n))
        what = f"least_squares_gd from zero on a {m}x{n} system"
        _fits(A, b, x, what)
        check_close(x, ref.min_norm(A, b), f"{what} (compared with pinv(A) @ b)", rtol=RTOL, atol=ATOL)


@pytest.mark.points(2)
def test_gd_from_start_keeps_null_space(student):
    """From a non-zero start, gradient descent finds a different solution.

    Started at a random x0 it must still solve A x = b, must NOT end at the minimum-norm
    solution, and must end at pinv(A) @ b plus the part of x0 in the null space of A (the
    part gradient descent never changes).
    """
    m, n = 30, 100
    A, b = ref.wide_problem(m, n, 27)
    x0 = np.random.default_rng(28).normal(size=n)
    x = _solve(student, A, b, x0.copy())
    what = f"least_squares_gd from a random x0 on a {m}x{n} system"
    _fits(A, b, x, what)
    x_dagger = ref.min_norm(A, b)
    kept = ref.null_projection(A, x0)
    if np.linalg.norm(x - x_dagger) < 0.5 * np.linalg.norm(kept):
        fail(f"{what}: the result is (close to) the minimum-norm solution, but a run from x0 keeps "
             "x0's component in the null space of A; does the solver start from x0?")
    check_close(x, x_dagger + kept, f"{what} (compared with pinv(A) @ b + the null-space part of x0)",
                rtol=RTOL, atol=ATOL)
