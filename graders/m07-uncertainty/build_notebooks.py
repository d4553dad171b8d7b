"""Build the m07-uncertainty starter and solution notebooks from one cell list.

    .venv/bin/python graders/m07-uncertainty/build_notebooks.py

Writes
  assignments/m07-uncertainty/uncertainty.ipynb   starter (bodies raise NotImplementedError)
  solutions/m07-uncertainty/solution.ipynb        the same notebook with the bodies filled in

HIDDEN: this file contains the solution; it lives in graders/ so it is never shipped.
Both notebooks have exactly the same cells in the same order (the fixture notebooks in
tests/fixtures/m07-uncertainty/ rely on it: code cells 1 setup, 2 provided model and
training, 3 predict_proba, 4 mc_dropout_predict, 5 train_ensemble/ensemble_predict,
6 expected_calibration_error, 7 auroc, 8 ood_score, 9 final training), no outputs.
"""

from __future__ import annotations

from pathlib import Path

from handin.authoring import TODO, code, md, write_pair

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
STARTER_PATH = REPO / "assignments" / "m07-uncertainty" / "uncertainty.ipynb"
SOLUTION_PATH = REPO / "solutions" / "m07-uncertainty" / "solution.ipynb"

CELLS = [
    md(r'''
# Module 3 — Uncertainty estimation and out-of-distribution detection

A classifier's softmax output looks like a probability, but a network trained by maximum
likelihood is often over-confident, and it is just as confident on inputs that look
nothing like its training data. In this assignment you implement and evaluate the two
most common cheap fixes and the tools to measure them:

1. **Monte Carlo dropout** — keep dropout switched on at test time and average the
   predictions of many random sub-networks.
2. **A deep ensemble** — train several networks from different random seeds and average
   their predicted probabilities.
3. **Expected calibration error (ECE)** — how far confidence is from accuracy.
4. **AUROC** — the area under the ROC curve, written by hand.
5. **Out-of-distribution (OOD) detection** with the maximum softmax probability.

The data are the 8×8 handwritten digits that ship with scikit-learn (raw pixel values
0..16, one image per row of 64 values).

**How this notebook is graded.** The autograder runs the whole notebook top to bottom
and then calls the functions (and reads the variables `model` and `ensemble`) that it
defines. Keep the names and signatures exactly as given; you may add helper functions.
A cell that raises an error leaves the names it should have defined missing — run
*Restart & Run All* before you hand in. Your models are scored on held-out digits you do
not have, and on out-of-distribution images the autograder generates; the labels never
leave the autograder. The notebook must not download anything, and the whole run should
take well under a minute. Every function that takes images `X` takes **raw pixels** (a
float32 numpy array of shape `(n, 64)`, values 0..16) and returns **numpy** arrays.

Small checks after each part print `not implemented yet` until you fill the function in;
`test_public.py` contains a few of the autograder's tests.
'''),
    code(r'''
import numpy as np
import torch
from torch import nn

device = torch.device("cuda" if torch.cuda.is_available() else "cpu")

data = np.load("data/digits_train.npz")
X_all, y_all = data["X"], data["y"]       # X: float32 (n, 64), pixel values 0..16; y: int64 labels 0..9

# A validation split for your own checks (the autograder uses its own held-out digits).
_order = np.random.default_rng(0).permutation(len(X_all))
X_val, y_val = X_all[_order[:287]], y_all[_order[:287]]
X_train, y_train = X_all[_order[287:]], y_all[_order[287:]]
print("device:", device, "| train:", X_train.shape, "| validation:", X_val.shape)
'''),
    md(r'''
## The model (provided)

The next cell is **provided — do not change it**: the autograder builds its own
`DropoutMLP`s with weights it chooses and passes them to your functions.

`DropoutMLP` is a one-hidden-layer network with dropout on the hidden layer,

$$
h = \mathrm{ReLU}(x W_1^\top + b_1),\qquad \tilde h = m \odot h / (1 - p),\qquad
z = \tilde h W_2^\top + b_2,
$$

where $m$ is a random 0/1 mask with $P(m_j = 0) = p$. `nn.Dropout` draws a fresh mask in
every forward pass **in training mode** (`model.train()`) and is the identity in
evaluation mode (`model.eval()`); the factor $1/(1-p)$ keeps the expected activation the
same in both. `forward` returns logits. `preprocess` scales raw pixels to $[0, 1]$ and
`as_input(model, X)` turns raw pixels into a float32 tensor **on the device of the
model's parameters** — use it in your functions, so they work wherever the model lives.
`train_model` trains a model in place with Adam and returns the per-epoch mean losses.
'''),
    code(r'''
# Provided -- do not change.
def preprocess(X):
    """Raw pixels (0..16) -> float32 network inputs in [0, 1]."""
    return np.asarray(X, dtype=np.float32) / 16.0


def as_input(model, X):
    """Raw pixels -> a float32 tensor of network inputs on the device of model's parameters."""
    return torch.as_tensor(preprocess(X), device=next(model.parameters()).device)


class DropoutMLP(nn.Module):
    def __init__(self, n_in=64, n_hidden=128, n_out=10, p=0.3):
        super().__init__()
        self.fc1 = nn.Linear(n_in, n_hidden)
        self.dropout = nn.Dropout(p)
        self.fc2 = nn.Linear(n_hidden, n_out)

    def forward(self, x):
        return self.fc2(self.dropout(torch.relu(self.fc1(x))))


def train_model(model, X, y, epochs=20, lr=5e-3, batch_size=128, seed=0):
    """Train model in place on raw pixels X, labels y; return the per-epoch mean losses."""
    inputs = as_input(model, X)
    targets = torch.as_tensor(np.asarray(y, dtype=np.int64), device=inputs.device)
    generator = torch.Generator().manual_seed(seed)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    loss_fn = nn.CrossEntropyLoss()
    history = []
    model.train()
    for _ in range(epochs):
        order = torch.randperm(len(inputs), generator=generator).to(inputs.device)
        total = 0.0
        for start in range(0, len(inputs), batch_size):
            idx = order[start:start + batch_size]
            optimizer.zero_grad()
            loss = loss_fn(model(inputs[idx]), targets[idx])
            loss.backward()
            optimizer.step()
            total += loss.item() * len(idx)
        history.append(total / len(inputs))
    model.eval()
    return history


def _demo_model(seed=0, p=0.5):
    """A small DropoutMLP with fixed random weights (scaled up, so dropout matters), for the checks below."""
    torch.manual_seed(seed)
    demo = DropoutMLP(64, 32, 10, p=p)
    with torch.no_grad():
        for w in demo.parameters():
            w.mul_(3.0)
    return demo
'''),
    md(r'''
## Part 1 — predictions with and without dropout

### Task 1: the deterministic prediction

`predict_proba(model, X)` puts the model in evaluation mode (dropout off), runs it on
`as_input(model, X)` without tracking gradients (`torch.no_grad()`), and returns the
softmax probabilities as a numpy array of shape `(n, n_classes)`:

$$
p(y = k \mid x) = \mathrm{softmax}(z)_k = \frac{e^{z_k}}{\sum_l e^{z_l}} .
$$
'''),
    code(r'''
def predict_proba(model, X):
    """Eval-mode softmax probabilities (numpy, shape (n, n_classes)) for raw pixels X."""
''' + TODO, r'''
def predict_proba(model, X):
    """Eval-mode softmax probabilities (numpy, shape (n, n_classes)) for raw pixels X."""
    model.eval()
    with torch.no_grad():
        logits = model(as_input(model, X))
    return torch.softmax(logits, dim=1).cpu().numpy()
'''),
    md(r'''
### Task 2: Monte Carlo dropout

Gal and Ghahramani (2016) showed that a network trained with dropout can be read as an
approximate Bayesian neural network: each dropout mask $m_t$ picks one sample of the
weights from an approximate posterior. The predictive distribution is then approximated
by averaging the softmax outputs of $T$ stochastic forward passes,

$$
p(y \mid x, \mathcal D) \approx \frac{1}{T}\sum_{t=1}^{T} \mathrm{softmax}\big(f_{m_t}(x)\big),
$$

**averaging probabilities, not logits**.

`mc_dropout_predict(model, X, T=50, seed=0)` returns this average as a numpy array
`(n, n_classes)`. So that the result is reproducible (and the autograder can repeat your
computation exactly), follow this protocol:

1. call `torch.manual_seed(seed)` once, at the start;
2. put the model in **training mode** (`model.train()`: dropout on);
3. with `torch.no_grad()`, run **$T$ separate forward passes**, one after the other,
   each on the whole batch `as_input(model, X)` (do not stack the $T$ copies into one
   big batch, and draw no other random numbers in between);
4. put the model back in evaluation mode and return the mean of the $T$ softmax outputs.

Run on the device the model is on (`as_input` does that); do not move the model.
'''),
    code(r'''
def mc_dropout_predict(model, X, T=50, seed=0):
    """Mean softmax probabilities over T forward passes with dropout active (numpy, (n, n_classes))."""
''' + TODO + r'''

def _check_mc_dropout():
    m = _demo_model()
    Xs = X_val[:5]
    p_eval, p_mc = predict_proba(m, Xs), mc_dropout_predict(m, Xs, T=100, seed=1)
    print("eval-mode probabilities of class 0:", p_eval[:, 0].round(3))
    print("MC dropout probabilities of class 0:", p_mc[:, 0].round(3))
    print("rows sum to one:", np.allclose(p_mc.sum(axis=1), 1.0, atol=1e-5),
          "| same seed, same result:", np.allclose(p_mc, mc_dropout_predict(m, Xs, T=100, seed=1)))


try:
    _check_mc_dropout()
except NotImplementedError:
    print("not implemented yet")
''', r'''
def mc_dropout_predict(model, X, T=50, seed=0):
    """Mean softmax probabilities over T forward passes with dropout active (numpy, (n, n_classes))."""
    torch.manual_seed(seed)
    inputs = as_input(model, X)
    model.train()                         # dropout on
    total = None
    with torch.no_grad():
        for _ in range(T):
            probs = torch.softmax(model(inputs), dim=1)
            total = probs if total is None else total + probs
    model.eval()
    return (total / T).cpu().numpy()


def _check_mc_dropout():
    m = _demo_model()
    Xs = X_val[:5]
    p_eval, p_mc = predict_proba(m, Xs), mc_dropout_predict(m, Xs, T=100, seed=1)
    print("eval-mode probabilities of class 0:", p_eval[:, 0].round(3))
    print("MC dropout probabilities of class 0:", p_mc[:, 0].round(3))
    print("rows sum to one:", np.allclose(p_mc.sum(axis=1), 1.0, atol=1e-5),
          "| same seed, same result:", np.allclose(p_mc, mc_dropout_predict(m, Xs, T=100, seed=1)))


try:
    _check_mc_dropout()
except NotImplementedError:
    print("not implemented yet")
'''),
    md(r'''
### Task 3: a deep ensemble

Lakshminarayanan et al. (2017): train $M$ networks independently, each from its own
random initialisation and data order, and average their predicted probabilities,

$$
p(y \mid x) = \frac{1}{M}\sum_{m=1}^{M} \mathrm{softmax}\big(f_{\theta_m}(x)\big).
$$

`train_ensemble(X, y, M=5, seed=0, epochs=20)` returns a **list of $M$ trained
`DropoutMLP`s** (default size, `DropoutMLP()`, on `device`). Each member must get its
**own seed** (for example `seed + m` for member `m`): seed the initialisation with
`torch.manual_seed` before building the member, and pass the same seed to `train_model`
(with `epochs=epochs`) for the data order. The same `seed` must give the same ensemble.

`ensemble_predict(models, X)` returns the average of the members' `predict_proba`
outputs, a numpy array `(n, n_classes)`.
'''),
    code(r'''
def train_ensemble(X, y, M=5, seed=0, epochs=20):
    """A list of M DropoutMLPs trained on raw pixels X, labels y, each from its own seed."""
''' + TODO + r'''

def ensemble_predict(models, X):
    """Mean of the members' eval-mode softmax probabilities (numpy, (n, n_classes))."""
''' + TODO, r'''
def train_ensemble(X, y, M=5, seed=0, epochs=20):
    """A list of M DropoutMLPs trained on raw pixels X, labels y, each from its own seed."""
    members = []
    for m in range(M):
        torch.manual_seed(seed + m)
        member = DropoutMLP().to(device)
        train_model(member, X, y, epochs=epochs, seed=seed + m)
        members.append(member)
    return members


def ensemble_predict(models, X):
    """Mean of the members' eval-mode softmax probabilities (numpy, (n, n_classes))."""
    return np.mean([predict_proba(m, X) for m in models], axis=0)
'''),
    md(r'''
## Part 2 — measuring uncertainty

### Task 4: expected calibration error

A classifier is *calibrated* if, among the inputs it predicts with confidence 0.8, 80%
are right. For each input $i$ let the **confidence** be $c_i = \max_k p_{ik}$ and the
**prediction** $\hat y_i = \arg\max_k p_{ik}$. Split $[0, 1]$ into $B$ **equal-width**
bins, each open on the left and closed on the right,

$$
I_b = \Big(\frac{b-1}{B}, \frac{b}{B}\Big], \qquad b = 1, \dots, B,
$$

(a confidence exactly on an edge, say $c_i = 0.5$ with $B = 10$, belongs to the bin that
*ends* there, $(0.4, 0.5]$; a confidence of exactly 1 belongs to the last bin). With
$S_b = \{ i : c_i \in I_b \}$,

$$
\mathrm{ECE} = \sum_{b=1}^{B} \frac{|S_b|}{n}\,\big|\mathrm{acc}(S_b) - \mathrm{conf}(S_b)\big|,
\qquad
\mathrm{acc}(S_b) = \frac{1}{|S_b|}\sum_{i \in S_b} \mathbb 1[\hat y_i = y_i],\quad
\mathrm{conf}(S_b) = \frac{1}{|S_b|}\sum_{i \in S_b} c_i ,
$$

where an empty bin contributes nothing. Note the weight $|S_b|/n$: a bin with few inputs
counts little.

`expected_calibration_error(probs, labels, n_bins=15)` takes probabilities `(n, k)`
(numpy) and integer labels `(n,)` and returns the ECE as a Python float. Write it with
numpy yourself (no library calibration functions).
'''),
    code(r'''
def expected_calibration_error(probs, labels, n_bins=15):
    """ECE with n_bins equal-width confidence bins ((b-1)/B, b/B], weighted by bin size."""
''' + TODO, r'''
def expected_calibration_error(probs, labels, n_bins=15):
    """ECE with n_bins equal-width confidence bins ((b-1)/B, b/B], weighted by bin size."""
    probs = np.asarray(probs, dtype=np.float64)
    labels = np.asarray(labels)
    confidence = probs.max(axis=1)
    correct = (probs.argmax(axis=1) == labels).astype(np.float64)
    upper_edges = np.arange(1, n_bins + 1) / n_bins
    # bin b holds ((b-1)/B, b/B]: the first upper edge >= c
    bins = np.minimum(np.searchsorted(upper_edges, confidence, side="left"), n_bins - 1)
    n = len(confidence)
    ece = 0.0
    for b in range(n_bins):
        in_bin = bins == b
        count = int(in_bin.sum())
        if count == 0:
            continue
        ece += count / n * abs(correct[in_bin].mean() - confidence[in_bin].mean())
    return float(ece)
'''),
    md(r'''
### Task 5: AUROC

Given scores $s_i$ and binary labels $y_i \in \{0, 1\}$ (1 = positive), the area under
the ROC curve is the probability that a random positive scores higher than a random
negative, with ties counted as one half:

$$
\mathrm{AUROC} = \frac{1}{n_+ n_-}\sum_{i:\,y_i = 1}\ \sum_{j:\,y_j = 0}
\Big(\mathbb 1[s_i > s_j] + \tfrac12\,\mathbb 1[s_i = s_j]\Big).
$$

It is 1 for a score that ranks every positive above every negative, 0.5 for a useless
score and 0 for one that ranks them exactly the wrong way round. `auroc(scores, labels)`
returns it as a Python float; write it with numpy yourself (not `sklearn.metrics`). Both
classes occur in `labels`. Inputs have at most a few thousand entries, so comparing all
pairs is fine (sorting and ranks are faster, but mind the ties).
'''),
    code(r'''
def auroc(scores, labels):
    """Area under the ROC curve of scores for binary labels (1 = positive), ties count 1/2."""
''' + TODO + r'''

try:
    print("AUROC of a small example:", auroc(np.array([0.1, 0.4, 0.35, 0.8]), np.array([0, 0, 1, 1])),
          "(0.75 expected)")
    _p = np.array([[0.9, 0.1], [0.35, 0.65], [0.55, 0.45], [0.3, 0.7], [0.25, 0.75], [0.95, 0.05]])
    print("ECE of a small example:", expected_calibration_error(_p, np.array([0, 0, 0, 1, 1, 0]), n_bins=5),
          "(7/60 = 0.11667 expected)")
except NotImplementedError:
    print("not implemented yet")
''', r'''
def auroc(scores, labels):
    """Area under the ROC curve of scores for binary labels (1 = positive), ties count 1/2."""
    scores = np.asarray(scores, dtype=np.float64).ravel()
    labels = np.asarray(labels).ravel().astype(bool)
    pos, neg = scores[labels], scores[~labels]
    greater = (pos[:, None] > neg[None, :]).sum()
    ties = (pos[:, None] == neg[None, :]).sum()
    return float((greater + 0.5 * ties) / (len(pos) * len(neg)))


try:
    print("AUROC of a small example:", auroc(np.array([0.1, 0.4, 0.35, 0.8]), np.array([0, 0, 1, 1])),
          "(0.75 expected)")
    _p = np.array([[0.9, 0.1], [0.35, 0.65], [0.55, 0.45], [0.3, 0.7], [0.25, 0.75], [0.95, 0.05]])
    print("ECE of a small example:", expected_calibration_error(_p, np.array([0, 0, 0, 1, 1, 0]), n_bins=5),
          "(7/60 = 0.11667 expected)")
except NotImplementedError:
    print("not implemented yet")
'''),
    md(r'''
### Task 6: out-of-distribution detection by maximum softmax probability

Hendrycks and Gimpel (2017): a network tends to be less confident on inputs unlike its
training data, so the **maximum softmax probability** (MSP) $\max_k p(y = k \mid x)$ is a
simple baseline score for telling in-distribution inputs from out-of-distribution ones.

`ood_score(model, X)` returns the MSP of the model's eval-mode prediction (use
`predict_proba`) for every row of `X`, a numpy array of shape `(n,)`. **Higher means
more in-distribution.** The autograder computes the AUROC of your score on its held-out
digits (in-distribution, the positive class) against images it generates that are not
digits (out-of-distribution), using your trained `model`.
'''),
    code(r'''
def ood_score(model, X):
    """Maximum softmax probability per row of raw pixels X (numpy, (n,)); higher = more in-distribution."""
''' + TODO, r'''
def ood_score(model, X):
    """Maximum softmax probability per row of raw pixels X (numpy, (n,)); higher = more in-distribution."""
    return predict_proba(model, X).max(axis=1)
'''),
    md(r'''
### Train and evaluate

This cell trains what the autograder scores: a `DropoutMLP` in the variable **`model`**
and a list of 5 trained `DropoutMLP`s in **`ensemble`** (from `train_ensemble`). The
autograder scores `model` (eval-mode accuracy and OOD detection) and `ensemble` (the
accuracy of `ensemble_predict`) on its held-out digits — full marks from 95% accuracy.
The cell then compares the three predictors on the validation split (accuracy, negative
log-likelihood, ECE) and checks OOD detection on validation digits whose pixels were
shuffled. On a problem this small and easy the differences are small, and MC dropout
need not beat the plain network; the ensemble usually has the lowest NLL. Keep training
short.
'''),
    code(r'''
try:
    torch.manual_seed(0)
    model = DropoutMLP().to(device)
    train_model(model, X_train, y_train, epochs=20, seed=0)
    ensemble = train_ensemble(X_train, y_train, M=5, seed=100, epochs=20)

    predictions = {
        "single model": predict_proba(model, X_val),
        "MC dropout (T=50)": mc_dropout_predict(model, X_val, T=50, seed=0),
        "ensemble (M=5)": ensemble_predict(ensemble, X_val),
    }
    for name, p in predictions.items():
        nll = -np.mean(np.log(p[np.arange(len(y_val)), y_val] + 1e-12))
        print(f"{name:18s} accuracy {np.mean(p.argmax(axis=1) == y_val):.3f}  NLL {nll:.3f}  "
              f"ECE {expected_calibration_error(p, y_val):.4f}")

    X_shuffled = X_val[:, np.random.default_rng(1).permutation(64)]
    scores = np.concatenate([ood_score(model, X_val), ood_score(model, X_shuffled)])
    is_in = np.concatenate([np.ones(len(X_val)), np.zeros(len(X_shuffled))])
    print(f"OOD detection AUROC (validation digits vs. pixel-shuffled digits): {auroc(scores, is_in):.3f}")
except NotImplementedError:
    print("not implemented yet")
'''),
]


if __name__ == "__main__":
    write_pair(CELLS, "m07", STARTER_PATH, SOLUTION_PATH, REPO)
