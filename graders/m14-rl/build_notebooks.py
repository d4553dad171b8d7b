"""Build the m14-rl starter and solution notebooks from one cell list.

    .venv/bin/python graders/m14-rl/build_notebooks.py

Writes
  assignments/m14-rl/rl.ipynb        starter (bodies raise NotImplementedError)
  solutions/m14-rl/solution.ipynb    the same notebook with the bodies filled in

HIDDEN: this file contains the solution; it lives in graders/ so it is never shipped.
Both notebooks have exactly the same cells in the same order (the fixture notebooks in
tests/fixtures/m14-rl/ patch cells found by marker strings), no outputs, and are
validated with nbformat before they are written. The grid world class in the notebook is
copied from graders/m14-rl/reference.py, so the students' environment and the judge's are
the same code.
"""

from __future__ import annotations

import ast
from pathlib import Path

from handin.authoring import TODO, code, md, write_pair

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
STARTER_PATH = REPO / "assignments" / "m14-rl" / "rl.ipynb"
SOLUTION_PATH = REPO / "solutions" / "m14-rl" / "solution.ipynb"


def _source(path: Path, name: str) -> str:
    """The source text of the class or function ``name`` in ``path`` (read, not imported)."""
    text = path.read_text()
    for node in ast.parse(text).body:
        if isinstance(node, (ast.ClassDef, ast.FunctionDef)) and node.name == name:
            return ast.get_source_segment(text, node)
    raise SystemExit(f"{name} not found in {path}")


GRIDWORLD_SOURCE = _source(HERE / "reference.py", "GridWorld")
EVALUATE_SOURCE = _source(HERE / "reference.py", "evaluate_policy")

