"""Reference implementations and fixed inputs for the m06-rnn hidden tests.

HIDDEN: this file is never shipped to students.

The tests read what a submission returned with handin.checks, which fails a test with a
short message that never contains expected values (and never echoes what came back).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
HELDOUT_PATH = HERE / "data" / "sunspots_heldout.npz"

WINDOW = 24                 # the notebook's WINDOW: past values per forecast
NAIVE_MARGIN = 0.90         # no points unless the RMSE is below 90% of the naive forecast's
FULL_RMSE = 22.0            # full marks from this RMSE (AR(2) fitted on the head: 22.6, AR(9): 19.1)


# --------------------------------------------------------------------------- torch cells
def torch_cell(kind, input_size, hidden_size, seed):
    """A torch.nn.RNNCell / LSTMCell with fixed weights drawn from a seeded generator.

    The weights are wider than torch's default init (uniform in +-0.6) so that the gates
    are not all near 0.5 and a wrong gate order or a missing bias changes the output well
    beyond the tolerance.
    """
    import torch

    cls = {"rnn": torch.nn.RNNCell, "lstm": torch.nn.LSTMCell}[kind]
    cell = cls(input_size, hidden_size)
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in cell.parameters():
            p.copy_((torch.rand(p.shape, generator=g) * 2 - 1) * 0.6)
    return cell


def state_dict_of(cell):
    """A plain dict of tensor copies (what crosses to the student's load_state_dict)."""
    return {k: v.detach().clone() for k, v in cell.state_dict().items()}


def randn(shape, seed, scale=1.0):
    import torch

    g = torch.Generator().manual_seed(seed)
    return torch.randn(shape, generator=g, dtype=torch.float32) * scale


# --------------------------------------------------------------------------- numpy BPTT
KEYS = ("W_xh", "W_hh", "b")


def rnn_forward(params, xs, h0):
    h, hs = h0, []
    for x in xs:
        h = np.tanh(x @ params["W_xh"] + h @ params["W_hh"] + params["b"])
        hs.append(h)
    return np.stack(hs)


def bptt_loss(params, xs, h0, dhs):
    """L = sum(hs * dhs): its gradient w.r.t. each h_t taken directly is dhs[t]."""
    return float(np.sum(rnn_forward(params, xs, h0) * dhs))


def numerical_gradient(f, x, eps=1e-6):
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


def numerical_bptt(params, xs, h0, dhs):
    """Central-difference gradients of bptt_loss w.r.t. W_xh, W_hh, b and h0 (float64)."""
    out = {}
    for key in KEYS:
        out[key] = numerical_gradient(lambda v, key=key: bptt_loss({**params, key: v}, xs, h0, dhs),
                                      params[key].copy())
    out["h0"] = numerical_gradient(lambda v: bptt_loss(params, xs, v, dhs), h0.copy())
    return out


def bptt_problem(T, B=3, D=4, H=5, seed=0):
    """params, xs, h0, dhs for a float64 tanh RNN.

    W_hh is large enough (entries ~N(0, 0.6^2)) that the recurrent paths carry a sizeable
    share of every gradient, so dropping them is caught far beyond the tolerance.
    """
    rng = np.random.default_rng(seed)
    params = {
        "W_xh": rng.normal(0.0, 0.5, size=(D, H)),
        "W_hh": rng.normal(0.0, 0.6, size=(H, H)),
        "b": rng.normal(0.0, 0.2, size=H),
    }
    xs = rng.normal(0.0, 1.0, size=(T, B, D))
    h0 = rng.normal(0.0, 0.5, size=(B, H))
    dhs = rng.normal(0.0, 1.0, size=(T, B, H))
    return params, xs, h0, dhs


def copy_params(params):
    return {k: np.array(v, dtype=np.float64, copy=True) for k, v in params.items()}


# --------------------------------------------------------------------------- clipping
def clip_reference(grads, max_norm):
    """torch.nn.utils.clip_grad_norm_ applied to copies: (clipped tensors, total norm)."""
    import torch

    params = []
    for g in grads:
        p = torch.nn.Parameter(torch.zeros_like(g))
        p.grad = g.clone()
        params.append(p)
    total = float(torch.nn.utils.clip_grad_norm_(params, max_norm))
    return [p.grad.clone() for p in params], total


# --------------------------------------------------------------------------- forecasting
def load_heldout():
    """(windows (60, WINDOW) float32 of true past values, targets (60,) float64, years (60,))."""
    with np.load(HELDOUT_PATH) as d:
        context, values, years = d["context"], d["values"], d["years"]
    full = np.concatenate([context, values]).astype(np.float32)
    windows = np.stack([full[t - WINDOW:t] for t in range(WINDOW, len(full))])
    return windows, values.astype(np.float64), years


def rmse(pred, target):
    return float(np.sqrt(np.mean((np.asarray(pred, dtype=np.float64) - target) ** 2)))
