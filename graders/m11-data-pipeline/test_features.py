"""Hidden tests, part 2: fit_features and transform (HIDDEN, not shipped).

Tables are built in the student process with the notebook's provided make_frame from the
judge's own clean rows (the accepted rows of its hidden messy files), so these tests do not
depend on the student's load_and_validate. Feature values are float64 arithmetic on the same
inputs as the reference; the tolerance is fp32's (rtol 1e-5, atol 1e-6).
"""

import math

import pytest
import reference as ref
from handin.checks import check_close
from reading import features, frame, stats_dict

RTOL, ATOL = 1e-5, 1e-6


def _made_up_stats():
    """Statistics that no table here has: transform must use these, not the table's own."""
    return {"mean": {"age": 40.0, "income": 50.0, "loan_amount": 20.0, "credit_score": 600.0},
            "std": {"age": 10.0, "income": 25.0, "loan_amount": 15.0, "credit_score": 100.0}}


@pytest.mark.points(2)
def test_fit_features(student):
    """fit_features gives the mean and population standard deviation of the training data.

    Over the values that are present (a missing credit score does not count), with ddof=0,
    and 1.0 for a column whose standard deviation is 0.
    """
    train = ref.hidden_training_table()
    got = stats_dict(student.fit_features(frame(student, train)), "fit_features")
    want = ref.fit_features(train)
    for part in ("mean", "std"):
        check_close(got[part], [want[part][c] for c in ref.NUMERIC_FEATURES],
                    f"fit_features(...)[{part!r}]", rtol=RTOL, atol=ATOL)
    small = {c: v[:12] for c, v in train.items()}
    small["age"] = [35] * 12                     # a constant column: std 1.0
    got = stats_dict(student.fit_features(frame(student, small)), "fit_features on a table with a constant column")
    want = ref.fit_features(small)
    for part in ("mean", "std"):
        check_close(got[part], [want[part][c] for c in ref.NUMERIC_FEATURES],
                    f"fit_features(...)[{part!r}] on a table with a constant column", rtol=RTOL, atol=ATOL)


@pytest.mark.points(2)
def test_transform_uses_the_given_stats(student):
    """transform standardises with the statistics it is given, not the table's own.

    Called on held-out-like rows without the label column, once with made-up statistics and
    once with the training statistics: computing them from the table being transformed is
    leakage.
    """
    table = ref.without(ref.heldout_table(), ref.LABEL)
    n = len(table["loan_id"])
    handle = frame(student, table)
    for stats, which in ((_made_up_stats(), "made-up statistics"),
                         (ref.fit_features(ref.hidden_training_table()), "the training statistics")):
        got = features(student.transform(handle, stats), n, f"transform (with {which})")
        check_close(got, ref.transform(table, stats), f"transform (with {which})", rtol=RTOL, atol=ATOL)


@pytest.mark.points(1)
def test_transform_missing_values_and_categories(student):
    """A missing credit score becomes 0 with its indicator set; one-hot blocks follow the fixed lists.

    A category that is not in the list gives zeros in its block.
    """
    table = {
        "loan_id": [1, 2, 3, 4, 5, 6],
        "age": [25, 40, 63, 33, 51, 70],
        "income": [20.5, 50.0, 31.2, 75.0, 44.4, 18.0],
        "loan_amount": [5.0, 20.0, 10.5, 60.0, 1.0, 3.3],
        "term_months": [12, 24, 36, 60, 48, 36],
        "employment": ["unemployed", "employed", "retired", "self-employed", "employed", "student"],
        "credit_score": [math.nan, 700.0, 640.0, math.nan, 810.0, 555.0],
    }
    got = features(student.transform(frame(student, table), _made_up_stats()), 6, "transform")
    want = ref.transform(table, _made_up_stats())
    check_close(got[:, 3:5], want[:, 3:5], "transform: the credit_score block (columns 3-4)", rtol=RTOL, atol=ATOL)
    check_close(got[:, 5:9], want[:, 5:9], "transform: the employment one-hot block (columns 5-8)", rtol=RTOL, atol=ATOL)
    check_close(got[:, 9:13], want[:, 9:13], "transform: the term_months one-hot block (columns 9-12)",
                rtol=RTOL, atol=ATOL)
    check_close(got, want, "transform", rtol=RTOL, atol=ATOL)
