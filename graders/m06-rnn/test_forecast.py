"""Hidden tests, part 4: the sunspot forecaster on the held-out years 1949-2008 (HIDDEN).

The held-out values stay in the judge. It sends predict_next one window of 24 true past
values at a time, in time order, so that no window it has sent contains a value that is
still to be forecast; it keeps the targets and computes the RMSE itself.
"""

import numpy as np
import pytest
import reference as ref
from handin.checks import fail, to_array


def _forecasts(student, model, windows, what):
    out = to_array(student.predict_next(model, windows.copy()), what)
    if out.shape != (len(windows),):
        fail(f"{what} returned shape {out.shape}, expected ({len(windows)},)")
    if not np.all(np.isfinite(out)):
        fail(f"{what} returned NaN or inf")
    return out


def _synthetic_windows(n, seed):
    """Sunspot-like windows (a noisy 11-year cycle, values 0..~160), not from the real series."""
    rng = np.random.default_rng(seed)
    t = np.arange(ref.WINDOW)[None, :] + rng.uniform(0, 11, size=(n, 1))
    height = rng.uniform(40, 150, size=(n, 1))
    return np.clip(height * (0.5 + 0.5 * np.sin(2 * np.pi * t / 11.0)) + rng.normal(0, 5, (n, ref.WINDOW)),
                   0, None).astype(np.float32)


@pytest.mark.points(1)
def test_predict_next_batches(student):
    """predict_next gives one forecast per window, the same in a batch as alone.

    Eight synthetic windows as one batch and then one at a time (tolerance 1e-3 in
    sunspot units: batched and single kernels may round differently, more so on a GPU).
    """
    model = student.forecaster
    windows = _synthetic_windows(8, seed=90)
    batch = _forecasts(student, model, windows, "predict_next on a batch of 8 windows")
    for k in range(len(windows)):
        single = _forecasts(student, model, windows[k:k + 1], "predict_next on one window")
        if abs(single[0] - batch[k]) > 1e-3 + 1e-4 * abs(batch[k]):
            fail("predict_next gives a different forecast for a window alone than in a batch")


@pytest.mark.points(6)
def test_forecast_heldout(student, credit):
    """The forecaster beats the naive forecast on the held-out years 1949-2008.

    One-step-ahead forecasts for 60 held-out years, scored by RMSE: no points unless it
    is at least 10% below the naive last-value forecast's (about 33), full marks from 22,
    linear in between.
    """
    windows, targets, _ = ref.load_heldout()
    model = student.forecaster
    preds = np.array([_forecasts(student, model, windows[k:k + 1], "predict_next")[0]
                      for k in range(len(windows))])
    # predict_next must use the model it is given: the full series ships with statsmodels,
    # so a predict_next that looks the windows up would otherwise score perfectly.
    untrained = student.Forecaster()
    try:
        untrained = untrained.to(student.device)
    except Exception:
        pass
    other = _forecasts(student, untrained, windows, "predict_next with an untrained Forecaster()")
    if np.max(np.abs(other - preds)) < 1e-3:
        fail("predict_next gives the same forecasts for an untrained Forecaster(): it does not use its model")
    score = ref.rmse(preds, targets)
    naive = ref.rmse(windows[:, -1], targets)
    zero = ref.NAIVE_MARGIN * naive
    if score >= zero:
        fail(f"held-out RMSE {score:.2f} is not at least 10% below the naive forecast's ({naive:.2f})")
    fraction = min(1.0, (zero - score) / (zero - ref.FULL_RMSE))
    credit(fraction, f"held-out RMSE {score:.2f} (naive {naive:.2f}; full marks from {ref.FULL_RMSE:.0f})")
