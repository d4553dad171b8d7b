"""Build the m01-distributed-regression starter and solution notebooks from one cell list.

    .venv/bin/python graders/m01-distributed-regression/build_notebooks.py

Writes
  assignments/m01-distributed-regression/distributed_regression.ipynb   starter (bodies raise NotImplementedError)
  solutions/m01-distributed-regression/solution.ipynb                  the same notebook with the bodies filled in

HIDDEN: this file contains the solution; it lives in graders/ so it is never shipped.
Both notebooks have exactly the same cells in the same order (the fixture notebooks in
tests/fixtures/m01-distributed-regression/ patch cells found by marker strings: "def split",
"def partition_gradient", "def aggregate", "def fit", "def add_intercept"), no outputs, and are
validated with nbformat before they are written.

The names and signatures of partition_gradient(w, X, y, loss) and aggregate(partials) are fixed:
the module's timed test (handin.bench) calls them from separate rank processes, which import only
the notebook's imports, defs and call-free assignments (handin.bench.export).
"""

from __future__ import annotations

from pathlib import Path

from handin.authoring import TODO, code, md, write_pair

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
STARTER_PATH = REPO / "assignments" / "m01-distributed-regression" / "distributed_regression.ipynb"
SOLUTION_PATH = REPO / "solutions" / "m01-distributed-regression" / "solution.ipynb"

