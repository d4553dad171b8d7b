"""Hidden tests, part 2: batch normalisation (HIDDEN, not shipped).

The reference is torch.nn.BatchNorm1d in float64 (and autograd for the backward pass), fed
the same batches, weight, bias and buffers. Tolerances rtol 1e-5, atol 1e-6 (see
reference.py). Weights and buffers are set on the student's layer as attributes, the way
the notebook's provided __init__ names them (weight, bias, running_mean, running_var).
"""

import numpy as np
import pytest
import reference as ref
import torch
from handin.checks import check_close, fail, to_array

TOL = {"rtol": ref.RTOL, "atol": ref.ATOL}


def _layer(student, d, weight=None, bias=None, **kwargs):
    bn = student.BatchNorm1d(d, **kwargs)
    if weight is not None:
        bn.weight = weight.copy()
        bn.bias = bias.copy()
    return bn


@pytest.mark.points(2)
def test_batchnorm_train_forward(student):
    """Batch norm in training mode normalises with the batch mean and biased variance.

    Compared with torch.nn.BatchNorm1d in training mode for batches of 8, 32 and 2 rows,
    with a non-trivial weight and bias.
    """
    d = 5
    weight, bias = ref.affine(d, 301)
    bn = _layer(student, d, weight, bias)
    torch_bn = ref.torch_batchnorm(d, weight, bias)
    for i, n in enumerate((8, 32, 2)):
        x = ref.batch(n, d, 310 + i)
        with torch.no_grad():
            expected = torch_bn(torch.as_tensor(x)).numpy()
        check_close(bn.forward(x.copy()), expected, f"BatchNorm1d({d}) in training mode, batch of {n}", **TOL)


@pytest.mark.points(2)
def test_batchnorm_running_statistics(student, credit):
    """Running mean and variance follow torch's momentum update (unbiased variance).

    Three training-mode batches (of 8, 16 and 5 rows) with the default momentum 0.1 and with
    momentum 0.25; the running statistics are compared with torch's after every batch.
    Half credit when the running mean is right but the running variance is not.
    """
    d = 4
    var_wrong = False
    for momentum in (None, 0.25):
        kwargs = {} if momentum is None else {"momentum": momentum}
        label = f"BatchNorm1d({d}" + ("" if momentum is None else f", momentum={momentum}") + ")"
        bn = _layer(student, d, **kwargs)
        torch_bn = ref.torch_batchnorm(d, momentum=0.1 if momentum is None else momentum)
        for i, n in enumerate((8, 16, 5)):
            x = ref.batch(n, d, 320 + i, loc=3.0)
            bn.forward(x.copy())
            with torch.no_grad():
                torch_bn(torch.as_tensor(x))
            check_close(bn.running_mean, torch_bn.running_mean.numpy(),
                        f"{label}.running_mean after {i + 1} training batch(es)", **TOL)
            rv = to_array(bn.running_var, f"{label}.running_var")
            expected = torch_bn.running_var.numpy()
            if rv.shape != expected.shape or not np.allclose(rv, expected, **TOL):
                var_wrong = True
    if var_wrong:
        credit(0.5, "running_mean follows torch, but running_var does not "
                    "(torch keeps the unbiased batch variance, n/(n-1) times the biased one)")


@pytest.mark.points(2)
def test_batchnorm_eval_forward(student):
    """In eval mode batch norm uses the running statistics and leaves them unchanged.

    The running statistics are set directly, so this test does not depend on their update;
    batches of 6 rows and of a single row.
    """
    d = 4
    weight, bias = ref.affine(d, 331)
    rng = np.random.default_rng(332)
    running_mean = rng.normal(1.0, 2.0, size=d)
    running_var = rng.uniform(0.5, 4.0, size=d)
    bn = _layer(student, d, weight, bias)
    bn.running_mean = running_mean.copy()
    bn.running_var = running_var.copy()
    bn.eval()
    torch_bn = ref.torch_batchnorm(d, weight, bias, running_mean=running_mean, running_var=running_var).eval()
    for i, n in enumerate((6, 1)):
        x = ref.batch(n, d, 333 + i)
        with torch.no_grad():
            expected = torch_bn(torch.as_tensor(x)).numpy()
        check_close(bn.forward(x.copy()), expected, f"BatchNorm1d({d}) in eval mode, batch of {n}", **TOL)
    check_close(bn.running_mean, running_mean, "running_mean after eval-mode forward calls (must not change)", **TOL)
    check_close(bn.running_var, running_var, "running_var after eval-mode forward calls (must not change)", **TOL)


def _backward(student, n, d, seed):
    weight, bias = ref.affine(d, seed)
    x = ref.batch(n, d, seed + 1)
    dout = np.random.default_rng(seed + 2).normal(size=(n, d))
    bn = _layer(student, d, weight, bias)
    bn.forward(x.copy())
    out = bn.backward(dout.copy())
    if not isinstance(out, (tuple, list)) or len(out) != 3:
        fail("BatchNorm1d.backward must return a triple (dx, dweight, dbias)")
    _, dx, dweight, dbias = ref.batchnorm_grads(x, weight, bias, dout)
    return out, (dx, dweight, dbias)


@pytest.mark.points(1)
def test_batchnorm_backward_params(student):
    """Batch norm's gradients for weight and bias match autograd.

    Training mode, batches of 10 and 3 rows.
    """
    for n, seed in ((10, 340), (3, 345)):
        (_, dweight, dbias), (_, ew, eb) = _backward(student, n, 6, seed)
        check_close(dweight, ew, f"BatchNorm1d.backward: dweight (batch of {n})", **TOL)
        check_close(dbias, eb, f"BatchNorm1d.backward: dbias (batch of {n})", **TOL)


@pytest.mark.points(3)
def test_batchnorm_backward_input(student):
    """Batch norm's gradient for the input matches autograd.

    Training mode, batches of 10 and 3 rows: the gradient must include the paths through
    the batch mean and the batch variance.
    """
    for n, seed in ((10, 350), (3, 355)):
        (dx, _, _), (ex, _, _) = _backward(student, n, 6, seed)
        check_close(dx, ex, f"BatchNorm1d.backward: dx (batch of {n})", **TOL)
