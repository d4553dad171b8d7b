"""Hidden tests, part 1: the numpy network (HIDDEN, not shipped).

Every student value goes through handin.checks (to_array / check_close / to_float), which fail
with a short message (type or shape, max abs diff) and never print expected arrays.
"""

import numpy as np
import pytest
import reference as ref
from handin.checks import check_close, fail, get_dict, to_array, to_float
from reference import copy_params

KEYS = ("W1", "b1", "W2", "b2")


def _relu_input():
    x = np.random.default_rng(101).normal(0.0, 2.0, size=(5, 7))
    x[0, :3] = 0.0          # the kink: relu(0) = 0 and relu_grad(0) = 0
    x[1, 0] = 1e-3          # tiny positive / negative values
    x[1, 1] = -1e-3
    return x


@pytest.mark.points(1)
def test_relu(student):
    """ReLU matches the reference, zero at the kink."""
    x = _relu_input()
    check_close(student.relu(x), ref.relu(x), "relu")
    x1 = np.array([-3.0, 0.5, 2.0])          # 1-D input keeps its shape too
    check_close(student.relu(x1), ref.relu(x1), "relu of a 1-D array")


@pytest.mark.points(1)
def test_relu_grad(student):
    """ReLU derivative is 1 above zero and 0 elsewhere."""
    x = _relu_input()
    check_close(student.relu_grad(x), ref.relu_grad(x), "relu_grad")


@pytest.mark.points(1)
def test_softmax(student):
    """Softmax matches the reference row by row."""
    z = np.random.default_rng(102).normal(0.0, 3.0, size=(6, 5))
    check_close(student.softmax(z), ref.softmax(z), "softmax")
    z1 = np.array([[0.3, -1.2, 2.0]])         # a single row
    check_close(student.softmax(z1), ref.softmax(z1), "softmax of a single row")


@pytest.mark.points(1)
def test_softmax_stable(student):
    """Softmax stays finite for very large logits."""
    z = np.array([
        [1000.0, 1001.0, 999.0, 0.0],
        [-1000.0, -1002.0, -999.0, -1001.0],
        [5000.0, 4999.5, 0.0, -5000.0],
        [0.5, 0.25, -0.5, 0.0],
    ])
    check_close(student.softmax(z), ref.softmax(z), "softmax of large logits")


@pytest.mark.points(1)
def test_cross_entropy(student):
    """Cross-entropy is the mean negative log-likelihood."""
    rng = np.random.default_rng(103)
    probs = ref.softmax(rng.normal(0.0, 2.0, size=(7, 4)))
    y = np.array([0, 3, 1, 1, 2, 0, 3], dtype=np.int64)
    value = to_float(student.cross_entropy(probs, y), "cross_entropy")
    expected = ref.cross_entropy(probs, y)
    if not np.isclose(value, expected, rtol=1e-5, atol=1e-7):
        fail(f"cross_entropy differs from the reference (abs diff {abs(value - expected):.3g}); "
             "it should be the mean negative log-likelihood")


@pytest.mark.points(1)
def test_init_params(student):
    """Initial parameters have the asked shapes, scales and seed."""
    shapes = {"W1": (64, 32), "b1": (32,), "W2": (32, 10), "b2": (10,)}

    def fetch(seed):
        params = get_dict(student.init_params(64, 32, 10, seed), KEYS, f"init_params(..., seed={seed})")
        out = {}
        for key in KEYS:
            value = to_array(params[key], f"init_params()[{key!r}]")
            if value.shape != shapes[key]:
                fail(f"init_params()[{key!r}] has shape {value.shape}, expected {shapes[key]}")
            if not np.all(np.isfinite(value)):
                fail(f"init_params()[{key!r}] contains NaN or inf")
            out[key] = value
        return out

    a, b, c = fetch(0), fetch(0), fetch(1)
    for key in KEYS:
        if not np.array_equal(a[key], b[key]):
            fail(f"init_params is not deterministic: {key} differs between two calls with seed=0")
    if np.array_equal(a["W1"], c["W1"]):
        fail("init_params ignores the seed: W1 is the same for seed=0 and seed=1")
    for key, units in (("W1", 32), ("W2", 10)):
        w = a[key]
        if len(np.unique(w.T, axis=0)) < units:
            fail(f"{key} has identical columns: hidden units would stay identical (symmetry)")
        if np.max(np.abs(w)) > 10.0:
            fail(f"{key} has entries larger than 10 in magnitude; weights should be small")


