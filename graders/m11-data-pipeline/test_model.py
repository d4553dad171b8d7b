"""Hidden tests, part 3: train_model, its version, and predict (HIDDEN, not shipped).

The judge trains the student's train_model on its own clean rows (the accepted rows of its
hidden messy files, built in the student process with make_frame) and scores predict on
held-out loans: only their inputs are sent, the labels stay in the judge.
"""

import numpy as np
import pytest
import reference as ref
from handin.checks import fail
from reading import frame, labels, version

FULL_MARKS = 0.77    # the reference gets 0.795 on the held-out loans (the majority class is 0.57)
ZERO_MARKS = 0.65


def _train(student, table, params=None):
    return version(student.train_model(frame(student, table), dict(params or ref.PARAMS)))


@pytest.mark.points(2)
def test_version_is_deterministic(student):
    """The same training data and params always give the same version.

    Training twice on one table, and on a copy of the table built separately, gives the same
    non-empty str: no time stamps, random numbers or object ids in the version.
    """
    train = ref.hidden_training_table()
    first = frame(student, train)
    _, v1 = version(student.train_model(first, dict(ref.PARAMS)))
    _, v2 = version(student.train_model(first, dict(ref.PARAMS)))
    if v1 != v2:
        fail("train_model gave two different versions for the same table and params")
    _, v3 = _train(student, train)
    if v3 != v1:
        fail("train_model gave a different version for a separately built copy of the same table")


@pytest.mark.points(2)
def test_version_changes_with_data_and_params(student):
    """Different training data or params give a different version.

    One value changed in a row in the middle of the table, the last row dropped, or another
    value of C: each must change the version.
    """
    train = ref.hidden_training_table()
    _, base = _train(student, train)
    changed = {c: list(v) for c, v in train.items()}
    middle = len(changed["income"]) // 2
    changed["income"][middle] = round(changed["income"][middle] + 1.5, 1)
    _, v = _train(student, changed)
    if v == base:
        fail("changing one value in the middle of the training table did not change the version")
    _, v = _train(student, {c: v[:-1] for c, v in train.items()})
    if v == base:
        fail("dropping a row of the training table did not change the version")
    _, v = _train(student, train, {**ref.PARAMS, "C": 0.5})
    if v == base:
        fail("changing the params did not change the version")


@pytest.mark.points(1)
def test_train_model_follows_the_recipe(student):
    """train_model is logistic regression with the given params on the documented features.

    Its held-out predictions agree with the reference's on at least 99% of the loans.
    """
    train, heldout = ref.hidden_training_table(), ref.heldout_table()
    model, _ = _train(student, train)
    inputs = ref.without(heldout, ref.LABEL)
    n = len(inputs["loan_id"])
    got = labels(student.predict(model, frame(student, inputs)), n, "predict")
    want = ref.predict(ref.train(train), inputs)
    if float(np.mean(got == want)) < 0.99:
        fail("the held-out predictions differ from the reference's on more than 1% of the loans "
             "(LogisticRegression(**params) on transform(train_df, fit_features(train_df))?)")


@pytest.mark.points(3)
def test_heldout_accuracy(student, credit):
    """The model trained by train_model predicts held-out loans well.

    Full marks from 77% accuracy (the reference gets about 80%), none below 65%. A model
    trained on flipped labels must predict differently (predict must use its model).
    """
    train, heldout = ref.hidden_training_table(), ref.heldout_table()
    inputs = ref.without(heldout, ref.LABEL)
    n = len(inputs["loan_id"])
    y = np.asarray(heldout[ref.LABEL], dtype=np.int64)
    model, _ = _train(student, train)
    preds = labels(student.predict(model, frame(student, inputs)), n, "predict")
    accuracy = float(np.mean(preds == y))
    flipped = dict(train, **{ref.LABEL: [1 - v for v in train[ref.LABEL]]})
    model_flipped, _ = _train(student, flipped)
    preds_flipped = labels(student.predict(model_flipped, frame(student, inputs)), n, "predict")
    if float(np.mean(preds_flipped == preds)) > 0.5:
        fail("predict does not depend on the model it is given (or train_model ignores the labels)")
    if accuracy < ZERO_MARKS:
        fail(f"held-out accuracy {accuracy:.3f} is below {ZERO_MARKS}")
    credit(min(1.0, (accuracy - ZERO_MARKS) / (FULL_MARKS - ZERO_MARKS)),
           f"held-out accuracy {accuracy:.3f} (full marks from {FULL_MARKS})")
