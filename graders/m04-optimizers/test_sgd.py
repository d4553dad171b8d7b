"""Hidden tests, part 1: SGD with momentum (HIDDEN, not shipped).

Each test builds the submission's SGD on a seeded random problem (see reference.py) and
compares its parameters with torch.optim.SGD's, in float64, after every step: rtol 1e-5,
atol 1e-6 (a correct update agrees to ~1e-15; the mistakes these tests catch are off by
1e-3 or more already after the first or second step).
"""

import pytest
import reference as ref


@pytest.mark.points(2)
def test_sgd_plain(student):
    """Plain SGD (no momentum) matches torch.optim.SGD.

    Two learning rates, several steps each: theta <- theta - lr * grad.
    """
    ref.follow(student, "SGD", {"lr": 0.07}, "SGD", n_steps=8, seed=1)
    ref.follow(student, "SGD", {"lr": 0.3}, "SGD", n_steps=5, seed=2)


@pytest.mark.points(3)
def test_sgd_momentum(student):
    """SGD with momentum matches torch.optim.SGD step by step.

    Momentum 0.9 and 0.5 without dampening: the buffer starts as the first gradient and then
    becomes momentum * buffer + gradient.
    """
    ref.follow(student, "SGD", {"lr": 0.05, "momentum": 0.9}, "SGD", n_steps=12, seed=3)
    ref.follow(student, "SGD", {"lr": 0.1, "momentum": 0.5}, "SGD", n_steps=8, seed=4)


@pytest.mark.points(1)
def test_sgd_dampening(student):
    """SGD with momentum and dampening matches torch.optim.SGD.

    The buffer becomes momentum * buffer + (1 - dampening) * gradient, except on the first
    step, where it is the gradient itself (not dampened).
    """
    ref.follow(student, "SGD", {"lr": 0.05, "momentum": 0.9, "dampening": 0.5}, "SGD", n_steps=10, seed=5)


@pytest.mark.points(2)
def test_sgd_nesterov(student):
    """Nesterov momentum matches torch.optim.SGD(nesterov=True).

    The step is along gradient + momentum * (updated buffer), not along the buffer.
    """
    ref.follow(student, "SGD", {"lr": 0.05, "momentum": 0.9, "nesterov": True}, "SGD", n_steps=12, seed=6)
    ref.follow(student, "SGD", {"lr": 0.1, "momentum": 0.6, "nesterov": True}, "SGD", n_steps=6, seed=7)


@pytest.mark.points(1)
def test_sgd_weight_decay(student):
    """SGD with L2 weight decay matches torch.optim.SGD.

    weight_decay * theta is added to the gradient before the momentum buffer sees it.
    """
    ref.follow(student, "SGD", {"lr": 0.05, "weight_decay": 0.2}, "SGD", n_steps=6, seed=8)
    ref.follow(student, "SGD", {"lr": 0.05, "momentum": 0.8, "weight_decay": 0.1}, "SGD", n_steps=10, seed=9)
