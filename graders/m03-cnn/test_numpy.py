"""Hidden tests, part 1: convolution and pooling in numpy (HIDDEN, not shipped).

Every function is compared with PyTorch itself (F.conv2d, F.unfold, F.max_pool2d and its
autograd backward, all in float64) on seeded random inputs. Tolerances are the fp32
defaults rtol 1e-5, atol 1e-6: a float64 implementation agrees to ~1e-14, and one that
computes in float32 still passes (sums of <= 100 products of O(1) numbers).
"""

import numpy as np
import pytest
import reference as ref
from handin.checks import check_close

RTOL, ATOL = 1e-5, 1e-6

# (N, C, H, W), (F, KH, KW), stride, padding: square and non-square kernels, rectangular
# images, strides that do not divide the size (the floor in the output size matters).
BASIC = [((2, 3, 7, 6), (4, 3, 2), 1, 0), ((1, 1, 5, 5), (2, 3, 3), 1, 0), ((3, 2, 6, 9), (3, 1, 4), 1, 0)]
STRIDE_PAD = [((2, 3, 7, 6), (4, 3, 3), 2, 1), ((1, 2, 8, 8), (3, 3, 3), 1, 2), ((2, 1, 9, 7), (2, 2, 3), 3, 1),
              ((1, 3, 6, 5), (5, 1, 1), 2, 0), ((2, 2, 5, 8), (3, 5, 3), 2, 2)]


def _draw(shape, kernel, seed):
    rng = np.random.default_rng(seed)
    n, c, h, w = shape
    f, kh, kw = kernel
    return rng.normal(size=(n, c, h, w)), rng.normal(size=(f, c, kh, kw)), rng.normal(size=f)


def _describe(shape, kernel, stride, padding):
    return f"x {shape}, w {(kernel[0], shape[1], kernel[1], kernel[2])}, stride {stride}, padding {padding}"


def _check_conv(student_fn, name, cases, seed0):
    for k, (shape, kernel, stride, padding) in enumerate(cases):
        x, w, b = _draw(shape, kernel, seed0 + k)
        check_close(student_fn(x.copy(), w.copy(), b.copy(), stride, padding),
                    ref.torch_conv2d(x, w, b, stride, padding),
                    f"{name} ({_describe(shape, kernel, stride, padding)})", rtol=RTOL, atol=ATOL)


@pytest.mark.points(1)
def test_conv2d_naive_basic(student):
    """conv2d_naive matches torch's conv2d (stride 1, no padding).

    Several channels and filters, square and non-square kernels, rectangular images.
    """
    _check_conv(student.conv2d_naive, "conv2d_naive", BASIC, 300)


@pytest.mark.points(2)
def test_conv2d_naive_stride_padding(student):
    """conv2d_naive matches torch's conv2d with strides and zero padding.

    Strides 1-3 (also ones that do not divide the image size) and padding 0-2.
    """
    _check_conv(student.conv2d_naive, "conv2d_naive", STRIDE_PAD, 310)


@pytest.mark.points(2)
def test_im2col(student):
    """im2col has the layout of torch's unfold.

    Shape (N, C*KH*KW, Ho*Wo), rows ordered by (channel, kernel row, kernel column),
    columns by output position; with strides and padding.
    """
    for k, (shape, kernel, stride, padding) in enumerate(BASIC[:1] + STRIDE_PAD):
        x, _, _ = _draw(shape, kernel, 320 + k)
        _, kh, kw = kernel
        check_close(student.im2col(x.copy(), kh, kw, stride, padding), ref.torch_unfold(x, kh, kw, stride, padding),
                    f"im2col (x {shape}, kernel {kh}x{kw}, stride {stride}, padding {padding})", rtol=RTOL, atol=ATOL)


@pytest.mark.points(2)
def test_conv2d_im2col(student):
    """conv2d_im2col matches torch's conv2d, with and without stride and padding."""
    _check_conv(student.conv2d_im2col, "conv2d_im2col", BASIC + STRIDE_PAD, 330)


@pytest.mark.points(2)
def test_maxpool2d(student):
    """maxpool2d matches torch's max_pool2d (non-overlapping windows).

    Window sizes 2 and 3 with stride = size (the default), including sizes that leave
    rows and columns over (they are dropped), and negative inputs.
    """
    for k, (shape, size) in enumerate([((2, 3, 8, 8), 2), ((1, 2, 7, 9), 2), ((2, 1, 9, 6), 3), ((1, 4, 5, 5), 3)]):
        x = ref.distinct_windows(shape, size, size, 340 + k)
        check_close(student.maxpool2d(x.copy(), size), ref.torch_maxpool(x, size, size),
                    f"maxpool2d (x {shape}, size {size})", rtol=RTOL, atol=ATOL)


@pytest.mark.points(1)
def test_maxpool2d_overlapping(student):
    """maxpool2d matches torch's max_pool2d with overlapping windows (stride < size)."""
    for k, (shape, size, stride) in enumerate([((2, 2, 7, 7), 3, 2), ((1, 3, 6, 8), 2, 1), ((1, 1, 9, 8), 3, 1)]):
        x = ref.distinct_windows(shape, size, stride, 350 + k)
        check_close(student.maxpool2d(x.copy(), size, stride), ref.torch_maxpool(x, size, stride),
                    f"maxpool2d (x {shape}, size {size}, stride {stride})", rtol=RTOL, atol=ATOL)


@pytest.mark.points(2)
def test_maxpool2d_backward(student):
    """maxpool2d_backward matches torch's autograd gradient of max_pool2d.

    Non-overlapping and overlapping windows (where an input that is the maximum of
    several windows collects all their gradients); inputs without ties.
    """
    for k, (shape, size, stride) in enumerate([((2, 3, 8, 8), 2, 2), ((1, 2, 7, 9), 3, 3),
                                               ((2, 2, 7, 7), 3, 2), ((1, 3, 6, 8), 2, 1)]):
        x = ref.distinct_windows(shape, size, stride, 360 + k)
        out_shape = ref.torch_maxpool(x, size, stride).shape
        dout = np.random.default_rng(370 + k).normal(size=out_shape)
        check_close(student.maxpool2d_backward(dout.copy(), x.copy(), size, stride),
                    ref.torch_maxpool_backward(dout, x, size, stride),
                    f"maxpool2d_backward (x {shape}, size {size}, stride {stride})", rtol=RTOL, atol=ATOL)
