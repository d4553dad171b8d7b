"""Build the m04-optimizers starter and solution notebooks from one cell list.

    .venv/bin/python graders/m04-optimizers/build_notebooks.py

Writes
  assignments/m04-optimizers/optimizers.ipynb   starter (bodies raise NotImplementedError)
  solutions/m04-optimizers/solution.ipynb       the same notebook with the bodies filled in

HIDDEN: this file contains the solution; it lives in graders/ so it is never shipped.
Both notebooks have exactly the same cells in the same order (the fixture notebooks in
tests/fixtures/m04-optimizers/ rely on it: code cells 1 setup, 2 SGD, 3 SGD check, 4 Adam,
5 AdamW, 6 Adam check, 7 min_norm_solution, 8 least_squares_gd, 9 the experiment), no
outputs, and are validated with nbformat before they are written.
"""

from __future__ import annotations

from pathlib import Path

from handin.authoring import TODO, code, md, write_pair

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
STARTER_PATH = REPO / "assignments" / "m04-optimizers" / "optimizers.ipynb"
SOLUTION_PATH = REPO / "solutions" / "m04-optimizers" / "solution.ipynb"

CELLS = [
    md(r'''
# Module 2 — Optimisation: SGD, momentum, Adam and implicit regularisation

Training a neural network means running an optimiser on a loss. In this assignment you
write the two optimisers that train almost every network today — **SGD with momentum**
(plain and Nesterov) and **Adam** (and its variant **AdamW**) — by hand, so that they
reproduce `torch.optim` step for step. Then you look at an *implicit* property of
gradient descent: on an over-parameterised least-squares problem (more unknowns than
equations, infinitely many exact solutions) gradient descent started from zero does not
pick just any solution, it finds the one of **minimum norm** — without anyone asking it to.

**The optimiser interface.** An optimiser is a class that owns a list of parameters (numpy
arrays of any shapes) and its own state (momentum buffers, moment estimates, a step
counter). `step(grads)` takes a list of gradients, one per parameter and of the same
shape, updates the parameters and **returns the list of updated parameters**:

```python
opt = SGD([W, b], lr=0.1, momentum=0.9)
for X, y in batches:
    W, b = opt.step(gradients_of_the_loss(W, b, X, y))
```

Work in **float64** numpy. The constructor must **copy** the parameters it is given
(`np.array(p, dtype=np.float64)`), so the caller's arrays are never changed behind its
back. Each parameter has its own state; several optimiser objects never share state.
Do not use `torch.optim` (or any other library optimiser) inside your classes — you may,
and should, use it to check your results, as the check cells below do.

**How this notebook is graded.** The autograder runs the whole notebook top to bottom and
then uses the classes and functions it defines: it builds your optimisers on random
problems of its own and compares your parameters with `torch.optim`'s (run in float64)
after every step, and it runs your least-squares solver on problems of its own. Keep the
names and signatures exactly as given; you may add helpers. A cell that raises an error
does not stop the run, but names it should have defined will be missing — run
*Restart & Run All* before you hand in. The whole notebook should run in a few seconds.
`test_public.py` contains a few of the autograder's tests.
'''),
    code(r'''
import numpy as np
import torch

np.set_printoptions(precision=5, suppress=True)


def _max_diff(mine, theirs):
    """Largest absolute difference between two lists of arrays (used by the check cells)."""
    return max(float(np.max(np.abs(np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64))))
               for a, b in zip(mine, theirs))


def _check_against_torch(make_mine, make_theirs, n_steps=10, seed=0):
    """Run your optimiser and torch's side by side on a small random problem.

    Both get the same gradients (those of torch's parameters); prints the largest
    difference between the two parameter lists after each of n_steps steps.
    """
    rng = np.random.default_rng(seed)
    start = [rng.normal(size=(3, 4)), rng.normal(size=4)]
    theirs = [torch.tensor(p, dtype=torch.float64, requires_grad=True) for p in start]
    torch_opt = make_theirs(theirs)
    mine = make_mine([p.copy() for p in start])
    diffs = []
    for _ in range(n_steps):
        X = torch.tensor(rng.normal(size=(5, 3)))
        loss = torch.tanh(X @ theirs[0] + theirs[1]).pow(2).sum()
        torch_opt.zero_grad()
        loss.backward()
        grads = [p.grad.detach().numpy().copy() for p in theirs]
        torch_opt.step()
        params = mine.step(grads)
        diffs.append(_max_diff(params, [p.detach().numpy() for p in theirs]))
    print("   max |yours - torch| after each step:", " ".join(f"{d:.1e}" for d in diffs))
'''),
    md(r'''
## Part 1 — SGD with momentum

Write $\theta_t$ for a parameter after $t$ steps, $g_t$ for the gradient the caller passes to
step $t$, and $\eta$ for the learning rate `lr`. Plain SGD is $\theta_t = \theta_{t-1} - \eta\, g_t$.

**Momentum** keeps a running "velocity" $b_t$, one buffer per parameter, and steps along
it instead of along the raw gradient, which damps oscillations across a ravine and
speeds up progress along it. `torch.optim.SGD` — which you must match exactly — does, with
momentum $\mu$ (`momentum`), dampening $\tau$ (`dampening`) and weight decay $\lambda$
(`weight_decay`):

$$
\begin{aligned}
d_t &= g_t + \lambda\, \theta_{t-1} &&\text{(L2 weight decay; } d_t = g_t \text{ when } \lambda = 0)\\
b_t &= \begin{cases} d_t & t = 1 \text{ (the buffer starts as the first gradient, not dampened)}\\
      \mu\, b_{t-1} + (1 - \tau)\, d_t & t > 1 \end{cases}\\
u_t &= \begin{cases} d_t + \mu\, b_t & \text{Nesterov}\\ b_t & \text{otherwise} \end{cases}\\
\theta_t &= \theta_{t-1} - \eta\, u_t
\end{aligned}
$$

With $\mu = 0$ there is no buffer and $u_t = d_t$ (plain SGD). **Nesterov momentum** looks
ahead: instead of stepping along the velocity it steps along the current gradient plus
$\mu$ times the *updated* velocity, which is how PyTorch writes Nesterov's accelerated
gradient for an optimiser that only ever sees the gradient at the current parameters.
(PyTorch only allows Nesterov with $\mu > 0$ and $\tau = 0$; you may raise a `ValueError`
otherwise, the autograder never asks for it.)

### Task 1: `SGD`

`SGD(params, lr, momentum=0.0, dampening=0.0, nesterov=False, weight_decay=0.0)` as
described above: `params` is a list of numpy arrays, `step(grads)` updates and returns them.
'''),
    code(r'''
class SGD:
    """SGD with momentum, dampening, Nesterov momentum and L2 weight decay (as torch.optim.SGD)."""

    def __init__(self, params, lr, momentum=0.0, dampening=0.0, nesterov=False, weight_decay=0.0):
        # YOUR CODE HERE
        raise NotImplementedError

    def step(self, grads):
        """Update every parameter with its gradient in grads; return the list of parameters."""
        # YOUR CODE HERE
        raise NotImplementedError
''', r'''
class SGD:
    """SGD with momentum, dampening, Nesterov momentum and L2 weight decay (as torch.optim.SGD)."""

    def __init__(self, params, lr, momentum=0.0, dampening=0.0, nesterov=False, weight_decay=0.0):
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("Nesterov momentum needs momentum > 0 and dampening = 0")
        self.params = [np.array(p, dtype=np.float64) for p in params]   # copies
        self.lr = lr
        self.momentum = momentum
        self.dampening = dampening
        self.nesterov = nesterov
        self.weight_decay = weight_decay
        self.buffers = [None] * len(self.params)                          # one per parameter

    def step(self, grads):
        """Update every parameter with its gradient in grads; return the list of parameters."""
        for i, (p, g) in enumerate(zip(self.params, grads)):
            d = np.asarray(g, dtype=np.float64)
            if self.weight_decay != 0:
                d = d + self.weight_decay * p
            if self.momentum != 0:
                if self.buffers[i] is None:
                    self.buffers[i] = d.copy()                            # first step: no dampening
                else:
                    self.buffers[i] = self.momentum * self.buffers[i] + (1 - self.dampening) * d
                d = d + self.momentum * self.buffers[i] if self.nesterov else self.buffers[i]
            p -= self.lr * d
        return self.params
'''),
    md(r'''
### Check it

The cell below runs your `SGD` and `torch.optim.SGD` side by side on a small random
problem (same gradients for both) and prints the largest difference after each step.
In float64 a correct implementation agrees to about $10^{-15}$; the autograder accepts
differences up to $10^{-5}$ relative ($10^{-6}$ absolute), so anything near $10^{-3}$ is a bug.
'''),
    code(r'''
try:
    for kwargs in ({}, {"momentum": 0.9}, {"momentum": 0.9, "dampening": 0.3},
                   {"momentum": 0.9, "nesterov": True}, {"momentum": 0.5, "weight_decay": 0.1}):
        print("SGD", kwargs)
        _check_against_torch(lambda ps: SGD(ps, lr=0.05, **kwargs),
                             lambda ps: torch.optim.SGD(ps, lr=0.05, **kwargs))
except NotImplementedError:
    print("not implemented yet")
'''),
    md(r'''
## Part 2 — Adam and AdamW

Adam keeps two exponential moving averages per parameter: of the gradient (the first
moment $m$) and of its elementwise square (the second moment $v$), and divides one by the
square root of the other, so every coordinate gets its own step size. With
$(\beta_1, \beta_2)$ = `betas`, $\varepsilon$ = `eps`, $m_0 = v_0 = 0$ and step counter $t = 1, 2, \dots$:

$$
\begin{aligned}
d_t &= g_t + \lambda\, \theta_{t-1} &&\text{(L2 weight decay, as in SGD)}\\
m_t &= \beta_1 m_{t-1} + (1 - \beta_1)\, d_t, \qquad v_t = \beta_2 v_{t-1} + (1 - \beta_2)\, d_t^2\\
\hat m_t &= \frac{m_t}{1 - \beta_1^t}, \qquad \hat v_t = \frac{v_t}{1 - \beta_2^t}\\
\theta_t &= \theta_{t-1} - \eta\, \frac{\hat m_t}{\sqrt{\hat v_t} + \varepsilon}
\end{aligned}
$$

(all operations elementwise). **Bias correction** matters: because $m$ and $v$ start at
zero, in the first steps they are far too small — after one step $m_1 = (1-\beta_1) g_1$, a
tenth of the gradient — and dividing by $1 - \beta^t$ undoes exactly that. With it, the very
first step moves every coordinate by almost exactly $\eta$ (since $\hat m_1 / \sqrt{\hat v_1} = g_1 / |g_1|$);
without it the first step is $(1-\beta_1)/\sqrt{1-\beta_2} \approx 3$ times too large. Note where
$\varepsilon$ goes: outside the square root, added to $\sqrt{\hat v_t}$ (as PyTorch does).

### Task 2: `Adam`

`Adam(params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0)`, matching
`torch.optim.Adam` (without `amsgrad`).
'''),
    code(r'''
class Adam:
    """Adam with bias correction and L2 weight decay (as torch.optim.Adam)."""

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0):
        # YOUR CODE HERE
        raise NotImplementedError

    def step(self, grads):
        """Update every parameter with its gradient in grads; return the list of parameters."""
        # YOUR CODE HERE
        raise NotImplementedError
''', r'''
class Adam:
    """Adam with bias correction and L2 weight decay (as torch.optim.Adam)."""

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0):
        self.params = [np.array(p, dtype=np.float64) for p in params]   # copies
        self.lr = lr
        self.beta1, self.beta2 = betas
        self.eps = eps
        self.weight_decay = weight_decay
        self.m = [np.zeros_like(p) for p in self.params]
        self.v = [np.zeros_like(p) for p in self.params]
        self.t = 0

    def _direction(self, p, g):
        """The gradient Adam averages: L2 weight decay is added to it."""
        return g + self.weight_decay * p if self.weight_decay != 0 else g

    def step(self, grads):
        """Update every parameter with its gradient in grads; return the list of parameters."""
        self.t += 1
        c1 = 1 - self.beta1 ** self.t                                     # bias corrections
        c2 = 1 - self.beta2 ** self.t
        for p, g, m, v in zip(self.params, grads, self.m, self.v):
            d = self._direction(p, np.asarray(g, dtype=np.float64))
            m *= self.beta1
            m += (1 - self.beta1) * d
            v *= self.beta2
            v += (1 - self.beta2) * d * d
            p -= self.lr * (m / c1) / (np.sqrt(v / c2) + self.eps)
        return self.params
'''),
    md(r'''
### Task 3: `AdamW`

For Adam, L2 weight decay and "weight decay" are not the same thing: the $\lambda\theta$
added to the gradient is divided by $\sqrt{\hat v}$ like the rest of it, so weights with
large gradients are hardly decayed at all. **AdamW** (Loshchilov & Hutter, *Decoupled
weight decay regularization*, 2019) *decouples* the two: it shrinks the weights directly
and runs Adam on the plain gradient:

$$
\theta' = (1 - \eta\lambda)\, \theta_{t-1}, \qquad d_t = g_t, \qquad
\theta_t = \theta' - \eta\, \frac{\hat m_t}{\sqrt{\hat v_t} + \varepsilon}
$$

with $m, v, \hat m, \hat v$ as in Adam. `AdamW(params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8,
weight_decay=1e-2)` matches `torch.optim.AdamW`. (Reusing your `Adam` is a good idea.)
'''),
    code(r'''
class AdamW:
    """Adam with decoupled weight decay (as torch.optim.AdamW)."""

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2):
        # YOUR CODE HERE
        raise NotImplementedError

    def step(self, grads):
        """Update every parameter with its gradient in grads; return the list of parameters."""
        # YOUR CODE HERE
        raise NotImplementedError
''', r'''
class AdamW(Adam):
    """Adam with decoupled weight decay (as torch.optim.AdamW)."""

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2):
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay)

    def _direction(self, p, g):
        """Decoupled: shrink the weights in place, leave the gradient alone."""
        p *= 1 - self.lr * self.weight_decay
        return g
'''),
    md(r'''
### Check it
'''),
    code(r'''
try:
    for kwargs in ({"lr": 0.01}, {"lr": 0.01, "betas": (0.8, 0.99), "eps": 1e-3},
                   {"lr": 0.01, "weight_decay": 0.1}):
        print("Adam", kwargs)
        _check_against_torch(lambda ps: Adam(ps, **kwargs), lambda ps: torch.optim.Adam(ps, **kwargs))
    print("AdamW", {"lr": 0.01, "weight_decay": 0.5})
    _check_against_torch(lambda ps: AdamW(ps, lr=0.01, weight_decay=0.5),
                         lambda ps: torch.optim.AdamW(ps, lr=0.01, weight_decay=0.5))
except NotImplementedError:
    print("not implemented yet")
'''),
    md(r'''
## Part 3 — the implicit regularisation of gradient descent

A modern network has far more parameters than training examples, so there are many
parameter vectors that fit the training data perfectly — and yet the one that training
finds usually generalises well. Part of the explanation is that the optimiser itself
prefers some solutions over others. The simplest setting where this can be proved is
**over-parameterised linear least squares**: $A \in \mathbb{R}^{m \times n}$ with $m < n$
(fewer equations than unknowns) and full row rank, and

$$
f(x) = \tfrac12 \lVert A x - b \rVert^2, \qquad \nabla f(x) = A^\top (A x - b).
$$

Every $x$ with $Ax = b$ is a global minimum ($f = 0$); they form an affine subspace
$x^\star + \mathrm{null}(A)$. Among them, one has the smallest Euclidean norm, the
**minimum-norm solution**

$$
x^\dagger = A^\top (A A^\top)^{-1} b = A^{+} b ,
$$

where $A^{+}$ is the Moore–Penrose pseudo-inverse (`np.linalg.pinv`). It is the solution
that lies in the row space of $A$ (the span of the rows, orthogonal to $\mathrm{null}(A)$).

Now look at gradient descent, $x_{k+1} = x_k - \eta A^\top (A x_k - b)$: every update is
$A^\top$ times something, so it lies in the row space. The component of $x$ in
$\mathrm{null}(A)$ therefore **never changes**. Started from $x_0 = 0$, the iterates stay in
the row space and converge (for $0 < \eta < 2 / \sigma_{\max}(A)^2$) to the only solution
there: $x^\dagger$. Started anywhere else, they converge to $x^\dagger + P_{\mathrm{null}}\, x_0$,
the solution closest to $x_0$ — not the minimum-norm one. (SGD over rows and momentum
have the same property; Adam, which rescales coordinates separately, does not.)

### Task 4: the minimum-norm solution in closed form

`min_norm_solution(A, b)` returns $A^\top (A A^\top)^{-1} b$ for a wide `A` of full row rank
(shape `(m, n)`, `m < n`) and `b` of shape `(m,)`. Solve the $m \times m$ system with
`np.linalg.solve` rather than forming an inverse, and do not call `pinv` or `lstsq` — they
are what the autograder compares with.
'''),
    code(r'''
def min_norm_solution(A, b):
    """The minimum-norm solution of A x = b for a wide A of full row rank: A^T (A A^T)^{-1} b."""
''' + TODO, r'''
def min_norm_solution(A, b):
    """The minimum-norm solution of A x = b for a wide A of full row rank: A^T (A A^T)^{-1} b."""
    A = np.asarray(A, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    return A.T @ np.linalg.solve(A @ A.T, b)
'''),
    md(r'''
### Task 5: gradient descent on least squares

`least_squares_gd(A, b, x0, lr=None, steps=10_000)` runs `steps` iterations of full-batch
gradient descent $x_{k+1} = x_k - \eta\, A^\top (A x_k - b)$ on $f(x) = \tfrac12\lVert Ax - b\rVert^2$,
**starting from `x0`** (do not modify the caller's `x0`), and returns the last iterate as a
float64 array of shape `(n,)`. With `lr=None` use $\eta = 1 / \sigma_{\max}(A)^2$
(`np.linalg.norm(A, 2) ** 2` is $\sigma_{\max}^2$, the largest eigenvalue of $A^\top A$), the
classic $1/L$ step; otherwise use the `lr` given. Run exactly `steps` iterations (an early
stop once the update is below $10^{-14}$ is fine). On the well-conditioned problems the
autograder uses, the defaults converge to machine precision.
'''),
    code(r'''
def least_squares_gd(A, b, x0, lr=None, steps=10_000):
    """Gradient descent on 0.5 * ||A x - b||^2 from x0; returns the last iterate."""
''' + TODO, r'''
def least_squares_gd(A, b, x0, lr=None, steps=10_000):
    """Gradient descent on 0.5 * ||A x - b||^2 from x0; returns the last iterate."""
    A = np.asarray(A, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    x = np.array(x0, dtype=np.float64)                                    # a copy
    if lr is None:
        lr = 1.0 / np.linalg.norm(A, 2) ** 2
    for _ in range(steps):
        x -= lr * (A.T @ (A @ x - b))
    return x
'''),
    md(r'''
### The experiment

The cell below draws a random over-parameterised problem and compares where different
starts and different optimisers end up: the residual $\lVert Ax - b\rVert$ (all of them fit
the data), the norm $\lVert x \rVert$, and the distance to the minimum-norm solution
`pinv(A) @ b`. Your `SGD` with momentum and your `Adam` run on the same loss from zero.

**Think about it** (not graded): which runs find the minimum-norm solution, and why?
What does the start $x_0$ decide? Why does Adam, from the same zero start, end somewhere
else? If $x$ were the weights of a network, which solution would you expect to generalise
better, and what does this say about the choice of initialisation and optimiser?
'''),
    code(r'''
def _experiment(m=20, n=60, seed=1):
    rng = np.random.default_rng(seed)
    A = rng.normal(size=(m, n)) / np.sqrt(n)
    b = rng.normal(size=m)
    x_dagger = np.linalg.pinv(A) @ b
    runs = {
        "closed form": min_norm_solution(A, b),
        "GD from 0": least_squares_gd(A, b, np.zeros(n)),
        "GD from x0 ~ N(0, 1)": least_squares_gd(A, b, rng.normal(size=n)),
    }
    lr = 1.0 / np.linalg.norm(A, 2) ** 2
    for name, opt in (("SGD momentum 0.9 from 0", SGD([np.zeros(n)], lr=0.1 * lr, momentum=0.9)),
                      ("Adam from 0", Adam([np.zeros(n)], lr=0.01))):
        x = np.zeros(n)
        for _ in range(4000):
            (x,) = opt.step([A.T @ (A @ x - b)])       # the gradient at the current x
        runs[name] = x
    print(f"{'':26s} {'|Ax - b|':>10s} {'|x|':>8s} {'|x - pinv(A) b|':>16s}")
    for name, x in runs.items():
        print(f"{name:26s} {np.linalg.norm(A @ x - b):10.2e} {np.linalg.norm(x):8.4f} "
              f"{np.linalg.norm(x - x_dagger):16.2e}")
    print(f"{'pinv(A) @ b':26s} {np.linalg.norm(A @ x_dagger - b):10.2e} {np.linalg.norm(x_dagger):8.4f}")


try:
    _experiment()
except NotImplementedError:
    print("not implemented yet")
'''),
]


if __name__ == "__main__":
    write_pair(CELLS, "m04", STARTER_PATH, SOLUTION_PATH, REPO)
