"""Public tests for m06-rnn (shipped to students).

These are a few of the autograder's tests. The autograder runs your notebook top to
bottom and gives each test a ``student`` object: ``student.RNNCell(3, 5)`` builds the
``RNNCell`` your notebook defined. The hidden tests compare your cells with torch's,
your BPTT gradients with central differences, your clipping with
torch.nn.utils.clip_grad_norm_, and your forecaster with the true held-out sunspot numbers.
"""

import numpy as np
import pytest
import torch


def _array(value, what):
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu().numpy()
    try:
        return np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        pytest.fail(f"{what} did not return a numeric array or tensor", pytrace=False)


@pytest.mark.points(1)
def test_rnn_cell_shape(student):
    """RNN cell: output shape and range.

    RNNCell(3, 5) on a batch of 4 returns a (4, 5) hidden state with values in (-1, 1).
    """
    torch.manual_seed(0)
    cell = student.RNNCell(3, 5)
    h = _array(cell(torch.randn(4, 3), torch.randn(4, 5)), "RNNCell.forward")
    if h.shape != (4, 5):
        pytest.fail(f"RNNCell(3, 5) on a batch of 4 returned shape {h.shape}, expected (4, 5)", pytrace=False)
    if not np.all(np.abs(h) < 1.0):
        pytest.fail("a tanh RNN's hidden state must lie in (-1, 1)", pytrace=False)


@pytest.mark.points(1)
def test_lstm_cell_shapes(student):
    """LSTM cell: returns the pair (h_next, c_next) of the right shapes.

    LSTMCell(3, 5) on a batch of 4 from zero states; h_next must lie in (-1, 1).
    """
    torch.manual_seed(0)
    cell = student.LSTMCell(3, 5)
    out = cell(torch.randn(4, 3), (torch.zeros(4, 5), torch.zeros(4, 5)))
    if not isinstance(out, (tuple, list)) or len(out) != 2:
        pytest.fail("LSTMCell.forward must return a pair (h_next, c_next)", pytrace=False)
    h, c = _array(out[0], "LSTMCell.forward (h_next)"), _array(out[1], "LSTMCell.forward (c_next)")
    for name, value in (("h_next", h), ("c_next", c)):
        if value.shape != (4, 5):
            pytest.fail(f"LSTMCell(3, 5): {name} has shape {value.shape}, expected (4, 5)", pytrace=False)
    if not np.all(np.abs(h) < 1.0):
        pytest.fail("h_next = o * tanh(c_next) must lie in (-1, 1)", pytrace=False)


@pytest.mark.points(1)
def test_predict_next_shape(student):
    """Forecaster: one finite forecast per window.

    predict_next(forecaster, windows) on 5 windows of 24 values returns 5 finite numbers.
    """
    t = np.arange(24)[None, :] + np.arange(5)[:, None]
    windows = (60.0 + 50.0 * np.sin(2 * np.pi * t / 11.0)).astype(np.float32)
    out = _array(student.predict_next(student.forecaster, windows), "predict_next")
    if out.shape != (5,):
        pytest.fail(f"predict_next on 5 windows returned shape {out.shape}, expected (5,)", pytrace=False)
    if not np.all(np.isfinite(out)):
        pytest.fail("predict_next returned NaN or inf", pytrace=False)
