"""Public tests for m14-rl (shipped to students).

These are a few of the autograder's tests. The autograder runs your notebook top to
bottom and gives each test a ``student`` object: ``student.q_update(...)`` calls the
``q_update`` your notebook defined. The hidden tests check the remaining behaviour in the
same way, on the autograder's own tables, episodes and grids.
"""

import numpy as np
import pytest


def _array(value, what):
    try:
        return np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        pytest.fail(f"{what} did not return a numeric array", pytrace=False)


@pytest.mark.points(1)
def test_q_update_small_example(student):
    """One Q-learning update on a small table."""
    Q = np.array([[0.0, 1.0], [2.0, -1.0], [0.5, 0.5]])
    # from state 0, action 1, reward -0.5, to state 1 (not terminal); alpha 0.5, gamma 0.9:
    # target = -0.5 + 0.9 * max(2, -1) = 1.3, Q[0, 1] = 1 + 0.5 * (1.3 - 1) = 1.15
    out = _array(student.q_update(Q.copy(), 0, 1, -0.5, 1, False, 0.5, 0.9), "q_update")
    expected = Q.copy()
    expected[0, 1] = 1.15
    if out.shape != Q.shape:
        pytest.fail(f"q_update returned shape {out.shape}, expected {Q.shape}", pytrace=False)
    if not np.allclose(out, expected, rtol=1e-8, atol=1e-10):
        pytest.fail("q_update(Q, 0, 1, -0.5, 1, False, 0.5, 0.9) should set Q[0, 1] to 1.15 "
                    "and leave the other entries as they were", pytrace=False)


@pytest.mark.points(1)
def test_epsilon_greedy_returns_valid_actions(student):
    """Epsilon-greedy returns valid actions, the greedy one when epsilon is 0."""
    rng = student.make_rng(0)
    q = np.array([0.1, 0.7, -0.3, 0.2])
    for _ in range(20):
        a = student.epsilon_greedy(q, 0.0, rng)
        if isinstance(a, bool) or not isinstance(a, (int, np.integer)):
            pytest.fail(f"epsilon_greedy returned a {type(a).__name__}, expected an int", pytrace=False)
        if a != 1:
            pytest.fail("with epsilon = 0 and one best action, epsilon_greedy must return it", pytrace=False)
    for _ in range(50):
        a = student.epsilon_greedy(q, 1.0, rng)
        if isinstance(a, bool) or not isinstance(a, (int, np.integer)) or not 0 <= a < 4:
            pytest.fail("epsilon_greedy must return an int action in range(len(q_values))", pytrace=False)


@pytest.mark.points(1)
def test_returns_to_go_small_example(student):
    """Returns-to-go of a three-step episode."""
    out = _array(student.returns_to_go(np.array([-0.04, -0.04, 1.0]), 0.9), "returns_to_go")
    # G_2 = 1, G_1 = -0.04 + 0.9 * 1 = 0.86, G_0 = -0.04 + 0.9 * 0.86 = 0.734
    expected = np.array([0.734, 0.86, 1.0])
    if out.shape != (3,):
        pytest.fail(f"returns_to_go returned shape {out.shape}, expected (3,)", pytrace=False)
    if not np.allclose(out, expected, rtol=1e-8, atol=1e-10):
        pytest.fail("returns_to_go([-0.04, -0.04, 1], 0.9) should be [0.734, 0.86, 1.0]", pytrace=False)
