"""Public tests for m07-uncertainty (shipped to students).

These are a few of the autograder's tests. The autograder runs your notebook top to
bottom and gives each test a ``student`` object: ``student.auroc(s, y)`` calls the
``auroc`` your notebook defined. The hidden tests check every function in the same way,
against a reference implementation on the autograder's own inputs, and score your
trained ``model`` and ``ensemble`` on held-out and out-of-distribution images.
"""

import numpy as np
import pytest


def _fail(message):
    pytest.fail(message, pytrace=False)


def _array(value, what):
    if hasattr(value, "detach"):
        value = value.detach().cpu().numpy()
    try:
        return np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        _fail(f"{what} did not return a numeric array")


def _float(value, what):
    arr = _array(value, what)
    if arr.size != 1:
        _fail(f"{what} returned an array of shape {arr.shape}, expected a float")
    return float(arr.reshape(()))


@pytest.mark.points(1)
def test_predict_proba_rows_sum_to_one(student):
    """predict_proba returns one probability distribution per image.

    A small DropoutMLP built in your notebook, on five random images: the result has
    shape (5, 10), is positive, each row sums to 1, and two calls agree (dropout is off).
    """
    model = student.DropoutMLP(64, 16, 10, p=0.5)
    X = np.random.default_rng(0).uniform(0.0, 16.0, size=(5, 64)).astype(np.float32)
    p = _array(student.predict_proba(model, X), "predict_proba")
    if p.shape != (5, 10):
        _fail(f"predict_proba returned shape {p.shape}, expected (5, 10)")
    if not np.all(np.isfinite(p)) or np.any(p <= 0):
        _fail("predict_proba must return finite, positive probabilities")
    if not np.allclose(p.sum(axis=1), 1.0, atol=1e-5):
        _fail("each row of predict_proba(model, X) must sum to 1")
    again = _array(student.predict_proba(model, X), "predict_proba")
    if again.shape != p.shape or not np.allclose(again, p, rtol=1e-5, atol=1e-6):
        _fail("two calls of predict_proba on the same model and images disagree: is dropout off?")


@pytest.mark.points(1)
def test_ece_small_example(student):
    """ECE of a six-prediction example with five bins.

    Confidences 0.55 | 0.65, 0.7, 0.75 | 0.9, 0.95 fall in the bins (0.4, 0.6], (0.6, 0.8]
    and (0.8, 1]; one of the three in the middle bin is wrong. ECE = 1/6 * 0.45 +
    3/6 * |2/3 - 0.7| + 2/6 * |1 - 0.925| = 7/60.
    """
    probs = np.array([[0.9, 0.1], [0.35, 0.65], [0.55, 0.45], [0.3, 0.7], [0.25, 0.75], [0.95, 0.05]])
    labels = np.array([0, 0, 0, 1, 1, 0])
    value = _float(student.expected_calibration_error(probs, labels, n_bins=5), "expected_calibration_error")
    if not np.isclose(value, 7 / 60, rtol=1e-5, atol=1e-6):
        _fail("expected_calibration_error of this example should be 7/60 = 0.11667")


@pytest.mark.points(1)
def test_auroc_small_examples(student):
    """AUROC of a perfect, a reversed and a partly right score.

    Scores [0.1, 0.4, 0.35, 0.8] with labels [0, 0, 1, 1]: three of the four
    (positive, negative) pairs are ordered right, so the AUROC is 0.75.
    """
    y = np.array([0, 0, 1, 1])
    cases = [
        (np.array([0.1, 0.2, 0.7, 0.9]), 1.0, "a score that ranks both positives first"),
        (np.array([0.9, 0.7, 0.2, 0.1]), 0.0, "a score that ranks both positives last"),
        (np.array([0.1, 0.4, 0.35, 0.8]), 0.75, "scores [0.1, 0.4, 0.35, 0.8]"),
    ]
    for scores, expected, what in cases:
        value = _float(student.auroc(scores, y), "auroc")
        if not np.isclose(value, expected, atol=1e-9):
            _fail(f"auroc of {what} with labels [0, 0, 1, 1] should be {expected}")
