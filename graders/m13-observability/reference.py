"""Reference implementations and the judge's data streams for the m13-observability hidden tests.

HIDDEN: this file is never shipped to students.

The drift statistics mirror what the notebook asks for (float64 throughout). The simulator
(`make_batch`, `model_predict`) is the same as the one the notebook provides, so what the
student tunes on and what the judge streams come from the same production system; the judge
draws its streams with its own seeds (below), which the notebook never sees.
"""

from __future__ import annotations

from collections import deque

import numpy as np
from scipy import stats

EPS = 1e-4
N_CATEGORIES = 4


# --------------------------------------------------------------------------- PSI
def psi_bin_edges(reference, n_bins=10):
    reference = np.asarray(reference, dtype=np.float64)
    edges = np.quantile(reference, np.linspace(0.0, 1.0, n_bins + 1))
    edges[0], edges[-1] = -np.inf, np.inf
    return edges


def bin_proportions(values, edges):
    values = np.asarray(values, dtype=np.float64)
    idx = np.searchsorted(edges, values, side="right") - 1
    idx = np.clip(idx, 0, len(edges) - 2)
    return np.bincount(idx, minlength=len(edges) - 1) / len(values)


def psi_from_proportions(expected, actual, eps=EPS):
    e = np.clip(np.asarray(expected, dtype=np.float64), eps, None)
    a = np.clip(np.asarray(actual, dtype=np.float64), eps, None)
    return float(np.sum((a - e) * np.log(a / e)))


def psi(reference, current, n_bins=10, eps=EPS):
    edges = psi_bin_edges(reference, n_bins)
    return psi_from_proportions(bin_proportions(reference, edges), bin_proportions(current, edges), eps)


def psi_categorical(reference, current, n_categories, eps=EPS):
    ref = np.bincount(np.asarray(reference, dtype=np.int64), minlength=n_categories) / len(reference)
    cur = np.bincount(np.asarray(current, dtype=np.int64), minlength=n_categories) / len(current)
    return psi_from_proportions(ref, cur, eps)


# --------------------------------------------------------------------------- KS
def ecdf(sample, t):
    s = np.sort(np.asarray(sample, dtype=np.float64))
    return np.searchsorted(s, np.asarray(t, dtype=np.float64), side="right") / len(s)


def ks_statistic(x, y):
    grid = np.concatenate([x, y])
    return float(np.max(np.abs(ecdf(x, grid) - ecdf(y, grid))))


def ks_test(x, y):
    """(D, p): p from the asymptotic Kolmogorov distribution at sqrt(n m / (n + m)) D."""
    d = ks_statistic(x, y)
    n, m = len(x), len(y)
    return d, float(stats.kstwobign.sf(np.sqrt(n * m / (n + m)) * d))


# --------------------------------------------------------------------------- simulator
# The notebook's provided simulator, copied: three numeric features and one categorical one.
MEANS = np.array([40.0, 3.0, 0.0])          # x0 ~ N(40, 12), log x1 ~ N(3, 0.4), x2 ~ N(0, 1)
SDS = np.array([12.0, 0.4, 1.0])
CAT_PROBS = np.array([0.5, 0.25, 0.15, 0.10])
CAT_EFFECT = np.array([0.0, 0.6, -0.4, 1.0])


def make_batch(rng, n, mean_shift=(0.0, 0.0, 0.0), scale=(1.0, 1.0, 1.0), cat_probs=CAT_PROBS):
    """n rows: X (n, 3) float64, cat (n,) int64; shifts and scales in units of each feature's sd."""
    z = rng.normal(size=(n, 3)) * np.asarray(scale) + np.asarray(mean_shift)
    raw = MEANS + SDS * z
    X = np.column_stack([raw[:, 0], np.exp(raw[:, 1]), raw[:, 2]])
    cat = rng.choice(N_CATEGORIES, size=n, p=np.asarray(cat_probs)).astype(np.int64)
    return X, cat


def model_predict(X, cat):
    """The model in production: a fixed logistic scorer, P(positive) for each row."""
    logit = (-0.3 + 0.05 * (X[:, 0] - 40.0) + 1.5 * (np.log(X[:, 1]) - 3.0) + 0.8 * X[:, 2]
             + CAT_EFFECT[cat])
    return 1.0 / (1.0 + np.exp(-logit))


# --------------------------------------------------------------------------- the reference monitor
class DriftMonitor:
    def __init__(self, X_ref, cat_ref, pred_ref, window=3, psi_threshold=0.1, p_threshold=1e-4):
        self.X_ref = np.asarray(X_ref, dtype=np.float64)
        self.cat_ref = np.asarray(cat_ref, dtype=np.int64)
        self.pred_ref = np.asarray(pred_ref, dtype=np.float64)
        self.psi_threshold = psi_threshold
        self.p_threshold = p_threshold
        self.batches = deque(maxlen=window)

    def scores(self):
        X = np.concatenate([b[0] for b in self.batches])
        cat = np.concatenate([b[1] for b in self.batches])
        pred = np.concatenate([b[2] for b in self.batches])
        feature_psi = [psi(self.X_ref[:, j], X[:, j]) for j in range(self.X_ref.shape[1])]
        cat_psi = psi_categorical(self.cat_ref, cat, N_CATEGORIES)
        _, p = ks_test(self.pred_ref, pred)
        return feature_psi, cat_psi, p

    def update(self, X, cat, pred):
        self.batches.append((np.asarray(X, dtype=np.float64), np.asarray(cat, dtype=np.int64),
                             np.asarray(pred, dtype=np.float64)))
        if len(self.batches) < self.batches.maxlen:
            return False                      # warming up: too few rows for a stable PSI
        feature_psi, cat_psi, p = self.scores()
        return bool(max(feature_psi) > self.psi_threshold or cat_psi > self.psi_threshold
                    or p < self.p_threshold)


# --------------------------------------------------------------------------- the judge's streams
N_REF = 2000
BATCH = 250
ONSET = 10            # batches 0..9 come from the reference distribution
N_BATCHES = 35        # 10 before the onset, 25 after it

SCENARIOS = {
    # name: a function of the number of batches since the onset (k >= 0) -> make_batch kwargs
    "mean": lambda k: {"mean_shift": (0.5, 0.0, 0.0)},                       # x0 up by half an sd
    "variance": lambda k: {"scale": (1.0, 1.0, 1.5)},                        # x2's sd x 1.5
    "category": lambda k: {"cat_probs": (0.3, 0.3, 0.2, 0.2)},               # category mix
    "gradual": lambda k: {"mean_shift": (0.0, min(1.0, 0.04 * (k + 1)), 0.0)},  # log x1 creeps up
}
SCENARIO_SEEDS = {"mean": (1301, 1302, 1303), "variance": (1311, 1312, 1313),
                  "category": (1321, 1322, 1323), "gradual": (1331, 1332, 1333)}
NO_DRIFT_SEEDS = (1391, 1392, 1393, 1394, 1395, 1396)


def reference_set(rng):
    X, cat = make_batch(rng, N_REF)
    return X, cat, model_predict(X, cat)


def stream(seed, scenario=None):
    """(reference (X, cat, pred), list of N_BATCHES batches (X, cat, pred)); drift from ONSET on."""
    rng = np.random.default_rng(seed)
    ref = reference_set(rng)
    batches = []
    for i in range(N_BATCHES):
        kwargs = SCENARIOS[scenario](i - ONSET) if scenario is not None and i >= ONSET else {}
        X, cat = make_batch(rng, BATCH, **kwargs)
        batches.append((X, cat, model_predict(X, cat)))
    return ref, batches
