"""Hidden tests, part 1: the Bellman update, epsilon-greedy and value iteration (HIDDEN, not shipped).

Tables, transitions and models are the judge's own (seeded); every value that comes back goes
through handin.checks, whose messages never contain expected values. Float64 comparisons use
rtol 1e-9 / atol 1e-12: these are a few float64 operations, so any correct order of
operations agrees to ~1e-15, while every plausible mistake is off by more than 1e-3.
"""

import numpy as np
import pytest
import reference as ref
from handin.checks import check_close, fail, to_array

RTOL, ATOL = 1e-9, 1e-12


def _transitions(seed, n, done):
    """n random transitions (s, a, r, s_next) on a 6-state, 4-action table, with s_next != s
    and max Q[s] != max Q[s_next] so that bootstrapping from the wrong state shows."""
    rng = np.random.default_rng(seed)
    out = []
    while len(out) < n:
        s, s_next = (int(v) for v in rng.integers(6, size=2))
        if s != s_next:
            out.append((s, int(rng.integers(4)), float(rng.normal()), s_next, done,
                        float(rng.uniform(0.05, 1.0)), float(rng.uniform(0.5, 0.99))))
    return out


def _check_update(student, Q, s, a, r, s_next, done, alpha, gamma, what):
    out = student.q_update(Q.copy(), s, a, r, s_next, done, alpha, gamma)
    check_close(out, ref.q_update(Q, s, a, r, s_next, done, alpha, gamma), what, rtol=RTOL, atol=ATOL)


@pytest.mark.points(2)
def test_q_update_bootstraps_from_next_state(student):
    """Q-learning update: the target bootstraps from the best action of the next state.

    Random tables and transitions; the whole returned table must match (only Q[s, a] changes).
    """
    rng = np.random.default_rng(1401)
    for i, (s, a, r, s_next, done, alpha, gamma) in enumerate(_transitions(1402, 12, False)):
        Q = rng.normal(0.0, 1.0, size=(6, 4))
        _check_update(student, Q, s, a, r, s_next, done, alpha, gamma,
                      f"q_update (non-terminal transition {i + 1})")
    Q = rng.normal(0.0, 1.0, size=(6, 4))           # bumping into a wall: s_next == s
    _check_update(student, Q, 2, 1, -0.04, 2, False, 0.5, 0.9, "q_update (s_next == s)")


@pytest.mark.points(2)
def test_q_update_terminal_not_bootstrapped(student):
    """Q-learning update: a terminal next state is not bootstrapped (target = reward)."""
    rng = np.random.default_rng(1403)
    for i, (s, a, r, s_next, done, alpha, gamma) in enumerate(_transitions(1404, 8, True)):
        Q = rng.normal(0.0, 1.0, size=(6, 4))
        Q[s_next] += 3.0                              # a terminal row that is not zero
        _check_update(student, Q, s, a, r, s_next, done, alpha, gamma,
                      f"q_update (transition {i + 1} into a terminal state)")


def _action(value, n, what):
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        fail(f"{what} returned a {type(value).__name__}, expected an int action")
    if not 0 <= int(value) < n:
        fail(f"{what} returned an action outside range(len(q_values))")
    return int(value)


def _counts(student, q, epsilon, n_draws, seed, what):
    """How often each action came out of n_draws calls of epsilon_greedy (through the notebook's
    sample_actions, one call from the judge instead of thousands)."""
    rng = student.make_rng(seed)
    q = np.asarray(q, dtype=np.float64)
    actions = student.sample_actions(q, epsilon, rng, n_draws)
    if not isinstance(actions, (list, tuple)) or len(actions) != n_draws:
        fail(f"sample_actions(q_values, epsilon, rng, {n_draws}) must return a list of {n_draws} actions")
    counts = np.zeros(len(q))
    for a in actions:
        counts[_action(a, len(q), what)] += 1
    return counts


@pytest.mark.points(1)
def test_epsilon_greedy_greedy_action(student):
    """Epsilon-greedy with epsilon 0 is greedy and breaks ties at random."""
    counts = _counts(student, [0.3, -0.2, 0.9, 0.1, 0.5], 0.0, 100, 1405, "epsilon_greedy")
    if counts[2] != 100:
        fail("with epsilon = 0 and a single best action, epsilon_greedy must always return it")
    counts = _counts(student, [1.0, 3.0, -2.0, 3.0], 0.0, 200, 1406, "epsilon_greedy")
    if counts[0] + counts[2] > 0:
        fail("with epsilon = 0, epsilon_greedy returned an action that is not among the best")
    if min(counts[1], counts[3]) < 60:   # each tied action: 100 of 200 expected (sd 7)
        fail("with epsilon = 0 and two tied best actions, epsilon_greedy must pick each of them "
             "about half of the time (ties are broken uniformly at random)")


@pytest.mark.points(2)
def test_epsilon_greedy_statistics(student):
    """Epsilon-greedy picks each action with the right probability.

    5000 draws per case with a seeded generator; each frequency must lie within 5 standard
    deviations of its probability (a correct implementation fails this about once in 10^5).
    """
    n = 5000
    cases = [
        ([0.1, 0.5, -0.2, 0.3], 0.3, 1407),      # one best action
        ([1.0, 0.0, 1.0, 0.5], 0.2, 1408),       # two tied best actions
        ([0.0, -1.0, 0.5], 0.6, 1409),           # three actions
    ]
    for i, (q, epsilon, seed) in enumerate(cases):
        freq = _counts(student, q, epsilon, n, seed, "epsilon_greedy") / n
        p = ref.epsilon_greedy_probs(q, epsilon)
        if np.any(np.abs(freq - p) > 5.0 * np.sqrt(p * (1.0 - p) / n)):
            fail(f"case {i + 1} (epsilon = {epsilon}, {len(q)} actions): the action frequencies of "
                 "epsilon_greedy do not match epsilon / n for every action plus 1 - epsilon shared "
                 "by the best actions")


@pytest.mark.points(2)
def test_value_iteration(student):
    """Value iteration gives the optimal action values Q*.

    Two of the judge's grids (slippery with gamma 0.9, deterministic with gamma 0.5), tol 1e-10;
    compared with atol 1e-6: stopping at a sweep change below 1e-10 leaves an error below
    1e-9, and any correct variant (in-place sweeps, policy iteration) is within 1e-6.
    """
    for layout, slip, gamma in ((ref.JUDGE_VI, 0.2, 0.9), (ref.JUDGE_DETERMINISTIC, 0.0, 0.5)):
        env = ref.GridWorld(layout, slip=slip)
        P = env.model()
        what = f"value_iteration (a {env.n_rows}x{env.n_cols} grid, slip {slip}, gamma {gamma})"
        Q = to_array(student.value_iteration(P, gamma, 1e-10), what)
        check_close(Q, ref.value_iteration(P, gamma), what, rtol=0.0, atol=1e-6)
