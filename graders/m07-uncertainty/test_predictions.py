"""Hidden tests, part 1: eval-mode predictions, MC dropout and deep ensembles (HIDDEN, not shipped).

Models live in the student process: the judge builds them with the notebook's provided
DropoutMLP (on the CPU, where the judge's own reference runs), loads weights it chose,
and compares the probabilities that come back with its own computation. The seeded
MC-dropout protocol (torch.manual_seed(seed) once, then T separate passes in training
mode) draws the same dropout masks in both processes, so that comparison is exact up to
float32 rounding.
"""

import numpy as np
import pytest
import reference as ref
from handin.checks import check_close, fail, to_array

N_HIDDEN = 32
P_DROP = 0.5


def _model(student, sd, p=P_DROP):
    model = student.DropoutMLP(64, N_HIDDEN, 10, p=p)
    model.load_state_dict({k: v.clone() for k, v in sd.items()})
    return model


def _probs(value, n, what):
    p = to_array(value, what)
    if p.shape != (n, 10):
        fail(f"{what} returned shape {p.shape}, expected ({n}, 10)")
    if not np.all(np.isfinite(p)):
        fail(f"{what} returned NaN or inf")
    return p


@pytest.mark.points(1)
def test_predict_proba(student):
    """predict_proba is the eval-mode softmax of the model.

    Fixed weights, batches of 9 and 1 random images; the model is left in training mode
    before the call, so predict_proba must switch dropout off itself.
    """
    sd = ref.state_dict(N_HIDDEN, seed=1)
    model = _model(student, sd)
    for n, seed in ((9, 10), (1, 11)):
        X = ref.raw_pixels(n, seed)
        model.train()
        check_close(student.predict_proba(model, X.copy()), ref.predict_proba(sd, X),
                    f"predict_proba on a batch of {n}", rtol=1e-5, atol=1e-6)


@pytest.mark.points(3)
def test_mc_dropout_matches_protocol(student):
    """MC dropout follows the seeded protocol exactly.

    torch.manual_seed(seed) once, then T separate forward passes with dropout on, and
    the mean of the T softmax outputs: compared with the grader's own run of the same
    protocol on the same weights (T = 20, seed 3, 9 images; T = 7, seed 11, 1 image).
    Tolerance rtol 1e-5, atol 1e-6 (float32 sums of T probabilities).
    """
    sd = ref.state_dict(N_HIDDEN, seed=2)
    model = _model(student, sd)
    for n, T, seed, x_seed in ((9, 20, 3, 20), (1, 7, 11, 21)):
        X = ref.raw_pixels(n, x_seed)
        got = _probs(student.mc_dropout_predict(model, X.copy(), T=T, seed=seed), n, "mc_dropout_predict")
        check_close(got, ref.mc_dropout(sd, X, T, seed, P_DROP),
                    f"mc_dropout_predict(model, X, T={T}, seed={seed}) on a batch of {n}", rtol=1e-5, atol=1e-6)


@pytest.mark.points(2)
def test_mc_dropout_is_stochastic(student):
    """MC dropout keeps dropout on, is seeded, and averages probabilities.

    On fixed weights (T = 30): the rows are probability distributions; the result differs
    from the eval-mode prediction (on these weights the true MC average differs from it
    by far more than the threshold used here); the same seed gives the same result and a
    different seed a different one. These properties do not depend on which random
    numbers the passes draw.
    """
    sd = ref.state_dict(N_HIDDEN, seed=3)
    model = _model(student, sd)
    X = ref.raw_pixels(12, 30)
    a = _probs(student.mc_dropout_predict(model, X.copy(), T=30, seed=5), 12, "mc_dropout_predict")
    if np.any(a < -1e-6) or np.any(a > 1 + 1e-6) or not np.allclose(a.sum(axis=1), 1.0, atol=1e-5):
        fail("the rows of mc_dropout_predict are not probability distributions (each must sum to 1)")
    # The reference MC average differs from the eval prediction by > 0.05 on these
    # weights (checked below on the grader's side); 0.005 leaves a wide margin.
    eval_ref = ref.predict_proba(sd, X)
    if not np.max(np.abs(ref.mc_dropout(sd, X, 30, 5, P_DROP) - eval_ref)) > 0.05:
        fail("the grader's own check of its test weights failed (please tell the teachers)")
    if np.max(np.abs(a - eval_ref)) < 0.005:
        fail("mc_dropout_predict equals the eval-mode prediction: dropout is not active during the passes")
    b = _probs(student.mc_dropout_predict(model, X.copy(), T=30, seed=5), 12, "mc_dropout_predict")
    if not np.allclose(a, b, rtol=1e-5, atol=1e-6):
        fail("mc_dropout_predict is not reproducible: two calls with seed=5 disagree")
    c = _probs(student.mc_dropout_predict(model, X.copy(), T=30, seed=6), 12, "mc_dropout_predict")
    if np.max(np.abs(a - c)) < 1e-4:
        fail("mc_dropout_predict gives the same result for seeds 5 and 6: is the seed used?")


