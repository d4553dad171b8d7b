"""Hidden tests, part 1: dropout (HIDDEN, not shipped).

Dropout is random and a correct layer may draw its mask any way it likes from its own
seeded generator, so nothing here compares with a fixed mask. Evaluation mode is checked
exactly (bit for bit); training mode is checked exactly where the maths is exact (kept
units equal x / (1 - p), backward reuses the forward mask) and statistically where it is
random: the fraction of dropped units over 100 000 draws must be within 0.01 of p (the
binomial standard deviation is at most 0.0016, so 0.01 is more than 6 of them) and the
mean of a dropped-out array of ones within 0.025 of 1 (at least 6 standard deviations for
the p used). The seeds are fixed, so each implementation gets the same result every run.
"""

import numpy as np
import pytest
import reference as ref
from handin.checks import check_close, fail, to_array


def _forward(layer, x, what):
    out = to_array(layer.forward(x.copy()), what)
    if out.shape != x.shape:
        fail(f"{what} returned shape {out.shape}, expected {x.shape}")
    if not np.all(np.isfinite(out)):
        fail(f"{what} contains NaN or inf")
    return out


def _nonzero_input(shape, seed):
    rng = np.random.default_rng(seed)
    return rng.uniform(0.5, 2.0, size=shape) * rng.choice([-1.0, 1.0], size=shape)


@pytest.mark.points(1)
def test_dropout_eval_is_identity(student):
    """Dropout is switched off in eval mode.

    After eval(), forward must return its input unchanged (bit for bit, on every call) and
    backward must pass the incoming gradient through unchanged; train() switches it back on.
    """
    x = _nonzero_input((50, 40), 201)
    dout = _nonzero_input((50, 40), 202)
    for p in (0.3, 0.7):
        layer = student.Dropout(p, 5)
        layer.eval()
        for call in range(2):
            out = _forward(layer, x, f"Dropout(p={p}) in eval mode")
            if not np.array_equal(out, x):
                fail(f"Dropout(p={p}).forward(x) in eval mode does not return x unchanged "
                     "(dropout must be off, and nothing rescaled, at evaluation)")
        dx = to_array(layer.backward(dout.copy()), f"Dropout(p={p}).backward in eval mode")
        if dx.shape != dout.shape or not np.array_equal(dx, dout):
            fail(f"Dropout(p={p}).backward(dout) in eval mode does not return dout unchanged")
        layer.train()
        out = _forward(layer, x, f"Dropout(p={p}) after train()")
        if not np.any(out == 0):
            fail(f"Dropout(p={p}) drops nothing after train() is called again")


@pytest.mark.points(2)
def test_dropout_drops_a_fraction_p(student):
    """While training, dropout zeroes each unit with probability p.

    Checked on 100 000 units for p = 0.1, 0.5 and 0.8 (within 0.01 of p); with p = 0
    nothing is dropped.
    """
    x = np.ones((400, 250))
    for i, p in enumerate((0.1, 0.5, 0.8)):
        out = _forward(student.Dropout(p, 10 + i), x, f"Dropout(p={p}) in training mode")
        dropped = float(np.mean(out == 0))
        if abs(dropped - p) > 0.01:
            fail(f"Dropout(p={p}) in training mode zeroed too {'many' if dropped > p else 'few'} of 100 000 "
                 "units (more than 0.01 away from p): each unit should be dropped with probability p")
    out = _forward(student.Dropout(0.0, 13), x, "Dropout(p=0) in training mode")
    if not np.allclose(out, x, rtol=ref.RTOL, atol=ref.ATOL):
        fail("Dropout(p=0) in training mode should return its input unchanged")


@pytest.mark.points(2)
def test_dropout_inverted_scaling(student):
    """Dropout scales the units it keeps by 1/(1-p), so expected values are unchanged.

    Every kept unit must equal x / (1 - p) exactly (up to rounding); the mean of
    dropout applied to 100 000 ones must be within 0.025 of 1.
    """
    x = _nonzero_input((200, 100), 203)
    for i, p in enumerate((0.25, 0.6)):
        out = _forward(student.Dropout(p, 20 + i), x, f"Dropout(p={p}) in training mode")
        kept = out != 0
        if not kept.any():
            fail(f"Dropout(p={p}) dropped every unit")
        check_close(out[kept], x[kept] / (1.0 - p), f"Dropout(p={p}) on the units it keeps",
                    rtol=ref.RTOL, atol=ref.ATOL)
        mean = float(np.mean(_forward(student.Dropout(p, 30 + i), np.ones((400, 250)),
                                      f"Dropout(p={p}) in training mode")))
        if abs(mean - 1.0) > 0.025:
            fail(f"the mean of Dropout(p={p}) applied to 100 000 ones is {'above' if mean > 1 else 'below'} 1 "
                 "by more than 0.025: inverted dropout keeps the expected value of every unit")


@pytest.mark.points(1)
def test_dropout_seeded(student):
    """Dropout's masks come from its seed and are fresh on every call.

    Two layers with the same seed give the same masks, a different seed gives different
    ones, and two calls of the same layer draw two different masks.
    """
    x = np.ones((20, 50))
    a, b, c = student.Dropout(0.5, 7), student.Dropout(0.5, 7), student.Dropout(0.5, 8)
    a1, a2 = _forward(a, x, "Dropout(p=0.5)"), _forward(a, x, "Dropout(p=0.5)")
    b1, c1 = _forward(b, x, "Dropout(p=0.5)"), _forward(c, x, "Dropout(p=0.5)")
    if not np.array_equal(a1, b1):
        fail("two Dropout layers with the same seed gave different masks (use the layer's own self.rng)")
    if np.array_equal(a1, a2):
        fail("two forward calls of one Dropout layer gave the same mask (draw a fresh mask every call)")
    if np.array_equal(a1, c1):
        fail("Dropout layers with seeds 7 and 8 gave the same mask")


@pytest.mark.points(2)
def test_dropout_backward(student):
    """Dropout's backward pass uses the mask and scale of its forward pass.

    In training mode the gradient is dout times the same factor (0 or 1/(1-p)) that forward
    applied to each unit, for the latest forward call.
    """
    for i, p in enumerate((0.4, 0.0)):
        layer = student.Dropout(p, 40 + i)
        for call in range(2):          # the second call must use the second mask
            x = _nonzero_input((30, 40), 210 + 2 * i + call)
            dout = _nonzero_input((30, 40), 220 + 2 * i + call)
            out = _forward(layer, x, f"Dropout(p={p}) in training mode")
            dx = layer.backward(dout.copy())
            check_close(dx, dout * (out / x), f"Dropout(p={p}).backward", rtol=ref.RTOL, atol=ref.ATOL)
