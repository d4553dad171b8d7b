"""Hidden tests, part 1: the population stability index (HIDDEN, not shipped).

Arrays are drawn here with fixed seeds. Reference samples have 1000 (or 999 + 1) values,
so that every quantile edge falls strictly between two sample points (np.quantile's
linear interpolation at a non-integer position) and no sampled value lies on an edge:
the half-open-bin convention never matters except in test_bin_proportions, which puts
values on edges on purpose (the notebook states the convention). Everything is float64;
the tolerances (rtol 1e-6, atol 1e-9) leave room for a different but exact order of
summation, nothing more.
"""

import numpy as np
import pytest
import reference as ref
from handin.checks import check_close, fail, to_array, to_float

RTOL, ATOL = 1e-6, 1e-9


def _samples(seed):
    rng = np.random.default_rng(seed)
    return [
        (rng.normal(0.0, 1.0, 1000), rng.normal(0.3, 1.2, 400), 10),        # shifted and wider
        (rng.exponential(2.0, 1000), rng.exponential(2.6, 250), 10),        # skewed
        (rng.normal(5.0, 2.0, 1000), rng.normal(5.0, 2.0, 300), 5),         # no drift, 5 bins
        (rng.uniform(-1.0, 1.0, 1000), rng.normal(0.5, 0.3, 200), 4),       # different shape
    ]


def _psi(student, reference, current, n_bins, what):
    return to_float(student.psi(reference, current, n_bins), what)


@pytest.mark.points(1)
def test_psi_bin_edges(student):
    """Bin edges are the reference sample's quantiles, with infinite outer edges."""
    for i, (reference, current, n_bins) in enumerate(_samples(1301)):
        edges = to_array(student.psi_bin_edges(reference, n_bins), "psi_bin_edges")
        expected = ref.psi_bin_edges(reference, n_bins)
        if edges.shape != expected.shape:
            fail(f"psi_bin_edges(reference, n_bins={n_bins}) has shape {edges.shape}, expected {expected.shape}")
        if not (edges[0] == -np.inf and edges[-1] == np.inf):
            fail("psi_bin_edges: the first edge must be -inf and the last +inf")
        check_close(edges[1:-1], expected[1:-1], f"psi_bin_edges(reference, n_bins={n_bins}) (interior edges)",
                    rtol=RTOL, atol=ATOL)


@pytest.mark.points(1)
def test_bin_proportions(student):
    """Proportions per bin, with values on an edge counted in the bin above it."""
    edges = np.array([-np.inf, -1.0, 0.0, 0.5, 2.0, np.inf])
    values = np.array([-3.0, -1.0, -0.5, 0.0, 0.0, 0.2, 0.5, 1.9, 2.0, 7.0, 0.25, -1.0001])
    check_close(student.bin_proportions(values, edges), ref.bin_proportions(values, edges),
                "bin_proportions (values on edges belong to the bin above)", rtol=RTOL, atol=ATOL)
    values = np.random.default_rng(1302).normal(0.0, 1.0, 333)
    got = check_close(student.bin_proportions(values, edges), ref.bin_proportions(values, edges),
                      "bin_proportions", rtol=RTOL, atol=ATOL)
    if not np.isclose(got.sum(), 1.0):
        fail("bin_proportions must sum to 1")


@pytest.mark.points(2)
def test_psi_from_proportions(student):
    """The PSI formula on given proportions, with epsilon for empty bins."""
    e = np.array([0.1, 0.2, 0.3, 0.4])
    a = np.array([0.25, 0.25, 0.25, 0.25])
    value = to_float(student.psi_from_proportions(e, a), "psi_from_proportions")
    check_close(value, ref.psi_from_proportions(e, a), "psi_from_proportions", rtol=RTOL, atol=ATOL)
    # Empty bins on either side: clipped at eps (default 1e-4, and an explicit 1e-3).
    e = np.array([0.0, 0.5, 0.3, 0.2, 0.0])
    a = np.array([0.1, 0.6, 0.0, 0.3, 0.0])
    value = to_float(student.psi_from_proportions(e, a), "psi_from_proportions with empty bins")
    check_close(value, ref.psi_from_proportions(e, a), "psi_from_proportions with empty bins (eps = 1e-4)",
                rtol=RTOL, atol=ATOL)
    value = to_float(student.psi_from_proportions(e, a, 1e-3), "psi_from_proportions(..., eps=1e-3)")
    check_close(value, ref.psi_from_proportions(e, a, 1e-3), "psi_from_proportions with eps = 1e-3",
                rtol=RTOL, atol=ATOL)


