"""Hidden tests, part 1: Q-learning on the judge's grids (HIDDEN, not shipped).

The judge passes its own layouts (not the notebook's) and seeds; it reads back the Q table
and plays the greedy policy itself, on its own copy of the environment.
"""

import numpy as np
import pytest
import reference as ref
from handin.checks import fail, to_array
from reference import STEP_REWARD, return_credit


def _q_table(value, env, what):
    Q = to_array(value, what)
    if Q.shape != (env.n_states, env.n_actions):
        fail(f"{what} returned shape {Q.shape}, expected ({env.n_states}, {env.n_actions})")
    if not np.all(np.isfinite(Q)):
        fail(f"{what} returned NaN or inf")
    return Q


@pytest.mark.points(3)
def test_q_learning_converges(student, credit):
    """Q-learning converges to Q* on a deterministic grid.

    The judge's 4x4 grid without slipping, alpha 1, epsilon 0.5, 800 episodes: every
    state-action pair is tried many times and Q-learning reaches the Q* of value iteration.
    Two of the three points: the greedy action is optimal in every state where the agent acts
    (one point if it is in at least three quarters of them); the third: Q within 1e-3 of Q*
    in all those states.
    """
    layout, gamma = ref.JUDGE_DETERMINISTIC, 0.9
    env = ref.GridWorld(layout)
    Q_star = ref.value_iteration(env.model(), gamma)
    what = "q_learning (deterministic grid, alpha 1)"
    Q = _q_table(student.q_learning(layout, episodes=800, alpha=1.0, gamma=gamma, epsilon=0.5, slip=0.0,
                                    step_reward=STEP_REWARD, max_steps=100, seed=1411), env, what)
    free = ref.free_states(env)
    optimal = ref.optimal_actions(Q_star)
    share = float(np.mean([optimal[s, int(np.argmax(Q[s]))] for s in free]))
    close = bool(np.max(np.abs(Q[free] - Q_star[free])) <= 1e-3)
    points = (2 if share == 1.0 else 1 if share >= 0.75 else 0) + (1 if close else 0)
    if points == 0:
        fail(f"{what}: the greedy action is optimal in fewer than three quarters of the states, "
             "and Q is not within 1e-3 of Q*")
    if points < 3:
        parts = []
        if share < 1.0:
            parts.append("the greedy action is optimal in " + ("at least three quarters" if share >= 0.75
                                                               else "fewer than three quarters") + " of the states")
        if not close:
            parts.append("Q is not within 1e-3 of Q*")
        credit(points / 3.0, f"{what}: " + "; ".join(parts))


@pytest.mark.points(3)
def test_q_learning_return(student, credit):
    """The greedy policy learned by Q-learning earns a near-optimal return.

    Your defaults for episodes, alpha, epsilon and max_steps, on the judge's 5x5 grid with
    slip 0.1 and its seed; the greedy policy is played for 1000 episodes (the standard error
    of the average is about 0.01). Full credit within 0.1 of the optimal policy, half credit
    for a positive average return.
    """
    layout, slip, gamma = ref.JUDGE_SLIPPERY, 0.1, 0.95
    env = ref.GridWorld(layout, slip=slip)
    Q_star = ref.value_iteration(env.model(), gamma)
    what = "q_learning (slippery grid)"
    Q = _q_table(student.q_learning(layout, gamma=gamma, slip=slip, step_reward=STEP_REWARD, seed=1412), env, what)
    mine = ref.evaluate_policy(layout, Q.argmax(axis=1), slip, STEP_REWARD, episodes=1000, seed=1413)
    best = ref.evaluate_policy(layout, Q_star.argmax(axis=1), slip, STEP_REWARD, episodes=1000, seed=1413)
    return_credit(mine, best, credit, what)
