"""Hidden tests, part 2: expected calibration error and AUROC (HIDDEN, not shipped).

The judge sends its own probability/label and score/label arrays and compares the
numbers that come back with its reference ECE (bins ((b-1)/B, b/B], weighted by bin size)
and with sklearn.metrics.roc_auc_score. Both are float64 computations whose results do
not depend on summation order beyond ~1e-15; the tolerance rtol 1e-5, atol 1e-6 admits a
float32 implementation.
"""

import numpy as np
import pytest
import reference as ref
from handin.checks import fail, to_float
from sklearn.metrics import roc_auc_score


def _close(value, expected, what):
    got = to_float(value, what)
    if not np.isclose(got, expected, rtol=1e-5, atol=1e-6):
        fail(f"{what} differs from the reference")


@pytest.mark.points(3)
def test_ece_matches_reference(student):
    """ECE with equal-width bins, weighted by bin size, on random predictions.

    Three over-confident random classifiers (500 x 10 classes with 15 bins, 300 x 3 with
    10 bins, 1000 x 5 with 20 bins), no confidence near a bin edge: compared with the
    reference ECE.
    """
    for n, k, n_bins, seed in ((500, 10, 15, 1), (300, 3, 10, 2), (1000, 5, 20, 3)):
        probs, labels = ref.ece_case(n, k, n_bins, seed)
        _close(student.expected_calibration_error(probs.copy(), labels.copy(), n_bins=n_bins),
               ref.ece(probs, labels, n_bins), f"expected_calibration_error on {n} predictions, {n_bins} bins")


@pytest.mark.points(2)
def test_ece_edges_and_empty_bins(student):
    """ECE puts a confidence on a bin edge in the bin that ends there; empty bins add nothing.

    Confidences exactly 0.5, 0.75 and 1 with 4 bins (and 0.375, 0.625, 0.875 with 8), a
    case with 14 of 16 bins empty, and a single confident wrong prediction. All values are
    exact binary fractions, so the edges are exact in floating point.
    """
    for i, (probs, labels, n_bins) in enumerate(ref.ece_edge_cases(), 1):
        _close(student.expected_calibration_error(probs.copy(), labels.copy(), n_bins=n_bins),
               ref.ece(probs, labels, n_bins), f"expected_calibration_error on edge case {i} ({n_bins} bins)")


@pytest.mark.points(2)
def test_auroc_matches_sklearn(student):
    """AUROC matches sklearn's roc_auc_score on continuous scores.

    A balanced case (300 scores) and an imbalanced one (1000 scores, 5% positives), with
    informative but overlapping scores.
    """
    rng = np.random.default_rng(7)
    for n, frac in ((300, 0.5), (1000, 0.05)):
        labels = (rng.random(n) < frac).astype(np.int64)
        labels[:2] = (0, 1)
        scores = rng.normal(0.0, 1.0, size=n) + 1.2 * labels
        _close(student.auroc(scores.copy(), labels.copy()), roc_auc_score(labels, scores),
               f"auroc on {n} scores")


@pytest.mark.points(1)
def test_auroc_ties(student):
    """AUROC counts tied (positive, negative) pairs as one half.

    Integer scores 0..4 (400 scores, many ties) and a constant score (AUROC 0.5), compared
    with sklearn's roc_auc_score.
    """
    rng = np.random.default_rng(8)
    labels = (rng.random(400) < 0.4).astype(np.int64)
    scores = np.clip(rng.integers(0, 4, size=400) + labels * rng.integers(0, 2, size=400), 0, 4).astype(np.float64)
    _close(student.auroc(scores.copy(), labels.copy()), roc_auc_score(labels, scores), "auroc on tied scores")
    constant = np.full(50, 0.3)
    labels = np.arange(50) % 2
    _close(student.auroc(constant, labels), 0.5, "auroc of a constant score")
