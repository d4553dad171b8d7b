"""Hidden tests, part 3: the notebook's trained weights on held-out patients (HIDDEN, not shipped).

The held-out rows (graders/m01-distributed-regression/data/, standardised with the training
statistics like the notebook's data) keep their labels here: only the inputs go to the student's
`add_intercept`; the judge applies the student's weights itself and scores the predictions.

Thresholds, with the reference for comparison: the least-squares solution has held-out R^2 0.436
(the reference notebook's 3000 steps: 0.436); logistic regression reaches held-out accuracy 0.99
(113 of 114). Full marks from R^2 0.38 and accuracy 0.95, rising linearly from 0.25 and 0.85.
"""

import numpy as np
import pytest
import reference as ref
from handin.checks import fail, to_array


def _weights_and_design(student, name, variable):
    X, y = ref.load_heldout(name)
    w = to_array(getattr(student, variable), f"`{variable}`")
    if w.shape != (X.shape[1] + 1,):
        fail(f"`{variable}` has shape {w.shape}, expected ({X.shape[1] + 1},) (intercept first)")
    if not np.all(np.isfinite(w)):
        fail(f"`{variable}` contains NaN or inf")
    A = to_array(student.add_intercept(X.copy()), "add_intercept")
    if A.shape != (X.shape[0], X.shape[1] + 1):
        fail(f"add_intercept returned shape {A.shape}, expected {(X.shape[0], X.shape[1] + 1)}")
    return w, A, y


@pytest.mark.points(2)
def test_heldout_r2_linear(student, credit):
    """Diabetes model `w_linear`: R^2 on held-out patients (full marks from 0.38)."""
    w, A, y = _weights_and_design(student, "diabetes", "w_linear")
    r2 = ref.r2(y, A @ w)
    if r2 < 0.25:
        fail(f"held-out R^2 {r2:.3f} is below 0.25")
    credit(min(1.0, (r2 - 0.25) / 0.13), f"held-out R^2 {r2:.3f} (full marks from 0.38)")


@pytest.mark.points(2)
def test_heldout_accuracy_logistic(student, credit):
    """Breast-cancer model `w_logistic`: accuracy on held-out patients (full marks from 0.95)."""
    w, A, y = _weights_and_design(student, "cancer", "w_logistic")
    accuracy = float(np.mean((ref.sigmoid(A @ w) >= 0.5) == (y == 1.0)))
    if accuracy < 0.85:
        fail(f"held-out accuracy {accuracy:.3f} is below 0.85")
    credit(min(1.0, (accuracy - 0.85) / 0.10), f"held-out accuracy {accuracy:.3f} (full marks from 0.95)")
