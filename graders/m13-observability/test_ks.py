"""Hidden tests, part 2: the two-sample Kolmogorov-Smirnov test (HIDDEN, not shipped).

The statistic is checked against scipy.stats.ks_2samp's statistic (an exact ratio of
counts, so the tolerance is tight: rtol 1e-9, atol 1e-12); the p-value against the
asymptotic Kolmogorov distribution that the notebook asks for (rtol 1e-6, atol 1e-12:
the series 2 sum (-1)^(k-1) exp(-2 k^2 l^2) written by hand matches scipy's to that).
"""

import numpy as np
import pytest
import reference as ref
from handin.checks import check_close, fail, to_float
from scipy import stats


def _pairs(seed):
    rng = np.random.default_rng(seed)
    return [
        (rng.normal(0.0, 1.0, 300), rng.normal(0.2, 1.0, 200), "shifted normals of sizes 300 and 200"),
        (rng.normal(0.0, 1.0, 150), rng.normal(0.0, 2.0, 400), "normals of different spread"),
        (rng.integers(0, 6, 120).astype(np.float64), rng.integers(1, 8, 90).astype(np.float64),
         "integer samples with many ties"),
        (rng.exponential(1.0, 50), rng.exponential(1.0, 70), "two samples of the same distribution"),
        (rng.uniform(0.0, 1.0, 40), rng.uniform(2.0, 3.0, 60), "samples that do not overlap"),
    ]


@pytest.mark.points(1)
def test_ecdf(student):
    """The empirical CDF of an unsorted sample, ties and sample points included."""
    rng = np.random.default_rng(1401)
    sample = rng.integers(0, 10, 57).astype(np.float64) + rng.choice([0.0, 0.5], 57)
    t = np.concatenate([np.array([-1.0, 0.0, 4.5, 9.5, 20.0]), rng.uniform(-1.0, 11.0, 30), sample[:10]])
    check_close(student.ecdf(sample, t), ref.ecdf(sample, t), "ecdf(sample, t) (fraction of sample <= t)",
                rtol=1e-9, atol=1e-12)


@pytest.mark.points(3)
def test_ks_statistic(student):
    """KS statistic matches scipy.stats.ks_2samp's on five pairs of samples."""
    for x, y, what in _pairs(1402):
        value = to_float(student.ks_statistic(x, y), f"ks_statistic for {what}")
        check_close(value, stats.ks_2samp(x, y).statistic, f"ks_statistic for {what}", rtol=1e-9, atol=1e-12)


@pytest.mark.points(1)
def test_ks_identical_is_zero(student):
    """KS statistic of a sample with itself (or a shuffled copy) is zero."""
    x = np.random.default_rng(1403).normal(size=200)
    for y, what in ((x.copy(), "a copy"), (np.random.default_rng(1404).permutation(x), "a shuffled copy")):
        value = to_float(student.ks_statistic(x, y), f"ks_statistic of a sample and {what}")
        if abs(value) > 1e-12:
            fail(f"ks_statistic of a sample and {what} of it should be 0")


@pytest.mark.points(1)
def test_ks_test_pvalue(student):
    """ks_test returns the statistic and its asymptotic p-value."""
    for x, y, what in _pairs(1405)[:4]:
        out = student.ks_test(x, y)
        if not isinstance(out, (tuple, list)) or len(out) != 2:
            fail("ks_test must return a pair (D, p)")
        d_ref, p_ref = ref.ks_test(x, y)
        check_close(to_float(out[0], "ks_test (D)"), d_ref, f"ks_test: D for {what}", rtol=1e-9, atol=1e-12)
        check_close(to_float(out[1], "ks_test (p)"), p_ref, f"ks_test: p-value for {what}", rtol=1e-6, atol=1e-12)