@pytest.mark.points(3)
def test_ensemble_predict(student):
    """The ensemble prediction averages the members' probabilities.

    Three members with fixed, different weights (and a one-member ensemble), 10 random
    images: compared with the mean of the members' eval-mode softmax outputs (averaging
    logits and then taking the softmax gives a different answer).
    """
    sds = [ref.state_dict(N_HIDDEN, seed=s) for s in (40, 41, 42)]
    models = [_model(student, sd) for sd in sds]
    X = ref.raw_pixels(10, 43)
    for m in models:
        m.train()
    check_close(student.ensemble_predict(models, X.copy()), ref.ensemble(sds, X),
                "ensemble_predict of three members", rtol=1e-5, atol=1e-6)
    check_close(student.ensemble_predict(models[:1], X.copy()), ref.predict_proba(sds[0], X),
                "ensemble_predict of a one-member ensemble", rtol=1e-5, atol=1e-6)


def _synthetic_task(n=200, seed=2027):
    """An easily learnable 10-class problem in raw-pixel range (no labelled digit reaches the student)."""
    rng = np.random.default_rng(seed)
    centers = rng.uniform(0.0, 16.0, size=(10, 64))
    y = np.arange(n, dtype=np.int64) % 10
    rng.shuffle(y)
    X = np.clip(centers[y] + rng.normal(0.0, 2.0, size=(n, 64)), 0.0, 16.0).astype(np.float32)
    return X, y


def _weights(member, what):
    sd = {}
    for layer in ("fc1", "fc2"):
        for kind in ("weight", "bias"):
            sd[f"{layer}.{kind}"] = to_array(getattr(getattr(member, layer), kind), f"{what}.{layer}.{kind}")
    if sd["fc1.weight"].shape != (128, 64) or sd["fc2.weight"].shape != (10, 128):
        fail(f"{what} is not a default-size DropoutMLP() (fc1: 64 -> 128, fc2: 128 -> 10)")
    return sd


@pytest.mark.points(2)
def test_train_ensemble(student):
    """train_ensemble trains M different members, reproducibly.

    train_ensemble(X, y, M=3, seed=5, epochs=3) on an easy synthetic task: three
    default-size DropoutMLPs, each fitting the training data, no two alike (each member has
    its own seed), and a second call with the same seed gives the same members
    (tolerance rtol 1e-4, atol 1e-5, as on a GPU the same training can round differently).
    """
    import torch

    X, y = _synthetic_task()
    runs = []
    for _ in range(2):
        members = student.train_ensemble(X.copy(), y.copy(), M=3, seed=5, epochs=3)
        try:
            members = list(members)
        except TypeError:
            fail("train_ensemble must return a list of models")
        if len(members) != 3:
            fail(f"train_ensemble(..., M=3) returned {len(members)} members, expected 3")
        runs.append([_weights(m, f"train_ensemble member {i}") for i, m in enumerate(members)])
    first, second = runs
    for i, sd in enumerate(first):
        tsd = {k: torch.as_tensor(v, dtype=torch.float32) for k, v in sd.items()}
        accuracy = float(np.mean(ref.predict_proba(tsd, X).argmax(axis=1) == y))
        if accuracy < 0.6:
            fail(f"train_ensemble member {i} does not fit the training data: is it trained?")
    for i in range(3):
        for j in range(i + 1, 3):
            if np.max(np.abs(first[i]["fc1.weight"] - first[j]["fc1.weight"])) < 1e-3:
                fail(f"train_ensemble members {i} and {j} are the same network: each member needs its own seed")
    for i, (sd_a, sd_b) in enumerate(zip(first, second)):
        for key in sd_a:
            if not np.allclose(sd_a[key], sd_b[key], rtol=1e-4, atol=1e-5):
                fail(f"train_ensemble is not reproducible: member {i} differs between two calls with seed=5")
