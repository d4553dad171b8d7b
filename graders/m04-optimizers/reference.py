"""Reference trajectories and problems for the m04-optimizers hidden tests.

HIDDEN: this file is never shipped to students.

The optimiser tests compare a submission with torch.optim itself, run in float64: the judge
builds a small seeded random problem (a two-layer tanh regression net, a fresh mini-batch every
step), runs the torch optimiser on it and records, for every step, the gradient torch saw and
the parameters after the step. The submission's optimiser gets the same starting parameters
and, step by step, the same gradients; its parameters must match torch's after every step.
Feeding torch's gradients (not gradients at the submission's own parameters) keeps the
comparison a pure test of the update rule: a wrong rule cannot drift into agreement, and a
right one cannot drift out of it.

Everything is float64, so a correct update agrees with torch to ~1e-15; the tests' tolerance
(rtol 1e-5, atol 1e-6) is far looser than that and far tighter than any of the typical mistakes
(the smallest, dampening on the first step, is off by ~1e-2).
"""

from __future__ import annotations

import numpy as np

SHAPES = ((4, 6), (6,), (6, 2), (2,))        # W1, b1, W2, b2 of a 4-6-2 tanh net


def start_params(seed):
    rng = np.random.default_rng(seed)
    return [rng.normal(0.0, 0.8, size=s) for s in SHAPES]


def _batches(seed, n_steps, batch=8):
    rng = np.random.default_rng(10_000 + seed)
    return [(rng.normal(size=(batch, SHAPES[0][0])), rng.normal(size=(batch, SHAPES[-1][0])))
            for _ in range(n_steps)]


def torch_trajectory(name, kwargs, n_steps, seed):
    """(start, grads, after): torch.optim.<name>(**kwargs) run for n_steps in float64.

    ``grads[k]`` is the list of gradients torch used at step k+1 and ``after[k]`` the list of
    parameters after it (numpy float64 arrays).
    """
    import torch

    start = start_params(seed)
    params = [torch.tensor(p, dtype=torch.float64, requires_grad=True) for p in start]
    opt = getattr(torch.optim, name)(params, **kwargs)
    grads, after = [], []
    for X, Y in _batches(seed, n_steps):
        X, Y = torch.from_numpy(X), torch.from_numpy(Y)
        W1, b1, W2, b2 = params
        loss = ((torch.tanh(X @ W1 + b1) @ W2 + b2 - Y) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        grads.append([p.grad.detach().numpy().copy() for p in params])
        opt.step()
        after.append([p.detach().numpy().copy() for p in params])
    return start, grads, after


# --------------------------------------------------------------------------- least squares
def wide_problem(m, n, seed):
    """A well-conditioned wide system: A (m, n) with m < n, full row rank, and b (m,).

    Gaussian entries scaled by 1/sqrt(n): the singular values lie near 1 +- sqrt(m/n), so
    sigma_min^2 / sigma_max^2 is about 0.1 for m/n = 0.3 and gradient descent with step
    1/sigma_max^2 contracts the error by ~0.9 per step (10 000 steps: far below 1e-15).
    """
    rng = np.random.default_rng(seed)
    A = rng.normal(size=(m, n)) / np.sqrt(n)
    b = rng.normal(size=m)
    return A, b


def min_norm(A, b):
    return np.linalg.pinv(A) @ b


def null_projection(A, x):
    """The component of x in null(A): x minus its projection onto the row space."""
    return x - np.linalg.pinv(A) @ (A @ x)


def gd_steps(A, b, x0, lr, steps):
    x = np.array(x0, dtype=np.float64)
    for _ in range(steps):
        x = x - lr * (A.T @ (A @ x - b))
    return x


# --------------------------------------------------------------------------- following torch
RTOL, ATOL = 1e-5, 1e-6


def follow(student, cls, kwargs, torch_name, n_steps, seed, what=None):
    """Build the submission's optimiser ``cls`` and check it against torch step by step.

    Fails (through handin.checks) at the first step whose parameters differ; the message
    names the optimiser call, the parameter index and the step, never a value (the reference
    it "differs from" is torch.optim, as the tests' titles say).
    """
    from handin.checks import check_close, fail

    start, grads, after = torch_trajectory(torch_name, kwargs, n_steps, seed)
    what = what or f"{cls}({', '.join(f'{k}={v!r}' for k, v in kwargs.items())})"
    opt = getattr(student, cls)([p.copy() for p in start], **kwargs)
    for k, (g, expected) in enumerate(zip(grads, after), 1):
        out = opt.step([x.copy() for x in g])
        if not isinstance(out, (list, tuple)):
            fail(f"{what}.step(grads) returned a {type(out).__name__}, expected the list of parameters")
        if len(out) != len(expected):
            fail(f"{what}.step(grads) returned {len(out)} parameters, expected {len(expected)}")
        for i, (p, e) in enumerate(zip(out, expected)):
            check_close(p, e, f"{what}: parameter {i} after step {k}", rtol=RTOL, atol=ATOL)
