"""Build the m12-serving starter and solution notebooks from one cell list.

    .venv/bin/python graders/m12-serving/build_notebooks.py

Writes
  assignments/m12-serving/serving.ipynb    starter (bodies raise NotImplementedError)
  solutions/m12-serving/solution.ipynb     the same notebook with the bodies filled in

HIDDEN: this file contains the solution; it lives in graders/ so it is never shipped.
Both notebooks have exactly the same cells in the same order (the fixture notebooks in
tests/fixtures/m12-serving/ patch cells found by marker strings: "MAX_INSTANCES = ",
"def call(", "def parse_instances(", "def create_app(", "def _try_service"), no outputs,
and are validated with nbformat before they are written.
"""

from __future__ import annotations

from pathlib import Path

from handin.authoring import TODO, code, md, write_pair

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
STARTER_PATH = REPO / "assignments" / "m12-serving" / "serving.ipynb"
SOLUTION_PATH = REPO / "solutions" / "m12-serving" / "solution.ipynb"

CELLS = [
    md(r'''
# Lab 3 — Model deployment: a prediction service

A trained model is only useful once other programs can ask it questions. In this lab you
wrap a scikit-learn classifier in a small **HTTP prediction service** written with Flask:
clients send flower measurements as JSON and get back the predicted species, together with
the **version** of the model that answered (so that a wrong prediction in production can be
traced back to the model that made it).

A service faces clients you do not control. Some send perfect requests; others send a
number as a string, forget a field, send `NaN`, post a thousand rows at once, or use the
wrong HTTP method. A robust service answers every one of them with a clear **client error**
(a 4xx status and a JSON message that says what is wrong) and never with a crash (a 500).

**The API you build** (the contract; clients and the autograder rely on it):

| request | answer |
|---|---|
| `GET /health` | `200`, `{"status": "ok", "model_version": "<version>"}` |
| `POST /predict`, header `Content-Type: application/json`, body `{"instances": [{"sepal_length": 5.1, "sepal_width": 3.5, "petal_length": 1.4, "petal_width": 0.2}, ...]}` | `200`, `{"predictions": [0, ...], "model_version": "<version>"}` |
| anything invalid (the rules are in Task 1) | a `4xx` status, `{"error": "<what is wrong>", "model_version": "<version>"}` |

`predictions` holds one **integer class label** per instance (0 setosa, 1 versicolor,
2 virginica), **in the order of the instances**: exactly what `model.predict` returns for
the rows, not probabilities. Every answer, errors included, carries the `model_version`
the app was created with.

**How this notebook is graded.** The autograder runs the whole notebook top to bottom. Then
it calls your `create_app(model, version)` with the notebook's `model` and version strings of
its own, and sends requests to the apps it gets back through the provided `call` function
(no network is involved: `call` uses Flask's test client). It sends its own flowers and
compares your predictions with those of its own copy of the model, trained exactly as the
cell below trains it: **do not change the model or its training**. It sends many kinds of
bad requests, and it times requests from its own side. Keep the names `create_app`, `call`,
`ping` and `model`; you may add helper functions. A cell that raises an error does not stop
the run, but the names it should have defined will be missing: run *Restart & Run All*
before you hand in. `test_public.py` contains a few of the autograder's tests.
'''),
    code(r'''
import math

import numpy as np
from flask import Flask, jsonify, request
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from werkzeug.exceptions import HTTPException

# Provided -- do not change: the model the service serves (the autograder trains the same one).
data = np.load("data/iris_train.npz")
X_train, y_train = data["X"], data["y"]      # X: float64 (120, 4) in cm; y: int64 labels 0, 1, 2
FEATURES = [str(f) for f in data["features"]]  # the model's column order
CLASSES = ["setosa", "versicolor", "virginica"]
MAX_INSTANCES = 100                          # the most instances one /predict request may hold
MODEL_VERSION = "iris-logreg-1.0.0"          # the version of the model trained here

model = make_pipeline(StandardScaler(), LogisticRegression(C=1.0, max_iter=1000))
model.fit(X_train, y_train)
print("features:", FEATURES)
print("training accuracy:", round(float(np.mean(model.predict(X_train) == y_train)), 3))
'''),
    md(r'''
## The scaffolding: `call` and `ping`

The autograder cannot open network connections to your notebook, and it cannot import your
app: the app lives in your notebook's process. It sends every request through `call`, which
runs in your process, passes the request to Flask's **test client** (a fake client that calls
the app directly, with the same routing, error handling and JSON as a real server) and hands
back what came back as plain values. Use it yourself to try your service:

```python
call(app, "POST", "/predict", {"instances": [...]})      # a dict or list is sent as JSON
call(app, "POST", "/predict", "not json", {"Content-Type": "text/plain"})  # a str is sent as is
```

It returns a dict with the `status` code, the parsed `json` body (`None` when the answer is
not JSON), the body as `text` and the response `headers`. `ping` does nothing: the
autograder times it to measure its own round trip into your process, so that it can tell
the time your service takes from the time its messages take. Both are **provided — do not
change them**.
'''),
    code(r'''
# Provided -- do not change. The autograder sends its requests through these two functions.
import json as _json


def call(app, method, path, body=None, headers=None):
    """Send one request to the Flask app `app` through its test client; return plain values.

    body: None (no body), a str or bytes (sent as is), or anything else (sent as JSON with
    Content-Type: application/json unless headers say otherwise).
    """
    headers = dict(headers or {})
    if body is not None and not isinstance(body, (str, bytes)):
        body = _json.dumps(body)
        headers.setdefault("Content-Type", "application/json")
    try:
        response = app.test_client().open(path, method=method, data=body, headers=headers)
    except Exception as exc:  # an exception that escaped the app counts as a crash
        return {"status": 500, "json": None, "text": f"uncaught {type(exc).__name__}", "headers": {}}
    return {
        "status": response.status_code,
        "json": response.get_json(silent=True),
        "text": response.get_data(as_text=True)[:2000],
        "headers": dict(response.headers),
    }


def ping():
    """Does nothing (the autograder times its own round trip with it)."""
    return None
'''),
    md(r'''
## Task 1 — validate a request body

`parse_instances(payload)` takes the body of a `/predict` request, already decoded from
JSON into Python values, and returns the matrix the model needs: a float64 array of shape
`(n, 4)` with one row per instance, **columns in the order of `FEATURES`** (a client may
write the fields of an instance in any order). If the payload breaks any rule below it
raises `ValidationError(message)` (provided below; pass `status=413` for rule 3). A request
with one bad instance is rejected as a whole.

1. The payload is a JSON object whose only key is `"instances"` (missing, or any other
   top-level key: 400).
2. `"instances"` is a non-empty list (400).
3. It holds at most `MAX_INSTANCES` = 100 instances (more: **413**, *payload too large*;
   exactly 100 is fine).
4. Each instance is an object with exactly the four keys of `FEATURES`: a missing feature
   or an unknown key (a typo such as `"petal_lenght"`, or an extra field) is a 400.
5. Each value is a number: a JSON integer or float. Strings (`"5.1"`), `null`, `true` /
   `false`, lists and objects are 400. Careful: in Python `True` is an `int`
   (`isinstance(True, int)` is `True`).
6. Each value is finite and fits a float64: `NaN`, `Infinity` and `-Infinity` (Python's
   `json` module reads these non-standard literals), `1e999` (which reads as `inf`) and
   integers too large for a float (`float(10**400)` raises `OverflowError`) are 400.

Messages should help the client: say which instance and which field is wrong, e.g.
`"instance 3: petal_width must be a number"`.

You do not have to use `parse_instances` (the autograder only talks to your service), but
it keeps `create_app` short and you can test it on its own.
'''),
    code(r'''
class ValidationError(Exception):
    """A bad request: `message` goes back to the client with HTTP status `status`."""

    def __init__(self, message, status=400):
        super().__init__(message)
        self.message = message
        self.status = status


def parse_instances(payload):
    """The (n, 4) float64 matrix of a /predict payload, columns in FEATURES order.

    Raises ValidationError for anything that breaks the rules of Task 1.
    """
''' + TODO, r'''
class ValidationError(Exception):
    """A bad request: `message` goes back to the client with HTTP status `status`."""

    def __init__(self, message, status=400):
        super().__init__(message)
        self.message = message
        self.status = status


def _number(value, where):
    """A finite float from a JSON number, or ValidationError."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValidationError(f"{where} must be a number")
    try:
        x = float(value)
    except OverflowError:
        raise ValidationError(f"{where} is too large") from None
    if not math.isfinite(x):
        raise ValidationError(f"{where} must be finite (no NaN or infinity)")
    return x


def parse_instances(payload):
    """The (n, 4) float64 matrix of a /predict payload, columns in FEATURES order.

    Raises ValidationError for anything that breaks the rules of Task 1.
    """
    if not isinstance(payload, dict):
        raise ValidationError('the body must be a JSON object {"instances": [...]}')
    extra = sorted(str(k) for k in payload if k != "instances")
    if extra:
        raise ValidationError(f"unknown top-level field(s): {', '.join(extra)}")
    if "instances" not in payload:
        raise ValidationError('missing field "instances"')
    instances = payload["instances"]
    if not isinstance(instances, list):
        raise ValidationError('"instances" must be a list of objects')
    if not instances:
        raise ValidationError('"instances" is empty')
    if len(instances) > MAX_INSTANCES:
        raise ValidationError(f"at most {MAX_INSTANCES} instances per request", status=413)
    X = np.empty((len(instances), len(FEATURES)), dtype=np.float64)
    for i, instance in enumerate(instances):
        if not isinstance(instance, dict):
            raise ValidationError(f"instance {i} must be an object")
        missing = [f for f in FEATURES if f not in instance]
        if missing:
            raise ValidationError(f"instance {i}: missing field(s) {', '.join(missing)}")
        unknown = sorted(str(k) for k in instance if k not in FEATURES)
        if unknown:
            raise ValidationError(f"instance {i}: unknown field(s) {', '.join(unknown)}")
        for j, name in enumerate(FEATURES):
            X[i, j] = _number(instance[name], f"instance {i}: {name}")
    return X
'''),
    md(r'''
## Task 2 — the service

`create_app(model, version)` returns a **new** Flask app (one per call: the autograder creates
several, with different versions) that serves `model` as the API at the top describes, and
reports `version` (a string) in every answer. Some hints:

- `jsonify(...)` builds a JSON answer; return `jsonify(...), 400` to set the status.
  `jsonify` cannot serialise numpy integers: convert the labels with `int(...)`.
- `request.is_json` tells whether the request's Content-Type is JSON;
  `request.get_json(silent=True)` decodes the body and gives `None` (instead of raising)
  when it is not valid JSON.
- Flask answers an unknown path (404) or a wrong method (405) itself, with an HTML page.
  Register an error handler, `@app.errorhandler(HTTPException)`, that turns those into JSON
  answers with the same status (`exc.code`, `exc.description`).
- Load and train nothing per request: the model is given, and the autograder times your
  service. Over a burst of 50 single-instance requests, the time your service takes (the
  autograder's measured time minus its own round trip) must have a median of at most 30 ms
  (2 points) and a 95th percentile of at most 75 ms (1 point). The reference needs a few
  milliseconds.
'''),
    code(r'''
def create_app(model, version):
    """A new Flask app serving `model` at POST /predict and GET /health, reporting `version`."""
''' + TODO, r'''
def create_app(model, version):
    """A new Flask app serving `model` at POST /predict and GET /health, reporting `version`."""
    app = Flask(__name__)

    def answer(body, status=200):
        return jsonify({**body, "model_version": version}), status

    @app.errorhandler(HTTPException)
    def http_error(exc):                     # 404, 405, ... as JSON instead of Flask's HTML pages
        return answer({"error": exc.description or exc.name}, exc.code or 500)

    @app.get("/health")
    def health():
        return answer({"status": "ok"})

    @app.post("/predict")
    def predict():
        if not request.is_json:
            return answer({"error": "Content-Type must be application/json"}, 415)
        payload = request.get_json(silent=True)
        if payload is None:
            return answer({"error": "the body is not valid JSON"}, 400)
        try:
            X = parse_instances(payload)
        except ValidationError as exc:
            return answer({"error": exc.message}, exc.status)
        labels = model.predict(X)
        return answer({"predictions": [int(label) for label in labels]})

    return app
'''),
    md(r'''
### Try it

The cell below creates an app and sends it a few requests. Once everything works, the
health check and the predictions answer 200 with the version, the predictions match
`model.predict`, and every bad request gets a 4xx with an error message.
'''),
    code(r'''
def _try_service():
    app = create_app(model, MODEL_VERSION)
    print("GET /health ->", call(app, "GET", "/health")["json"])
    rows = [dict(zip(FEATURES, map(float, x))) for x in X_train[:3]]
    answer = call(app, "POST", "/predict", {"instances": rows})
    print("POST /predict ->", answer["status"], answer["json"])
    print("model.predict  ->", model.predict(X_train[:3]).tolist())
    bad = [
        ("a missing field", "POST", "/predict", {"instances": [{"sepal_length": 5.1}]}, None),
        ("a string", "POST", "/predict", {"instances": [{**rows[0], "petal_width": "0.2"}]}, None),
        ("NaN", "POST", "/predict", '{"instances": [{"sepal_length": NaN, "sepal_width": 3.5, '
                                    '"petal_length": 1.4, "petal_width": 0.2}]}',
         {"Content-Type": "application/json"}),
        ("too many instances", "POST", "/predict", {"instances": rows[:1] * (MAX_INSTANCES + 1)}, None),
        ("not JSON", "POST", "/predict", "hello", {"Content-Type": "application/json"}),
        ("the wrong content type", "POST", "/predict", _json.dumps({"instances": rows}),
         {"Content-Type": "text/plain"}),
        ("the wrong method", "GET", "/predict", None, None),
        ("an unknown path", "GET", "/predictions", None, None),
    ]
    for what, method, path, body, headers in bad:
        answer = call(app, method, path, body, headers)
        print(f"{what:>24}: {answer['status']} {answer['json']}")


try:
    _try_service()
except NotImplementedError:
    print("not implemented yet")
'''),
]


if __name__ == "__main__":
    write_pair(CELLS, "m12", STARTER_PATH, SOLUTION_PATH, REPO)
