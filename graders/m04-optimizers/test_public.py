"""Public tests for m04-optimizers (shipped to students).

These are a few of the autograder's tests. The autograder runs your notebook top to bottom
and gives each test a ``student`` object: ``student.SGD(params, lr=0.1)`` builds the ``SGD``
your notebook defined. The hidden tests compare your optimisers with torch.optim (in float64)
after every step of several runs, with every option, and run your least-squares solver on
problems of their own.
"""

import numpy as np
import pytest


def _array(value, what):
    try:
        return np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        pytest.fail(f"{what} did not return a numeric array", pytrace=False)


def _params(out, shapes, what):
    if not isinstance(out, (list, tuple)) or len(out) != len(shapes):
        pytest.fail(f"{what}.step(grads) must return the list of {len(shapes)} parameters", pytrace=False)
    arrays = [_array(p, f"{what}.step") for p in out]
    for i, (a, shape) in enumerate(zip(arrays, shapes)):
        if a.shape != shape:
            pytest.fail(f"{what}.step: parameter {i} has shape {a.shape}, expected {shape}", pytrace=False)
    return arrays


@pytest.mark.points(1)
def test_sgd_one_step(student):
    """One plain SGD step is theta - lr * grad.

    Two parameters of different shapes, lr = 0.1, no momentum.
    """
    rng = np.random.default_rng(0)
    W, b = rng.normal(size=(3, 2)), rng.normal(size=2)
    gW, gb = rng.normal(size=(3, 2)), rng.normal(size=2)
    opt = student.SGD([W.copy(), b.copy()], lr=0.1)
    newW, newb = _params(opt.step([gW, gb]), [W.shape, b.shape], "SGD")
    if not (np.allclose(newW, W - 0.1 * gW) and np.allclose(newb, b - 0.1 * gb)):
        pytest.fail("one SGD step with lr=0.1 should give theta - 0.1 * grad", pytrace=False)


@pytest.mark.points(1)
def test_adam_first_step_moves_by_lr(student):
    """Adam's first step moves every coordinate by lr.

    With bias correction, m_hat / sqrt(v_hat) = g / |g| after one step, so the first step is
    theta - lr * g / (|g| + eps) (here lr = 0.05).
    """
    rng = np.random.default_rng(1)
    W = rng.normal(size=(2, 4))
    g = rng.normal(size=(2, 4))
    opt = student.Adam([W.copy()], lr=0.05)
    (newW,) = _params(opt.step([g]), [W.shape], "Adam")
    if not np.allclose(newW, W - 0.05 * g / (np.abs(g) + 1e-8), rtol=1e-5, atol=1e-6):
        pytest.fail("Adam's first step with lr=0.05 should move every coordinate by 0.05 "
                    "against the sign of its gradient (is the bias correction there?)", pytrace=False)


@pytest.mark.points(1)
def test_least_squares_gd_fits(student):
    """Gradient descent from zero solves a small wide system A x = b.

    A is 5 x 12; the result must have shape (12,) and a residual |A x - b| below 1e-6.
    """
    rng = np.random.default_rng(2)
    A = rng.normal(size=(5, 12)) / np.sqrt(12)
    b = rng.normal(size=5)
    x = _array(student.least_squares_gd(A, b, np.zeros(12)), "least_squares_gd")
    if x.shape != (12,):
        pytest.fail(f"least_squares_gd returned shape {x.shape}, expected (12,)", pytrace=False)
    if not np.all(np.isfinite(x)) or np.linalg.norm(A @ x - b) > 1e-6:
        pytest.fail("least_squares_gd(A, b, zeros) does not solve A x = b", pytrace=False)
