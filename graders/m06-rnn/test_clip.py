"""Hidden tests, part 3: gradient clipping by global norm (HIDDEN, not shipped).

Compared with torch.nn.utils.clip_grad_norm_ applied to copies of the same tensors
(float32: rtol 1e-5, atol 1e-6; torch's 1e-6 in the denominator changes a clipped
gradient by less than 1e-6 relative, so a student's variant without it passes too).
"""

import pytest
import reference as ref
import torch
from handin.checks import check_close, fail, to_float


def _tensors(seed, shapes, scales):
    return [ref.randn(shape, seed + i, scale=s) for i, (shape, s) in enumerate(zip(shapes, scales))]


def _clip(student, grads, max_norm, what):
    out = student.clip_grad_norm([g.clone() for g in grads], max_norm)
    if not isinstance(out, (tuple, list)) or len(out) != 2:
        fail(f"{what}: clip_grad_norm must return a pair (clipped, total_norm)")
    clipped, total = out
    if not isinstance(clipped, (tuple, list)) or len(clipped) != len(grads):
        fail(f"{what}: clip_grad_norm must return a list with one tensor per gradient")
    return clipped, to_float(total, f"{what}: clip_grad_norm's total_norm")


def _compare(student, grads, max_norm, what):
    clipped, total = _clip(student, grads, max_norm, what)
    expected, expected_total = ref.clip_reference(grads, max_norm)
    if abs(total - expected_total) > 1e-5 * abs(expected_total) + 1e-6:
        fail(f"{what}: total_norm is not the global L2 norm of all gradients before clipping")
    for k, (c, e) in enumerate(zip(clipped, expected)):
        check_close(c, e, f"{what}: clipped gradient {k}", rtol=1e-5, atol=1e-6)


@pytest.mark.points(2)
def test_clip_matches_torch(student):
    """Clipping by global norm matches torch.nn.utils.clip_grad_norm_.

    Tensors of different shapes whose global norm is above max_norm (some of them alone
    are below it): every tensor must be scaled by the same factor max_norm / total_norm,
    and the norm before clipping returned.
    """
    shapes = [(4, 3), (3,), (2, 2, 5)]
    _compare(student, _tensors(50, shapes, (1.0, 0.5, 2.0)), 1.0, "global norm ~9, max_norm 1")
    _compare(student, _tensors(60, shapes, (1.0, 1.0, 1.0)), 4.0, "global norm ~6, max_norm 4")
    _compare(student, _tensors(70, [(16, 8), (8,)], (3.0, 3.0)), 0.5, "two tensors, max_norm 0.5")


@pytest.mark.points(1)
def test_clip_leaves_small_gradients(student):
    """Gradients whose global norm is below max_norm are returned unchanged.

    Also all-zero gradients: returned as zeros (no division by zero, no NaN), total norm 0.
    """
    shapes = [(4, 3), (3,), (2, 5)]
    _compare(student, _tensors(80, shapes, (0.1, 0.1, 0.1)), 5.0, "global norm ~0.6, max_norm 5")
    zeros = [torch.zeros(s) for s in shapes]
    clipped, total = _clip(student, zeros, 1.0, "all-zero gradients")
    if total != 0.0:
        fail("all-zero gradients: total_norm should be 0")
    for k, c in enumerate(clipped):
        check_close(c, zeros[k].numpy(), f"all-zero gradients: clipped gradient {k}", rtol=0, atol=0)
