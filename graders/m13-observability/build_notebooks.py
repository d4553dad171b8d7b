"""Build the m13-observability starter and solution notebooks from one cell list.

    .venv/bin/python graders/m13-observability/build_notebooks.py

Writes
  assignments/m13-observability/observability.ipynb   starter (bodies raise NotImplementedError)
  solutions/m13-observability/solution.ipynb          the same notebook with the bodies filled in

HIDDEN: this file contains the solution; it lives in graders/ so it is never shipped.
Both notebooks have exactly the same cells in the same order (the fixture notebooks in
tests/fixtures/m13-observability/ patch cells found by marker strings), no outputs, and are
validated with nbformat before they are written.
"""

from __future__ import annotations

from pathlib import Path

from handin.authoring import TODO, code, md, write_pair

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
STARTER_PATH = REPO / "assignments" / "m13-observability" / "observability.ipynb"
SOLUTION_PATH = REPO / "solutions" / "m13-observability" / "solution.ipynb"

CELLS = [
    md(r'''
# Lab 4 — Observability: drift detection and prediction monitoring

A model that scored well on its test set keeps running in production while the world
around it changes: customers get older, a sensor is recalibrated, a marketing campaign
brings in a new kind of user. Nothing crashes, the model keeps answering, and its
answers quietly get worse. *Observability* means noticing this from what the service
sees: the inputs it receives and the predictions it makes (the true labels often
arrive weeks later, or never).

In this lab you build the two statistics that monitoring systems use most, and a
monitor on top of them:

1. **Population stability index (PSI)**: how far the distribution of one feature in
   recent traffic has moved from a reference sample (for example the training data),
   for numeric features (quantile bins) and categorical ones.
2. **Two-sample Kolmogorov–Smirnov (KS) test**: the largest gap between two empirical
   CDFs, with its p-value; here used on the model's predicted probabilities.
3. **A drift monitor** that consumes batches of production traffic one at a time,
   keeps a rolling window, and raises an alarm flag per batch. You choose its
   thresholds: alarm too eagerly and nobody reads the alarms any more; too late and
   the damage is done.

**How this notebook is graded.** The autograder runs the whole notebook top to bottom
and then calls the functions and the class that the notebook defines. Keep the names
and signatures exactly as given; you may add helper functions and keyword arguments
with defaults. A cell that raises an error leaves the names it should have defined
missing — run *Restart & Run All* before you hand in. The statistics are compared with
a reference implementation on arrays of the autograder's own (to about 6 significant
digits). Your monitor is run on streams of batches that the autograder generates from
the simulator below, with its own random seeds; it is scored on how quickly it notices
drift and how rarely it alarms when nothing changed. Use only numpy, scipy and the
standard library; the whole notebook should run in a few seconds.

`test_public.py` contains a few of the autograder's tests.
'''),
    code(r'''
from collections import deque

import numpy as np
from scipy import stats

EPS = 1e-4          # the smallest proportion PSI works with (see Part 1)
N_CATEGORIES = 4    # the categorical feature takes the values 0, 1, 2, 3
'''),
    md(r'''
## The production system (provided)

A fixed model scores customers. Each row of traffic has three numeric features and one
categorical one:

| feature | distribution in the reference data |
|---|---|
| `X[:, 0]` (age) | normal, mean 40, sd 12 |
| `X[:, 1]` (spend) | log-normal: $\log x_1 \sim \mathcal N(3, 0.4^2)$ |
| `X[:, 2]` (sensor reading) | standard normal |
| `cat` (sales channel) | 0, 1, 2, 3 with probabilities 0.5, 0.25, 0.15, 0.10 |

`model_predict(X, cat)` returns the model's predicted probability for each row.
`make_batch(rng, n, ...)` draws `n` rows; `mean_shift` and `scale` move and stretch
each numeric feature in units of its own standard deviation (of the log, for spend),
and `cat_probs` changes the channel mix.

`simulate_stream(seed, scenario)` returns a reference sample of 2000 rows (with its
predictions) and a stream of 35 batches of 250 rows each. The first 10 batches come from
the reference distribution; from batch 10 on (the *onset*) the scenario's drift applies:

* `"mean"`: age moves up by half a standard deviation (6 years);
* `"variance"`: the sensor's standard deviation grows by half (1 → 1.5);
* `"category"`: the channel mix becomes 0.3, 0.3, 0.2, 0.2;
* `"gradual"`: spend creeps up by 4% of a standard deviation (of its log) every batch;
* `None`: no drift at all.

These are exactly the kinds and sizes of drift that the autograder streams.
'''),
    code(r'''
# Provided -- do not change.
MEANS = np.array([40.0, 3.0, 0.0])
SDS = np.array([12.0, 0.4, 1.0])
CAT_PROBS = np.array([0.5, 0.25, 0.15, 0.10])
CAT_EFFECT = np.array([0.0, 0.6, -0.4, 1.0])


def make_batch(rng, n, mean_shift=(0.0, 0.0, 0.0), scale=(1.0, 1.0, 1.0), cat_probs=CAT_PROBS):
    """n rows of traffic: X (n, 3) float64 and cat (n,) int64."""
    z = rng.normal(size=(n, 3)) * np.asarray(scale) + np.asarray(mean_shift)
    raw = MEANS + SDS * z
    X = np.column_stack([raw[:, 0], np.exp(raw[:, 1]), raw[:, 2]])
    cat = rng.choice(N_CATEGORIES, size=n, p=np.asarray(cat_probs)).astype(np.int64)
    return X, cat


def model_predict(X, cat):
    """The model in production: predicted probability of the positive class for each row."""
    logit = (-0.3 + 0.05 * (X[:, 0] - 40.0) + 1.5 * (np.log(X[:, 1]) - 3.0) + 0.8 * X[:, 2]
             + CAT_EFFECT[cat])
    return 1.0 / (1.0 + np.exp(-logit))


SCENARIOS = {
    "mean": lambda k: {"mean_shift": (0.5, 0.0, 0.0)},
    "variance": lambda k: {"scale": (1.0, 1.0, 1.5)},
    "category": lambda k: {"cat_probs": (0.3, 0.3, 0.2, 0.2)},
    "gradual": lambda k: {"mean_shift": (0.0, min(1.0, 0.04 * (k + 1)), 0.0)},
}
N_REF, BATCH, ONSET, N_BATCHES = 2000, 250, 10, 35


def simulate_stream(seed, scenario=None):
    """((X_ref, cat_ref, pred_ref), [(X, cat, pred) for each of the 35 batches])."""
    rng = np.random.default_rng(seed)
    X_ref, cat_ref = make_batch(rng, N_REF)
    reference = (X_ref, cat_ref, model_predict(X_ref, cat_ref))
    batches = []
    for i in range(N_BATCHES):
        kwargs = SCENARIOS[scenario](i - ONSET) if scenario is not None and i >= ONSET else {}
        X, cat = make_batch(rng, BATCH, **kwargs)
        batches.append((X, cat, model_predict(X, cat)))
    return reference, batches


(X_ref, cat_ref, pred_ref), example_batches = simulate_stream(seed=0, scenario="mean")
print("reference:", X_ref.shape, cat_ref.shape, pred_ref.shape, "| batches:", len(example_batches))
'''),
    md(r'''
## Part 1 — the population stability index

Split the real line into bins, and let $e_i$ be the fraction of the **reference**
sample and $a_i$ the fraction of the **current** sample that falls into bin $i$. Then

$$
\mathrm{PSI} = \sum_{i} (a_i - e_i)\,\ln\frac{a_i}{e_i} .
$$

Every term is $\ge 0$ (both factors have the same sign), and PSI is $0$ exactly when
the two histograms agree. A common rule of thumb: below 0.1 nothing to worry about,
0.1–0.25 a moderate shift, above 0.25 a major one.

**Bins come from the reference sample**, from its quantiles, so that each bin holds
about the same share of the reference data ($e_i \approx 1/\text{n\_bins}$). With
$q_k$ the $k/\text{n\_bins}$ quantile of the reference sample (`np.quantile` with its
default, linear interpolation), the edges are

$$
-\infty = b_0 < b_1 = q_1 < \dots < b_{\text{n\_bins}-1} = q_{\text{n\_bins}-1} < b_{\text{n\_bins}} = +\infty ,
$$

the outer edges are infinite so that current values outside the reference range still
fall into the first or last bin. Bin $i$ is the half-open interval $[b_i, b_{i+1})$: a
value exactly on an edge belongs to the bin **above** it.

**Empty bins.** When a bin of the current sample is empty, $a_i = 0$ and
$\ln(a_i/e_i) = -\infty$. Before taking the formula, replace every proportion (of both
samples) that is below $\varepsilon$ = `EPS` = $10^{-4}$ by $\varepsilon$ (do not
renormalise afterwards).

### Task 1: bins and proportions

* `psi_bin_edges(reference, n_bins=10)` returns the `n_bins + 1` edges above as a float
  array (first `-inf`, last `inf`).
* `bin_proportions(values, edges)` returns the fraction of `values` in each of the
  `len(edges) - 1` bins, a float array that sums to 1.
'''),
    code(r'''
def psi_bin_edges(reference, n_bins=10):
    """n_bins + 1 edges: -inf, the reference's interior quantiles k / n_bins, +inf."""
''' + TODO + r'''

def bin_proportions(values, edges):
    """Fraction of values in each bin [edges[i], edges[i + 1])."""
''' + TODO, r'''
def psi_bin_edges(reference, n_bins=10):
    """n_bins + 1 edges: -inf, the reference's interior quantiles k / n_bins, +inf."""
    edges = np.quantile(np.asarray(reference, dtype=np.float64), np.linspace(0.0, 1.0, n_bins + 1))
    edges[0], edges[-1] = -np.inf, np.inf
    return edges


def bin_proportions(values, edges):
    """Fraction of values in each bin [edges[i], edges[i + 1])."""
    values = np.asarray(values, dtype=np.float64)
    idx = np.searchsorted(edges, values, side="right") - 1     # bin i holds edges[i] <= v < edges[i + 1]
    counts = np.bincount(idx, minlength=len(edges) - 1)
    return counts / len(values)
'''),
    md(r'''
### Task 2: PSI

* `psi_from_proportions(expected, actual, eps=EPS)`: the formula above for two arrays of
  proportions (`expected` from the reference, `actual` from the current sample), with
  both clipped from below at `eps`; returns a Python float.
* `psi(reference, current, n_bins=10, eps=EPS)`: PSI of a numeric feature, with the bins
  of `psi_bin_edges(reference, n_bins)`.
* `psi_categorical(reference, current, n_categories, eps=EPS)`: PSI of a categorical
  feature whose values are the integers `0 .. n_categories - 1`; each category is one
  bin (a category may be missing from either sample).
'''),
    code(r'''
def psi_from_proportions(expected, actual, eps=EPS):
    """sum (a - e) ln(a / e), with proportions below eps replaced by eps."""
''' + TODO + r'''

def psi(reference, current, n_bins=10, eps=EPS):
    """PSI of a numeric feature, bins from the reference sample's quantiles."""
''' + TODO + r'''

def psi_categorical(reference, current, n_categories, eps=EPS):
    """PSI of a categorical feature with values 0 .. n_categories - 1."""
''' + TODO, r'''
def psi_from_proportions(expected, actual, eps=EPS):
    """sum (a - e) ln(a / e), with proportions below eps replaced by eps."""
    e = np.maximum(np.asarray(expected, dtype=np.float64), eps)
    a = np.maximum(np.asarray(actual, dtype=np.float64), eps)
    return float(np.sum((a - e) * np.log(a / e)))


def psi(reference, current, n_bins=10, eps=EPS):
    """PSI of a numeric feature, bins from the reference sample's quantiles."""
    edges = psi_bin_edges(reference, n_bins)
    return psi_from_proportions(bin_proportions(reference, edges), bin_proportions(current, edges), eps)


def psi_categorical(reference, current, n_categories, eps=EPS):
    """PSI of a categorical feature with values 0 .. n_categories - 1."""
    e = np.bincount(np.asarray(reference, dtype=np.int64), minlength=n_categories) / len(reference)
    a = np.bincount(np.asarray(current, dtype=np.int64), minlength=n_categories) / len(current)
    return psi_from_proportions(e, a, eps)
'''),
    md(r'''
### Try it

PSI of each feature between the reference sample and the first batch before the onset
and the fifth batch after it (age drifts in this stream).
'''),
    code(r'''
def _try_psi():
    for i in (0, ONSET + 5):
        X, cat, pred = example_batches[i]
        values = [psi(X_ref[:, j], X[:, j]) for j in range(3)] + [psi_categorical(cat_ref, cat, N_CATEGORIES)]
        print(f"batch {i:2d}: PSI age, spend, sensor, channel =", np.round(values, 3))
    print("PSI of a sample with itself:", psi(X_ref[:, 0], X_ref[:, 0]))


try:
    _try_psi()
except NotImplementedError:
    print("not implemented yet")
'''),
    md(r'''
## Part 2 — the two-sample Kolmogorov–Smirnov test

The empirical CDF of a sample $x_1, \dots, x_n$ is $F_x(t) = \frac{1}{n}\,\#\{i : x_i \le t\}$.
The KS statistic of two samples is the largest vertical gap between their empirical CDFs,

$$
D = \sup_t \left| F_x(t) - F_y(t) \right| ,
$$

and since both are step functions that only jump at sample points, the supremum is a
maximum over the points of the pooled sample. Unlike PSI it needs no bins.

Under the null hypothesis (both samples from the same continuous distribution),
$\sqrt{nm/(n+m)}\,D$ follows, for large samples, the Kolmogorov distribution, with
survival function $Q(\lambda) = 2\sum_{k\ge1} (-1)^{k-1} e^{-2k^2\lambda^2}$, which
scipy provides as `stats.kstwobign.sf`.

### Task 3: KS

* `ecdf(sample, t)`: $F_{\text{sample}}(t)$ for every entry of the array `t` (an array of
  the shape of `t`). `sample` is **not** sorted.
* `ks_statistic(x, y)`: $D$, written by hand with numpy (do not call `stats.ks_2samp`; the
  cell after this one compares your value with it).
* `ks_test(x, y)`: the pair `(D, p)` with the asymptotic p-value
  $p = Q\big(\sqrt{nm/(n+m)}\,D\big)$ = `stats.kstwobign.sf(...)`, $n$ and $m$ the two
  sample sizes.

Both must work for samples of different sizes and with ties (repeated values).
'''),
    code(r'''
def ecdf(sample, t):
    """Fraction of sample <= t, for each entry of t."""
''' + TODO + r'''

def ks_statistic(x, y):
    """max_t |F_x(t) - F_y(t)|, written by hand."""
''' + TODO + r'''

def ks_test(x, y):
    """(D, p): the KS statistic and its asymptotic p-value."""
''' + TODO, r'''
def ecdf(sample, t):
    """Fraction of sample <= t, for each entry of t."""
    s = np.sort(np.asarray(sample, dtype=np.float64))
    return np.searchsorted(s, np.asarray(t, dtype=np.float64), side="right") / len(s)


def ks_statistic(x, y):
    """max_t |F_x(t) - F_y(t)|, written by hand."""
    grid = np.concatenate([np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)])
    return float(np.max(np.abs(ecdf(x, grid) - ecdf(y, grid))))


def ks_test(x, y):
    """(D, p): the KS statistic and its asymptotic p-value."""
    d = ks_statistic(x, y)
    n, m = len(x), len(y)
    return d, float(stats.kstwobign.sf(np.sqrt(n * m / (n + m)) * d))
'''),
    md(r'''
### Try it

Your statistic against scipy's, on the model's predictions: reference against a batch
before the onset, and against one well after it.
'''),
    code(r'''
def _try_ks():
    for i in (0, ONSET + 5):
        pred = example_batches[i][2]
        d, p = ks_test(pred_ref, pred)
        print(f"batch {i:2d}: D = {d:.4f} (scipy: {stats.ks_2samp(pred_ref, pred).statistic:.4f}), p = {p:.3g}")


try:
    _try_ks()
except NotImplementedError:
    print("not implemented yet")
'''),
    md(r'''
## Part 3 — a drift monitor

`DriftMonitor(X_ref, cat_ref, pred_ref)` is created once per stream with the reference
sample: `X_ref` (float64, `(n, 3)`), `cat_ref` (int64, `(n,)`) and the model's predictions on
it, `pred_ref` (float64, `(n,)`). Its method `update(X, cat, pred)` is then called once per
batch, in order, with one batch of production traffic (250 rows), and returns **`True`**
(alarm: the traffic has drifted) or **`False`**. Predictions are part of the traffic: the
model's outputs moving is often the first visible symptom.

Design it yourself from Parts 1 and 2, for example:

* keep the last few batches in a **rolling window** (`collections.deque(maxlen=...)`), so
  that each decision rests on more rows than one batch (PSI of 250 rows with 10 bins is
  noticeably noisy);
* on every update, compute the PSI of each numeric feature and of the category, and a KS
  test of the predictions, between the reference and the window;
* alarm when any of them crosses a threshold that **you** choose (and perhaps only once the
  window is full).

**How the monitor is scored.** The autograder creates a fresh monitor for each stream and
feeds it streams like `simulate_stream`'s, 35 batches each, with the onset at batch 10:

* for each of the four drift scenarios (three streams each), the *detection delay* of a
  stream is the number of batches from the onset to the first alarm at or after it (an
  alarm on the onset batch itself is delay 0; a missed drift counts as 25). Full marks when
  the mean delay is at most 4 batches (12 for `"gradual"`), none from 10 (20 for
  `"gradual"`), partial credit in between. A monitor that already alarms on more than 2 of
  the 30 batches before the onsets gets no credit for that scenario: its alarms say nothing.
* on six streams without drift (210 batches), *false alarms*: full marks for at most 2,
  none from 21, partial credit in between.

The cell after the class runs the same evaluation on streams of your own seeds.
'''),
    code(r'''
class DriftMonitor:
    def __init__(self, X_ref, cat_ref, pred_ref, window=3):
        # YOUR CODE HERE
        raise NotImplementedError

    def update(self, X, cat, pred):
        """Consume one batch; return True (alarm) or False."""
        # YOUR CODE HERE
        raise NotImplementedError
''', r'''
class DriftMonitor:
    def __init__(self, X_ref, cat_ref, pred_ref, window=3, psi_threshold=0.1, p_threshold=1e-4):
        self.X_ref = np.asarray(X_ref, dtype=np.float64)
        self.cat_ref = np.asarray(cat_ref, dtype=np.int64)
        self.pred_ref = np.asarray(pred_ref, dtype=np.float64)
        self.psi_threshold = psi_threshold      # "moderate shift" by the rule of thumb
        self.p_threshold = p_threshold          # strict: a window is tested on every batch
        self.window = deque(maxlen=window)

    def update(self, X, cat, pred):
        """Consume one batch; return True (alarm) or False."""
        self.window.append((np.asarray(X, dtype=np.float64), np.asarray(cat, dtype=np.int64),
                            np.asarray(pred, dtype=np.float64)))
        if len(self.window) < self.window.maxlen:
            return False                        # too few rows yet for a stable PSI
        X = np.concatenate([b[0] for b in self.window])
        cat = np.concatenate([b[1] for b in self.window])
        pred = np.concatenate([b[2] for b in self.window])
        feature_psi = max(psi(self.X_ref[:, j], X[:, j]) for j in range(self.X_ref.shape[1]))
        category_psi = psi_categorical(self.cat_ref, cat, N_CATEGORIES)
        _, p = ks_test(self.pred_ref, pred)
        return bool(feature_psi > self.psi_threshold or category_psi > self.psi_threshold
                    or p < self.p_threshold)
'''),
    md(r'''
### Try it

Runs your monitor on one stream of each scenario and on two streams without drift, and
prints the detection delays and false alarms as the autograder counts them.
'''),
    code(r'''
def evaluate_monitor(seed=100):
    for k, scenario in enumerate(list(SCENARIOS) + [None, None]):
        reference, batches = simulate_stream(seed + k, scenario)
        monitor = DriftMonitor(*reference)
        alarms = np.array([bool(monitor.update(*batch)) for batch in batches])
        if scenario is None:
            print(f"no drift : {alarms.sum()} false alarm(s) in {len(alarms)} batches")
        else:
            after = np.flatnonzero(alarms[ONSET:])
            delay = int(after[0]) if len(after) else "missed"
            print(f"{scenario:9s}: {alarms[:ONSET].sum()} alarm(s) before the onset, detection delay {delay}")


try:
    evaluate_monitor()
except NotImplementedError:
    print("not implemented yet")
'''),
]


if __name__ == "__main__":
    write_pair(CELLS, "m13", STARTER_PATH, SOLUTION_PATH, REPO)
