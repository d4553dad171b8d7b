"""Reference implementations and the judge's own problems for the m01-distributed-regression hidden tests.

HIDDEN: this file is never shipped to students.

Everything is float64 numpy. The judge draws its own design matrices, labels and weights
(seeded, different from anything in the notebook) and sends only inputs to the student;
the held-out rows' labels are read here and never leave the judge.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
DATA = HERE / "data"


# --------------------------------------------------------------------------- the algorithm
def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-np.asarray(z, dtype=np.float64)))


def gradient_sum(w, X, y, loss):
    """(sum of per-example gradients, row count): what partition_gradient must return."""
    z = X @ w
    residual = z - y if loss == "squared" else sigmoid(z) - y
    return X.T @ residual, X.shape[0]


def split_sizes(n, k):
    base, extra = divmod(n, k)
    return [base + (1 if j < extra else 0) for j in range(k)]


def gradient_descent(X, y, loss, lr, steps):
    """Full-batch gradient descent from zero on the mean loss (the partitioning does not matter)."""
    w = np.zeros(X.shape[1])
    for _ in range(steps):
        g, n = gradient_sum(w, X, y, loss)
        w = w - lr * g / n
    return w


def add_intercept(X):
    return np.hstack([np.ones((X.shape[0], 1)), X])


# --------------------------------------------------------------------------- the judge's problems
def design(seed, n, d, intercept=True):
    """n rows of d correlated gaussian features (eigenvalues of A^T A / n within about [0.3, 1.9]),
    with a leading column of ones when ``intercept``."""
    rng = np.random.default_rng(seed)
    corr = np.eye(d) + 0.4 * (np.eye(d, k=1) + np.eye(d, k=-1))
    X = rng.normal(size=(n, d)) @ np.linalg.cholesky(corr).T
    return add_intercept(X) if intercept else X


def regression_problem(seed, n, d, noise=1.0):
    """(A, y): y = A w_true + gaussian noise, A with an intercept column."""
    A = design(seed, n, d)
    rng = np.random.default_rng(seed + 1)
    w_true = rng.normal(0.0, 1.5, size=d + 1)
    return A, A @ w_true + rng.normal(0.0, noise, size=n)


def classification_problem(seed, n, d):
    """(A, y): labels in {0., 1.} drawn from Bernoulli(sigmoid(A w_true)): not separable, so the
    unpenalised maximum-likelihood weights exist and are unique."""
    A = design(seed, n, d)
    rng = np.random.default_rng(seed + 1)
    w_true = rng.normal(0.0, 1.0, size=d + 1)
    return A, (rng.random(n) < sigmoid(A @ w_true)).astype(np.float64)


def least_squares(A, y):
    return np.linalg.lstsq(A, y, rcond=None)[0]


def sklearn_logistic(A, y):
    """Maximum-likelihood logistic regression by scikit-learn on the design A (intercept column
    included, so fit_intercept=False). C = 1e12 makes the L2 penalty vanish (its gradient is
    ||w|| / C against a log-likelihood gradient summed over hundreds of rows), and works on every
    scikit-learn version (penalty=None is deprecated from 1.8). newton-cg with tol=1e-12 runs to the
    optimum (agrees with Newton's method to ~1e-13; lbfgs stops ~1e-8 away, its default tol 1e-4
    much farther)."""
    from sklearn.linear_model import LogisticRegression

    model = LogisticRegression(C=1e12, fit_intercept=False, tol=1e-12, max_iter=10_000, solver="newton-cg")
    return model.fit(A, y).coef_[0]


def mean_log_loss(w, A, y):
    z = A @ w
    return float(np.mean(np.logaddexp(0.0, z) - y * z))


# --------------------------------------------------------------------------- held-out data
def load_heldout(name):
    """X (standardised, as in the notebook's data) and y of the held-out rows of `diabetes` or `cancer`."""
    with np.load(DATA / f"{name}_heldout.npz") as d:
        return d["X"].astype(np.float64), d["y"].astype(np.float64)


def r2(y, y_hat):
    return 1.0 - float(np.sum((y - y_hat) ** 2) / np.sum((y - np.mean(y)) ** 2))


# --------------------------------------------------------------------------- the timed test's baseline
def descend(task, seed, steps):
    """The classical algorithm, unpartitioned, in one process: the speedup's baseline and the
    reference every timed run's weights are checked against (the harness calls it in the judge,
    on the task's data and the trial's initial weights)."""
    from handin.bench import regression

    X, y = regression.data_set(task)
    w = regression.initial_weights(task, seed)
    lr, loss, n = task["lr"], task["loss"], X.shape[0]
    for _ in range(steps):
        g, _ = gradient_sum(w, X, y, loss)
        w = w - lr * (g / n)
    return {"w": w}
