"""Reference computations and fixed inputs for the m05-regularization hidden tests.

HIDDEN: this file is never shipped to students.

The references are PyTorch itself, in float64 on the CPU: torch.nn.BatchNorm1d with
autograd for batch normalisation, and torch.optim.SGD / Adam / AdamW for the optimiser
steps. Dropout is random, so its tests check properties (exact at eval, statistical with
fixed seeds in training) rather than a reference mask.

Tolerances: every comparison uses rtol 1e-5, atol 1e-6 (the fp32 defaults of this course).
The submissions compute in float64 and agree with torch to ~1e-15; the wrong variants the
tests are meant to catch differ by 1e-3 or more, so the margin is large either way, and a
submission that happens to compute in float32 still passes.
"""

from __future__ import annotations

import numpy as np
import torch

RTOL = 1e-5
ATOL = 1e-6


# --------------------------------------------------------------------------- batch norm
def batch(n, d, seed, loc=2.0, scale=3.0):
    """An (n, d) float64 batch whose features have clearly non-zero means and non-unit spreads."""
    rng = np.random.default_rng(seed)
    shift = rng.uniform(-loc, loc, size=d) + loc
    spread = rng.uniform(0.5, scale, size=d)
    return shift + spread * rng.normal(size=(n, d))


def affine(d, seed):
    """A non-trivial weight (gamma) and bias (beta) for d features."""
    rng = np.random.default_rng(seed)
    return rng.uniform(0.5, 2.0, size=d) * rng.choice([-1.0, 1.0], size=d), rng.normal(size=d)


def torch_batchnorm(d, weight=None, bias=None, momentum=0.1, eps=1e-5, running_mean=None, running_var=None):
    """torch.nn.BatchNorm1d in float64 with the given parameters and buffers."""
    bn = torch.nn.BatchNorm1d(d, eps=eps, momentum=momentum).double()
    with torch.no_grad():
        for tensor, value in ((bn.weight, weight), (bn.bias, bias),
                              (bn.running_mean, running_mean), (bn.running_var, running_var)):
            if value is not None:
                tensor.copy_(torch.as_tensor(np.asarray(value, dtype=np.float64)))
    return bn


def batchnorm_grads(x, weight, bias, dout):
    """(y, dx, dweight, dbias) of a training-mode BatchNorm1d by autograd."""
    bn = torch_batchnorm(x.shape[1], weight, bias)
    xt = torch.tensor(x, dtype=torch.float64, requires_grad=True)
    y = bn(xt)
    y.backward(torch.as_tensor(dout, dtype=torch.float64))
    return (y.detach().numpy(), xt.grad.numpy(), bn.weight.grad.numpy(), bn.bias.grad.numpy())


# --------------------------------------------------------------------------- weight decay
def least_squares(seed=3, n=24, d_in=6, d_out=4):
    """X, Y, w0 of a small least-squares problem: loss(w) = 0.5 * sum((X w - Y)^2) / n."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d_in))
    Y = rng.normal(size=(n, d_out))
    w0 = rng.normal(size=(d_in, d_out))
    return X, Y, w0


def loss_grad(w, X, Y):
    """Gradient of 0.5 * sum((X w - Y)^2) / n with respect to w (the unpenalised loss)."""
    return X.T @ (X @ w - Y) / len(X)


def torch_trajectory(optimizer, X, Y, w0, steps, **kwargs):
    """Weights after each of ``steps`` steps of torch.optim.<optimizer>(**kwargs) on the least-squares loss."""
    param = torch.nn.Parameter(torch.tensor(w0, dtype=torch.float64))
    opt = getattr(torch.optim, optimizer)([param], **kwargs)
    Xt, Yt = torch.as_tensor(X), torch.as_tensor(Y)
    out = []
    for _ in range(steps):
        opt.zero_grad()
        loss = 0.5 * ((Xt @ param - Yt) ** 2).sum() / len(X)
        loss.backward()
        opt.step()
        out.append(param.detach().numpy().copy())
    return out


def l2_penalty(w, wd):
    return float(0.5 * wd * np.sum(np.asarray(w, dtype=np.float64) ** 2))


def l2_penalty_grad_autograd(w, wd):
    wt = torch.tensor(np.asarray(w, dtype=np.float64), requires_grad=True)
    (0.5 * wd * (wt ** 2).sum()).backward()
    return wt.grad.numpy()
