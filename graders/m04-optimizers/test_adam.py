"""Hidden tests, part 2: Adam and AdamW (HIDDEN, not shipped).

Each test builds the submission's optimiser on a seeded random problem (see reference.py)
and compares its parameters with torch.optim's, in float64, after every step: rtol 1e-5,
atol 1e-6. A correct update agrees to ~1e-15. Putting eps inside the square root instead of
outside changes a step by ~eps / |grad| relative, far below the tolerance for the default
eps = 1e-8; the test with eps = 1e-3 is meant to notice a hard-coded eps.
"""

import pytest
import reference as ref


@pytest.mark.points(1)
def test_adam_first_step(student):
    """Adam's first step matches torch.optim.Adam (bias correction).

    With bias correction the first step moves every coordinate by almost exactly lr; without
    it, about three times as far.
    """
    ref.follow(student, "Adam", {"lr": 0.03}, "Adam", n_steps=1, seed=11)


@pytest.mark.points(3)
def test_adam_steps(student):
    """Adam matches torch.optim.Adam over many steps.

    Default betas and eps, 25 steps: the moment estimates and the step counter are kept per
    optimiser and the bias corrections use the current step number.
    """
    ref.follow(student, "Adam", {"lr": 0.02}, "Adam", n_steps=25, seed=12)
    ref.follow(student, "Adam", {"lr": 0.005}, "Adam", n_steps=10, seed=13)


@pytest.mark.points(1)
def test_adam_betas_eps(student):
    """Adam uses the betas and eps it is given.

    betas = (0.8, 0.95) and eps = 1e-3 (large enough to matter next to sqrt(v_hat)).
    """
    ref.follow(student, "Adam", {"lr": 0.02, "betas": (0.8, 0.95), "eps": 1e-3}, "Adam", n_steps=15, seed=14)


@pytest.mark.points(1)
def test_adam_weight_decay(student):
    """Adam with L2 weight decay matches torch.optim.Adam.

    weight_decay * theta is added to the gradient before the moments see it.
    """
    ref.follow(student, "Adam", {"lr": 0.02, "weight_decay": 0.1}, "Adam", n_steps=12, seed=15)


@pytest.mark.points(2)
def test_adamw(student):
    """AdamW (decoupled weight decay) matches torch.optim.AdamW.

    The weights are shrunk by (1 - lr * weight_decay) and Adam runs on the plain gradient;
    once with weight_decay = 0.3 and once with the default weight_decay (0.01).
    """
    ref.follow(student, "AdamW", {"lr": 0.02, "weight_decay": 0.3}, "AdamW", n_steps=15, seed=16)
    ref.follow(student, "AdamW", {"lr": 0.01}, "AdamW", n_steps=10, seed=17)
