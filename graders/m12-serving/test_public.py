"""Public tests for m12-serving (shipped to students).

These are a few of the autograder's tests. The autograder runs your notebook top to bottom
and gives each test a ``student`` object: ``student.create_app(student.model, "v1")`` calls
the ``create_app`` your notebook defined, and ``student.call(app, ...)`` sends a request to
the app through the provided ``call``. The hidden tests send many more requests, valid and
invalid, compare your predictions with their own copy of the model and time your service.
"""

import json

import numpy as np
import pytest

FEATURES = ["sepal_length", "sepal_width", "petal_length", "petal_width"]
JSON = {"Content-Type": "application/json"}


def _fail(message):
    pytest.fail(message, pytrace=False)


def _app(student, version):
    app = student.create_app(student.model, version)
    if app is None:
        _fail("create_app(model, version) returned None, expected a Flask app")
    return app


def _answer(student, app, method, path, body=None, headers=None):
    answer = student.call(app, method, path, body, headers)
    if not isinstance(answer, dict) or not isinstance(answer.get("status"), int):
        _fail("call() did not return its answer dict (it is provided: do not change it)")
    return answer


@pytest.mark.points(1)
def test_health_reports_the_version(student):
    """GET /health answers 200 with "status": "ok" and the app's version."""
    app = _app(student, "public-test-7")
    answer = _answer(student, app, "GET", "/health")
    if answer["status"] != 200:
        _fail(f"GET /health answered {answer['status']}, expected 200")
    body = answer["json"]
    if not isinstance(body, dict) or body.get("status") != "ok":
        _fail('GET /health must answer the JSON object {"status": "ok", "model_version": ...}')
    if body.get("model_version") != "public-test-7":
        _fail('GET /health of create_app(model, "public-test-7") must report "model_version": "public-test-7"')


@pytest.mark.points(1)
def test_predict_small_example(student):
    """POST /predict answers the model's labels for three training flowers.

    The first three rows of X_train, fields in the order of FEATURES: the answer must be
    200 with "predictions" equal to model.predict(X_train[:3]) (integer labels) and the
    app's version.
    """
    X = np.asarray(student.X_train, dtype=np.float64)[:3]
    expected = [int(v) for v in np.asarray(student.model.predict(X))]
    app = _app(student, "public-test-8")
    instances = [{f: float(v) for f, v in zip(FEATURES, row)} for row in X]
    answer = _answer(student, app, "POST", "/predict", json.dumps({"instances": instances}), JSON)
    if answer["status"] != 200:
        _fail(f"POST /predict with three valid instances answered {answer['status']}, expected 200")
    body = answer["json"]
    if not isinstance(body, dict) or "predictions" not in body:
        _fail('POST /predict must answer a JSON object with "predictions"')
    preds = body["predictions"]
    if not isinstance(preds, list) or not all(type(p) is int for p in preds):
        _fail('"predictions" must be a list of integer class labels')
    if preds != expected:
        _fail('"predictions" differ from model.predict(X_train[:3])')
    if body.get("model_version") != "public-test-8":
        _fail('the answer must carry "model_version" of the app (here "public-test-8")')


@pytest.mark.points(1)
def test_missing_feature_is_a_client_error(student):
    """An instance without petal_width gets a 4xx with a JSON error, not a crash."""
    app = _app(student, "public-test-9")
    instance = {"sepal_length": 5.1, "sepal_width": 3.5, "petal_length": 1.4}
    answer = _answer(student, app, "POST", "/predict", json.dumps({"instances": [instance]}), JSON)
    status = answer["status"]
    if status >= 500:
        _fail(f"an instance without petal_width answered {status}: the service crashed")
    if not 400 <= status < 500:
        _fail(f"an instance without petal_width answered {status}, expected a 4xx")
    body = answer["json"]
    if not isinstance(body, dict) or not isinstance(body.get("error"), str):
        _fail('a rejected request must answer a JSON object with an "error" message')
