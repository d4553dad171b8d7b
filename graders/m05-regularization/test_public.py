"""Public tests for m05-regularization (shipped to students).

These are a few of the autograder's tests. The autograder runs your notebook top to
bottom and gives each test a ``student`` object: ``student.Dropout(0.5, 0)`` builds the
``Dropout`` your notebook defined (the object stays in your notebook; the test calls its
methods). The hidden tests check the rest in the same way, comparing with
torch.nn.Dropout, torch.nn.BatchNorm1d, autograd and torch.optim on inputs of their own.
"""

import numpy as np
import pytest


def _array(value, what):
    try:
        out = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        pytest.fail(f"{what} did not return a numeric array", pytrace=False)
    if out.dtype == object:
        pytest.fail(f"{what} did not return a numeric array", pytrace=False)
    return out


@pytest.mark.points(1)
def test_dropout_shape_and_eval_identity(student):
    """Dropout keeps the shape, and is the identity in eval mode."""
    x = np.arange(1.0, 25.0).reshape(4, 6)
    layer = student.Dropout(0.5, 0)
    out = _array(layer.forward(x.copy()), "Dropout.forward")
    if out.shape != x.shape:
        pytest.fail(f"Dropout.forward returned shape {out.shape}, expected {x.shape}", pytrace=False)
    layer.eval()
    out = _array(layer.forward(x.copy()), "Dropout.forward in eval mode")
    if out.shape != x.shape or not np.array_equal(out, x):
        pytest.fail("after eval(), Dropout.forward(x) must return x unchanged", pytrace=False)


@pytest.mark.points(1)
def test_batchnorm_normalises_each_feature(student):
    """In training mode batch norm gives every feature mean 0 and variance 1."""
    x = np.random.default_rng(0).normal(5.0, 4.0, size=(64, 3))
    out = _array(student.BatchNorm1d(3).forward(x.copy()), "BatchNorm1d.forward")
    if out.shape != x.shape:
        pytest.fail(f"BatchNorm1d.forward returned shape {out.shape}, expected {x.shape}", pytrace=False)
    if not np.allclose(out.mean(axis=0), 0.0, atol=1e-6):
        pytest.fail("with weight 1 and bias 0, every column of the output should have mean 0", pytrace=False)
    # np.var divides by n: the biased variance, which batch norm normalises with.
    if not np.allclose(out.var(axis=0), 1.0, atol=1e-4):
        pytest.fail("with weight 1 and bias 0, every column of the output should have variance 1 "
                    "(the biased variance, dividing by n)", pytrace=False)


@pytest.mark.points(1)
def test_l2_penalty_small_example(student):
    """The L2 penalty of a small vector, and its gradient."""
    w = np.array([1.0, -2.0, 3.0])
    value = student.l2_penalty(w.copy(), 0.1)
    try:
        value = float(value)
    except (TypeError, ValueError):
        pytest.fail("l2_penalty must return a float", pytrace=False)
    if not np.isclose(value, 0.7):
        pytest.fail("l2_penalty([1, -2, 3], 0.1) should be 0.1 / 2 * 14 = 0.7", pytrace=False)
    grad = _array(student.l2_penalty_grad(w.copy(), 0.1), "l2_penalty_grad")
    if grad.shape != w.shape or not np.allclose(grad, [0.1, -0.2, 0.3]):
        pytest.fail("l2_penalty_grad([1, -2, 3], 0.1) should be [0.1, -0.2, 0.3]", pytrace=False)