CELLS = [
    md(r'''
# Module 1 — Distributed linear and logistic regression

Linear regression and logistic regression are usually fitted on one machine. When the data
no longer fits on one machine, it is split into **partitions** that live on different
workers (the partitions of a Spark RDD, the shards of a data set, the GPUs of a node).
Full-batch gradient descent then becomes a small distributed algorithm:

1. the **driver** sends the current weights $w$ to every worker;
2. every worker computes, *on its own partition only*, the **sum** of the per-example
   gradients and the number of rows it has, and sends back just these $d + 1$ numbers;
3. the driver **aggregates** the partial results into the mean gradient over all rows and
   takes one step $w \leftarrow w - \eta\, g$.

The data never moves; only $d + 1$ numbers per worker and step cross the network, however
large the partitions are. This is how Spark MLlib fits its generalised linear models
(`treeAggregate` of gradient sums and counts).

In this notebook you write that algorithm in numpy, simulating the workers with a loop over
partitions, and fit it to two small real data sets that ship with scikit-learn: the
**diabetes** data (linear regression) and the **breast cancer** data (logistic regression).

**The model.** Every row $x_i \in \mathbb{R}^d$ of the design matrix $X$ gets a prediction
from one weight vector $w \in \mathbb{R}^d$. We minimise the **mean** loss over the $n$ rows,

$$
L(w) = \frac{1}{n}\sum_{i=1}^{n} \ell_i(w),\qquad
\nabla L(w) = \frac{1}{n}\sum_{i=1}^{n} \nabla \ell_i(w),
$$

and since a sum splits over any partition of the rows into parts $P_1, \dots, P_k$,

$$
\nabla L(w) = \frac{\sum_{j=1}^{k} \sum_{i \in P_j} \nabla \ell_i(w)}{\sum_{j=1}^{k} |P_j|} .
$$

The result does not depend on how the rows are partitioned: fitting with 1, 2 or 7
partitions must give the same weights (up to the rounding of floating-point sums).

**How this notebook is graded.** The autograder runs the whole notebook top to bottom and then
calls the functions (and reads the variables `w_linear` and `w_logistic`) that it defines,
with inputs of its own. Keep the names and signatures exactly as given; you may add helper
functions. Use **numpy only** (no scikit-learn, no torch in your solution) and float64
throughout. A cell that raises an error does not stop the run, but the names it should have
defined will be missing: run *Restart & Run All* before you hand in. The trained weights are
scored on held-out rows you do not have. The notebook must not download anything, and the whole
run should take a few seconds.

Small checks after each part print `not implemented yet` until you fill the functions in;
`test_public.py` contains a few of the autograder's tests.
'''),
    code(r'''
import numpy as np

diabetes = np.load("data/diabetes_train.npz")
X_diabetes, y_diabetes = diabetes["X"], diabetes["y"]   # X: (353, 10) standardised; y: disease progression
cancer = np.load("data/cancer_train.npz")
X_cancer, y_cancer = cancer["X"], cancer["y"]           # X: (455, 30) standardised; y: 1.0 benign, 0.0 malignant
print("diabetes:", X_diabetes.shape, y_diabetes.shape, X_diabetes.dtype)
print("cancer:  ", X_cancer.shape, y_cancer.shape, "fraction benign", round(float(y_cancer.mean()), 3))
'''),
    md(r'''
## Part 1 — partitions

### Task 1: split the rows

`split(n, k)` returns a **list of `k` integer index arrays** that partition the rows
`0, 1, ..., n-1`: the parts are contiguous and in order (part 0 holds the first rows, then
part 1, ...), every row is in exactly one part, and the sizes differ by **at most one**
(the first `n % k` parts get one row more). When `k > n` some parts are empty (arrays of
length 0): real clusters have more workers than rows now and then, and everything after
this must cope with an empty partition.

For example `split(10, 3)` is `[array([0, 1, 2, 3]), array([4, 5, 6]), array([7, 8, 9])]`.
'''),
    code(r'''
def split(n, k):
    """k contiguous, near-equal index arrays that cover 0..n-1 exactly once (some empty if k > n)."""
''' + TODO, r'''
def split(n, k):
    """k contiguous, near-equal index arrays that cover 0..n-1 exactly once (some empty if k > n)."""
    base, extra = divmod(n, k)
    parts, start = [], 0
    for j in range(k):
        size = base + (1 if j < extra else 0)
        parts.append(np.arange(start, start + size))
        start += size
    return parts
'''),
    md(r'''
## Part 2 — what a worker computes, and what the driver does with it

### Task 2: the gradient of one partition

`partition_gradient(w, X, y, loss)` is the work of **one worker**: `w` has shape `(d,)`, `X`
(shape `(n_p, d)`) and `y` (shape `(n_p,)`) are the rows of its partition, and it returns the
pair `(g_sum, n_p)`: the **sum** over its rows of the per-example gradients (an array of shape
`(d,)`) and its number of rows (an `int`). Not the mean: the driver can only form the exact
mean over all rows from sums and counts. With `n_p = 0` the sum is a vector of zeros.

Two losses, chosen by the string `loss`:

* `"squared"` (linear regression): $\ell_i(w) = \tfrac12\,(x_i \cdot w - y_i)^2$, so
  $\nabla \ell_i(w) = (x_i \cdot w - y_i)\, x_i$;
* `"logistic"` (logistic regression, labels $y_i \in \{0, 1\}$): with
  $p_i = \sigma(x_i \cdot w)$ and $\sigma(z) = 1 / (1 + e^{-z})$,
  $\ell_i(w) = -y_i \log p_i - (1 - y_i) \log (1 - p_i)$, so
  $\nabla \ell_i(w) = (p_i - y_i)\, x_i$.

Both gradients are (residual) × (row): in matrix form the sum over the partition is
$X^\top r$ with the vector of residuals $r$. Write it without a Python loop over the rows.
`sigmoid` is provided (it does not overflow for large $|z|$); raise a `ValueError` for any
other value of `loss`.
'''),
    code(r'''
def sigmoid(z):
    """Provided: the logistic function 1 / (1 + exp(-z)), elementwise, without overflow."""
    return 0.5 * (1.0 + np.tanh(0.5 * np.asarray(z, dtype=np.float64)))


def partition_gradient(w, X, y, loss):
    """(sum over the rows of X of the per-example gradient of the loss at w, number of rows)."""
''' + TODO, r'''
def sigmoid(z):
    """Provided: the logistic function 1 / (1 + exp(-z)), elementwise, without overflow."""
    return 0.5 * (1.0 + np.tanh(0.5 * np.asarray(z, dtype=np.float64)))


def partition_gradient(w, X, y, loss):
    """(sum over the rows of X of the per-example gradient of the loss at w, number of rows)."""
    z = X @ w
    if loss == "squared":
        residual = z - y
    elif loss == "logistic":
        residual = sigmoid(z) - y
    else:
        raise ValueError(f"unknown loss {loss!r}")
    return X.T @ residual, int(X.shape[0])
'''),
    md(r'''
### Task 3: aggregate on the driver

`aggregate(partials)` takes the list of `(g_sum, n_p)` pairs from all workers — in **any
order** (workers answer when they are done), possibly with empty partitions (`n_p = 0`) — and
returns the **mean gradient over all rows**, $\sum_j g_j \,/\, \sum_j n_j$, an array of
shape `(d,)`.

Note what goes wrong if workers send *means* and the driver averages them: with partitions of
sizes 1 and 99, the one row of the first partition would count as much as the other 99 rows
together.

**Timed (5 points).** The grader also runs your `partition_gradient` and `aggregate` as a real
distributed program: 2 worker processes, each holding half of the partitions of a large
logistic-regression data set, compute their partial results, the grader gathers them, and
every worker calls your `aggregate` and takes the step. It times that against its own
gradient descent on all the rows in *one* process with *one* thread (strong scaling: a
perfect split of the work would be 2x). No points at or below 1x, full points from 1.1x;
every timed run must give the grader's own weights. Vectorised numpy (one matrix-vector
product per partition) is what makes the split pay. The worker processes import only your
notebook's *definitions* (imports, functions, classes, assignments that call nothing), so
keep what these two functions need in those.
'''),
    code(r'''
def aggregate(partials):
    """Mean gradient over all rows from a list of (g_sum, n_p) pairs."""
''' + TODO, r'''
def aggregate(partials):
    """Mean gradient over all rows from a list of (g_sum, n_p) pairs."""
    total = sum(np.asarray(g, dtype=np.float64) for g, _ in partials)
    count = sum(n for _, n in partials)
    if count == 0:
        raise ValueError("no rows in any partition")
    return total / count
'''),
    md(r'''
### Try it

Two workers, partitions of very different sizes: the aggregated gradient must equal the
gradient computed on all rows at once.
'''),
    code(r'''
def _check_gradients():
    rng = np.random.default_rng(0)
    X, y, w = rng.normal(size=(11, 3)), rng.normal(size=11), rng.normal(size=3)
    for loss, labels in (("squared", y), ("logistic", (y > 0).astype(float))):
        whole = aggregate([partition_gradient(w, X, labels, loss)])
        parts = aggregate([partition_gradient(w, X[idx], labels[idx], loss) for idx in split(11, 4)][::-1])
        print(f"{loss:9}: partitioned - whole = {np.max(np.abs(parts - whole)):.1e}")


try:
    print("split(10, 3):", split(10, 3))
    _check_gradients()
except NotImplementedError:
    print("not implemented yet")
'''),
    md(r'''
## Part 3 — distributed gradient descent

### Task 4: intercept and predictions

The models need an intercept (a bias). We add it as a **leading column of ones**: then the
first weight is the intercept and no other code needs to know about it.

* `add_intercept(X)` returns `X` with a column of ones in front: shape `(n, d + 1)`;
* `predict(w, X)` returns the linear-regression predictions $X w$, shape `(n,)`;
* `predict_proba(w, X)` returns the logistic-regression probabilities $\sigma(X w)$ of the
  label 1, shape `(n,)`.

`X` in `predict` and `predict_proba` is a design matrix that already has the intercept column.
'''),
    code(r'''
def add_intercept(X):
    """X with a leading column of ones, shape (n, d + 1)."""
''' + TODO + r'''

def predict(w, X):
    """Linear-regression predictions X @ w for a design matrix X (intercept column included)."""
''' + TODO + r'''

def predict_proba(w, X):
    """Logistic-regression probabilities sigmoid(X @ w) of the label 1."""
''' + TODO, r'''
def add_intercept(X):
    """X with a leading column of ones, shape (n, d + 1)."""
    X = np.asarray(X, dtype=np.float64)
    return np.hstack([np.ones((X.shape[0], 1)), X])


def predict(w, X):
    """Linear-regression predictions X @ w for a design matrix X (intercept column included)."""
    return np.asarray(X, dtype=np.float64) @ w


def predict_proba(w, X):
    """Logistic-regression probabilities sigmoid(X @ w) of the label 1."""
    return sigmoid(np.asarray(X, dtype=np.float64) @ w)
'''),
    md(r'''
### Task 5: fit

`fit(X, y, loss, partitions=1, lr=..., steps=...)` fits `w` by **full-batch gradient
descent** on the design matrix `X` exactly as given (add the intercept column *before*
calling it) and returns `w`, shape `(d,)`:

* split the rows into `partitions` parts with `split`, once;
* start from $w = 0$;
* do **exactly `steps` steps**; in each, compute `partition_gradient` on every partition
  (this is where the workers would run in parallel), `aggregate` the results, and update
  $w \leftarrow w - \eta\, g$ with the learning rate $\eta$ = `lr`.

No stopping rule, no step-size schedule, no momentum: the autograder compares your weights
after a given number of steps with its own. Choose sensible defaults for `lr` and `steps`.
Gradient descent on the mean squared loss converges for $\eta < 2 / \lambda_{\max}$, where
$\lambda_{\max}$ is the largest eigenvalue of $X^\top X / n$; for the logistic loss the bound is
four times larger.
'''),
    code(r'''
def fit(X, y, loss, partitions=1, lr=0.1, steps=1000):
    """Full-batch gradient descent from w = 0 over `partitions` partitions of the rows; returns w."""
''' + TODO, r'''
def fit(X, y, loss, partitions=1, lr=0.1, steps=1000):
    """Full-batch gradient descent from w = 0 over `partitions` partitions of the rows; returns w."""
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    parts = [(X[idx], y[idx]) for idx in split(X.shape[0], partitions)]
    w = np.zeros(X.shape[1])
    for _ in range(steps):
        g = aggregate([partition_gradient(w, Xp, yp, loss) for Xp, yp in parts])
        w = w - lr * g
    return w
'''),
    md(r'''
### Try it

The weights must not depend on the number of partitions, and on the diabetes data gradient
descent must approach the least-squares solution of the normal equations
$X^\top X\, w = X^\top y$ (here computed with `np.linalg.lstsq`).
'''),
    code(r'''
def _check_fit():
    A = add_intercept(X_diabetes)
    w1 = fit(A, y_diabetes, "squared", partitions=1, lr=0.2, steps=200)
    w7 = fit(A, y_diabetes, "squared", partitions=7, lr=0.2, steps=200)
    print(f"1 vs 7 partitions: max |difference| = {np.max(np.abs(w1 - w7)):.1e}")
    w_ls = np.linalg.lstsq(A, y_diabetes, rcond=None)[0]
    for steps in (100, 1000, 4000):
        w = fit(A, y_diabetes, "squared", partitions=4, lr=0.2, steps=steps)
        print(f"{steps:5} steps: max |w - w_lstsq| = {np.max(np.abs(w - w_ls)):.3g}")


try:
    _check_fit()
except NotImplementedError:
    print("not implemented yet")
'''),
    md(r'''
## Part 4 — the two models

This cell trains the two models the autograder scores. It must leave the weights (numpy arrays,
intercept first) in the variables **`w_linear`** (shape `(11,)`, diabetes, scored by $R^2$ on
held-out patients: full marks from 0.38) and **`w_logistic`** (shape `(31,)`, breast cancer,
scored by accuracy on held-out patients with the threshold $p \ge 0.5$: full marks from 0.95).
You may change `partitions`, `lr` and `steps`; keep it to a few seconds.
'''),
    code(r'''
def r2_score(y, y_hat):
    return 1.0 - np.sum((y - y_hat) ** 2) / np.sum((y - np.mean(y)) ** 2)


try:
    w_linear = fit(add_intercept(X_diabetes), y_diabetes, "squared", partitions=4, lr=0.2, steps=3000)
    w_logistic = fit(add_intercept(X_cancer), y_cancer, "logistic", partitions=4, lr=0.5, steps=500)
    print("diabetes training R^2:", round(float(r2_score(y_diabetes, predict(w_linear, add_intercept(X_diabetes)))), 4))
    p = predict_proba(w_logistic, add_intercept(X_cancer))
    print("cancer training accuracy:", round(float(np.mean((p >= 0.5) == (y_cancer == 1.0))), 4))
except NotImplementedError:
    print("not implemented yet")
'''),
]


if __name__ == "__main__":
    write_pair(CELLS, "m01", STARTER_PATH, SOLUTION_PATH, REPO)