CELLS = [
    md(r'''
# Deep RL, part 0 — tabular Q-learning and REINFORCE on a grid world

Before the deep versions (DQN, actor-critic) it pays to get the two basic ideas of
reinforcement learning exactly right on a problem small enough to solve by hand:

1. **Value-based**: the Bellman update, $\varepsilon$-greedy exploration, value
   iteration (planning with a known model) and Q-learning (learning from experience).
2. **Policy-based**: returns-to-go and the REINFORCE policy gradient for a tabular
   softmax policy, trained with PyTorch autograd.

Everything runs on the small grid world below (no gym download). A *state* is a cell of
the grid, an *action* is one of four moves, an *episode* ends in the goal (+1) or a pit
(−1), and every other step costs a little (`step_reward`, −0.04 by default), so short
paths to the goal are best.

**How this notebook is graded.** The autograder runs the whole notebook top to bottom
and then calls the functions that the notebook defines, on **its own grids** (other
layouts, slip probabilities and seeds) which it passes to your functions as layouts
(lists of strings). Keep the names and signatures exactly as given; you may add helper
functions and keyword arguments with defaults. The update rules and losses are compared
with a reference implementation on the autograder's own tables and episodes (in float64,
to about 8 significant digits); your epsilon-greedy is sampled a few thousand times and
its action frequencies compared with the probabilities it should have; your training
functions are run with the autograder's seeds and the greedy policy they learned is
played for many episodes on the autograder's grid. A cell that raises an error leaves
the names it should have defined missing — run *Restart & Run All* before you hand in.
Use numpy, torch and the standard library; the whole notebook should run in a few
seconds. `test_public.py` contains a few of the autograder's tests.
'''),
    code(r'''
import numpy as np
import torch

# The tables in this notebook are tiny, so the CPU is as fast as a GPU here; the REINFORCE
# part still puts its parameters on `device`, as the deep versions will.
device = torch.device("cuda" if torch.cuda.is_available() else "cpu")


def make_rng(seed):
    """A seeded numpy random Generator. The autograder makes the generators it passes
    to your functions (the `rng` arguments) with this function: do not change it."""
    return np.random.default_rng(seed)


print("device:", device)
'''),
    md(r'''
## The grid world (given)

`GridWorld(layout, slip=0.0, step_reward=-0.04, rng=None)` takes a layout, one string per
row: `S` start, `G` goal (+1, episode ends), `P` pit (−1, episode ends), `#` wall, `.` free.
The state of cell (row, col) is the integer `row * n_cols + col`, so there are
`n_rows * n_cols` states (wall cells are never visited). Actions are `0` up, `1` right,
`2` down, `3` left. With probability `slip` the agent slips and moves in one of the two
directions *perpendicular* to the one it chose (each with probability `slip / 2`).
Bumping into a wall or the edge of the grid leaves it where it is.

- `env.reset()` starts an episode and returns the start state;
- `env.step(action)` returns `(next_state, reward, done)`; the reward is the one for
  entering `next_state`: +1 for the goal, −1 for a pit, `step_reward` otherwise;
- `env.model()` returns the transition model for planning: `P[s][a]` is a list of
  `(probability, next_state, reward, done)` tuples. In terminal states (and walls)
  `P[s][a] == [(1.0, s, 0.0, True)]`: nothing more happens there.

`evaluate_policy(layout, policy, slip, step_reward, episodes, seed)` plays a deterministic
policy (one action per state) for many episodes and returns its average undiscounted
return: this is how the autograder scores the policies you learn. `show_policy` prints one
as arrows.

The environment draws its slips from the numpy Generator `rng` you pass in, so a seeded
generator gives a reproducible run. Do not change this cell; the autograder has its own
copy of the same class.
'''),
    code('''
ACTIONS = ("up", "right", "down", "left")
MOVES = ((-1, 0), (0, 1), (1, 0), (0, -1))


''' + GRIDWORLD_SOURCE + '''


''' + EVALUATE_SOURCE + r'''


def show_policy(layout, policy):
    """Print a policy (one action per state) as arrows on the grid."""
    arrows = "^>v<"
    n_cols = len(layout[0])
    for r, row in enumerate(layout):
        print(" ".join(c if c in "#GP" else arrows[int(policy[r * n_cols + c_])]
                       for c_, c in enumerate(row)))


LAYOUT = [
    "S...#",
    ".#...",
    "..#P.",
    ".....",
    "#P..G",
]
env = GridWorld(LAYOUT, slip=0.1, rng=make_rng(0))
print("states:", env.n_states, "| start:", env.reset(), "| one step right:", env.step(1))
'''),
    md(r'''
## Part 1 — value-based methods

### Task 1: the Q-learning update

A table `Q` of shape `(n_states, n_actions)` estimates the return of taking action $a$ in
state $s$ and acting greedily afterwards. After one transition $(s, a, r, s', \text{done})$,
Q-learning moves $Q(s, a)$ towards the *target*

$$
y = \begin{cases} r & \text{if the episode ended in } s' \text{ (done)},\\
r + \gamma \max_{a'} Q(s', a') & \text{otherwise,}\end{cases}
\qquad
Q(s, a) \leftarrow Q(s, a) + \alpha\,\bigl(y - Q(s, a)\bigr).
$$

A terminal state has no future: its value is 0 whatever the table holds, so the target
must not bootstrap from $Q(s', \cdot)$ when `done` is true. Only the entry $(s, a)$
changes.

`q_update(Q, s, a, r, s_next, done, alpha, gamma)` returns the updated table (a float64
array of the same shape). You may update `Q` in place and return it.
'''),
    code(r'''
def q_update(Q, s, a, r, s_next, done, alpha, gamma):
    """One Q-learning update of entry (s, a); returns the updated table."""
''' + TODO, r'''
def q_update(Q, s, a, r, s_next, done, alpha, gamma):
    """One Q-learning update of entry (s, a); returns the updated table."""
    Q = np.asarray(Q, dtype=np.float64)
    target = r if done else r + gamma * np.max(Q[s_next])
    Q[s, a] += alpha * (target - Q[s, a])
    return Q
'''),
    md(r'''
### Task 2: $\varepsilon$-greedy action selection

`epsilon_greedy(q_values, epsilon, rng)` takes the action values of one state (a 1-D
array, of any length $n$) and returns an action (a Python `int`):

- with probability $\varepsilon$, an action drawn **uniformly from all $n$ actions** (the
  greedy one included);
- otherwise the greedy action $\arg\max_a q_a$. **Ties are broken uniformly at random**
  among the actions that share the maximum (`np.argmax` alone always picks the first,
  which biases an agent whose table starts at zeros).

So an action gets probability $\varepsilon / n + (1-\varepsilon)/k$ if it is one of the
$k$ maximal actions and $\varepsilon / n$ otherwise. Draw all randomness from `rng`
(a numpy Generator): the autograder passes generators made with `make_rng`, and samples
thousands of actions through the given `sample_actions`.
'''),
    code(r'''
def epsilon_greedy(q_values, epsilon, rng):
    """Epsilon-greedy action (an int) for one state's action values; ties broken at random."""
''' + TODO + r'''

def sample_actions(q_values, epsilon, rng, n):
    """n actions drawn with your epsilon_greedy (given: the autograder samples through it)."""
    return [epsilon_greedy(q_values, epsilon, rng) for _ in range(n)]
''', r'''
def epsilon_greedy(q_values, epsilon, rng):
    """Epsilon-greedy action (an int) for one state's action values; ties broken at random."""
    q_values = np.asarray(q_values, dtype=np.float64)
    if rng.random() < epsilon:
        return int(rng.integers(len(q_values)))
    best = np.flatnonzero(q_values == q_values.max())
    return int(rng.choice(best))


def sample_actions(q_values, epsilon, rng, n):
    """n actions drawn with your epsilon_greedy (given: the autograder samples through it)."""
    return [epsilon_greedy(q_values, epsilon, rng) for _ in range(n)]
'''),
    md(r'''
### Task 3: value iteration

When the model `P` is known we can *plan*: value iteration repeats the Bellman
optimality update for every state and action,

$$
Q(s, a) = \sum_{(p,\, s',\, r,\, \text{done}) \in P[s][a]} p\,\bigl(r + \gamma\,(1 - \text{done})\, V(s')\bigr),
\qquad V(s) = \max_a Q(s, a),
$$

starting from $V = 0$, until the largest change of $V$ in one sweep is below `tol`.

`value_iteration(P, gamma, tol=1e-10)` takes `P` as returned by `env.model()` and returns
the optimal action-value table $Q^*$, a float64 array of shape `(n_states, n_actions)`
(`len(P)` states, `len(P[0])` actions). The optimal policy is greedy with respect to it.
'''),
    code(r'''
def value_iteration(P, gamma, tol=1e-10):
    """Optimal action values Q* (n_states, n_actions) of the model P by value iteration."""
''' + TODO, r'''
def value_iteration(P, gamma, tol=1e-10):
    """Optimal action values Q* (n_states, n_actions) of the model P by value iteration."""
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
'''),
    md(r'''
### Task 4: Q-learning

Now forget the model and learn from experience.
`q_learning(layout, episodes, alpha, gamma, epsilon, slip, step_reward, max_steps, seed)`:

- makes **one** generator `rng = np.random.default_rng(seed)` and the environment
  `GridWorld(layout, slip=slip, step_reward=step_reward, rng=rng)`, and uses the same
  `rng` for its own action choices (so one seed fixes the whole run);
- starts from `Q = np.zeros((env.n_states, env.n_actions))`;
- runs `episodes` episodes; in each, from `env.reset()`, it picks actions with your
  `epsilon_greedy`, steps the environment and applies your `q_update` after every step,
  until `done` or `max_steps` steps (an episode cut off at `max_steps` did not end in a
  terminal state: its last update still bootstraps);
- returns the learned table `Q`.

The autograder calls it on its own grids with its own seeds: once with all arguments
given (a deterministic grid, where it must converge to the $Q^*$ of value iteration),
and once with only `layout`, `gamma`, `slip`, `step_reward` and `seed` (your default
`episodes`, `alpha`, `epsilon` and `max_steps`), where the greedy policy
`Q.argmax(axis=1)` is played on a slippery grid and its average return is compared with
the optimal policy's. The defaults below work; keep the run to a second or so.
'''),
    code(r'''
def q_learning(layout, episodes=500, alpha=0.1, gamma=0.95, epsilon=0.1, slip=0.0,
               step_reward=-0.04, max_steps=100, seed=0):
    """Tabular Q-learning on GridWorld(layout); returns Q (n_states, n_actions)."""
''' + TODO, r'''
def q_learning(layout, episodes=500, alpha=0.1, gamma=0.95, epsilon=0.1, slip=0.0,
               step_reward=-0.04, max_steps=100, seed=0):
    """Tabular Q-learning on GridWorld(layout); returns Q (n_states, n_actions)."""
    rng = np.random.default_rng(seed)
    env = GridWorld(layout, slip=slip, step_reward=step_reward, rng=rng)
    Q = np.zeros((env.n_states, env.n_actions))
    for _ in range(episodes):
        s = env.reset()
        for _ in range(max_steps):
            a = epsilon_greedy(Q[s], epsilon, rng)
            s_next, r, done = env.step(a)
            Q = q_update(Q, s, a, r, s_next, done, alpha, gamma)
            s = s_next
            if done:
                break
    return Q
'''),
    code(r'''
def _check_part1():
    env = GridWorld(LAYOUT, slip=0.1)
    Q_star = value_iteration(env.model(), gamma=0.95)
    print("value iteration: V*(start) =", round(float(Q_star[env.start].max()), 3))
    show_policy(LAYOUT, Q_star.argmax(axis=1))
    best = evaluate_policy(LAYOUT, Q_star.argmax(axis=1), 0.1, -0.04, episodes=1000, seed=1)
    Q = q_learning(LAYOUT, gamma=0.95, slip=0.1, seed=0)
    mine = evaluate_policy(LAYOUT, Q.argmax(axis=1), 0.1, -0.04, episodes=1000, seed=1)
    print(f"Q-learning: average return {mine:.3f} (the optimal policy: {best:.3f})")
    show_policy(LAYOUT, Q.argmax(axis=1))


try:
    _check_part1()
except NotImplementedError:
    print("not implemented yet")
'''),
    md(r'''
## Part 2 — policy gradients: REINFORCE

A *tabular softmax policy* keeps one row of logits per state, $\theta \in
\mathbb{R}^{n_\text{states} \times n_\text{actions}}$, and acts with

$$
\pi_\theta(a \mid s) = \operatorname{softmax}(\theta_s)_a = \frac{e^{\theta_{s,a}}}{\sum_b e^{\theta_{s,b}}}.
$$

An episode is the sequence $(s_0, a_0, r_0), (s_1, a_1, r_1), \dots, (s_{T-1}, a_{T-1},
r_{T-1})$, where $r_t$ is the reward received after taking $a_t$ in $s_t$.

### Task 5: returns-to-go

The return-to-go from step $t$ discounts the rewards *from step $t$ on*:

$$
G_t = \sum_{k=t}^{T-1} \gamma^{\,k-t}\, r_k = r_t + \gamma\, G_{t+1}, \qquad G_T = 0.
$$

`returns_to_go(rewards, gamma)` takes the rewards of one episode (a 1-D array of length
$T$) and returns the float64 array $(G_0, \dots, G_{T-1})$.
'''),
    code(r'''
def returns_to_go(rewards, gamma):
    """Discounted returns-to-go G_t = sum_{k>=t} gamma^(k-t) r_k of one episode."""
''' + TODO, r'''
def returns_to_go(rewards, gamma):
    """Discounted returns-to-go G_t = sum_{k>=t} gamma^(k-t) r_k of one episode."""
    rewards = np.asarray(rewards, dtype=np.float64)
    G = np.zeros_like(rewards)
    running = 0.0
    for t in range(len(rewards) - 1, -1, -1):
        running = rewards[t] + gamma * running
        G[t] = running
    return G
'''),
    md(r'''
### Task 6: the REINFORCE loss

The policy gradient theorem gives an unbiased estimate of the gradient of the expected
return from one episode, $\sum_t (G_t - b(s_t))\, \nabla_\theta \log \pi_\theta(a_t \mid
s_t)$, where a *baseline* $b(s)$ that does not depend on the action lowers the variance
without adding bias. We maximise the return by **minimising** the loss

$$
L(\theta) = -\sum_{t=0}^{T-1} \bigl(G_t - b(s_t)\bigr)\, \log \pi_\theta(a_t \mid s_t),
$$

summed over the steps of the episode (not averaged), with $b \equiv 0$ when there is no
baseline, and without the extra $\gamma^t$ factor of the textbook version (common
practice). The returns and the baseline are constants: no gradient flows through them.

`reinforce_loss(theta, states, actions, rewards, gamma, baseline=None)`:
`theta` is a float64 torch tensor `(n_states, n_actions)`; `states` and `actions` are
integer arrays of length $T$; `rewards` a float array of length $T$; `baseline` is `None`
or a float array of length `n_states` (then $b(s_t)$ = `baseline[states[t]]`). Return $L$
as a 0-d torch tensor that autograd can differentiate with respect to `theta` (use
`torch.log_softmax`; build tensors on `theta.device`).

`loss_and_grad` (given) is how the autograder reads your gradient: it calls your
`reinforce_loss` on a fresh leaf tensor and returns the loss and $\nabla_\theta L$.
'''),
    code(r'''
def reinforce_loss(theta, states, actions, rewards, gamma, baseline=None):
    """REINFORCE loss -sum_t (G_t - b(s_t)) log pi(a_t | s_t) for the softmax policy theta."""
''' + TODO + r'''

def loss_and_grad(theta, states, actions, rewards, gamma, baseline=None):
    """(loss as a float, gradient of the loss w.r.t. theta as a float64 numpy array)."""
    theta = torch.tensor(np.asarray(theta, dtype=np.float64), device=device, requires_grad=True)
    loss = reinforce_loss(theta, states, actions, rewards, gamma, baseline)
    loss.backward()
    return float(loss.detach().cpu()), theta.grad.detach().cpu().numpy()
''', r'''
def reinforce_loss(theta, states, actions, rewards, gamma, baseline=None):
    """REINFORCE loss -sum_t (G_t - b(s_t)) log pi(a_t | s_t) for the softmax policy theta."""
    states = torch.as_tensor(np.asarray(states, dtype=np.int64), device=theta.device)
    actions = torch.as_tensor(np.asarray(actions, dtype=np.int64), device=theta.device)
    advantages = torch.as_tensor(returns_to_go(rewards, gamma), dtype=theta.dtype, device=theta.device)
    if baseline is not None:
        b = torch.as_tensor(np.asarray(baseline, dtype=np.float64), dtype=theta.dtype, device=theta.device)
        advantages = advantages - b[states]
    log_probs = torch.log_softmax(theta[states], dim=1)
    chosen = log_probs.gather(1, actions[:, None])[:, 0]
    return -(advantages * chosen).sum()


def loss_and_grad(theta, states, actions, rewards, gamma, baseline=None):
    """(loss as a float, gradient of the loss w.r.t. theta as a float64 numpy array)."""
    theta = torch.tensor(np.asarray(theta, dtype=np.float64), device=device, requires_grad=True)
    loss = reinforce_loss(theta, states, actions, rewards, gamma, baseline)
    loss.backward()
    return float(loss.detach().cpu()), theta.grad.detach().cpu().numpy()
'''),
    md(r'''
### Task 7: training with REINFORCE

`train_reinforce(layout, episodes, lr, gamma, slip, step_reward, max_steps, seed)`:

- makes one generator `rng = np.random.default_rng(seed)`, the environment
  `GridWorld(layout, slip=slip, step_reward=step_reward, rng=rng)` and the logits
  `theta = torch.zeros(env.n_states, env.n_actions, dtype=torch.float64, device=device,
  requires_grad=True)` (the uniform policy);
- for each of `episodes` episodes: plays one episode of at most `max_steps` steps with
  the current policy, drawing each action from $\pi_\theta(\cdot \mid s)$ with `rng`
  (`rng.choice(n_actions, p=probs)`, where `probs` is the softmax of `theta[s]` as a
  numpy array); computes your `reinforce_loss` on that episode; and takes one gradient
  step **down** the loss, $\theta \leftarrow \theta - \text{lr}\,\nabla_\theta L$
  (update `theta` in place under `torch.no_grad()` and reset its gradient);
- returns the learned logits as a float64 numpy array `(n_states, n_actions)`.

A baseline is optional but helps: for example a running average of the returns-to-go
seen from each state, updated *after* the gradient step. The autograder runs your
function with its own layout, `gamma`, `slip`, `step_reward` and `seed` (your defaults
for the rest) and plays the greedy policy `theta.argmax(axis=1)`.
'''),
    code(r'''
def train_reinforce(layout, episodes=300, lr=0.2, gamma=0.95, slip=0.0, step_reward=-0.04,
                    max_steps=50, seed=0):
    """REINFORCE with a tabular softmax policy on GridWorld(layout); returns theta (numpy)."""
''' + TODO, r'''
def train_reinforce(layout, episodes=300, lr=0.2, gamma=0.95, slip=0.0, step_reward=-0.04,
                    max_steps=50, seed=0):
    """REINFORCE with a tabular softmax policy on GridWorld(layout); returns theta (numpy)."""
    rng = np.random.default_rng(seed)
    env = GridWorld(layout, slip=slip, step_reward=step_reward, rng=rng)
    theta = torch.zeros(env.n_states, env.n_actions, dtype=torch.float64, device=device, requires_grad=True)
    baseline = np.zeros(env.n_states)
    for _ in range(episodes):
        probs = torch.softmax(theta.detach(), dim=1).cpu().numpy()
        states, actions, rewards = [], [], []
        s = env.reset()
        for _ in range(max_steps):
            a = int(rng.choice(env.n_actions, p=probs[s]))
            s_next, r, done = env.step(a)
            states.append(s)
            actions.append(a)
            rewards.append(r)
            s = s_next
            if done:
                break
        loss = reinforce_loss(theta, states, actions, rewards, gamma, baseline)
        loss.backward()
        with torch.no_grad():
            theta -= lr * theta.grad
            theta.grad = None
        for s_t, g_t in zip(states, returns_to_go(rewards, gamma)):
            baseline[s_t] += 0.1 * (g_t - baseline[s_t])
    return theta.detach().cpu().numpy()
'''),
    code(r'''
def _check_part2():
    print("returns-to-go of [0, 0, 1] with gamma 0.9:", returns_to_go(np.array([0.0, 0.0, 1.0]), 0.9))
    theta = np.zeros((25, 4))
    loss, grad = loss_and_grad(theta, [0, 1], [1, 2], [-0.04, 1.0], 0.9)
    print("loss of a two-step episode under the uniform policy:", round(loss, 4))
    theta = train_reinforce(LAYOUT, slip=0.0, seed=0)
    mine = evaluate_policy(LAYOUT, theta.argmax(axis=1), 0.0, -0.04, episodes=10, seed=1)
    print(f"REINFORCE: average return {mine:.3f} on the grid without slipping")
    show_policy(LAYOUT, theta.argmax(axis=1))


try:
    _check_part2()
except NotImplementedError:
    print("not implemented yet")
'''),
]


def main() -> None:
    write_pair(CELLS, "m14", STARTER_PATH, SOLUTION_PATH, REPO)


if __name__ == "__main__":
    main()
