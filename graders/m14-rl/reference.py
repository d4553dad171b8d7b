"""Reference implementations and the judge's own grid worlds for the m14-rl hidden tests.

HIDDEN: this file is never shipped to students.

``GridWorld`` is the environment the starter notebook gives as scaffolding:
build_notebooks.py copies its source from here, so the judge's copy and the students'
copy are the same code. The judge builds its own grids (``JUDGE_*`` layouts below, not
the notebook's) and passes them to the students' functions as layouts (lists of
strings), with its own seeds.
"""

from __future__ import annotations

import numpy as np

# --------------------------------------------------------------------------- environment
ACTIONS = ("up", "right", "down", "left")
MOVES = ((-1, 0), (0, 1), (1, 0), (0, -1))


class GridWorld:
    """A small grid world.

    ``layout`` is a list of equal-length strings, one per row:
    ``S`` start, ``G`` goal (reward +1, episode ends), ``P`` pit (reward -1, episode
    ends), ``#`` wall, ``.`` free cell. The state is the cell index
    ``row * n_cols + col``. Actions: 0 up, 1 right, 2 down, 3 left. With probability
    ``slip`` the agent slips: it moves in one of the two directions perpendicular to the
    chosen one instead (each with probability slip / 2). Moving into a wall or off the
    grid leaves the agent where it is. Every step that does not end in the goal or the
    pit gives ``step_reward``. ``rng`` (a numpy Generator) draws the slips.
    """

    n_actions = 4

    def __init__(self, layout, slip=0.0, step_reward=-0.04, rng=None):
        self.layout = [str(row) for row in layout]
        self.n_rows, self.n_cols = len(self.layout), len(self.layout[0])
        if any(len(row) != self.n_cols for row in self.layout):
            raise ValueError("all rows of the layout must have the same length")
        self.n_states = self.n_rows * self.n_cols
        self.slip = float(slip)
        self.step_reward = float(step_reward)
        self.rng = rng if rng is not None else np.random.default_rng()
        cells = "".join(self.layout)
        if cells.count("S") != 1:
            raise ValueError("the layout needs exactly one start S")
        self.start = cells.index("S")
        self.wall = np.array([c == "#" for c in cells])
        self.terminal = np.array([c in "GP" for c in cells])
        self.state = self.start

    def reset(self):
        """Start a new episode; returns the start state."""
        self.state = self.start
        return self.state

    def move(self, s, a):
        """The cell reached from state s by moving in direction a (no slipping)."""
        row, col = divmod(int(s), self.n_cols)
        dr, dc = MOVES[int(a)]
        r, c = row + dr, col + dc
        if 0 <= r < self.n_rows and 0 <= c < self.n_cols and self.layout[r][c] != "#":
            return r * self.n_cols + c
        return int(s)

    def reward(self, s_next):
        cell = self.layout[s_next // self.n_cols][s_next % self.n_cols]
        return 1.0 if cell == "G" else -1.0 if cell == "P" else self.step_reward

    def step(self, action):
        """Take an action; returns (next_state, reward, done)."""
        a = int(action)
        if self.slip > 0.0 and self.rng.random() < self.slip:
            a = (a + (1 if self.rng.random() < 0.5 else 3)) % 4   # one of the two perpendicular moves
        s_next = self.move(self.state, a)
        self.state = s_next
        return s_next, self.reward(s_next), bool(self.terminal[s_next])

    def model(self):
        """The transition model: P[s][a] is a list of (probability, next_state, reward, done).

        Terminal states and walls have P[s][a] = [(1.0, s, 0.0, True)] (nothing happens there).
        """
        P = []
        for s in range(self.n_states):
            if self.terminal[s] or self.wall[s]:
                P.append([[(1.0, s, 0.0, True)] for _ in range(4)])
                continue
            rows = []
            for a in range(4):
                outcomes = {}
                for b, p in ((a, 1.0 - self.slip), ((a + 1) % 4, self.slip / 2), ((a + 3) % 4, self.slip / 2)):
                    if p > 0.0:
                        s2 = self.move(s, b)
                        outcomes[s2] = outcomes.get(s2, 0.0) + p
                rows.append([(p, s2, self.reward(s2), bool(self.terminal[s2])) for s2, p in sorted(outcomes.items())])
            P.append(rows)
        return P


# --------------------------------------------------------------------------- the judge's grids
JUDGE_DETERMINISTIC = [      # Q-learning converges to Q* (slip 0, alpha 1)
    "S..#",
    ".#..",
    "...P",
    "#..G",
]
JUDGE_SLIPPERY = [           # the return of the greedy policy learned by Q-learning (slip 0.1)
    "S....",
    ".#.#.",
    "..P..",
    ".#...",
    "P..#G",
]
JUDGE_VI = [                 # value iteration against the reference (slip 0.2)
    "S...",
    ".#.P",
    "....",
    "P..G",
]
JUDGE_PG = [                 # the return of the greedy policy learned by REINFORCE (slip 0)
    "S.#.",
    "...P",
    ".#..",
    "P..G",
]


STEP_REWARD = -0.04


def free_states(env):
    """Indices of the cells where the agent can act (not walls, not terminal)."""
    return [s for s in range(env.n_states) if not env.wall[s] and not env.terminal[s]]


# --------------------------------------------------------------------------- part 1: tabular
def q_update(Q, s, a, r, s_next, done, alpha, gamma):
    Q = np.array(Q, dtype=np.float64, copy=True)
    target = r if done else r + gamma * np.max(Q[s_next])
    Q[s, a] += alpha * (target - Q[s, a])
    return Q


def epsilon_greedy_probs(q_values, epsilon):
    """The action distribution of epsilon-greedy with ties broken uniformly at random."""
    q = np.asarray(q_values, dtype=np.float64)
    best = q == q.max()
    return epsilon / q.size + (1.0 - epsilon) * best / best.sum()


def epsilon_greedy(q_values, epsilon, rng):
    if rng.random() < epsilon:
        return int(rng.integers(len(q_values)))
    best = np.flatnonzero(q_values == np.max(q_values))
    return int(best[0] if len(best) == 1 else best[rng.integers(len(best))])


def value_iteration(P, gamma, tol=1e-10):
    n_states, n_actions = len(P), len(P[0])
    V = np.zeros(n_states)
    while True:
        Q = np.zeros((n_states, n_actions))
        for s in range(n_states):
            for a in range(n_actions):
                Q[s, a] = sum(p * (r + (0.0 if done else gamma * V[s2])) for p, s2, r, done in P[s][a])
        V_new = Q.max(axis=1)
        if np.max(np.abs(V_new - V)) < tol:
            return Q
        V = V_new


def optimal_actions(Q_star, atol=1e-6):
    """Boolean (n_states, n_actions): the actions within atol of the best in each state."""
    return Q_star >= Q_star.max(axis=1, keepdims=True) - atol


def q_learning(layout, episodes=500, alpha=0.5, gamma=0.95, epsilon=0.2, slip=0.0, step_reward=-0.04,
               max_steps=100, seed=0):
    rng = np.random.default_rng(seed)
    env = GridWorld(layout, slip=slip, step_reward=step_reward, rng=rng)
    Q = np.zeros((env.n_states, env.n_actions))
    for _ in range(episodes):
        s = env.reset()
        for _ in range(max_steps):
            a = epsilon_greedy(Q[s], epsilon, rng)
            s_next, r, done = env.step(a)
            target = r if done else r + gamma * np.max(Q[s_next])
            Q[s, a] += alpha * (target - Q[s, a])
            s = s_next
            if done:
                break
    return Q


def evaluate_policy(layout, policy, slip, step_reward, episodes, seed, max_steps=100):
    """Average (undiscounted) return of a deterministic policy over many episodes."""
    env = GridWorld(layout, slip=slip, step_reward=step_reward, rng=np.random.default_rng(seed))
    policy = np.asarray(policy, dtype=np.int64)
    total = 0.0
    for _ in range(episodes):
        s = env.reset()
        for _ in range(max_steps):
            s, r, done = env.step(policy[s])
            total += r
            if done:
                break
    return total / episodes


# --------------------------------------------------------------------------- part 2: REINFORCE
def returns_to_go(rewards, gamma):
    rewards = np.asarray(rewards, dtype=np.float64)
    G = np.zeros_like(rewards)
    running = 0.0
    for t in range(len(rewards) - 1, -1, -1):
        running = rewards[t] + gamma * running
        G[t] = running
    return G


def log_softmax(theta):
    z = theta - theta.max(axis=1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=1, keepdims=True))