@pytest.mark.points(2)
def test_forward(student):
    """Forward pass gives the reference probabilities and cache."""
    params, X, _ = ref.small_problem()
    for Xb, what in ((X, "forward"), (X[:1], "forward on a single example")):
        out = student.forward(copy_params(params), Xb)
        if not isinstance(out, (tuple, list)) or len(out) != 2:
            fail(f"{what} must return a pair (probs, cache)")
        check_close(out[0], ref.forward(params, Xb)[0], f"{what}: probs")


def _student_grads(student, params, X, y):
    out = student.forward(copy_params(params), X)
    if not isinstance(out, (tuple, list)) or len(out) != 2:
        fail("forward must return a pair (probs, cache)")
    grads = student.backward(copy_params(params), out[1], y)
    return get_dict(grads, KEYS, "backward")


@pytest.mark.points(2)
def test_backward_output_layer(student):
    """Backward pass: output-layer gradients match."""
    params, X, y = ref.small_problem()
    expected = ref.backward(params, ref.forward(params, X)[1], y)
    grads = _student_grads(student, params, X, y)
    for key in ("W2", "b2"):
        check_close(grads[key], expected[key], f"backward: gradient of {key}")


@pytest.mark.points(2)
def test_backward_hidden_layer(student):
    """Backward pass: hidden-layer gradients match."""
    params, X, y = ref.small_problem()
    expected = ref.backward(params, ref.forward(params, X)[1], y)
    grads = _student_grads(student, params, X, y)
    for key in ("W1", "b1"):
        check_close(grads[key], expected[key], f"backward: gradient of {key}")


@pytest.mark.points(2)
def test_numerical_gradient(student, credit):
    """Numerical gradient by central differences is accurate."""
    x = np.random.default_rng(104).uniform(-1.5, 1.5, size=(3, 4))
    out = student.probe_numerical_gradient(x.copy())
    if not isinstance(out, (tuple, list)) or len(out) != 2:
        fail("probe_numerical_gradient (provided, do not change) must return (gradient, x)")
    # Central differences with eps=1e-5 are accurate to ~1e-9 here; one-sided differences
    # are off by ~1e-4 and fail this tolerance.
    check_close(out[0], ref.probe_grad(x), "numerical_gradient (central differences)", rtol=1e-6, atol=1e-6)
    x_after = to_array(out[1], "probe_numerical_gradient")
    if x_after.shape != x.shape or not np.allclose(x_after, x, rtol=0.0, atol=1e-9):
        credit(0.5, "numerical_gradient leaves x modified")


@pytest.mark.points(2)
def test_grad_check(student):
    """Gradient check tells a right backward pass from a wrong one."""
    params, X, y = ref.small_problem()
    grads = ref.backward(params, ref.forward(params, X)[1], y)
    good = to_float(student.grad_check(copy_params(params), X, y, 1e-5, copy_params(grads)), "grad_check")
    if not 0.0 <= good < 1e-6:
        fail(f"grad_check reports a relative error of {good:.2g} for correct gradients (expected < 1e-6)")
    for key in KEYS:
        wrong = copy_params(grads)
        wrong[key] = 2.0 * wrong[key]
        bad = to_float(student.grad_check(copy_params(params), X, y, 1e-5, wrong), "grad_check")
        if not bad > 1e-2:
            fail(f"grad_check does not notice a wrong gradient of {key} "
                 f"(reported {bad:.2g}, expected > 1e-2)")
