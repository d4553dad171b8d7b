"""Hidden tests, part 1: the RNN and LSTM cells against torch (HIDDEN, not shipped).

The judge builds torch.nn.RNNCell / LSTMCell with fixed weights, loads the same weights
into the student's cell (load_state_dict: the starter gives torch's parameter names and
shapes) and compares outputs. float32 throughout: rtol 1e-5, atol 1e-6; the student's
matmuls may be ordered differently from torch's fused kernels, which moves results by
~1e-7, and a wrong gate order, a missing bias or a missing tanh moves them by 1e-2 or more.
"""

import pytest
import reference as ref
import torch
from handin.checks import check_close, fail

IN, HID = 3, 5


def _student_cell(student, kind, theirs):
    cls = {"rnn": student.RNNCell, "lstm": student.LSTMCell}[kind]
    cell = cls(IN, HID)
    cell.load_state_dict(ref.state_dict_of(theirs))
    return cell


def _pair(value, what):
    if not isinstance(value, (tuple, list)) or len(value) != 2:
        fail(f"{what} must return a pair (h_next, c_next)")
    return value


def _lstm_step(student, batch, seed):
    theirs = ref.torch_cell("lstm", IN, HID, seed)
    mine = _student_cell(student, "lstm", theirs)
    x, h, c = ref.randn((batch, IN), seed + 1), ref.randn((batch, HID), seed + 2), ref.randn((batch, HID), seed + 3)
    with torch.no_grad():
        expected = theirs(x, (h, c))
    return _pair(mine(x.clone(), (h.clone(), c.clone())), "LSTMCell.forward"), expected


@pytest.mark.points(2)
def test_rnn_cell_matches_torch(student):
    """RNN cell matches torch.nn.RNNCell.

    Same weights, a batch of 4 and a batch of 1, with a non-zero hidden state: the output
    must be tanh(x W_ih^T + b_ih + h W_hh^T + b_hh), using both biases.
    """
    theirs = ref.torch_cell("rnn", IN, HID, seed=11)
    mine = _student_cell(student, "rnn", theirs)
    for batch, seed in ((4, 12), (1, 13)):
        x, h = ref.randn((batch, IN), seed), ref.randn((batch, HID), seed + 100)
        with torch.no_grad():
            expected = theirs(x, h)
        check_close(mine(x.clone(), h.clone()), expected, f"RNNCell output (batch of {batch})",
                    rtol=1e-5, atol=1e-6)


@pytest.mark.points(1)
def test_lstm_cell_state_matches_torch(student):
    """LSTM cell: the new cell state matches torch.nn.LSTMCell.

    One step from a non-zero (h, c): c_next = f * c + i * g with the gates in torch's
    order i, f, g, o.
    """
    for batch, seed in ((4, 21), (1, 31)):
        (h_next, c_next), (_, c_expected) = _lstm_step(student, batch, seed)
        check_close(c_next, c_expected, f"LSTMCell c_next (batch of {batch})", rtol=1e-5, atol=1e-6)


@pytest.mark.points(2)
def test_lstm_cell_hidden_matches_torch(student):
    """LSTM cell: the new hidden state matches torch.nn.LSTMCell.

    One step from a non-zero (h, c): h_next = o * tanh(c_next).
    """
    for batch, seed in ((4, 21), (1, 31)):
        (h_next, c_next), (h_expected, _) = _lstm_step(student, batch, seed)
        check_close(h_next, h_expected, f"LSTMCell h_next (batch of {batch})", rtol=1e-5, atol=1e-6)


@pytest.mark.points(1)
def test_lstm_cell_over_a_sequence(student):
    """LSTM cell run over a sequence of 8 steps matches torch.

    Starting from zero states, each step feeds the cell its own previous (h, c); both
    states are compared after every step.
    """
    theirs = ref.torch_cell("lstm", IN, HID, seed=41)
    mine = _student_cell(student, "lstm", theirs)
    xs = ref.randn((8, 2, IN), 42, scale=1.5)
    h = c = torch.zeros(2, HID)
    h_ref = c_ref = torch.zeros(2, HID)
    for t in range(len(xs)):
        h, c = _pair(mine(xs[t].clone(), (h, c)), "LSTMCell.forward")
        with torch.no_grad():
            h_ref, c_ref = theirs(xs[t], (h_ref, c_ref))
        h = torch.as_tensor(check_close(h, h_ref, f"LSTM h after step {t + 1}", rtol=1e-5, atol=1e-6),
                            dtype=torch.float32)
        c = torch.as_tensor(check_close(c, c_ref, f"LSTM c after step {t + 1}", rtol=1e-5, atol=1e-6),
                            dtype=torch.float32)
