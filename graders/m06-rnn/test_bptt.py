"""Hidden tests, part 2: the numpy tanh RNN and backpropagation through time (HIDDEN).

Gradients are checked against central differences (eps 1e-6) of L = sum(hs * dhs),
computed here with the reference forward pass in float64. Their error is ~1e-9 (the
truncation error eps^2 f''' is ~1e-12, rounding ~1e-16 |L| / eps ~ 1e-9), so the
tolerance is rtol 1e-6, atol 1e-7; a backward pass without the recurrent term is off
by 1e-1 or more.
"""

import numpy as np
import pytest
import reference as ref
from handin.checks import check_close, fail, get_dict
from reference import copy_params

GRAD_TOL = {"rtol": 1e-6, "atol": 1e-7}


def _forward(student, params, xs, h0):
    out = student.rnn_forward(copy_params(params), xs.copy(), h0.copy())
    if not isinstance(out, (tuple, list)) or len(out) != 2:
        fail("rnn_forward must return a pair (hs, cache)")
    return out


def _grads(student, params, xs, h0, dhs):
    _, cache = _forward(student, params, xs, h0)
    grads = student.rnn_backward(copy_params(params), cache, dhs.copy())
    return get_dict(grads, ("W_xh", "W_hh", "b", "h0"), "rnn_backward")


@pytest.mark.points(1)
def test_rnn_forward(student):
    """The unrolled RNN's hidden states are right.

    Sequences of length 6 (batch 3) and 1 (batch 1): hs[t-1] = tanh(x_t W_xh + h_{t-1} W_hh + b)
    in float64 (rtol 1e-7, atol 1e-9).
    """
    for T, B, seed in ((6, 3, 1), (1, 1, 2)):
        params, xs, h0, _ = ref.bptt_problem(T, B=B, seed=seed)
        hs, _ = _forward(student, params, xs, h0)
        check_close(hs, ref.rnn_forward(params, xs, h0), f"rnn_forward hs (T={T}, batch {B})",
                    rtol=1e-7, atol=1e-9)


@pytest.mark.points(1)
def test_bptt_one_step(student):
    """BPTT on a sequence of length 1 matches central differences.

    With one step there is no recurrent term yet: this checks the tanh derivative and the
    gradients of W_xh, W_hh, b and h0 through a single step.
    """
    params, xs, h0, dhs = ref.bptt_problem(1, seed=3)
    grads = _grads(student, params, xs, h0, dhs)
    expected = ref.numerical_bptt(params, xs, h0, dhs)
    for key in ("W_xh", "W_hh", "b", "h0"):
        check_close(grads[key], expected[key], f"rnn_backward[{key!r}] (T=1)", **GRAD_TOL)


@pytest.mark.points(3)
def test_bptt_sequence(student):
    """BPTT through a sequence of 7 steps matches central differences.

    The gradients of W_xh, W_hh and b sum over all steps and must include the paths
    through later hidden states (the recurrent term); checked for batch 3 and batch 1.
    """
    for T, B, seed in ((7, 3, 4), (7, 1, 5)):
        params, xs, h0, dhs = ref.bptt_problem(T, B=B, seed=seed)
        grads = _grads(student, params, xs, h0, dhs)
        expected = ref.numerical_bptt(params, xs, h0, dhs)
        for key in ("W_xh", "W_hh", "b"):
            check_close(grads[key], expected[key], f"rnn_backward[{key!r}] (T={T}, batch {B})", **GRAD_TOL)


@pytest.mark.points(1)
def test_bptt_initial_state(student):
    """BPTT: the gradient of the initial state h0 matches central differences.

    Over 5 steps every step's loss reaches h0 through the chain of hidden states.
    """
    params, xs, h0, dhs = ref.bptt_problem(5, seed=6)
    grads = _grads(student, params, xs, h0, dhs)
    expected = ref.numerical_bptt(params, xs, h0, dhs)
    got = check_close(grads["h0"], expected["h0"], "rnn_backward['h0'] (T=5)", **GRAD_TOL)
    if not np.all(np.isfinite(got)):
        fail("rnn_backward['h0'] contains NaN or inf")
