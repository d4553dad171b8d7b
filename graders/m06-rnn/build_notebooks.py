"""Build the m06-rnn starter and solution notebooks from one cell list.

    .venv/bin/python graders/m06-rnn/build_notebooks.py

Writes
  assignments/m06-rnn/rnn.ipynb          starter (bodies raise NotImplementedError)
  solutions/m06-rnn/solution.ipynb       the same notebook with the bodies filled in

HIDDEN: this file contains the solution; it lives in graders/ so it is never shipped.
Both notebooks have exactly the same cells in the same order (the fixture notebooks in
tests/fixtures/m06-rnn/ find cells by marker strings such as "class LSTMCell"), no
outputs, and are validated with nbformat before they are written.
"""

from __future__ import annotations

from pathlib import Path

from handin.authoring import TODO, code, md, write_pair

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
STARTER_PATH = REPO / "assignments" / "m06-rnn" / "rnn.ipynb"
SOLUTION_PATH = REPO / "solutions" / "m06-rnn" / "solution.ipynb"

FORWARD_TODO = "        # YOUR CODE HERE\n        raise NotImplementedError\n"

RNN_CELL_HEAD = r'''
class RNNCell(nn.Module):
    """One step of a tanh RNN, with the parameters of torch.nn.RNNCell(input_size, hidden_size)."""

    def __init__(self, input_size, hidden_size):
        super().__init__()
        self.input_size, self.hidden_size = input_size, hidden_size
        self.weight_ih = nn.Parameter(torch.empty(hidden_size, input_size))
        self.weight_hh = nn.Parameter(torch.empty(hidden_size, hidden_size))
        self.bias_ih = nn.Parameter(torch.empty(hidden_size))
        self.bias_hh = nn.Parameter(torch.empty(hidden_size))
        bound = 1.0 / math.sqrt(hidden_size)          # torch's initialisation
        for p in self.parameters():
            nn.init.uniform_(p, -bound, bound)

    def forward(self, x, h):
        """x: (batch, input_size), h: (batch, hidden_size) -> the next hidden state (batch, hidden_size)."""
'''

LSTM_CELL_HEAD = r'''
class LSTMCell(nn.Module):
    """One step of an LSTM, with the parameters of torch.nn.LSTMCell(input_size, hidden_size)."""

    def __init__(self, input_size, hidden_size):
        super().__init__()
        self.input_size, self.hidden_size = input_size, hidden_size
        # the four gates stacked in torch's order: rows [0:H] input gate i, [H:2H] forget
        # gate f, [2H:3H] candidate g, [3H:4H] output gate o
        self.weight_ih = nn.Parameter(torch.empty(4 * hidden_size, input_size))
        self.weight_hh = nn.Parameter(torch.empty(4 * hidden_size, hidden_size))
        self.bias_ih = nn.Parameter(torch.empty(4 * hidden_size))
        self.bias_hh = nn.Parameter(torch.empty(4 * hidden_size))
        bound = 1.0 / math.sqrt(hidden_size)          # torch's initialisation
        for p in self.parameters():
            nn.init.uniform_(p, -bound, bound)

    def forward(self, x, state):
        """x: (batch, input_size), state = (h, c), each (batch, hidden_size) -> the pair (h_next, c_next)."""
'''

CLIP_HEAD = r'''
def clip_grad_norm(grads, max_norm):
    """Rescale a list of gradient tensors so that their global L2 norm is at most max_norm.

    Returns (clipped, total_norm): a new list of tensors with the same shapes (the inputs
    are left unchanged) and the global norm *before* clipping, as a Python float.
    """
'''

FORECASTER_HEAD = r'''
class Forecaster(nn.Module):
    """One-step-ahead forecaster: a batch of windows of past values -> the next value of each."""

    def __init__(self, hidden_size=16, lookback=12):
        super().__init__()
'''

FORECASTER_FORWARD = r'''
    def forward(self, x):
        """x: float32 tensor (batch, window) of *scaled* past values -> (batch,) scaled next values."""
'''

