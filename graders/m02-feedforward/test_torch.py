"""Hidden tests, part 2: the PyTorch model (HIDDEN, not shipped).

Models live in the student process; the judge holds handles to them and only ever
compares values (tensors, arrays, floats) that came back, never the handles themselves.
Held-out labels stay in the judge: only held-out pixels are sent to the student.
"""

import math

import numpy as np
import pytest
import reference as ref
import torch
from handin.checks import check_close, fail, to_array, to_float

N_HIDDEN = 32


def _synthetic_task(n=320, seed=2024):
    """A small, easily learnable 10-class problem with inputs in [0, 1] (like preprocessed digits).

    Generated here so that no labelled digit ever reaches the student process.
    """
    rng = np.random.default_rng(seed)
    centers = rng.uniform(0.0, 1.0, size=(10, 64))
    y = np.arange(n, dtype=np.int64) % 10
    rng.shuffle(y)
    X = np.clip(centers[y] + rng.normal(0.0, 0.15, size=(n, 64)), 0.0, 1.0).astype(np.float32)
    return X, y


def _fresh_model(student, state_dict):
    model = student.MLP(64, N_HIDDEN, 10)
    model.load_state_dict({k: v.clone() for k, v in state_dict.items()})
    return model


def _losses(value, epochs):
    if not isinstance(value, (list, tuple)):
        fail(f"train_model returned a {type(value).__name__}, expected a list of per-epoch losses")
    if len(value) != epochs:
        fail(f"train_model(..., epochs={epochs}) returned {len(value)} losses, expected {epochs}")
    return [to_float(v, "train_model (a per-epoch loss)") for v in value]


def _weights(model):
    return [to_array(model.fc1.weight, "model.fc1.weight"), to_array(model.fc2.weight, "model.fc2.weight")]


@pytest.mark.points(1)
def test_mlp_layers(student):
    """MLP has exactly the two linear layers asked for."""
    model = student.MLP(64, N_HIDDEN, 10)
    expected = {
        "fc1.weight": (N_HIDDEN, 64), "fc1.bias": (N_HIDDEN,),
        "fc2.weight": (10, N_HIDDEN), "fc2.bias": (10,),
    }
    got = {
        "fc1.weight": model.fc1.weight, "fc1.bias": model.fc1.bias,
        "fc2.weight": model.fc2.weight, "fc2.bias": model.fc2.bias,
    }
    for name, shape in expected.items():
        value = to_array(got[name], f"MLP(64, {N_HIDDEN}, 10).{name}")
        if value.shape != shape:
            fail(f"MLP(64, {N_HIDDEN}, 10).{name} has shape {value.shape}, expected {shape}")
    params = model.parameters()
    try:
        params = list(params)
    except TypeError:
        fail("MLP.parameters() is not iterable")
    n_params = sum(to_array(p, "MLP.parameters()").size for p in params)
    expected_n = sum(math.prod(s) for s in expected.values())
    if n_params != expected_n:
        fail(f"MLP(64, {N_HIDDEN}, 10) has {n_params} parameters, expected {expected_n} (fc1 and fc2 only)")


@pytest.mark.points(2)
def test_mlp_forward(student):
    """MLP forward pass gives the reference logits."""
    state_dict = ref.reference_state_dict(64, N_HIDDEN, 10)
    model = _fresh_model(student, state_dict)
    g = torch.Generator().manual_seed(7)
    for n in (9, 1):
        x = torch.rand((n, 64), generator=g, dtype=torch.float32)
        out = model(x.clone())
        expected = ref.reference_logits(state_dict, x).numpy()
        check_close(out, expected, f"MLP forward (logits) on a batch of {n}", rtol=1e-4, atol=1e-5)


@pytest.mark.points(2)
def test_train_model_reduces_loss(student):
    """Training lowers the loss and learns a simple task."""
    X, y = _synthetic_task()
    model = _fresh_model(student, ref.reference_state_dict(64, N_HIDDEN, 10))
    losses = _losses(student.train_model(model, X, y, epochs=5, seed=0), 5)
    if not losses[0] < 5.0:
        fail(f"the first epoch's loss is {losses[0]:.3g}; expected a mean cross-entropy (about 2.3 at the start)")
    if not losses[-1] < losses[0]:
        fail("the training loss did not decrease over 5 epochs")


@pytest.mark.points(1)
def test_train_model_deterministic(student):
    """Training with the same seed gives the same model."""
    X, y = _synthetic_task()
    state_dict = ref.reference_state_dict(64, N_HIDDEN, 10)
    initial = [state_dict["fc1.weight"].numpy().astype(np.float64), state_dict["fc2.weight"].numpy().astype(np.float64)]
    runs = []
    for _ in range(2):
        model = _fresh_model(student, state_dict)
        losses = _losses(student.train_model(model, X, y, epochs=3, seed=0), 3)
        runs.append((losses, _weights(model)))
    (losses_a, weights_a), (losses_b, weights_b) = runs
    if all(np.array_equal(w, w0) for w, w0 in zip(weights_a, initial)):
        fail("train_model did not change the model's weights")
    if not np.allclose(losses_a, losses_b, rtol=1e-6, atol=1e-7):
        fail("train_model is not deterministic: two runs with seed=0 returned different losses")
    for w_a, w_b in zip(weights_a, weights_b):
        if w_a.shape != w_b.shape or not np.allclose(w_a, w_b, rtol=1e-5, atol=1e-6):
            fail("train_model is not deterministic: two runs with seed=0 ended with different weights")


@pytest.mark.points(4)
def test_heldout_accuracy(student, credit):
    """Trained model's accuracy on held-out digits."""
    X, y = ref.load_heldout()
    model = student.model
    w1 = to_array(model.fc1.weight, "model.fc1.weight")
    w2 = to_array(model.fc2.weight, "model.fc2.weight")
    if w1.ndim != 2 or w1.shape[1] != 64 or w2.ndim != 2 or w2.shape[0] != 10:
        fail("`model` must be a trained MLP(64, n_hidden, 10)")
    preds = to_array(student.predict(model, X.copy()), "predict")
    if preds.shape != y.shape:
        fail(f"predict returned shape {preds.shape}, expected {y.shape}")
    if not np.all(np.isfinite(preds)) or not np.array_equal(preds, np.round(preds)):
        fail("predict must return integer class labels")
    accuracy = float(np.mean(preds == y))
    # predict must use the model it is given: an untrained MLP with fixed random weights
    # scores about chance. (The digits ship with scikit-learn, so a predict that ignores
    # the model and looks the pixels up would otherwise score ~100%.)
    untrained = _fresh_model(student, ref.reference_state_dict(64, N_HIDDEN, 10))
    chance = to_array(student.predict(untrained, X.copy()), "predict")
    if chance.shape != y.shape or float(np.mean(chance == y)) > 0.5:
        fail("predict does not depend on the model it is given")
    if accuracy < 0.80:
        fail(f"held-out accuracy {accuracy:.3f} is below 0.80")
    credit(min(1.0, (accuracy - 0.80) / 0.15), f"held-out accuracy {accuracy:.3f} (full marks from 0.95)")
