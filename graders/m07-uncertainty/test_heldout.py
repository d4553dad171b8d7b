"""Hidden tests, part 3: the trained model and ensemble on held-out digits; OOD detection (HIDDEN).

Held-out labels stay in the judge: only pixels are sent. The out-of-distribution images
(pixel-shuffled held-out digits and random strokes) are generated here, and the judge
computes the AUROC itself (sklearn.metrics.roc_auc_score; which image is in- or
out-of-distribution never leaves the judge). Before scoring, each test checks on the same
held-out pixels that the student's function computes what it should for a model with
fixed weights, so a function that ignores its model (e.g. looks the digits up) scores 0.
"""

import numpy as np
import pytest
import reference as ref
from handin.checks import check_close, fail, to_array
from sklearn.metrics import roc_auc_score

N_HIDDEN = 32


def _fixed_model(student, seed):
    sd = ref.state_dict(N_HIDDEN, seed=seed)
    model = student.DropoutMLP(64, N_HIDDEN, 10, p=0.5)
    model.load_state_dict({k: v.clone() for k, v in sd.items()})
    return model, sd


def _check_model_shape(model, what):
    w1 = to_array(model.fc1.weight, f"{what}.fc1.weight")
    w2 = to_array(model.fc2.weight, f"{what}.fc2.weight")
    if w1.ndim != 2 or w1.shape[1] != 64 or w2.ndim != 2 or w2.shape[0] != 10:
        fail(f"`{what}` must be a trained DropoutMLP(64, n_hidden, 10)")


def _accuracy(probs, y, what):
    p = to_array(probs, what)
    if p.shape != (len(y), 10):
        fail(f"{what} returned shape {p.shape}, expected ({len(y)}, 10)")
    if not np.all(np.isfinite(p)):
        fail(f"{what} returned NaN or inf")
    return float(np.mean(p.argmax(axis=1) == y))


def _credit_accuracy(credit, accuracy, what):
    if accuracy < 0.85:
        fail(f"{what}: held-out accuracy {accuracy:.3f} is below 0.85")
    credit(min(1.0, (accuracy - 0.85) / 0.10), f"{what}: held-out accuracy {accuracy:.3f} (full marks from 0.95)")


@pytest.mark.points(2)
def test_model_heldout_accuracy(student, credit):
    """The trained `model` classifies held-out digits.

    Eval-mode accuracy of predict_proba(model, X) on held-out digits: no credit below
    85%, full marks from 95%, linear in between.
    """
    X, y = ref.load_heldout()
    fixed, sd = _fixed_model(student, 50)
    check_close(student.predict_proba(fixed, X.copy()), ref.predict_proba(sd, X),
                "predict_proba of a model with fixed weights on the held-out images", rtol=1e-5, atol=1e-6)
    model = student.model
    _check_model_shape(model, "model")
    _credit_accuracy(credit, _accuracy(student.predict_proba(model, X.copy()), y, "predict_proba"), "model")


@pytest.mark.points(2)
def test_ensemble_heldout_accuracy(student, credit):
    """The trained `ensemble` classifies held-out digits.

    `ensemble` holds at least 3 different trained DropoutMLPs; the accuracy of
    ensemble_predict(ensemble, X) on held-out digits: no credit below 85%, full marks from
    95%, linear in between.
    """
    X, y = ref.load_heldout()
    fixed = [_fixed_model(student, s) for s in (51, 52)]
    check_close(student.ensemble_predict([m for m, _ in fixed], X.copy()), ref.ensemble([sd for _, sd in fixed], X),
                "ensemble_predict of models with fixed weights on the held-out images", rtol=1e-5, atol=1e-6)
    members = student.ensemble
    try:
        members = list(members)
    except TypeError:
        fail("`ensemble` must be a list of trained models")
    if len(members) < 3:
        fail(f"`ensemble` has {len(members)} members, expected at least 3")
    weights = []
    for i, m in enumerate(members):
        _check_model_shape(m, f"ensemble[{i}]")
        weights.append(to_array(m.fc1.weight, f"ensemble[{i}].fc1.weight"))
    for i in range(len(weights)):
        for j in range(i + 1, len(weights)):
            if weights[i].shape == weights[j].shape and np.max(np.abs(weights[i] - weights[j])) < 1e-3:
                fail(f"ensemble[{i}] and ensemble[{j}] are the same network")
    _credit_accuracy(credit, _accuracy(student.ensemble_predict(members, X.copy()), y, "ensemble_predict"), "ensemble")


def _scores(value, n, what):
    s = to_array(value, what)
    if s.shape != (n,):
        fail(f"{what} returned shape {s.shape}, expected ({n},)")
    if not np.all(np.isfinite(s)):
        fail(f"{what} returned NaN or inf")
    return s


@pytest.mark.points(2)
def test_ood_score_is_msp(student):
    """ood_score is the maximum eval-mode softmax probability.

    Fixed weights, 15 random images and 1 image, with the model left in training mode
    before the call: compared with the grader's max softmax probability (higher = more
    in-distribution).
    """
    fixed, sd = _fixed_model(student, 60)
    for n, seed in ((15, 61), (1, 62)):
        X = ref.raw_pixels(n, seed)
        fixed.train()
        got = _scores(student.ood_score(fixed, X.copy()), n, "ood_score")
        check_close(got, ref.predict_proba(sd, X).max(axis=1), f"ood_score on a batch of {n}", rtol=1e-5, atol=1e-6)


AUROC_ZERO, AUROC_FULL = 0.60, 0.80


@pytest.mark.points(4)
def test_ood_detection_auroc(student, credit):
    """The trained `model` tells held-out digits from non-digits.

    ood_score(model, .) on 360 held-out digits (in-distribution, the positive class) and
    360 generated images that are not digits (digits with their pixels shuffled, random
    strokes); the grader computes the AUROC. No credit at 0.60 or below, full marks from
    0.80 (the reference model reaches about 0.89), linear in between.
    """
    X_in, _ = ref.load_heldout()
    X_out = ref.ood_images(X_in)
    model = student.model
    _check_model_shape(model, "model")
    s_in = _scores(student.ood_score(model, X_in.copy()), len(X_in), "ood_score")
    s_out = _scores(student.ood_score(model, X_out.copy()), len(X_out), "ood_score")
    is_in = np.concatenate([np.ones(len(s_in)), np.zeros(len(s_out))])
    value = float(roc_auc_score(is_in, np.concatenate([s_in, s_out])))
    if value <= AUROC_ZERO:
        fail(f"OOD detection AUROC {value:.3f} is at most {AUROC_ZERO:.2f} (higher scores must mean in-distribution)")
    fixed, sd = _fixed_model(student, 63)
    check_close(student.ood_score(fixed, X_in.copy()), ref.predict_proba(sd, X_in).max(axis=1),
                "ood_score of a model with fixed weights on the held-out images", rtol=1e-5, atol=1e-6)
    credit(min(1.0, (value - AUROC_ZERO) / (AUROC_FULL - AUROC_ZERO)),
           f"OOD detection AUROC {value:.3f} (full marks from {AUROC_FULL:.2f})")
