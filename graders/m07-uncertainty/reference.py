"""Reference implementations and shared inputs for the m07-uncertainty hidden tests.

HIDDEN: this file is never shipped to students.

The judge builds its own copies of what the notebook computes: the provided DropoutMLP's
forward pass (with F.linear / F.dropout, the calls nn.Linear and nn.Dropout make, so a
seeded MC-dropout run draws exactly the same masks), the averaged predictions, the ECE
with bins ((b-1)/B, b/B], and the out-of-distribution images. The tests read what a
submission returned with handin.checks, which fails a test with a short message that
never contains expected values (and never echoes what came back).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

HERE = Path(__file__).resolve().parent
HELDOUT_PATH = HERE / "data" / "digits_heldout.npz"

N_IN, N_OUT = 64, 10


# --------------------------------------------------------------------------- the model
def state_dict(n_hidden=32, seed=1234, scale=3.0):
    """Fixed weights for DropoutMLP(64, n_hidden, 10) in nn.Linear's layout.

    ``scale`` times nn.Linear's default init range, so that the logits are large enough
    for dropout to change the prediction visibly (a freshly initialised net is nearly
    uniform, and MC dropout would hardly differ from the eval-mode prediction).
    """
    g = torch.Generator().manual_seed(seed)

    def uniform(shape, fan_in):
        bound = scale / math.sqrt(fan_in)
        return (torch.rand(shape, generator=g, dtype=torch.float32) * 2 - 1) * bound

    return {
        "fc1.weight": uniform((n_hidden, N_IN), N_IN),
        "fc1.bias": uniform((n_hidden,), N_IN),
        "fc2.weight": uniform((N_OUT, n_hidden), n_hidden),
        "fc2.bias": uniform((N_OUT,), n_hidden),
    }


def preprocess(X):
    return torch.as_tensor(np.asarray(X, dtype=np.float32) / 16.0)


def logits(sd, X, p=0.0, training=False):
    x = preprocess(X)
    h = torch.relu(F.linear(x, sd["fc1.weight"], sd["fc1.bias"]))
    h = F.dropout(h, p, training)
    return F.linear(h, sd["fc2.weight"], sd["fc2.bias"])


def predict_proba(sd, X):
    with torch.no_grad():
        return torch.softmax(logits(sd, X), dim=1).numpy().astype(np.float64)


def mc_dropout(sd, X, T, seed, p):
    """The notebook's protocol: seed once, T separate passes with dropout on, mean of softmaxes."""
    torch.manual_seed(seed)
    with torch.no_grad():
        probs = [torch.softmax(logits(sd, X, p, training=True), dim=1).numpy().astype(np.float64)
                 for _ in range(T)]
    return np.mean(probs, axis=0)


def ensemble(sds, X):
    return np.mean([predict_proba(sd, X) for sd in sds], axis=0)


def raw_pixels(n, seed):
    """Random raw-pixel inputs, float32 in [0, 16] like the digits."""
    return np.random.default_rng(seed).uniform(0.0, 16.0, size=(n, N_IN)).astype(np.float32)


# --------------------------------------------------------------------------- ECE
def ece(probs, labels, n_bins):
    """Bins ((b-1)/B, b/B], weighted by bin size; confidence = max prob, prediction = argmax."""
    probs = np.asarray(probs, dtype=np.float64)
    conf = probs.max(axis=1)
    correct = (probs.argmax(axis=1) == np.asarray(labels)).astype(np.float64)
    upper = np.arange(1, n_bins + 1) / n_bins
    bins = np.minimum(np.searchsorted(upper, conf, side="left"), n_bins - 1)
    total = 0.0
    for b in range(n_bins):
        sel = bins == b
        if sel.any():
            total += sel.sum() / len(conf) * abs(correct[sel].mean() - conf[sel].mean())
    return float(total)


