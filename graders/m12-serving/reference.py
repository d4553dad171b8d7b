"""The judge's side of the m12-serving hidden tests: its own model, its requests, its checks.

HIDDEN: this file is never shipped to students.

The judge cannot import the student's Flask app (it lives in the student process). It asks
the notebook's `create_app(model, version)` for apps (handles that stay in the student
process) and sends requests to them through the notebook's provided `call(app, method, path,
body, headers)`, which returns plain values. Predictions are compared with the judge's own
copy of the model, trained here on the public training file exactly as the notebook trains
it; timings are taken in the judge, around each call.
"""

from __future__ import annotations

import json
import math

import numpy as np
from handin.checks import fail
from handin.proxy import Remote, StudentError
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

FEATURES = ["sepal_length", "sepal_width", "petal_length", "petal_width"]
MAX_INSTANCES = 100
JSON = {"Content-Type": "application/json"}


# --------------------------------------------------------------------------- model and data
def train_model(public_data):
    """The notebook's model, trained on the public training file (deterministic: lbfgs)."""
    data = np.load(public_data / "data" / "iris_train.npz")
    model = make_pipeline(StandardScaler(), LogisticRegression(C=1.0, max_iter=1000))
    return model.fit(data["X"], data["y"]), data["X"]


def heldout(grader_dir):
    """The 30 held-out flowers (inputs only are ever sent; the labels stay here)."""
    data = np.load(grader_dir / "data" / "iris_heldout.npz")
    return data["X"], data["y"]


def random_rows(X_train, n, seed):
    """n flowers drawn uniformly over the training ranges (0.01 cm resolution), any combination."""
    rng = np.random.default_rng(seed)
    lo, hi = X_train.min(axis=0), X_train.max(axis=0)
    return np.round(rng.uniform(lo, hi, size=(n, X_train.shape[1])), 2)


def instances(X, rng=None, ints=()):
    """JSON-ready instances of the rows of X: keys in a shuffled order per row when rng is given;
    the rows listed in ints are sent as whole numbers (JSON integers)."""
    out = []
    for i, row in enumerate(np.asarray(X, dtype=np.float64)):
        names = list(FEATURES) if rng is None else [FEATURES[j] for j in rng.permutation(len(FEATURES))]
        col = {name: float(row[FEATURES.index(name)]) for name in names}
        if i in ints:
            col = {k: int(round(v)) for k, v in col.items()}
        out.append(col)
    return out


def rows_of(insts):
    """The matrix the judge's model sees for JSON-ready instances (FEATURES order)."""
    return np.array([[float(inst[f]) for f in FEATURES] for inst in insts], dtype=np.float64)


def valid_payload(payload):
    """Whether a decoded /predict payload follows every rule of Task 1 (the judge's own check)."""
    if not isinstance(payload, dict) or set(payload) != {"instances"}:
        return False
    insts = payload["instances"]
    if not isinstance(insts, list) or not 1 <= len(insts) <= MAX_INSTANCES:
        return False
    for inst in insts:
        if not isinstance(inst, dict) or set(inst) != set(FEATURES):
            return False
        for v in inst.values():
            if isinstance(v, bool) or not isinstance(v, (int, float)):
                return False
            try:
                if not math.isfinite(float(v)):
                    return False
            except OverflowError:
                return False
    return True


# --------------------------------------------------------------------------- the service
class Service:
    """One app made by the student's create_app, and the provided call to reach it."""

    def __init__(self, student, version):
        self.version = version
        self.call = student.call            # a handle to the notebook's provided call()
        model = student.model
        try:
            app = student.create_app(model, version)
        except StudentError as exc:
            fail(f"create_app(model, version) raised {exc.type_name}")
        if not isinstance(app, Remote):
            fail(f"create_app(model, version) returned a {type(app).__name__}, expected a Flask app")
        self.app = app

    def send(self, method, path, body=None, headers=None, what="a request"):
        """The answer dict {status, json, text, headers} to one request (body: str or None)."""
        try:
            answer = self.call(self.app, method, path, body, headers)
        except StudentError as exc:
            fail(f"{what}: the answer could not be read ({exc.type_name} in call)")
        if not isinstance(answer, dict) or type(answer.get("status")) is not int:
            fail(f"{what}: call() returned something other than its answer dict (it is provided: "
                 "do not change it)")
        return answer

    def post(self, payload, what, headers=JSON):
        """POST /predict with a payload (encoded here, NaN literals allowed) or raw text."""
        body = payload if isinstance(payload, (str, bytes)) else json.dumps(payload)
        return self.send("POST", "/predict", body, headers, what)

    def predictions(self, insts, what):
        """The labels the service answers for these instances (fails the test otherwise)."""
        return expect_predictions(self.post({"instances": insts}, what), len(insts), what)


# --------------------------------------------------------------------------- checks of answers
def _status_problem(status):
    if status >= 500:
        return f"answered {status}: the service crashed (an uncaught exception) instead of a 4xx"
    if 200 <= status < 300:
        return f"was accepted ({status}) instead of being rejected with a 4xx"
    return f"answered {status} instead of a 4xx"


def error_problem(answer):
    """Why an answer is not a proper client error ('' when it is one)."""
    status = answer["status"]
    if not 400 <= status < 500:
        return _status_problem(status)
    body = answer.get("json")
    if not isinstance(body, dict):
        return f"answered {status} without a JSON object body (an HTML error page?)"
    if not isinstance(body.get("error"), str) or not body["error"].strip():
        return f'answered {status} but its JSON has no "error" message'
    return ""


def expect_error(answer, what):
    problem = error_problem(answer)
    if problem:
        fail(f"{what} {problem}")


def accepted_problem(answer, n):
    """Why an answer is not a 200 with a list of n predictions of any kind ('' when it is one).

    The tests of bad requests, the random requests and the timed ones only need to know that
    a valid request was accepted; what the predictions are is tested by test_service.py.
    """
    status = answer["status"]
    if status != 200:
        if status >= 500:
            return f"answered {status} (the service crashed) instead of 200"
        return f"answered {status} instead of 200"
    body = answer.get("json")
    if not isinstance(body, dict) or not isinstance(body.get("predictions"), list):
        return 'answered 200 without a JSON object holding a "predictions" list'
    if len(body["predictions"]) != n:
        return f'answered {len(body["predictions"])} predictions for {n} instances'
    return ""


def expect_accepted(answer, n, what):
    problem = accepted_problem(answer, n)
    if problem:
        fail(f"{what} {problem}")


def prediction_problem(answer, n):
    """Why an answer is not a proper 200 answer with n integer labels ('' when it is one)."""
    status = answer["status"]
    if status != 200:
        if status >= 500:
            return f"answered {status} (the service crashed) instead of 200"
        return f"answered {status} instead of 200"
    body = answer.get("json")
    if not isinstance(body, dict) or "predictions" not in body:
        return 'answered 200 without a JSON object holding "predictions"'
    preds = body["predictions"]
    if not isinstance(preds, list):
        return 'answered "predictions" that are not a list'
    if len(preds) != n:
        return f"answered {len(preds)} predictions for {n} instances"
    if not all(type(p) is int for p in preds):
        return ('answered "predictions" that are not integer class labels (probabilities, '
                "strings or floats?)")
    return ""


def expect_predictions(answer, n, what):
    problem = prediction_problem(answer, n)
    if problem:
        fail(f"{what} {problem}")
    return np.array(answer["json"]["predictions"], dtype=np.int64)
