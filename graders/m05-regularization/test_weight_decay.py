"""Hidden tests, part 3: weight decay against an L2 penalty (HIDDEN, not shipped).

The judge owns the problem (a small least-squares loss) and the gradients: at every step it
computes the gradient at the weights the submission returned, sends it with the weights
(and the optimiser state the submission returned) and compares the new weights with
torch.optim.SGD / Adam / AdamW run on the same loss in float64. Tolerances rtol 1e-5,
atol 1e-6 (see reference.py); the variants these tests tell apart (an L2 penalty without
its 1/2, coupled against decoupled decay) differ by 1e-3 or more within a few steps.
"""

import numpy as np
import pytest
import reference as ref
from handin.checks import check_close, fail, to_float

TOL = {"rtol": ref.RTOL, "atol": ref.ATOL}
STEPS = 5


def _trajectory(step, label, expected, X, Y, w0, stateful):
    """Run ``step(w, grad, state)`` STEPS times from w0 and compare with torch after every step."""
    w = w0.copy()
    state = stateful() if stateful else None
    for k, want in enumerate(expected, 1):
        out = step(w, ref.loss_grad(w, X, Y), state)
        if stateful:
            if not isinstance(out, (tuple, list)) or len(out) != 2:
                fail(f"{label} must return a pair (new_w, new_state)")
            out, state = out
        w = check_close(out, want, f"the weight matrix after step {k} of {label}", **TOL)
    return w


@pytest.mark.points(1)
def test_l2_penalty(student):
    """The L2 penalty is (wd/2)·||w||², with gradient wd·w.

    The value is compared with the formula, the gradient with autograd, for a matrix and a
    vector of weights.
    """
    rng = np.random.default_rng(401)
    for w, wd in ((rng.normal(size=(6, 4)), 0.1), (rng.normal(size=7), 0.03)):
        value = to_float(student.l2_penalty(w.copy(), wd), "l2_penalty")
        expected = ref.l2_penalty(w, wd)
        if not np.isclose(value, expected, **TOL):
            fail(f"l2_penalty(w, wd={wd}) differs from the reference; it should be (wd / 2) * ||w||^2")
        check_close(student.l2_penalty_grad(w.copy(), wd), ref.l2_penalty_grad_autograd(w, wd),
                    f"l2_penalty_grad(w, wd={wd})", **TOL)


@pytest.mark.points(2)
def test_sgd_step(student):
    """One SGD step matches torch.optim.SGD, with and without weight decay.

    Five steps with lr 0.1 and weight_decay 0 and 0.2.
    """
    X, Y, w0 = ref.least_squares()
    for wd in (0.0, 0.2):
        expected = ref.torch_trajectory("SGD", X, Y, w0, STEPS, lr=0.1, weight_decay=wd)
        _trajectory(lambda w, g, s: student.sgd_step(w, g, 0.1, weight_decay=wd),
                    f"sgd_step(lr=0.1, weight_decay={wd})", expected, X, Y, w0, None)


@pytest.mark.points(2)
def test_sgd_l2_equals_weight_decay(student):
    """For SGD, an L2 penalty (wd/2)·||w||² is exactly weight decay wd.

    Five plain SGD steps on the penalised loss (sgd_step_l2) must follow torch.optim.SGD
    with weight_decay=wd, for wd 0.2 and 0.05.
    """
    X, Y, w0 = ref.least_squares(seed=4)
    for wd in (0.2, 0.05):
        expected = ref.torch_trajectory("SGD", X, Y, w0, STEPS, lr=0.1, weight_decay=wd)
        _trajectory(lambda w, g, s: student.sgd_step_l2(w, g, 0.1, wd),
                    f"sgd_step_l2(lr=0.1, wd={wd})", expected, X, Y, w0, None)


def _adam(student, label, X, Y, w0, expected, call):
    return _trajectory(call, label, expected, X, Y, w0, lambda: student.adam_state(w0.copy()))


ADAM_CASES = ((0.05, (0.9, 0.999), 0.0), (0.05, (0.9, 0.999), 0.1), (0.02, (0.8, 0.99), 0.3))


@pytest.mark.points(3)
def test_adam_step(student):
    """One Adam step matches torch.optim.Adam (whose weight_decay is an L2 term).

    Five steps each with and without weight decay and with non-default betas; the state
    returned by each step is passed to the next.
    """
    X, Y, w0 = ref.least_squares(seed=5)
    for lr, betas, wd in ADAM_CASES:
        expected = ref.torch_trajectory("Adam", X, Y, w0, STEPS, lr=lr, betas=betas, weight_decay=wd)
        _adam(student, f"adam_step(lr={lr}, betas={betas}, weight_decay={wd})", X, Y, w0, expected,
              lambda w, g, s: student.adam_step(w, g, s, lr=lr, betas=betas, eps=1e-8, weight_decay=wd))


@pytest.mark.points(3)
def test_adamw_step(student):
    """One AdamW step matches torch.optim.AdamW (decoupled weight decay).

    Five steps each with weight decay 0.1, with weight decay 0.3 and non-default betas, and
    without weight decay; the state returned by each step is passed to the next.
    """
    X, Y, w0 = ref.least_squares(seed=6)
    for lr, betas, wd in ADAM_CASES[1:] + ((0.05, (0.9, 0.999), 0.0),):
        expected = ref.torch_trajectory("AdamW", X, Y, w0, STEPS, lr=lr, betas=betas, weight_decay=wd)
        _adam(student, f"adamw_step(lr={lr}, betas={betas}, weight_decay={wd})", X, Y, w0, expected,
              lambda w, g, s: student.adamw_step(w, g, s, lr=lr, betas=betas, eps=1e-8, weight_decay=wd))


@pytest.mark.points(1)
def test_adam_l2_is_torch_adam_not_adamw(student):
    """For Adam, an L2 penalty is torch's Adam weight_decay, not AdamW's decay.

    Five Adam steps on the penalised loss (adam_step_l2) must follow torch.optim.Adam with
    weight_decay=wd; torch.optim.AdamW with the same wd ends elsewhere.
    """
    X, Y, w0 = ref.least_squares(seed=7)
    lr, betas, wd = 0.05, (0.9, 0.999), 0.2
    expected = ref.torch_trajectory("Adam", X, Y, w0, STEPS, lr=lr, betas=betas, weight_decay=wd)
    decoupled = ref.torch_trajectory("AdamW", X, Y, w0, STEPS, lr=lr, betas=betas, weight_decay=wd)
    assert not np.allclose(expected[-1], decoupled[-1], **TOL), "grader self-check: Adam and AdamW agree"
    _adam(student, f"adam_step_l2(lr={lr}, wd={wd}, betas={betas})", X, Y, w0, expected,
          lambda w, g, s: student.adam_step_l2(w, g, s, lr, wd, betas=betas, eps=1e-8))
