"""Reference implementations and shared helpers for the m02-feedforward hidden tests.

HIDDEN: this file is never shipped to students.

The numpy functions mirror what the notebook asks for (float64 throughout). The tests
read what a submission returned with handin.checks, which fails a test with a short
message that never contains expected values (and never echoes what came back).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
HELDOUT_PATH = HERE / "data" / "digits_heldout.npz"


# --------------------------------------------------------------------------- numpy part
def relu(x):
    return np.maximum(x, 0.0)


def relu_grad(x):
    return (x > 0).astype(np.float64)


def softmax(z):
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def cross_entropy(probs, y):
    n = probs.shape[0]
    return float(-np.mean(np.log(probs[np.arange(n), y])))


def init_params(n_in, n_hidden, n_out, seed=0):
    rng = np.random.default_rng(seed)
    return {
        "W1": rng.normal(0.0, math.sqrt(2.0 / n_in), size=(n_in, n_hidden)),
        "b1": np.zeros(n_hidden),
        "W2": rng.normal(0.0, math.sqrt(2.0 / n_hidden), size=(n_hidden, n_out)),
        "b2": np.zeros(n_out),
    }


def forward(params, X):
    z1 = X @ params["W1"] + params["b1"]
    h = relu(z1)
    z2 = h @ params["W2"] + params["b2"]
    probs = softmax(z2)
    return probs, {"X": X, "z1": z1, "h": h, "probs": probs}


def backward(params, cache, y):
    X, z1, h, probs = cache["X"], cache["z1"], cache["h"], cache["probs"]
    n = X.shape[0]
    dz2 = probs.copy()
    dz2[np.arange(n), y] -= 1.0
    dz2 /= n
    dz1 = (dz2 @ params["W2"].T) * relu_grad(z1)
    return {
        "W1": X.T @ dz1,
        "b1": dz1.sum(axis=0),
        "W2": h.T @ dz2,
        "b2": dz2.sum(axis=0),
    }


def loss(params, X, y):
    return cross_entropy(forward(params, X)[0], y)


def numerical_gradient(f, x, eps=1e-5):
    grad = np.zeros(x.shape, dtype=np.float64)
    for idx in np.ndindex(x.shape):
        old = x[idx]
        x[idx] = old + eps
        f_plus = f(x)
        x[idx] = old - eps
        f_minus = f(x)
        x[idx] = old
        grad[idx] = (f_plus - f_minus) / (2.0 * eps)
    return grad


def rel_error(a, b):
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return float(np.max(np.abs(a - b) / np.maximum(1e-8, np.abs(a) + np.abs(b))))


def grad_check(params, X, y, eps=1e-5, grads=None):
    if grads is None:
        grads = backward(params, forward(params, X)[1], y)
    worst = 0.0
    for key in ("W1", "b1", "W2", "b2"):
        def f(w, key=key):
            return loss({**params, key: w}, X, y)

        num = numerical_gradient(f, params[key].copy(), eps)
        worst = max(worst, rel_error(grads[key], num))
    return worst


# The notebook's provided probe_numerical_gradient(x) differentiates this function.
def probe_f(x):
    return float(np.sum(np.sin(3.0 * x) * x ** 2) + 0.5 * np.sum(x) ** 2)


def probe_grad(x):
    return 3.0 * np.cos(3.0 * x) * x ** 2 + 2.0 * x * np.sin(3.0 * x) + np.sum(x)


# --------------------------------------------------------------------------- fixed inputs
def small_problem(n=6, n_in=5, n_hidden=7, n_out=4, seed=11, min_margin=0.05):
    """Params, X, y for a tiny network, chosen so the tests are well conditioned.

    Every hidden pre-activation is at least ``min_margin`` away from the ReLU kink (so
    finite differences never straddle it), every hidden unit is active for some sample
    and inactive for another (so relu_grad matters), and every gradient entry is
    comfortably away from zero (so relative errors are meaningful).
    """
    rng = np.random.default_rng(seed)
    for _ in range(1000):
        params = {
            "W1": rng.normal(0.0, 0.8, size=(n_in, n_hidden)),
            "b1": rng.normal(0.0, 0.3, size=n_hidden),
            "W2": rng.normal(0.0, 0.8, size=(n_hidden, n_out)),
            "b2": rng.normal(0.0, 0.3, size=n_out),
        }
        X = rng.normal(0.0, 1.0, size=(n, n_in))
        y = rng.permutation(np.arange(n) % n_out).astype(np.int64)
        z1 = X @ params["W1"] + params["b1"]
        if np.min(np.abs(z1)) < min_margin:
            continue
        active = z1 > 0
        if not (active.any(axis=0).all() and (~active).any(axis=0).all()):
            continue
        grads = backward(params, forward(params, X)[1], y)
        if min(np.min(np.abs(g)) for g in grads.values()) < 1e-3:
            continue
        return params, X, y
    raise RuntimeError("small_problem: no well-conditioned draw found")  # pragma: no cover


def copy_params(params):
    return {k: np.array(v, dtype=np.float64, copy=True) for k, v in params.items()}


def load_heldout():
    with np.load(HELDOUT_PATH) as d:
        return d["X"].astype(np.float32), d["y"].astype(np.int64)


# --------------------------------------------------------------------------- torch part
def reference_state_dict(n_in=64, n_hidden=32, n_out=10, seed=1234):
    """Fixed weights for MLP(n_in, n_hidden, n_out) in nn.Linear's layout."""
    import torch

    g = torch.Generator().manual_seed(seed)

    def uniform(shape, fan_in):
        bound = 1.0 / math.sqrt(fan_in)
        return (torch.rand(shape, generator=g, dtype=torch.float32) * 2 - 1) * bound

    return {
        "fc1.weight": uniform((n_hidden, n_in), n_in),
        "fc1.bias": uniform((n_hidden,), n_in),
        "fc2.weight": uniform((n_out, n_hidden), n_hidden),
        "fc2.bias": uniform((n_out,), n_hidden),
    }


def reference_logits(state_dict, x):
    import torch

    with torch.no_grad():
        h = torch.relu(x @ state_dict["fc1.weight"].T + state_dict["fc1.bias"])
        return h @ state_dict["fc2.weight"].T + state_dict["fc2.bias"]

