"""Public tests for m03-cnn (shipped to students).

These are a few of the autograder's tests. The autograder runs your notebook top to
bottom and gives each test a ``student`` object: ``student.conv2d_naive(x, w, b)`` calls
the ``conv2d_naive`` your notebook defined. The hidden tests check the remaining
functions in the same way, against PyTorch on random inputs with strides and padding, and
score your trained models on held-out digits.
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
        pytest.fail(f"{what} did not return a numeric array", pytrace=False)


# x = [[0, 1, 2], [3, 4, 5], [6, 7, 8]], w = [[1, 2], [0, -1]], b = 0.5:
# out[i, j] = x[i, j] + 2 x[i, j+1] - x[i+1, j+1] + 0.5
X_SMALL = np.arange(9, dtype=np.float64).reshape(1, 1, 3, 3)
W_SMALL = np.array([[[[1.0, 2.0], [0.0, -1.0]]]])
B_SMALL = np.array([0.5])
OUT_SMALL = np.array([[[[-1.5, 0.5], [4.5, 6.5]]]])


def _check_small_conv(out, what):
    out = _array(out, what)
    if out.shape != (1, 1, 2, 2):
        pytest.fail(f"{what} returned shape {out.shape}, expected (1, 1, 2, 2)", pytrace=False)
    if not np.allclose(out, OUT_SMALL):
        pytest.fail(f"{what} on the 3x3 example should be [[-1.5, 0.5], [4.5, 6.5]] "
                    "(cross-correlation: the kernel is not flipped)", pytrace=False)


@pytest.mark.points(1)
def test_conv2d_naive_small_example(student):
    """conv2d_naive on a 3x3 example worked out by hand.

    x = [[0, 1, 2], [3, 4, 5], [6, 7, 8]], the 2x2 kernel [[1, 2], [0, -1]] and bias 0.5
    give [[-1.5, 0.5], [4.5, 6.5]] (stride 1, no padding).
    """
    _check_small_conv(student.conv2d_naive(X_SMALL, W_SMALL, B_SMALL, 1, 0), "conv2d_naive")


@pytest.mark.points(1)
def test_conv2d_im2col_small_example(student):
    """conv2d_im2col on the same 3x3 example."""
    _check_small_conv(student.conv2d_im2col(X_SMALL, W_SMALL, B_SMALL, 1, 0), "conv2d_im2col")


@pytest.mark.points(1)
def test_maxpool_small_example(student):
    """maxpool2d with 2x2 windows on a 4x4 example.

    [[1, 5, 2, 0], [3, 4, 8, 1], [0, 2, 7, 6], [9, 1, 3, 5]] pools to [[5, 8], [9, 7]].
    """
    x = np.array([[1, 5, 2, 0], [3, 4, 8, 1], [0, 2, 7, 6], [9, 1, 3, 5]], dtype=np.float64).reshape(1, 1, 4, 4)
    out = _array(student.maxpool2d(x, 2), "maxpool2d")
    if out.shape != (1, 1, 2, 2):
        pytest.fail(f"maxpool2d returned shape {out.shape}, expected (1, 1, 2, 2)", pytrace=False)
    if not np.allclose(out, np.array([[[[5.0, 8.0], [9.0, 7.0]]]])):
        pytest.fail("maxpool2d of the 4x4 example should be [[5, 8], [9, 7]]", pytrace=False)


@pytest.mark.points(1)
def test_cnn_output_shape(student):
    """CNN(10) maps a batch of 8x8 images to 10 logits each."""
    model = student.CNN(10)
    out = _array(model(torch.zeros(3, 1, 8, 8)), "CNN(10) forward")
    if out.shape != (3, 10):
        pytest.fail(f"CNN(10) returned shape {out.shape} for a (3, 1, 8, 8) batch, expected (3, 10)", pytrace=False)
