"""Hidden tests, part 2: returns-to-go, the REINFORCE loss and its gradient, training (HIDDEN).

The episodes are the judge's own: sampled once from a random softmax policy on the judge's
grid with fixed seeds. Float64 throughout; compared with rtol 1e-8 / atol 1e-10 (sums of a
few dozen float64 terms: any correct order of operations agrees to ~1e-14, every plausible
mistake is off by more than 1e-3).
"""

import numpy as np
import pytest
import reference as ref
import torch
from handin.checks import check_close, fail, to_array, to_float
from reference import STEP_REWARD, return_credit

RTOL, ATOL = 1e-8, 1e-10


def _episodes():
    """(theta, states, actions, rewards) of three fixed episodes on the judge's 4x4 grid."""
    theta = np.random.default_rng(1421).normal(0.0, 0.5, size=(16, 4))
    out = []
    for seed in (1422, 1423, 1424):
        states, actions, rewards = ref.sample_episode(ref.JUDGE_DETERMINISTIC, theta, 0.1, STEP_REWARD, 40, seed)
        out.append((theta, states, actions, rewards))
    return out


def _baseline():
    return np.random.default_rng(1425).normal(-0.2, 0.3, size=16)


CASES = [(0.9, None), (0.97, "baseline"), (0.5, "baseline")]


@pytest.mark.points(2)
def test_returns_to_go(student):
    """Returns-to-go are discounted from each step on."""
    rng = np.random.default_rng(1420)
    for length, gamma in ((1, 0.9), (7, 0.9), (20, 0.5), (12, 1.0), (15, 0.99)):
        rewards = rng.normal(0.0, 1.0, size=length)
        what = f"returns_to_go (an episode of {length} steps, gamma {gamma})"
        check_close(student.returns_to_go(rewards, gamma), ref.returns_to_go(rewards, gamma), what,
                    rtol=RTOL, atol=ATOL)


@pytest.mark.points(2)
def test_reinforce_loss(student):
    """REINFORCE loss matches the reference, with and without a baseline."""
    for i, ((theta, states, actions, rewards), (gamma, base)) in enumerate(zip(_episodes(), CASES)):
        baseline = _baseline() if base else None
        what = f"reinforce_loss (episode {i + 1}, gamma {gamma}, {'with' if base else 'no'} baseline)"
        value = to_float(student.reinforce_loss(torch.tensor(theta, dtype=torch.float64), states, actions,
                                                rewards, gamma, baseline), what)
        expected, _ = ref.reinforce_loss_and_grad(theta, states, actions, rewards, gamma, baseline)
        if not np.isclose(value, expected, rtol=RTOL, atol=ATOL):
            fail(f"{what} differs from the reference (abs diff {abs(value - expected):.3g})")


@pytest.mark.points(2)
def test_reinforce_gradient(student):
    """REINFORCE gradient (autograd through your loss) matches the reference."""
    for i, ((theta, states, actions, rewards), (gamma, base)) in enumerate(zip(_episodes(), CASES)):
        baseline = _baseline() if base else None
        what = f"the gradient from loss_and_grad (episode {i + 1}, gamma {gamma}, {'with' if base else 'no'} baseline)"
        out = student.loss_and_grad(theta.copy(), states, actions, rewards, gamma, baseline)
        if not isinstance(out, (tuple, list)) or len(out) != 2:
            fail("loss_and_grad must return a pair (loss, gradient)")
        _, expected = ref.reinforce_loss_and_grad(theta, states, actions, rewards, gamma, baseline)
        check_close(out[1], expected, what, rtol=RTOL, atol=ATOL)


@pytest.mark.points(3)
def test_reinforce_return(student, credit):
    """The greedy policy learned by REINFORCE earns a near-optimal return.

    Your defaults for episodes, lr and max_steps, on the judge's 4x4 grid without slipping and
    its seed; the greedy policy theta.argmax(axis=1) is played by the judge. Full credit within
    0.1 of the optimal policy (at most two extra steps), half credit for a positive return.
    """
    layout, slip, gamma = ref.JUDGE_PG, 0.0, 0.95
    env = ref.GridWorld(layout, slip=slip)
    what = "train_reinforce"
    theta = to_array(student.train_reinforce(layout, gamma=gamma, slip=slip, step_reward=STEP_REWARD, seed=1426), what)
    if theta.shape != (env.n_states, env.n_actions):
        fail(f"{what} returned shape {theta.shape}, expected ({env.n_states}, {env.n_actions})")
    if not np.all(np.isfinite(theta)):
        fail(f"{what} returned NaN or inf")
    Q_star = ref.value_iteration(env.model(), gamma)
    mine = ref.evaluate_policy(layout, theta.argmax(axis=1), slip, STEP_REWARD, episodes=5, seed=1427)
    best = ref.evaluate_policy(layout, Q_star.argmax(axis=1), slip, STEP_REWARD, episodes=5, seed=1427)
    return_credit(mine, best, credit, what)
