"""Build the m05-regularization starter and solution notebooks from one cell list.

    .venv/bin/python graders/m05-regularization/build_notebooks.py

Writes
  assignments/m05-regularization/regularization.ipynb   starter (bodies raise NotImplementedError)
  solutions/m05-regularization/solution.ipynb           the same notebook with the bodies filled in

HIDDEN: this file contains the solution; it lives in graders/ so it is never shipped.
Both notebooks have exactly the same cells in the same order (the fixture notebooks in
tests/fixtures/m05-regularization/ patch cells found by marker strings: "class Dropout",
"class BatchNorm1d", "def l2_penalty", "def sgd_step", "def adam_step"), no outputs, and
are validated with nbformat before they are written.
"""

from __future__ import annotations

from pathlib import Path

from handin.authoring import TODO, code, md, write_pair

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
STARTER_PATH = REPO / "assignments" / "m05-regularization" / "regularization.ipynb"
SOLUTION_PATH = REPO / "solutions" / "m05-regularization" / "solution.ipynb"

METHOD_TODO = "        # YOUR CODE HERE\n        raise NotImplementedError\n"

CELLS = [
    md(r'''
# Module 5 — Regularisation: dropout, batch normalisation, weight decay

Three tools that appear in nearly every modern network, each written by hand in numpy so
that you see exactly what they compute — and each compared by the autograder with what
PyTorch does:

1. **Dropout**, with its two modes: random masking with *inverted scaling* while
   training, the identity at evaluation.
2. **Batch normalisation**: the forward pass in training and in evaluation mode, the
   running statistics, and the backward pass derived by hand (no autograd).
3. **Weight decay against an L2 penalty**: one optimiser step of SGD, Adam and AdamW.
   For SGD, weight decay and an L2 penalty on the loss are the same thing; for Adam they
   are not, and AdamW's *decoupled* weight decay is different again.

Like `torch.nn.Dropout` and `torch.nn.BatchNorm1d`, the two layers are classes with a
`training` flag that `train()` and `eval()` switch. They work on float64 numpy arrays of
shape `(n, features)` (one example per row) and must not modify their inputs.

**How this notebook is graded.** The autograder runs the whole notebook top to bottom and
then calls the classes and functions it defines, comparing them with
`torch.nn.Dropout`/`torch.nn.BatchNorm1d` (and autograd) and with `torch.optim.SGD`,
`torch.optim.Adam` and `torch.optim.AdamW` on inputs of its own. Keep the names and
signatures exactly as given and leave the provided code (`__init__`, `train`, `eval`,
`adam_state`) as it is; you may add helper functions. Run *Restart & Run All* before you
hand in: a cell that raises leaves the names it should have defined undefined. The whole
notebook should run in a few seconds and must not download anything.

Small checks after each part print `not implemented yet` until you fill the code in;
`test_public.py` contains a few of the autograder's tests.
'''),
    code(r'''
import numpy as np
'''),
    md(r'''
## Part 1 — Dropout

While **training**, dropout sets each unit to zero independently with probability `p`
and scales the units it keeps by $1/(1-p)$:

$$
m_{ij} \sim \mathrm{Bernoulli}(1 - p), \qquad
y_{ij} = \frac{m_{ij}\, x_{ij}}{1 - p} .
$$

The scaling (*inverted* dropout) keeps the expected value of every unit unchanged,
$\mathbb{E}[y_{ij}] = x_{ij}$, so that at **evaluation** nothing needs to be rescaled:
dropout is simply the identity, $y = x$. Draw a fresh mask on every call in training mode,
using the layer's own generator `self.rng` (seeded in `__init__`, so the same seed gives
the same masks). `p` is in $[0, 1)$; with `p = 0` nothing is dropped.

`backward(dout)` returns the gradient with respect to the input of the last `forward`
call: in training mode $\partial L / \partial x = \mathrm{dout} \odot m / (1-p)$ with the
*same* mask as that forward pass, and in evaluation mode `dout` itself.
'''),
    code(r'''
class Dropout:
    """Inverted dropout (numpy), like torch.nn.Dropout."""

    def __init__(self, p=0.5, seed=0):
        self.p = p
        self.training = True
        self.rng = np.random.default_rng(seed)

    def train(self):
        self.training = True
        return self

    def eval(self):
        self.training = False
        return self

    def forward(self, x):
        """Training: drop each entry with probability p, scale the rest by 1/(1-p). Eval: x."""
''' + METHOD_TODO + r'''
    def backward(self, dout):
        """Gradient w.r.t. the input of the last forward call."""
''' + METHOD_TODO, r'''
class Dropout:
    """Inverted dropout (numpy), like torch.nn.Dropout."""

    def __init__(self, p=0.5, seed=0):
        self.p = p
        self.training = True
        self.rng = np.random.default_rng(seed)

    def train(self):
        self.training = True
        return self

    def eval(self):
        self.training = False
        return self

    def forward(self, x):
        """Training: drop each entry with probability p, scale the rest by 1/(1-p). Eval: x."""
        x = np.asarray(x, dtype=np.float64)
        if not self.training:
            self.scale = None
            return x.copy()
        keep = self.rng.random(x.shape) >= self.p
        self.scale = keep / (1.0 - self.p)
        return x * self.scale

    def backward(self, dout):
        """Gradient w.r.t. the input of the last forward call."""
        dout = np.asarray(dout, dtype=np.float64)
        if self.scale is None:
            return dout.copy()
        return dout * self.scale
'''),
    md(r'''
### Try it

With `p = 0.5` about half of the entries of a large input should be zero, the output's mean
should stay close to the input's, and in evaluation mode the layer must return its input
unchanged.
'''),
    code(r'''
def _check_dropout():
    drop = Dropout(p=0.5, seed=0)
    x = np.ones((1000, 100))
    out = drop.forward(x)
    print(f"fraction dropped: {np.mean(out == 0):.4f} (should be close to 0.5)")
    print(f"mean of the output: {out.mean():.4f} (should be close to 1)")
    print("identity in eval mode:", np.array_equal(drop.eval().forward(x), x))


try:
    _check_dropout()
except NotImplementedError:
    print("not implemented yet")
'''),
    md(r'''
## Part 2 — Batch normalisation

`BatchNorm1d` normalises every feature (column) of a batch $x \in \mathbb{R}^{n \times d}$
and then scales and shifts it with learned parameters $\gamma$ (`self.weight`) and
$\beta$ (`self.bias`).

**Training mode** uses the statistics of the batch — the mean and the *biased* variance
(divide by $n$):

$$
\mu_j = \frac{1}{n}\sum_{i} x_{ij}, \qquad
\sigma^2_j = \frac{1}{n}\sum_{i} (x_{ij} - \mu_j)^2, \qquad
\hat x_{ij} = \frac{x_{ij} - \mu_j}{\sqrt{\sigma^2_j + \varepsilon}}, \qquad
y_{ij} = \gamma_j \hat x_{ij} + \beta_j ,
$$

and updates the running statistics with PyTorch's convention for `momentum`
(the weight of the *new* batch, default 0.1), keeping the **unbiased** variance
(divide by $n - 1$) in the running estimate:

$$
\text{running\_mean} \leftarrow (1 - \text{momentum})\,\text{running\_mean} + \text{momentum}\,\mu, \qquad
\text{running\_var} \leftarrow (1 - \text{momentum})\,\text{running\_var} + \text{momentum}\,\frac{n}{n-1}\sigma^2 .
$$

**Evaluation mode** normalises with `running_mean` and `running_var` instead of the batch
statistics, and leaves the running statistics unchanged. This is exactly what
`torch.nn.BatchNorm1d` does.

**Backward pass.** `backward(dout)` takes $\partial L/\partial y$ (shape `(n, d)`) for the
last `forward` call *in training mode* and returns the triple
`(dx, dweight, dbias)` of gradients with respect to $x$, $\gamma$ and $\beta$. Derive it
by hand — no autograd. $\partial L/\partial\beta$ and $\partial L/\partial\gamma$ are sums
over the batch. For $\partial L/\partial x$ remember that in training mode each $x_{ij}$
reaches the loss along **three** paths: directly through $\hat x_{ij}$, through the mean
$\mu_j$ and through the variance $\sigma^2_j$ (both of which depend on every row). Save
whatever you need from the forward pass on `self`.
'''),
    code(r'''
class BatchNorm1d:
    """Batch normalisation over the rows of an (n, d) array (numpy), like torch.nn.BatchNorm1d."""

    def __init__(self, num_features, eps=1e-5, momentum=0.1):
        self.eps = eps
        self.momentum = momentum
        self.weight = np.ones(num_features)           # gamma
        self.bias = np.zeros(num_features)            # beta
        self.running_mean = np.zeros(num_features)
        self.running_var = np.ones(num_features)
        self.training = True

    def train(self):
        self.training = True
        return self

    def eval(self):
        self.training = False
        return self

    def forward(self, x):
        """Normalise x (n, d): batch statistics (and update the running ones) when training, running ones at eval."""
''' + METHOD_TODO + r'''
    def backward(self, dout):
        """(dx, dweight, dbias) for the last forward call in training mode."""
''' + METHOD_TODO, r'''
class BatchNorm1d:
    """Batch normalisation over the rows of an (n, d) array (numpy), like torch.nn.BatchNorm1d."""

    def __init__(self, num_features, eps=1e-5, momentum=0.1):
        self.eps = eps
        self.momentum = momentum
        self.weight = np.ones(num_features)           # gamma
        self.bias = np.zeros(num_features)            # beta
        self.running_mean = np.zeros(num_features)
        self.running_var = np.ones(num_features)
        self.training = True

    def train(self):
        self.training = True
        return self

    def eval(self):
        self.training = False
        return self

    def forward(self, x):
        """Normalise x (n, d): batch statistics (and update the running ones) when training, running ones at eval."""
        x = np.asarray(x, dtype=np.float64)
        if self.training:
            n = x.shape[0]
            mean = x.mean(axis=0)
            var = x.var(axis=0)                       # biased (divide by n): used to normalise
            m = self.momentum
            self.running_mean = (1.0 - m) * self.running_mean + m * mean
            self.running_var = (1.0 - m) * self.running_var + m * var * n / (n - 1)
        else:
            mean, var = self.running_mean, self.running_var
        inv_std = 1.0 / np.sqrt(var + self.eps)
        x_hat = (x - mean) * inv_std
        self.cache = (x_hat, inv_std)
        return self.weight * x_hat + self.bias

    def backward(self, dout):
        """(dx, dweight, dbias) for the last forward call in training mode."""
        dout = np.asarray(dout, dtype=np.float64)
        x_hat, inv_std = self.cache
        n = dout.shape[0]
        dbias = dout.sum(axis=0)
        dweight = (dout * x_hat).sum(axis=0)
        dx_hat = dout * self.weight
        dx = inv_std / n * (n * dx_hat - dx_hat.sum(axis=0) - x_hat * (dx_hat * x_hat).sum(axis=0))
        return dx, dweight, dbias
'''),
    md(r'''
### Try it

The cell below compares your layer with `torch.nn.BatchNorm1d` (and its gradients with
autograd) on a random batch; all differences should be tiny, around $10^{-15}$.
'''),
    code(r'''
def _check_batchnorm():
    import torch

    rng = np.random.default_rng(0)
    x = rng.normal(3.0, 2.0, size=(16, 4))
    dout = rng.normal(size=(16, 4))
    bn = BatchNorm1d(4, momentum=0.2)
    bn.weight, bn.bias = rng.normal(size=4), rng.normal(size=4)
    ref = torch.nn.BatchNorm1d(4, momentum=0.2).double()
    with torch.no_grad():
        ref.weight.copy_(torch.from_numpy(bn.weight))
        ref.bias.copy_(torch.from_numpy(bn.bias))
    xt = torch.tensor(x, requires_grad=True)
    yt = ref(xt)
    yt.backward(torch.from_numpy(dout))
    y = bn.forward(x)
    dx, dweight, dbias = bn.backward(dout)
    print("output:      ", np.abs(y - yt.detach().numpy()).max())
    print("running mean:", np.abs(bn.running_mean - ref.running_mean.numpy()).max())
    print("running var: ", np.abs(bn.running_var - ref.running_var.numpy()).max())
    print("dx:          ", np.abs(dx - xt.grad.numpy()).max())
    print("dweight:     ", np.abs(dweight - ref.weight.grad.numpy()).max())
    print("dbias:       ", np.abs(dbias - ref.bias.grad.numpy()).max())
    ref.eval()
    print("eval output: ", np.abs(bn.eval().forward(x) - ref(torch.from_numpy(x)).detach().numpy()).max())


try:
    _check_batchnorm()
except NotImplementedError:
    print("not implemented yet")
'''),
    md(r'''
## Part 3 — Weight decay against an L2 penalty

*Weight decay* shrinks the weights a little at every step. A closely related idea is to add
an *L2 penalty* to the loss (below $\lambda$ is `wd`, $\eta$ is `lr` and $g$ is `grad`),

$$
\tilde L(w) = L(w) + \frac{\lambda}{2}\,\lVert w \rVert^2, \qquad
\nabla \tilde L(w) = \nabla L(w) + \lambda w .
$$

**Task A.** `l2_penalty(w, wd)` returns $\frac{\lambda}{2}\lVert w\rVert^2$ (the sum of
squares of all entries of `w`, times `wd / 2`) as a float; `l2_penalty_grad(w, wd)`
returns its gradient, an array of the shape of `w`.

**Task B: SGD.** `torch.optim.SGD(params, lr, weight_decay=wd)` (no momentum) adds
$\lambda w$ to the gradient and steps: $w \leftarrow w - \eta\,(g + \lambda w)$.
`sgd_step(w, grad, lr, weight_decay=0.0)` returns the new weights after one such step.
`sgd_step_l2(w, grad, lr, wd)` takes one plain SGD step (no weight decay) on the
*penalised* loss $\tilde L$, where `grad` is the gradient of the unpenalised loss $L$.
Convince yourself that for SGD the two are the same thing.

**Task C: Adam and AdamW.** PyTorch's Adam keeps a state per parameter: the step count
$t$ and the moment estimates $m$, $v$ (start from `adam_state(w)`, provided). One step
with gradient $g$ is

$$
t \leftarrow t + 1,\quad
m \leftarrow \beta_1 m + (1-\beta_1)\,g,\quad
v \leftarrow \beta_2 v + (1-\beta_2)\,g^2,\quad
\hat m = \frac{m}{1-\beta_1^t},\quad
\hat v = \frac{v}{1-\beta_2^t},\quad
w \leftarrow w - \eta\,\frac{\hat m}{\sqrt{\hat v} + \varepsilon} .
$$

- `torch.optim.Adam(..., weight_decay=wd)` first replaces $g$ by $g + \lambda w$ — an L2
  penalty, *coupled* to the adaptive scaling: the decay is divided by $\sqrt{\hat v}$ like
  the rest of the gradient, so weights with large gradients are hardly decayed at all.
- `torch.optim.AdamW(..., weight_decay=wd)` *decouples* it (Loshchilov & Hutter): first
  $w \leftarrow w\,(1 - \eta\lambda)$, then the Adam step above with the plain gradient $g$.

`adam_step(w, grad, state, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0)` and
`adamw_step(w, grad, state, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2)`
each return the pair `(new_w, new_state)` for one step exactly as `torch.optim.Adam` and
`torch.optim.AdamW` compute it; `adam_step_l2(w, grad, state, lr, wd, betas=(0.9, 0.999), eps=1e-8)`
takes one Adam step (no weight decay) on the penalised loss $\tilde L$. Return a state dict
like the one `adam_state` makes (you may update the one you were given and return it).
'''),
    code(r'''
def l2_penalty(w, wd):
    """(wd / 2) * ||w||^2 as a float."""
''' + TODO + r'''

def l2_penalty_grad(w, wd):
    """Gradient of l2_penalty with respect to w."""
''' + TODO, r'''
def l2_penalty(w, wd):
    """(wd / 2) * ||w||^2 as a float."""
    w = np.asarray(w, dtype=np.float64)
    return float(0.5 * wd * np.sum(w * w))


def l2_penalty_grad(w, wd):
    """Gradient of l2_penalty with respect to w."""
    return wd * np.asarray(w, dtype=np.float64)
'''),
    code(r'''
def sgd_step(w, grad, lr, weight_decay=0.0):
    """One step of torch.optim.SGD(lr=lr, weight_decay=weight_decay) (no momentum)."""
''' + TODO + r'''

def sgd_step_l2(w, grad, lr, wd):
    """One plain SGD step on loss + l2_penalty(w, wd); grad is the gradient of the loss alone."""
''' + TODO, r'''
def sgd_step(w, grad, lr, weight_decay=0.0):
    """One step of torch.optim.SGD(lr=lr, weight_decay=weight_decay) (no momentum)."""
    w = np.asarray(w, dtype=np.float64)
    return w - lr * (np.asarray(grad, dtype=np.float64) + weight_decay * w)


def sgd_step_l2(w, grad, lr, wd):
    """One plain SGD step on loss + l2_penalty(w, wd); grad is the gradient of the loss alone."""
    return sgd_step(w, np.asarray(grad, dtype=np.float64) + l2_penalty_grad(w, wd), lr, weight_decay=0.0)
'''),
    code(r'''
# Provided -- do not change.
def adam_state(w):
    """Adam's initial state for a parameter shaped like w: step count 0, zero moments."""
    return {"step": 0, "m": np.zeros_like(w, dtype=np.float64), "v": np.zeros_like(w, dtype=np.float64)}


def adam_step(w, grad, state, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0):
    """One step of torch.optim.Adam; returns (new_w, new_state)."""
''' + TODO + r'''

def adamw_step(w, grad, state, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2):
    """One step of torch.optim.AdamW (decoupled weight decay); returns (new_w, new_state)."""
''' + TODO + r'''

def adam_step_l2(w, grad, state, lr, wd, betas=(0.9, 0.999), eps=1e-8):
    """One Adam step (no weight decay) on loss + l2_penalty(w, wd); returns (new_w, new_state)."""
''' + TODO, r'''
# Provided -- do not change.
def adam_state(w):
    """Adam's initial state for a parameter shaped like w: step count 0, zero moments."""
    return {"step": 0, "m": np.zeros_like(w, dtype=np.float64), "v": np.zeros_like(w, dtype=np.float64)}


def adam_step(w, grad, state, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0):
    """One step of torch.optim.Adam; returns (new_w, new_state)."""
    w = np.asarray(w, dtype=np.float64)
    g = np.asarray(grad, dtype=np.float64)
    if weight_decay != 0.0:
        g = g + weight_decay * w                      # L2, coupled to the adaptive scaling
    beta1, beta2 = betas
    t = state["step"] + 1
    m = beta1 * state["m"] + (1.0 - beta1) * g
    v = beta2 * state["v"] + (1.0 - beta2) * g * g
    m_hat = m / (1.0 - beta1 ** t)
    v_hat = v / (1.0 - beta2 ** t)
    return w - lr * m_hat / (np.sqrt(v_hat) + eps), {"step": t, "m": m, "v": v}


def adamw_step(w, grad, state, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2):
    """One step of torch.optim.AdamW (decoupled weight decay); returns (new_w, new_state)."""
    w = np.asarray(w, dtype=np.float64) * (1.0 - lr * weight_decay)
    return adam_step(w, grad, state, lr=lr, betas=betas, eps=eps, weight_decay=0.0)


def adam_step_l2(w, grad, state, lr, wd, betas=(0.9, 0.999), eps=1e-8):
    """One Adam step (no weight decay) on loss + l2_penalty(w, wd); returns (new_w, new_state)."""
    g = np.asarray(grad, dtype=np.float64) + l2_penalty_grad(w, wd)
    return adam_step(w, g, state, lr=lr, betas=betas, eps=eps, weight_decay=0.0)
'''),
    md(r'''
### Try it

The cell below runs 20 steps of each method on a small least-squares problem and compares
the weights they end with. For SGD, weight decay and the L2 penalty should agree to
rounding error; so should Adam's `weight_decay` and Adam on the penalised loss — but AdamW
should end somewhere else. Compare with `torch.optim` too.

*Think about it (not graded):* why does the L2 penalty decay a weight with a large gradient
history less under Adam than under AdamW?
'''),
    code(r'''
def _check_weight_decay(steps=20, lr=0.05, wd=0.1):
    rng = np.random.default_rng(0)
    X, Y = rng.normal(size=(32, 5)), rng.normal(size=(32, 3))
    w0 = rng.normal(size=(5, 3))

    def grad(w):                                      # gradient of 0.5 * mean squared error
        return X.T @ (X @ w - Y) / len(X)

    w_decay, w_l2 = w0.copy(), w0.copy()
    for _ in range(steps):
        w_decay = sgd_step(w_decay, grad(w_decay), lr, weight_decay=wd)
        w_l2 = sgd_step_l2(w_l2, grad(w_l2), lr, wd)
    print(f"SGD,  weight decay vs L2 penalty:  {np.abs(w_decay - w_l2).max():.2e}")

    runs = {}
    for name in ("adam", "adam_l2", "adamw"):
        w, state = w0.copy(), adam_state(w0)
        for _ in range(steps):
            if name == "adam":
                w, state = adam_step(w, grad(w), state, lr=lr, weight_decay=wd)
            elif name == "adam_l2":
                w, state = adam_step_l2(w, grad(w), state, lr, wd)
            else:
                w, state = adamw_step(w, grad(w), state, lr=lr, weight_decay=wd)
        runs[name] = w
    print(f"Adam, weight_decay vs L2 penalty:  {np.abs(runs['adam'] - runs['adam_l2']).max():.2e}")
    print(f"Adam (L2) vs AdamW (decoupled):    {np.abs(runs['adam'] - runs['adamw']).max():.2e}")


try:
    _check_weight_decay()
except NotImplementedError:
    print("not implemented yet")
'''),
]


if __name__ == "__main__":
    write_pair(CELLS, "m05", STARTER_PATH, SOLUTION_PATH, REPO)
