"""Public tests for m13-observability (shipped to students).

These are a few of the autograder's tests. The autograder runs your notebook top to
bottom and gives each test a ``student`` object: ``student.psi(a, b)`` calls the ``psi``
your notebook defined. The hidden tests check the remaining functions in the same way,
comparing against a reference implementation on arrays of their own, and stream
batches with and without drift through your ``DriftMonitor``.
"""

import numpy as np
import pytest


def _float(value, what):
    try:
        out = float(np.asarray(value, dtype=np.float64).reshape(()))
    except (TypeError, ValueError):
        pytest.fail(f"{what} did not return a single number", pytrace=False)
    if not np.isfinite(out):
        pytest.fail(f"{what} returned NaN or inf", pytrace=False)
    return out


@pytest.mark.points(1)
def test_psi_of_a_sample_with_itself_is_zero(student):
    """PSI is zero for identical samples and positive for a shifted one.

    The shifted sample lies entirely above the reference, so most of its bins are
    empty: PSI must stay finite (the epsilon of Part 1).
    """
    x = np.random.default_rng(0).normal(size=500)
    if abs(_float(student.psi(x, x.copy()), "psi(x, x)")) > 1e-12:
        pytest.fail("psi(x, x) should be 0: the two histograms are identical", pytrace=False)
    if not _float(student.psi(x, x + 10.0), "psi(x, x + 10)") > 1.0:
        pytest.fail("psi(x, x + 10) should be large (all current values fall into the last bin)", pytrace=False)


@pytest.mark.points(1)
def test_ks_statistic_small_example(student):
    """KS statistic of two small samples, worked out by hand.

    x = [0.2, 1.5, 0.7, 3.1, 2.2] and y = [1.0, 2.5, 3.5, 1.8, 4.0, 2.9] (not sorted): the
    largest gap is at t = 2.2, where F_x = 4/5 and F_y = 2/6, so D = 7/15.
    """
    x = np.array([0.2, 1.5, 0.7, 3.1, 2.2])
    y = np.array([1.0, 2.5, 3.5, 1.8, 4.0, 2.9])
    d = _float(student.ks_statistic(x, y), "ks_statistic")
    if not np.isclose(d, 7.0 / 15.0, rtol=1e-9, atol=1e-12):
        pytest.fail("ks_statistic(x, y) should be 7/15 for this example", pytrace=False)


@pytest.mark.points(1)
def test_monitor_returns_a_flag_per_batch(student):
    """The monitor answers every batch with True or False and notices a blatant drift.

    Twelve batches of 250 rows like the reference, then twelve in which age jumps by 40
    years: the monitor must have alarmed by the end.
    """
    rng = np.random.default_rng(1)

    def batch(n, age_shift=0.0):
        X = np.column_stack([rng.normal(40.0 + age_shift, 12.0, n), np.exp(rng.normal(3.0, 0.4, n)),
                             rng.normal(0.0, 1.0, n)])
        cat = rng.choice(4, size=n, p=[0.5, 0.25, 0.15, 0.10]).astype(np.int64)
        pred = 1.0 / (1.0 + np.exp(-(0.05 * (X[:, 0] - 40.0) + 0.8 * X[:, 2])))
        return X, cat, pred

    monitor = student.DriftMonitor(*batch(2000))
    flags = []
    for i in range(24):
        flag = monitor.update(*batch(250, 40.0 if i >= 12 else 0.0))
        if not isinstance(flag, (bool, np.bool_)):
            pytest.fail(f"DriftMonitor.update returned a {type(flag).__name__}, expected True or False",
                        pytrace=False)
        flags.append(bool(flag))
    if not any(flags[12:]):
        pytest.fail("the monitor never alarmed although age moved by 40 years", pytrace=False)