def ece_case(n, k, n_bins, seed):
    """Random probabilities and labels, miscalibrated both ways; no confidence within 1e-6 of a bin edge.

    Confidences are spread over (1/k, 1) and a prediction is right with probability
    c + 0.2 sin(6 pi c) (clipped): over-confident in some bins and under-confident in
    others, so that the binning and the bin weights matter (for a classifier that is
    over-confident everywhere, every partition of the data gives the same ECE).
    """
    rng = np.random.default_rng(seed)
    edges = np.arange(0, n_bins + 1) / n_bins
    probs = np.zeros((n, k))
    labels = np.zeros(n, dtype=np.int64)
    for i in range(n):
        while True:
            c = rng.uniform(1.0 / k, 1.0)
            rest = (1.0 - c) * rng.dirichlet(np.ones(k - 1))
            if rest.max() < c - 1e-6 and np.min(np.abs(c - edges)) > 1e-6:
                break
        pred = rng.integers(k)
        probs[i, pred] = c
        probs[i, np.arange(k) != pred] = rest
        right = rng.random() < np.clip(c + 0.2 * np.sin(6 * np.pi * c), 0.0, 1.0)
        labels[i] = pred if right else rng.choice([j for j in range(k) if j != pred])
    return probs, labels


def ece_edge_cases():
    """(probs, labels, n_bins) with confidences exactly on bin edges, empty bins, n = 1.

    Every probability is a binary fraction and every n_bins a power of two, so the bin
    edges b/B and the confidences are exact in floating point: a confidence c on an edge
    belongs to the bin that ends there whatever (correct) arithmetic assigns the bins.
    """
    cases = []
    # B = 4: bins (0, .25], (.25, .5], (.5, .75], (.75, 1]; confidences .5, .75 and 1 on edges.
    p = np.array([
        [0.5, 0.25, 0.25],      # conf .5   -> (.25, .5]
        [0.25, 0.5, 0.25],      # conf .5   -> (.25, .5]
        [0.375, 0.3125, 0.3125],  # conf .375 -> (.25, .5]
        [0.75, 0.125, 0.125],   # conf .75  -> (.5, .75]
        [0.125, 0.75, 0.125],   # conf .75  -> (.5, .75]
        [0.625, 0.25, 0.125],   # conf .625 -> (.5, .75]
        [1.0, 0.0, 0.0],        # conf 1    -> (.75, 1]
        [0.0, 0.0, 1.0],        # conf 1    -> (.75, 1]
        [0.0625, 0.875, 0.0625],  # conf .875 -> (.75, 1]
    ])
    y = np.array([0, 0, 1, 0, 1, 0, 0, 1, 1], dtype=np.int64)
    cases.append((p, y, 4))
    # B = 8 on the same data: .375, .625, .75, .875 and 1 are all edges now.
    cases.append((p, y, 8))
    # B = 16, everything in two bins (14 empty bins), all predictions wrong in one of them.
    p2 = np.array([[0.9375, 0.0625]] * 3 + [[0.5625, 0.4375]] * 5)
    y2 = np.array([1, 1, 0, 0, 1, 0, 1, 1], dtype=np.int64)
    cases.append((p2, y2, 16))
    # a single confident, wrong prediction, on the last edge.
    cases.append((np.array([[0.0, 1.0, 0.0, 0.0]]), np.array([2], dtype=np.int64), 8))
    return cases


# --------------------------------------------------------------------------- held-out data
def load_heldout():
    with np.load(HELDOUT_PATH) as d:
        return d["X"].astype(np.float32), d["y"].astype(np.int64)


def ood_images(X_in, seed=20270317):
    """Out-of-distribution images for the held-out digits X_in (raw pixels, float32).

    Half are the held-out digits with their 64 pixels shuffled (a fresh permutation per
    image: the pixel values of a digit, none of its shape); half are 1-3 random horizontal
    or vertical strokes on a blank image (letter-like lines, not digits).
    """
    rng = np.random.default_rng(seed)
    n = len(X_in)
    shuffled = np.stack([x[rng.permutation(N_IN)] for x in X_in[: n // 2]])
    strokes = np.zeros((n - n // 2, 8, 8), dtype=np.float32)
    for img in strokes:
        for _ in range(rng.integers(1, 4)):
            line, a, b = rng.integers(0, 8), *sorted(rng.integers(0, 8, size=2))
            value = rng.uniform(10.0, 16.0)
            if rng.random() < 0.5:
                img[line, a:b + 1] = value
            else:
                img[a:b + 1, line] = value
    return np.concatenate([shuffled, strokes.reshape(-1, N_IN)]).astype(np.float32)