def reinforce_loss_and_grad(theta, states, actions, rewards, gamma, baseline=None):
    """loss = -sum_t (G_t - b(s_t)) log pi(a_t | s_t) and its gradient with respect to theta."""
    theta = np.asarray(theta, dtype=np.float64)
    states = np.asarray(states, dtype=np.int64)
    actions = np.asarray(actions, dtype=np.int64)
    adv = returns_to_go(rewards, gamma)
    if baseline is not None:
        adv = adv - np.asarray(baseline, dtype=np.float64)[states]
    logp = log_softmax(theta)
    loss = -float(np.sum(adv * logp[states, actions]))
    grad = np.zeros_like(theta)
    probs = np.exp(logp)
    for t, (s, a) in enumerate(zip(states, actions)):
        g = -probs[s].copy()
        g[a] += 1.0
        grad[s] -= adv[t] * g
    return loss, grad


def sample_episode(layout, theta, slip, step_reward, max_steps, seed):
    """One episode of the softmax policy pi = softmax(theta[s]) (the judge's fixed episodes)."""
    rng = np.random.default_rng(seed)
    env = GridWorld(layout, slip=slip, step_reward=step_reward, rng=rng)
    probs = np.exp(log_softmax(np.asarray(theta, dtype=np.float64)))
    states, actions, rewards = [], [], []
    s = env.reset()
    for _ in range(max_steps):
        a = int(rng.choice(4, p=probs[s]))
        s_next, r, done = env.step(a)
        states.append(s)
        actions.append(a)
        rewards.append(r)
        s = s_next
        if done:
            break
    return np.array(states), np.array(actions), np.array(rewards)


# --------------------------------------------------------------------------- scoring returns
def return_credit(mine, best, credit, what):
    """Full credit within 0.1 of the optimal policy's average return, half credit for a
    positive average return (the goal is reached, but by a longer or riskier way), else fail.

    The messages name the tiers only, not the returns (they would tell about the judge's grid).
    """
    from handin.checks import fail  # judge side only

    if mine >= best - 0.1:
        return
    if mine >= 0.0:
        credit(0.5, f"{what}: the greedy policy reaches the goal on average, but its average return "
                    "is more than 0.1 below the optimal policy's (half credit)")
        return
    fail(f"{what}: the greedy policy's average return is negative: it falls into pits or does not "
         "reach the goal within 100 steps")
