"""Build the m02-feedforward starter and solution notebooks from one cell list.

    .venv/bin/python graders/m02-feedforward/build_notebooks.py

Writes
  assignments/m02-feedforward/feedforward.ipynb   starter (bodies raise NotImplementedError)
  solutions/m02-feedforward/solution.ipynb        the same notebook with the bodies filled in

HIDDEN: this file contains the solution; it lives in graders/ so it is never shipped.
Both notebooks have exactly the same cells in the same order (the fixture notebooks in
tests/fixtures/m02-feedforward/ rely on the code-cell order: 1 setup, 2 relu, 3 softmax,
...), no outputs, and are validated with nbformat before they are written.
"""

from __future__ import annotations

from pathlib import Path

from handin.authoring import TODO, code, md, write_pair

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
STARTER_PATH = REPO / "assignments" / "m02-feedforward" / "feedforward.ipynb"
SOLUTION_PATH = REPO / "solutions" / "m02-feedforward" / "solution.ipynb"

CELLS = [
    md(r'''
# Module 2 — Fundamentals: feedforward networks

In this assignment you build a two-layer fully connected network (a *multilayer
perceptron*, MLP) twice:

1. **From scratch in numpy**: the ReLU non-linearity, a numerically stable softmax, the
   cross-entropy loss, the forward pass, the backward pass (backpropagation by hand), and
   a numerical gradient check that tells you whether your backward pass is right.
2. **In PyTorch**: the same network as an `nn.Module`, a training loop, and a classifier
   for the 8×8 handwritten digits that ship with scikit-learn.

The network is

$$
z_1 = X W_1 + b_1,\qquad h = \mathrm{ReLU}(z_1),\qquad z_2 = h W_2 + b_2,\qquad
p = \mathrm{softmax}(z_2),\qquad L = -\frac{1}{n}\sum_{i=1}^{n} \log p_{i, y_i}
$$

with `X` of shape `(n, n_in)` (one example per row), `W1` of shape `(n_in, n_hidden)`,
`b1` of shape `(n_hidden,)`, `W2` of shape `(n_hidden, n_out)` and `b2` of shape `(n_out,)`.

**How this notebook is graded.** The autograder runs the whole notebook top to bottom
and then calls the functions (and reads the variable `model`) that the notebook defines.
Keep the names and signatures exactly as given; you may add helper functions. A cell
that raises an error stops the run, so names defined *after* it will be missing — run
*Restart & Run All* before you hand in. The training data is in `data/digits_train.npz`;
your model is scored on held-out digits you do not have. The notebook must not download
anything, and the whole run should take well under a minute.

Small checks after each part print `not implemented yet` until you fill the function in;
`test_public.py` contains a few of the autograder's tests.
'''),
    code(r'''
import numpy as np
import torch
from torch import nn

data = np.load("data/digits_train.npz")
X_train, y_train = data["X"], data["y"]   # X: float32 (n, 64), pixel values 0..16; y: int64 labels 0..9
print("training data:", X_train.shape, X_train.dtype, y_train.shape, y_train.dtype)
'''),
    md(r'''
## Part 1 — the network in numpy

Work in float64 numpy throughout this part. Every function must work for any batch
size `n` (including `n = 1`) and must not modify its inputs.

### Task 1: ReLU

`relu(x)` returns $\max(x, 0)$ elementwise; `relu_grad(x)` returns its derivative,
$1$ where $x > 0$ and $0$ where $x \le 0$ (we use $0$ at the kink). Both keep the shape
of `x`.
'''),
    code(r'''
def relu(x):
    """Elementwise max(x, 0)."""
''' + TODO + r'''

def relu_grad(x):
    """Derivative of relu: 1.0 where x > 0, 0.0 where x <= 0 (same shape as x)."""
''' + TODO, r'''
def relu(x):
    """Elementwise max(x, 0)."""
    return np.maximum(x, 0.0)


def relu_grad(x):
    """Derivative of relu: 1.0 where x > 0, 0.0 where x <= 0 (same shape as x)."""
    return (x > 0).astype(np.float64)
'''),
    md(r'''
### Task 2: softmax and cross-entropy

`softmax(z)` takes a 2-D array of logits `(n, k)` and returns the row-wise softmax
$p_{ij} = e^{z_{ij}} / \sum_{l} e^{z_{il}}$. Computed naively, $e^{1000}$ overflows to
`inf`; make it **numerically stable** using the fact that softmax does not change when
you subtract the same number from every entry of a row (subtract the row maximum).

`cross_entropy(probs, y)` takes probabilities `(n, k)` and integer labels `y` of shape
`(n,)` and returns the **mean** negative log-likelihood
$-\frac{1}{n}\sum_i \log p_{i, y_i}$ as a Python float.
'''),
    code(r'''
def softmax(z):
    """Row-wise softmax of a 2-D array of logits; stable for large logits."""
''' + TODO + r'''

def cross_entropy(probs, y):
    """Mean negative log-likelihood of integer labels y under row-wise probabilities probs."""
''' + TODO, r'''
def softmax(z):
    """Row-wise softmax of a 2-D array of logits; stable for large logits."""
    z = z - np.max(z, axis=1, keepdims=True)
    e = np.exp(z)
    return e / np.sum(e, axis=1, keepdims=True)


def cross_entropy(probs, y):
    """Mean negative log-likelihood of integer labels y under row-wise probabilities probs."""
    n = probs.shape[0]
    return float(-np.mean(np.log(probs[np.arange(n), y])))
'''),
    md(r'''
### Task 3: initialisation

`init_params(n_in, n_hidden, n_out, seed=0)` returns a dict with keys `"W1"`, `"b1"`,
`"W2"`, `"b2"` and the shapes given above. Use a random generator seeded with `seed`
(`np.random.default_rng(seed)`), so the same seed always gives the same parameters.
Weights must be small random numbers — if all hidden units started out identical they
would stay identical forever (*symmetry*). A good choice for ReLU networks is He
initialisation: $W \sim \mathcal{N}(0, 2/\text{fan\_in})$. Biases can start at zero.
'''),
    code(r'''
def init_params(n_in, n_hidden, n_out, seed=0):
    """Dict with W1 (n_in, n_hidden), b1 (n_hidden,), W2 (n_hidden, n_out), b2 (n_out,)."""
''' + TODO, r'''
def init_params(n_in, n_hidden, n_out, seed=0):
    """Dict with W1 (n_in, n_hidden), b1 (n_hidden,), W2 (n_hidden, n_out), b2 (n_out,)."""
    rng = np.random.default_rng(seed)
    return {
        "W1": rng.normal(0.0, np.sqrt(2.0 / n_in), size=(n_in, n_hidden)),
        "b1": np.zeros(n_hidden),
        "W2": rng.normal(0.0, np.sqrt(2.0 / n_hidden), size=(n_hidden, n_out)),
        "b2": np.zeros(n_out),
    }
'''),
    md(r'''
### Task 4: forward pass

`forward(params, X)` computes the network above and returns a pair `(probs, cache)`:
`probs` is the `(n, n_out)` array of class probabilities and `cache` is a **dict of numpy
arrays** holding whatever `backward` needs later (for example `X`, `z1`, `h`, `probs`).
'''),
    code(r'''
def forward(params, X):
    """Return (probs, cache) for a batch X of shape (n, n_in)."""
''' + TODO, r'''
def forward(params, X):
    """Return (probs, cache) for a batch X of shape (n, n_in)."""
    z1 = X @ params["W1"] + params["b1"]
    h = relu(z1)
    z2 = h @ params["W2"] + params["b2"]
    probs = softmax(z2)
    cache = {"X": X, "z1": z1, "h": h, "probs": probs}
    return probs, cache
'''),
    md(r'''
### Task 5: backward pass

`backward(params, cache, y)` returns a dict with the same keys as `params`: the gradient
of the **mean** cross-entropy $L$ with respect to each parameter, each with the shape of
that parameter. Work backwards through the network with the chain rule. Useful facts:
the gradient of $L$ with respect to the logits is $\frac{1}{n}(p - Y)$, where $Y$ is the
one-hot encoding of `y`; and the gradient flows through the ReLU only where $z_1 > 0$.
'''),
    code(r'''
def backward(params, cache, y):
    """Gradients of the mean cross-entropy w.r.t. W1, b1, W2, b2 (dict, same shapes as params)."""
''' + TODO, r'''
def backward(params, cache, y):
    """Gradients of the mean cross-entropy w.r.t. W1, b1, W2, b2 (dict, same shapes as params)."""
    X, z1, h, probs = cache["X"], cache["z1"], cache["h"], cache["probs"]
    n = X.shape[0]
    dz2 = probs.copy()
    dz2[np.arange(n), y] -= 1.0
    dz2 /= n
    dh = dz2 @ params["W2"].T
    dz1 = dh * relu_grad(z1)
    return {
        "W1": X.T @ dz1,
        "b1": dz1.sum(axis=0),
        "W2": h.T @ dz2,
        "b2": dz2.sum(axis=0),
    }
'''),
    md(r'''
### Task 6: numerical gradient

How do you know your backward pass is right? Compare it with a numerical estimate.
`numerical_gradient(f, x, eps=1e-5)` takes a function `f` that maps an array of the shape
of `x` to a scalar and returns the array of **central differences**

$$
\frac{\partial f}{\partial x_j} \approx \frac{f(x + \varepsilon e_j) - f(x - \varepsilon e_j)}{2\varepsilon}
$$

with the same shape as `x` (which may have any number of dimensions; `np.ndindex(x.shape)`
loops over all positions). Central differences are far more accurate than the one-sided
$(f(x + \varepsilon e_j) - f(x)) / \varepsilon$. You may perturb `x` in place while you
evaluate `f`, but when the function returns, `x` must hold its original values.

The cell also contains `probe_numerical_gradient`, which is **provided — do not change
it**: the autograder cannot send a function into your notebook, so it calls this probe,
which runs your `numerical_gradient` on a fixed function of its own.
'''),
    code(r'''
def numerical_gradient(f, x, eps=1e-5):
    """Central-difference gradient of the scalar function f at the array x (same shape as x)."""
''' + TODO + r'''

# Provided -- do not change. The autograder calls this to test numerical_gradient.
def probe_numerical_gradient(x):
    x = np.array(x, dtype=np.float64)
    g = numerical_gradient(lambda v: float(np.sum(np.sin(3.0 * v) * v ** 2) + 0.5 * np.sum(v) ** 2), x)
    return g, x
''', r'''
def numerical_gradient(f, x, eps=1e-5):
    """Central-difference gradient of the scalar function f at the array x (same shape as x)."""
    grad = np.zeros(x.shape, dtype=np.float64)
    for idx in np.ndindex(x.shape):
        old = x[idx]
        x[idx] = old + eps
        f_plus = f(x)
        x[idx] = old - eps
        f_minus = f(x)
        x[idx] = old                      # restore exactly
        grad[idx] = (f_plus - f_minus) / (2.0 * eps)
    return grad


# Provided -- do not change. The autograder calls this to test numerical_gradient.
def probe_numerical_gradient(x):
    x = np.array(x, dtype=np.float64)
    g = numerical_gradient(lambda v: float(np.sum(np.sin(3.0 * v) * v ** 2) + 0.5 * np.sum(v) ** 2), x)
    return g, x
'''),
    md(r'''
### Task 7: gradient check

`grad_check(params, X, y, eps=1e-5, grads=None)` compares analytic gradients with
numerical ones and returns the **maximum relative error** over all entries of all four
parameters, as a float. The analytic gradients are `grads` if given, otherwise the
result of your `backward` (after `forward(params, X)`). For each key, use
`numerical_gradient` on the loss `cross_entropy(forward(params', X)[0], y)` seen as a
function of that one parameter (`params'` is `params` with that entry replaced by the
array being differentiated). The relative error of an analytic entry `a` and a
numerical entry `m` is

$$
\frac{|a - m|}{\max(10^{-8},\ |a| + |m|)} .
$$

With a correct backward pass and float64 this is typically below $10^{-7}$; an error
in the backward pass usually shows up as a relative error of $10^{-2}$ or more.
'''),
    code(r'''
def grad_check(params, X, y, eps=1e-5, grads=None):
    """Max relative error between analytic gradients (grads, or backward's) and numerical ones."""
''' + TODO, r'''
def grad_check(params, X, y, eps=1e-5, grads=None):
    """Max relative error between analytic gradients (grads, or backward's) and numerical ones."""
    if grads is None:
        _, cache = forward(params, X)
        grads = backward(params, cache, y)
    worst = 0.0
    for key in ("W1", "b1", "W2", "b2"):
        def loss_of(w, key=key):
            return cross_entropy(forward({**params, key: w}, X)[0], y)

        numeric = numerical_gradient(loss_of, np.array(params[key], dtype=np.float64))
        analytic = np.asarray(grads[key], dtype=np.float64)
        rel = np.abs(analytic - numeric) / np.maximum(1e-8, np.abs(analytic) + np.abs(numeric))
        worst = max(worst, float(np.max(rel)))
    return worst
'''),
    md(r'''
### Try it

The cell below checks your numpy network on a tiny random problem. Once everything is
implemented, the relative error should be tiny and the loss of a few steps of gradient
descent should go down.
'''),
    code(r'''
def _check_numpy_part():
    rng = np.random.default_rng(0)
    Xs = rng.normal(size=(8, 5))
    ys = rng.integers(0, 3, size=8)
    params = init_params(5, 6, 3, seed=0)
    print("softmax of huge logits:", softmax(np.array([[1000.0, 1000.0, 0.0]])).round(3))
    print("max relative error of backward():", grad_check(params, Xs, ys))
    losses = []
    for _ in range(50):
        probs, cache = forward(params, Xs)
        losses.append(cross_entropy(probs, ys))
        grads = backward(params, cache, ys)
        params = {k: params[k] - 0.5 * grads[k] for k in params}
    print(f"gradient descent: loss {losses[0]:.3f} -> {losses[-1]:.3f}")


try:
    _check_numpy_part()
except NotImplementedError:
    print("not implemented yet")
'''),
    md(r'''
## Part 2 — the same network in PyTorch

### Task 8: the model

`MLP(n_in, n_hidden, n_out)` is an `nn.Module` with two `nn.Linear` layers named
**`self.fc1`** (`n_in → n_hidden`) and **`self.fc2`** (`n_hidden → n_out`) and a ReLU in
between. `forward(x)` takes a float32 tensor of shape `(n, n_in)` and returns the
**logits** `(n, n_out)` — no softmax: `nn.CrossEntropyLoss` applies log-softmax itself.
Add no other parameters (the autograder loads weights into your model with
`load_state_dict`).
'''),
    code(r'''
class MLP(nn.Module):
    def __init__(self, n_in, n_hidden, n_out):
        super().__init__()
        # YOUR CODE HERE
        raise NotImplementedError

    def forward(self, x):
        # YOUR CODE HERE
        raise NotImplementedError
''', r'''
class MLP(nn.Module):
    def __init__(self, n_in, n_hidden, n_out):
        super().__init__()
        self.fc1 = nn.Linear(n_in, n_hidden)
        self.relu = nn.ReLU()
        self.fc2 = nn.Linear(n_hidden, n_out)

    def forward(self, x):
        return self.fc2(self.relu(self.fc1(x)))
'''),
    md(r'''
### Task 9: training

`preprocess(X)` turns raw pixels (0..16) into network inputs; the provided version scales
them to [0, 1], and you may change it.

`train_model(model, X, y, epochs=..., lr=..., batch_size=..., seed=0)` trains `model` in
place on `X` exactly as given (already preprocessed; a float32 numpy array or tensor of
shape `(n, 64)`) and integer labels `y`, with mini-batches, `nn.CrossEntropyLoss` and
`torch.optim.SGD` or `torch.optim.Adam`. Shuffle the data every epoch with a
`torch.Generator` seeded with `seed`, so that the same seed and the same initial weights
give exactly the same result. Choose good defaults for `epochs`, `lr` and `batch_size`.
Return the list of per-epoch **mean** training losses (one Python float per epoch).
'''),
    code(r'''
def preprocess(X):
    """Raw pixels (0..16) -> float32 network inputs."""
    return np.asarray(X, dtype=np.float32) / 16.0


def train_model(model, X, y, epochs=40, lr=2e-3, batch_size=64, seed=0):
    """Train model in place; return the list of per-epoch mean losses."""
''' + TODO, r'''
def preprocess(X):
    """Raw pixels (0..16) -> float32 network inputs."""
    return np.asarray(X, dtype=np.float32) / 16.0


def train_model(model, X, y, epochs=40, lr=2e-3, batch_size=64, seed=0):
    """Train model in place; return the list of per-epoch mean losses."""
    X = torch.as_tensor(np.asarray(X, dtype=np.float32))
    y = torch.as_tensor(np.asarray(y, dtype=np.int64))
    generator = torch.Generator().manual_seed(seed)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    loss_fn = nn.CrossEntropyLoss()
    n = X.shape[0]
    history = []
    model.train()
    for _ in range(epochs):
        order = torch.randperm(n, generator=generator)
        total = 0.0
        for start in range(0, n, batch_size):
            idx = order[start:start + batch_size]
            optimizer.zero_grad()
            loss = loss_fn(model(X[idx]), y[idx])
            loss.backward()
            optimizer.step()
            total += loss.item() * len(idx)
        history.append(total / n)
    return history
'''),
    md(r'''
### Task 10: prediction

`predict(model, X)` takes **raw** pixels `X` (a float32 numpy array `(n, 64)`, values
0..16 — the autograder sends raw pixels), applies `preprocess`, runs the model without
tracking gradients, and returns the predicted labels as a numpy `int64` array of shape
`(n,)`.
'''),
    code(r'''
def predict(model, X):
    """Predicted labels (numpy int64, shape (n,)) for raw-pixel inputs X."""
''' + TODO, r'''
def predict(model, X):
    """Predicted labels (numpy int64, shape (n,)) for raw-pixel inputs X."""
    model.eval()
    with torch.no_grad():
        logits = model(torch.as_tensor(preprocess(X)))
    return logits.argmax(dim=1).numpy().astype(np.int64)
'''),
    md(r'''
### Train the final model

This cell trains the model the autograder scores: it must leave a trained `MLP(64, ..., 10)`
in the variable **`model`**. It is scored by its accuracy on held-out digits (full marks
from 95%). Keep training short — well under a minute on a laptop CPU.
'''),
    code(r'''
try:
    torch.manual_seed(0)
    model = MLP(64, 256, 10)
    losses = train_model(model, preprocess(X_train), y_train)
    print(f"loss: first epoch {losses[0]:.3f}, last epoch {losses[-1]:.4f}")
    print(f"training accuracy: {np.mean(predict(model, X_train) == y_train):.4f}")
except NotImplementedError:
    print("not implemented yet")
'''),
]


if __name__ == "__main__":
    write_pair(CELLS, "m02", STARTER_PATH, SOLUTION_PATH, REPO)
