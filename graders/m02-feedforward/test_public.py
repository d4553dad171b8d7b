"""Public tests for m02-feedforward (shipped to students).

These are a few of the autograder's tests. The autograder runs your notebook top to
bottom and gives each test a ``student`` object: ``student.relu(x)`` calls the ``relu``
your notebook defined. The hidden tests check the remaining functions in the same way,
comparing against a reference implementation on fixed inputs.
"""

import numpy as np
import pytest


def _array(value, what):
    try:
        return np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        pytest.fail(f"{what} did not return a numeric array", pytrace=False)


@pytest.mark.points(1)
def test_relu_small_example(student):
    """ReLU of a small example."""
    x = np.array([[-2.0, -0.5, 0.0, 0.5, 3.0], [1.5, -1.0, 2.0, -3.0, 0.25]])
    out = _array(student.relu(x), "relu")
    expected = np.array([[0.0, 0.0, 0.0, 0.5, 3.0], [1.5, 0.0, 2.0, 0.0, 0.25]])
    if out.shape != x.shape:
        pytest.fail(f"relu returned shape {out.shape}, expected {x.shape}", pytrace=False)
    if not np.allclose(out, expected):
        pytest.fail("relu([[-2, -0.5, 0, 0.5, 3], ...]) should be [[0, 0, 0, 0.5, 3], ...]", pytrace=False)


@pytest.mark.points(1)
def test_softmax_rows_sum_to_one(student):
    """Softmax rows sum to one."""
    z = np.random.default_rng(0).normal(0.0, 2.0, size=(4, 6))
    p = _array(student.softmax(z), "softmax")
    if p.shape != z.shape:
        pytest.fail(f"softmax returned shape {p.shape}, expected {z.shape}", pytrace=False)
    if not np.all(np.isfinite(p)) or np.any(p <= 0):
        pytest.fail("softmax probabilities must be finite and positive", pytrace=False)
    if not np.allclose(p.sum(axis=1), 1.0):
        pytest.fail("each row of softmax(z) must sum to 1", pytrace=False)
    if not np.all(np.argmax(p, axis=1) == np.argmax(z, axis=1)):
        pytest.fail("the largest logit in each row must get the largest probability", pytrace=False)


@pytest.mark.points(1)
def test_init_params_shapes(student):
    """Initial parameters have the right shapes."""
    params = student.init_params(64, 32, 10, 0)
    if not isinstance(params, dict):
        pytest.fail("init_params must return a dict", pytrace=False)
    shapes = {"W1": (64, 32), "b1": (32,), "W2": (32, 10), "b2": (10,)}
    for key, shape in shapes.items():
        if key not in params:
            pytest.fail(f"init_params result has no key {key!r}", pytrace=False)
        value = _array(params[key], f"init_params()[{key!r}]")
        if value.shape != shape:
            pytest.fail(f"init_params()[{key!r}] has shape {value.shape}, expected {shape}", pytrace=False)
    for key in ("W1", "W2"):
        if np.ptp(_array(params[key], key)) == 0:
            pytest.fail(f"{key} must be random (all entries are equal)", pytrace=False)