@pytest.mark.points(2)
def test_psi(student):
    """PSI of numeric samples matches the reference (bins from the reference sample)."""
    for reference, current, n_bins in _samples(1303):
        value = _psi(student, reference, current, n_bins, f"psi(reference, current, n_bins={n_bins})")
        check_close(value, ref.psi(reference, current, n_bins), f"psi(reference, current, n_bins={n_bins})",
                    rtol=RTOL, atol=ATOL)
    # Swapping the samples changes the bins, and with them the value.
    reference, current, n_bins = _samples(1304)[0]
    current = np.random.default_rng(1305).normal(0.5, 2.0, 1000)
    value = _psi(student, current, reference, 10, "psi(current, reference)")
    check_close(value, ref.psi(current, reference, 10), "psi with the roles of the samples swapped",
                rtol=RTOL, atol=ATOL)


@pytest.mark.points(1)
def test_psi_identical_is_zero(student):
    """PSI of a sample with itself (or a shuffled copy) is zero."""
    x = np.random.default_rng(1306).gamma(2.0, 1.5, 1000)
    for y, what in ((x.copy(), "a copy"), (np.random.default_rng(1307).permutation(x), "a shuffled copy")):
        value = _psi(student, x, y, 10, f"psi of a sample and {what}")
        if abs(value) > 1e-12:
            fail(f"psi of a sample and {what} of it should be 0")


@pytest.mark.points(2)
def test_psi_empty_bins(student):
    """PSI stays finite and correct when current data leave bins empty."""
    rng = np.random.default_rng(1308)
    reference = rng.normal(0.0, 1.0, 1000)
    cases = [
        (rng.normal(4.0, 0.5, 300), "a current sample far to the right (most bins empty)"),
        (reference.max() + rng.uniform(1.0, 2.0, 100), "a current sample beyond the reference's maximum"),
        (rng.uniform(-0.1, 0.1, 150), "a current sample squeezed into the middle bins"),
    ]
    for current, what in cases:
        value = to_float(student.psi(reference, current), f"psi for {what}")
        check_close(value, ref.psi(reference, current), f"psi for {what}", rtol=RTOL, atol=ATOL)


@pytest.mark.points(2)
def test_psi_categorical(student):
    """PSI of a categorical feature, categories missing on either side included."""
    rng = np.random.default_rng(1309)
    cases = [
        (rng.choice(4, 2000, p=[0.5, 0.25, 0.15, 0.1]), rng.choice(4, 500, p=[0.3, 0.3, 0.2, 0.2]), 4,
         "psi_categorical"),
        (rng.choice(5, 1000, p=[0.4, 0.3, 0.2, 0.1, 0.0]), rng.choice(5, 300, p=[0.2, 0.2, 0.0, 0.3, 0.3]), 5,
         "psi_categorical with a category missing from each sample"),
        (rng.choice(3, 800, p=[0.2, 0.3, 0.5]), rng.choice(3, 200, p=[0.2, 0.3, 0.5]), 6,
         "psi_categorical with n_categories larger than any value seen"),
    ]
    for reference, current, k, what in cases:
        reference, current = reference.astype(np.int64), current.astype(np.int64)
        value = to_float(student.psi_categorical(reference, current, k), what)
        check_close(value, ref.psi_categorical(reference, current, k), what, rtol=RTOL, atol=ATOL)
