"""Hidden tests, part 1: the service answers valid requests (HIDDEN, not shipped).

The judge creates apps with the notebook's create_app(model, version), using version
strings of its own, and sends requests through the notebook's provided call(). Predictions
are compared with the judge's own copy of the model (the notebook's pipeline, trained here
on the same public file with the same settings: deterministic), on the 30 held-out flowers
and on flowers drawn at random over the training ranges. The held-out labels never leave
the judge. Instances are sent with their fields in a shuffled order, some with whole-number
values (JSON integers), as any client may.
"""

import numpy as np
import pytest
import reference as ref
from handin.checks import fail

#: at most this share of labels may differ from the judge's model: the same pipeline on the
#: same float64 inputs gives identical labels; the margin only forgives a submission that
#: computes in float32 and flips a row lying on a decision boundary.
MAX_DISAGREEMENT = 0.01


@pytest.mark.points(3)
def test_predictions_match_the_model(student, grader_dir, public_data):
    """Predictions are the model's labels for the flowers sent.

    The 30 held-out flowers in one request, then 70 random ones in requests of 1, 4, 15 and
    50 instances, fields in a shuffled order, some rows as whole numbers: every answer must
    be 200 with one integer label per instance, and the labels must agree with the judge's
    own copy of the model (at least 99% of them).
    """
    model, X_train = ref.train_model(public_data)
    X_ho, _ = ref.heldout(grader_dir)
    rng = np.random.default_rng(12)
    service = ref.Service(student, "judge-m12-match")
    batches = [ref.instances(X_ho, rng)]
    X_rand = ref.random_rows(X_train, 70, seed=5)
    start = 0
    for size, ints in ((1, ()), (4, (2,)), (15, (0, 7)), (50, (3, 30, 41))):
        batches.append(ref.instances(X_rand[start:start + size], rng, ints=ints))
        start += size
    wrong = total = 0
    for k, batch in enumerate(batches):
        got = service.predictions(batch, f"request {k + 1} ({len(batch)} valid instances)")
        wrong += int(np.sum(got != model.predict(ref.rows_of(batch))))
        total += len(batch)
    if wrong > MAX_DISAGREEMENT * total:
        fail(f"{wrong} of {total} predictions differ from what the model predicts for those flowers "
             "(are the fields read by name, and is prediction i that of instance i?)")


@pytest.mark.points(2)
def test_predictions_keep_the_order_of_the_instances(student, grader_dir):
    """Prediction i belongs to instance i.

    The 30 held-out flowers are sent as they are, reversed and shuffled, and a batch that
    repeats some flowers: each answer must list the labels in the order of its instances
    (one label per instance, duplicates included).
    """
    X_ho, _ = ref.heldout(grader_dir)
    rng = np.random.default_rng(3)
    service = ref.Service(student, "judge-m12-order")
    insts = ref.instances(X_ho)
    base = service.predictions(insts, "the 30 held-out flowers")
    if len(set(base.tolist())) < 2:
        fail("the 30 held-out flowers (of three species) all got the same label")
    perm = rng.permutation(len(insts))
    for name, order in (("reversed", np.arange(len(insts))[::-1]), ("shuffled", perm),
                        ("with repeated flowers", np.array([0, 11, 0, 0, 25, 11, 3, 25, 0]))):
        got = service.predictions([insts[i] for i in order], f"the held-out flowers {name}")
        if not np.array_equal(got, base[order]):
            fail(f"the labels for the held-out flowers {name} are not those of the flowers in "
                 "that order: prediction i must belong to instance i")


@pytest.mark.points(2)
def test_every_answer_carries_the_model_version(student):
    """Every answer names the model version the app was created with.

    Two apps from the same model with two versions of the judge's: the health check, a
    prediction, a rejected request and an unknown path must each carry their own app's
    version as "model_version" (not the notebook's MODEL_VERSION), and /health must say
    "status": "ok". (An error answer that is no JSON at all loses its points in the tests
    of bad requests, not here.)
    """
    one = ref.instances(np.array([[5.1, 3.5, 1.4, 0.2]]))
    for version in ("judge-2027.03-a1f3", "judge-2027.03-b7c9"):
        service = ref.Service(student, version)
        answers = [
            ("GET /health", service.send("GET", "/health", what="GET /health")),
            ("a valid POST /predict", service.post({"instances": one}, "a valid POST /predict")),
            ("a POST /predict with a missing field",
             service.post({"instances": [{"sepal_length": 5.1}]}, "a POST /predict with a missing field")),
            ("GET of an unknown path", service.send("GET", "/no-such-path", what="GET /no-such-path")),
        ]
        for k, (what, answer) in enumerate(answers):
            body = answer.get("json")
            if not isinstance(body, dict):
                if k >= 2:   # a crash or an HTML error page: the tests of bad requests score that
                    continue
                fail(f"the answer to {what} is not a JSON object")
            if "model_version" not in body:
                fail(f'the answer to {what} has no "model_version"')
            if body["model_version"] != version:
                fail(f'the answer to {what} carries another "model_version" than the one the app '
                     "was created with (create_app(model, version) must report its version argument)")
        health = answers[0][1]
        if health["status"] != 200 or health["json"].get("status") != "ok":
            fail('GET /health must answer 200 with "status": "ok"')