TRAIN_HEAD = r'''
def train_forecaster(model, X, y, epochs=200, lr=1e-2, max_norm=1.0):
    """Train model in place on windows X (n, WINDOW) and next values y (n,), both in raw
    sunspot units; clip the gradients with clip_grad_norm every step. Returns the list
    of per-epoch training losses (Python floats)."""
'''

PREDICT_HEAD = r'''
def predict_next(model, windows):
    """Forecasts (float numpy array, shape (n,), raw sunspot units) for windows (n, WINDOW) of raw past values."""
'''

CELLS = [
    md(r'''
# Module 6 — Recurrent networks: RNN and LSTM cells, BPTT, gradient clipping, forecasting

A recurrent network reads a sequence one element at a time and carries a **hidden state**
from step to step. In this assignment you

1. write a tanh **RNN cell** and an **LSTM cell** by hand, as `nn.Module`s with exactly the
   parameters of `torch.nn.RNNCell` and `torch.nn.LSTMCell`, so that given the same
   weights they compute the same numbers;
2. derive and implement **backpropagation through time** (BPTT) for an unrolled tanh RNN
   in numpy, and check it against central differences;
3. implement **gradient clipping by global norm**, the standard remedy for exploding
   gradients in RNNs (the same rule as `torch.nn.utils.clip_grad_norm_`);
4. train a small **one-step-ahead forecaster** of the yearly sunspot numbers (1700–1948)
   and let the autograder score it on the years 1949–2008, which you do not have.

**How this notebook is graded.** The autograder runs the whole notebook top to bottom and
then calls the classes and functions the notebook defines (and reads the variable
`forecaster`). Keep the names and signatures exactly as given; you may add helpers. A
cell that raises an error is recorded and the next cells still run, but names the failed
cell should have defined will be missing — run *Restart & Run All* before you hand in.
The notebook must not download anything and must not read any data but `data/`; the
whole run should take well under a minute on a laptop CPU. `test_public.py` contains a
few of the autograder's tests.
'''),
    code(r'''
import math

import numpy as np
import torch
from torch import nn

device = torch.device("cuda" if torch.cuda.is_available() else "cpu")

WINDOW = 24          # the forecaster sees this many past years (the autograder sends windows of this length)

data = np.load("data/sunspots_train.npz")
years, series = data["years"], data["values"]      # float64 years 1700..1948, float32 yearly sunspot numbers
print(f"{len(series)} years {years[0]:.0f}-{years[-1]:.0f}, values {series.min():.1f}..{series.max():.1f}, device {device}")


def make_windows(values, window=WINDOW):
    """All (past `window` values, next value) pairs of a 1-D series: X (n, window), y (n,), float32."""
    values = np.asarray(values, dtype=np.float32)
    X = np.stack([values[t - window:t] for t in range(window, len(values))])
    return X, values[window:].copy()
'''),
    md(r'''
## Part 1 — RNN and LSTM cells

### Task 1: the RNN cell

A (Elman) RNN with input $x_t$ and hidden state $h_{t-1}$ computes

$$
h_t = \tanh\left(x_t W_{ih}^\top + b_{ih} + h_{t-1} W_{hh}^\top + b_{hh}\right).
$$

PyTorch stores the weights **transposed** compared with the maths you may know:
`weight_ih` has shape `(hidden_size, input_size)`, `weight_hh` `(hidden_size, hidden_size)`,
and there are **two** bias vectors, `bias_ih` and `bias_hh`, each `(hidden_size,)` (their
sum acts as one bias, but both are parameters and both must be used). The constructor is
given; write `forward(x, h)` for a batch: `x` is `(batch, input_size)`, `h` is
`(batch, hidden_size)`. Use only tensor operations (no `nn.RNNCell`), so that autograd
can differentiate it.
'''),
    code(RNN_CELL_HEAD + FORWARD_TODO, RNN_CELL_HEAD + r'''
        return torch.tanh(x @ self.weight_ih.T + self.bias_ih + h @ self.weight_hh.T + self.bias_hh)
'''),
    md(r'''
### Try it

The autograder loads the weights of a `torch.nn.RNNCell` into your cell with
`load_state_dict` — the parameter names and shapes above are exactly torch's — and
compares the outputs. This cell does the same; the difference should be about $10^{-7}$.
'''),
    code(r'''
def _check_rnn_cell():
    torch.manual_seed(0)
    theirs = nn.RNNCell(3, 5)
    mine = RNNCell(3, 5)
    mine.load_state_dict(theirs.state_dict())
    x, h = torch.randn(4, 3), torch.randn(4, 5)
    with torch.no_grad():
        print("RNNCell: max |mine - torch| =", (mine(x, h) - theirs(x, h)).abs().max().item())


try:
    _check_rnn_cell()
except NotImplementedError:
    print("not implemented yet")
'''),
    md(r'''
### Task 2: the LSTM cell

An LSTM carries two states, the hidden state $h$ and the cell state $c$. One step computes
four gate pre-activations at once,

$$
\begin{aligned}
z &= x_t W_{ih}^\top + b_{ih} + h_{t-1} W_{hh}^\top + b_{hh} \quad\text{(shape (batch, 4H))},\\
i &= \sigma(z_{[0:H]}),\quad f = \sigma(z_{[H:2H]}),\quad g = \tanh(z_{[2H:3H]}),\quad o = \sigma(z_{[3H:4H]}),\\
c_t &= f \odot c_{t-1} + i \odot g,\\
h_t &= o \odot \tanh(c_t),
\end{aligned}
$$

where $\sigma$ is the logistic sigmoid and $\odot$ the elementwise product: the **input
gate** $i$, the **forget gate** $f$, the **candidate** $g$ and the **output gate** $o$.
**The order matters**: torch stacks the gates' rows as $i, f, g, o$ (in that order) in
`weight_ih` `(4H, input_size)`, `weight_hh` `(4H, H)`, `bias_ih` `(4H,)` and `bias_hh`
`(4H,)`. Write `forward(x, state)` where `state = (h, c)`; it returns the pair
`(h_next, c_next)`.
'''),
    code(LSTM_CELL_HEAD + FORWARD_TODO, LSTM_CELL_HEAD + r'''
        h, c = state
        z = x @ self.weight_ih.T + self.bias_ih + h @ self.weight_hh.T + self.bias_hh
        i, f, g, o = z.chunk(4, dim=1)
        i, f, g, o = torch.sigmoid(i), torch.sigmoid(f), torch.tanh(g), torch.sigmoid(o)
        c_next = f * c + i * g
        h_next = o * torch.tanh(c_next)
        return h_next, c_next
'''),
    code(r'''
def _check_lstm_cell():
    torch.manual_seed(0)
    theirs = nn.LSTMCell(3, 5)
    mine = LSTMCell(3, 5)
    mine.load_state_dict(theirs.state_dict())
    x, h, c = torch.randn(4, 3), torch.randn(4, 5), torch.randn(4, 5)
    with torch.no_grad():
        h_mine, c_mine = mine(x, (h, c))
        h_torch, c_torch = theirs(x, (h, c))
    print("LSTMCell: max |h - torch| =", (h_mine - h_torch).abs().max().item(),
          " max |c - torch| =", (c_mine - c_torch).abs().max().item())


try:
    _check_lstm_cell()
except NotImplementedError:
    print("not implemented yet")
'''),
    md(r'''
## Part 2 — backpropagation through time, in numpy

Unroll a tanh RNN over a sequence $x_1, \dots, x_T$ (each $x_t$ a batch `(B, D)`) from an
initial state $h_0$ `(B, H)`, here in the row-vector convention of numpy (no transposes):

$$
h_t = \tanh(a_t),\qquad a_t = x_t W_{xh} + h_{t-1} W_{hh} + b,\qquad t = 1, \dots, T,
$$

with `params = {"W_xh": (D, H), "W_hh": (H, H), "b": (H,)}`. Work in float64.

### Task 3: the forward pass

`rnn_forward(params, xs, h0)` takes `xs` of shape `(T, B, D)` and returns `(hs, cache)`:
`hs` is `(T, B, H)` with `hs[t-1]` $= h_t$, and `cache` is a **dict of numpy arrays**
holding whatever your backward pass needs.

### Task 4: the backward pass

A loss $L$ reads every hidden state; you are given its **direct** gradients
`dhs[t-1]` $= \partial L / \partial h_t$ (shape `(T, B, H)`), i.e. what the loss at
step $t$ sends back, *not* counting the paths through later steps. (For the checks below,
$L = \sum_t \sum h_t \odot \texttt{dhs[t-1]}$.) But $h_t$ also influences $L$ through
$h_{t+1}, h_{t+2}, \ldots$ — that is the recurrent term, and it is what makes this
*through time*. Going backwards from $t = T$ to $1$, with $\delta_{T+1} = 0$:

$$
\frac{\partial L}{\partial h_t} = \texttt{dhs[t-1]} + \delta_{t+1} W_{hh}^\top,\qquad
\delta_t = \frac{\partial L}{\partial a_t} = \frac{\partial L}{\partial h_t} \odot (1 - h_t^2),
$$

and the parameter gradients are sums over time: $\partial L/\partial W_{xh} = \sum_t x_t^\top \delta_t$,
$\partial L/\partial W_{hh} = \sum_t h_{t-1}^\top \delta_t$, $\partial L/\partial b = \sum_t \sum_{\text{batch}} \delta_t$,
and $\partial L/\partial h_0 = \delta_1 W_{hh}^\top$.

`rnn_backward(params, cache, dhs)` returns a dict with keys `"W_xh"`, `"W_hh"`, `"b"` and
`"h0"`, each with the shape of that parameter (or of `h0`). The autograder compares it
with central differences of $L$ in float64, for one step and for longer sequences.
'''),
    code(r'''
def rnn_forward(params, xs, h0):
    """Unrolled tanh RNN: xs (T, B, D), h0 (B, H) -> (hs (T, B, H), cache: dict of arrays)."""
''' + TODO + r'''

def rnn_backward(params, cache, dhs):
    """Gradients of L = sum(hs * dhs) w.r.t. W_xh, W_hh, b and h0 (a dict, same shapes)."""
''' + TODO, r'''
def rnn_forward(params, xs, h0):
    """Unrolled tanh RNN: xs (T, B, D), h0 (B, H) -> (hs (T, B, H), cache: dict of arrays)."""
    h = h0
    hs = []
    for x in xs:
        h = np.tanh(x @ params["W_xh"] + h @ params["W_hh"] + params["b"])
        hs.append(h)
    hs = np.stack(hs)
    return hs, {"xs": xs, "h0": h0, "hs": hs}


def rnn_backward(params, cache, dhs):
    """Gradients of L = sum(hs * dhs) w.r.t. W_xh, W_hh, b and h0 (a dict, same shapes)."""
    xs, h0, hs = cache["xs"], cache["h0"], cache["hs"]
    grads = {key: np.zeros_like(params[key]) for key in ("W_xh", "W_hh", "b")}
    dh_next = np.zeros_like(h0)                 # dL/dh_t through the later steps
    for t in reversed(range(len(xs))):
        h_prev = hs[t - 1] if t > 0 else h0
        dh = dhs[t] + dh_next
        delta = dh * (1.0 - hs[t] ** 2)
        grads["W_xh"] += xs[t].T @ delta
        grads["W_hh"] += h_prev.T @ delta
        grads["b"] += delta.sum(axis=0)
        dh_next = delta @ params["W_hh"].T
    grads["h0"] = dh_next
    return grads
'''),
    md(r'''
### Try it: a gradient check

`numerical_gradient` (provided) estimates a gradient by central differences,
$\partial f / \partial x_j \approx (f(x + \varepsilon e_j) - f(x - \varepsilon e_j)) / 2\varepsilon$.
With a correct backward pass every difference printed below is about $10^{-9}$ or
smaller; a missing recurrent term shows up as differences of $10^{-2}$ or more (except
for a sequence of length 1 — why?).
'''),
    code(r'''
def numerical_gradient(f, x, eps=1e-6):
    """Central-difference gradient of the scalar function f at the float64 array x."""
    grad = np.zeros_like(x)
    for idx in np.ndindex(x.shape):
        old = x[idx]
        x[idx] = old + eps
        f_plus = f(x)
        x[idx] = old - eps
        f_minus = f(x)
        x[idx] = old
        grad[idx] = (f_plus - f_minus) / (2 * eps)
    return grad


def _check_bptt(T=5, B=2, D=3, H=4):
    rng = np.random.default_rng(0)
    params = {"W_xh": rng.normal(0, 0.5, (D, H)), "W_hh": rng.normal(0, 0.5, (H, H)), "b": rng.normal(0, 0.1, H)}
    xs, h0, dhs = rng.normal(size=(T, B, D)), rng.normal(size=(B, H)), rng.normal(size=(T, B, H))
    grads = rnn_backward(params, rnn_forward(params, xs, h0)[1], dhs)
    for key in ("W_xh", "W_hh", "b", "h0"):
        def loss(v, key=key):
            p = {**params, key: v} if key != "h0" else params
            return float(np.sum(rnn_forward(p, xs, v if key == "h0" else h0)[0] * dhs))

        start = (h0 if key == "h0" else params[key]).copy()
        diff = np.max(np.abs(grads[key] - numerical_gradient(loss, start)))
        print(f"T={T} d{key}: max |analytic - numerical| = {diff:.1e}")


try:
    _check_bptt()
except NotImplementedError:
    print("not implemented yet")
'''),
    md(r'''
## Part 3 — gradient clipping by global norm

Backpropagating through many steps multiplies by $W_{hh}^\top$ (and tanh derivatives) again
and again, so RNN gradients can **explode**. The usual remedy rescales *all* gradients
together when their **global** norm is too large:

$$
\lVert g \rVert = \sqrt{\textstyle\sum_k \lVert g_k \rVert_2^2},\qquad
g_k \leftarrow g_k \cdot \min\left(1,\ \frac{\texttt{max\_norm}}{\lVert g \rVert + 10^{-6}}\right),
$$

where $g_k$ runs over all parameter tensors (the $10^{-6}$ only guards against dividing by
zero). This keeps the *direction* of the whole gradient; clipping each tensor on its own
would not. It is what `torch.nn.utils.clip_grad_norm_` does (in place); yours returns new
tensors. `grads` is a list of tensors of any shapes; return `(clipped, total_norm)` with
`total_norm` the global norm **before** clipping, as a float. Do not use
`clip_grad_norm_` itself.
'''),
    code(CLIP_HEAD + TODO + r'''

try:
    g = [torch.full((2, 2), 3.0), torch.full((3,), 4.0)]
    clipped, norm = clip_grad_norm(g, 1.0)
    print(f"norm before: {norm:.4f}, after:", torch.sqrt(sum((c ** 2).sum() for c in clipped)).item())
except NotImplementedError:
    print("not implemented yet")
''', CLIP_HEAD + r'''
    total_norm = torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(g.detach()) for g in grads]))
    total_norm = float(total_norm)
    scale = min(1.0, max_norm / (total_norm + 1e-6))
    return [g * scale for g in grads], total_norm


try:
    g = [torch.full((2, 2), 3.0), torch.full((3,), 4.0)]
    clipped, norm = clip_grad_norm(g, 1.0)
    print(f"norm before: {norm:.4f}, after:", torch.sqrt(sum((c ** 2).sum() for c in clipped)).item())
except NotImplementedError:
    print("not implemented yet")
'''),
    md(r'''
## Part 4 — forecasting sunspots

`series` holds the yearly sunspot numbers 1700–1948: an 11-year cycle of varying height.
The task is the **one-step-ahead forecast**: given the `WINDOW = 24` previous years,
predict the next year. The simplest forecast, "next year is like this year"
(the *naive* or *last-value* forecast), is the baseline to beat.

The autograder sends your `predict_next` windows of true past values from 1925–2007, one
window at a time, and compares your forecasts for 1949–2008 with the true values by their
root-mean-square error (RMSE). Points: none unless your RMSE is at least 10% below the
naive forecast's, full marks from an RMSE of 22 (the naive forecast is at about 33), in
between linearly. Note that the held-out years include solar cycle 19 (1957), the
highest on record — higher than anything in the training data.

### Task 5: the model, its training and its forecasts

- `Forecaster(hidden_size=16, lookback=12)`: an `nn.Module` of your design (for example an `nn.LSTM`
  or `nn.GRU` with a linear head on the last hidden state; you may use your `LSTMCell`,
  but `nn.LSTM` is much faster; reading only the last `lookback` values of each window
  halves the work). The constructor must work **without arguments**.
  `forward(x)` maps a float32 tensor `(batch, window)` of *scaled* values to `(batch,)`.
- `train_forecaster(model, X, y, ...)` trains it in place on raw windows and targets
  (from `make_windows`) and uses **your** `clip_grad_norm` on the gradients before every
  optimizer step. Networks train badly on raw values in the hundreds: scale them (for
  example divide by 100) and undo the scaling in `predict_next`.
- `predict_next(model, windows)` takes raw windows `(n, WINDOW)` (a float32 numpy array,
  any `n` including 1) and returns `n` forecasts in raw units as a numpy array. It must
  use the model it is given, on whatever device that model lives
  (`next(model.parameters()).device`).

Keep the training short (a few seconds). Seed it (`torch.manual_seed`) so that a rerun
gives the same model. If you tune, hold out the last years of `series` yourself.
'''),
    code(FORECASTER_HEAD + FORWARD_TODO + FORECASTER_FORWARD + FORWARD_TODO,
         FORECASTER_HEAD + r'''
        self.lookback = lookback                      # read only the last `lookback` years
        self.lstm = nn.LSTM(1, hidden_size, batch_first=True)
        self.head = nn.Linear(hidden_size, 1)
''' + FORECASTER_FORWARD + r'''
        out, _ = self.lstm(x[:, -self.lookback:].unsqueeze(-1))      # (batch, lookback, hidden)
        return self.head(out[:, -1]).squeeze(-1)
'''),
    code(r'''
SCALE = 100.0        # values are divided by this before they enter the network
''' + TRAIN_HEAD + TODO, r'''
SCALE = 100.0        # values are divided by this before they enter the network
''' + TRAIN_HEAD + r'''
    device = next(model.parameters()).device
    X = torch.as_tensor(np.asarray(X, dtype=np.float32) / SCALE, device=device)
    y = torch.as_tensor(np.asarray(y, dtype=np.float32) / SCALE, device=device)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    params = list(model.parameters())
    model.train()
    history = []
    for _ in range(epochs):                        # full batch: ~200 windows
        optimizer.zero_grad()
        loss = torch.mean((model(X) - y) ** 2)
        loss.backward()
        clipped, _ = clip_grad_norm([p.grad for p in params], max_norm)
        for p, g in zip(params, clipped):
            p.grad = g
        optimizer.step()
        history.append(loss.item())
    return history
'''),
    code(PREDICT_HEAD + TODO, PREDICT_HEAD + r'''
    device = next(model.parameters()).device
    x = torch.as_tensor(np.asarray(windows, dtype=np.float32) / SCALE, device=device)
    model.eval()
    with torch.no_grad():
        out = model(x)
    return out.detach().cpu().numpy().astype(np.float64) * SCALE
'''),
    md(r'''
### Train the final model

This cell must leave your trained model in the variable **`forecaster`**. The RMSEs it
prints are on the training years, so they are optimistic; the naive forecast's RMSE is
there for comparison.
'''),
    code(r'''
try:
    torch.manual_seed(0)
    forecaster = Forecaster().to(device)
    X_train, y_train = make_windows(series)
    losses = train_forecaster(forecaster, X_train, y_train)
    rmse = np.sqrt(np.mean((predict_next(forecaster, X_train) - y_train) ** 2))
    naive = np.sqrt(np.mean((X_train[:, -1] - y_train) ** 2))
    print(f"training RMSE {rmse:.2f} (naive last-value forecast: {naive:.2f})")
except NotImplementedError:
    print("not implemented yet")
'''),
]


if __name__ == "__main__":
    write_pair(CELLS, "m06", STARTER_PATH, SOLUTION_PATH, REPO)
