"""Hidden tests, part 2: bad requests get a client error, never a crash (HIDDEN, not shipped).

One test per group of bad requests (the rules of Task 1 and Task 2). Every request of a
group must be answered with a 4xx status and a JSON object holding an "error" message; any
4xx is accepted (the notebook names the usual ones). A service that rejected everything
would pass these, so each group first sends the valid request its bad ones are made from,
which must be answered 200 with one prediction per instance (what the predictions are is
test_service.py's business). Bodies are written by the judge as
text (Python's json module writes NaN and Infinity as the literals clients may send).
"""

import json

import numpy as np
import pytest
import reference as ref
from handin.checks import fail

FLOWERS = [
    {"sepal_length": 5.1, "sepal_width": 3.5, "petal_length": 1.4, "petal_width": 0.2},
    {"petal_width": 1.3, "sepal_length": 6.2, "petal_length": 4.3, "sepal_width": 2.9},
    {"sepal_width": 3.0, "petal_length": 5.8, "petal_width": 2.2, "sepal_length": 7.1},
]


def _with(i, **changes):
    """The three flowers, instance i changed (a value of None in changes deletes the field)."""
    out = [dict(f) for f in FLOWERS]
    for key, value in changes.items():
        if value is _DELETE:
            out[i].pop(key)
        else:
            out[i][key] = value
    return {"instances": out}


_DELETE = object()


def _accepts_the_valid_request(service, payload=None, headers=ref.JSON, what="the valid request"):
    payload = {"instances": FLOWERS} if payload is None else payload
    ref.expect_accepted(service.post(payload, what, headers), len(payload["instances"]),
                        f"{what} (the bad requests of this group are made from it)")


def _rejects_all(service, cases):
    for what, payload, *headers in cases:
        answer = service.post(payload, what, headers[0] if headers else ref.JSON)
        ref.expect_error(answer, what)


@pytest.mark.points(2)
def test_rejects_malformed_bodies(student):
    """Bodies that are not a valid {"instances": [...]} object get a 4xx.

    Text that is not JSON, an empty body, JSON that is not an object (a list, null, a
    number, a string), an object without "instances" or with another top-level field, and
    "instances" that is not a list or is empty.
    """
    service = ref.Service(student, "judge-m12-malformed")
    _accepts_the_valid_request(service)
    valid = json.dumps({"instances": FLOWERS})
    _rejects_all(service, [
        ("a body that is not JSON (hello)", "hello"),
        ("a truncated JSON body", valid[: len(valid) // 2]),
        ("an empty body", ""),
        ("a JSON list of instances without the object around it", json.dumps(FLOWERS)),
        ("a body that is JSON null", "null"),
        ("a body that is a JSON number", "42"),
        ("a body that is a JSON string", '"instances"'),
        ("an empty JSON object", "{}"),
        ('an object with "rows" instead of "instances"', {"rows": FLOWERS}),
        ('an object with a field besides "instances"', {"instances": FLOWERS, "debug": True}),
        ('"instances" holding one instance instead of a list', {"instances": FLOWERS[0]}),
        ('"instances" that is a string', {"instances": "5.1,3.5,1.4,0.2"}),
        ('"instances" that is null', {"instances": None}),
        ('an empty "instances" list', {"instances": []}),
    ])


@pytest.mark.points(2)
def test_rejects_missing_and_unknown_fields(student):
    """Instances with a missing or an unknown field, or that are no objects, get a 4xx.

    Each of the four features missing in turn, an empty instance, an extra field, a
    misspelt field, instances that are a list of numbers, a number, null or a string, and a
    request whose last instance of five lacks a field (the whole request is rejected).
    """
    service = ref.Service(student, "judge-m12-fields")
    _accepts_the_valid_request(service)
    cases = [(f"an instance without {name}", _with(1, **{name: _DELETE})) for name in ref.FEATURES]
    five = [dict(f) for f in FLOWERS + FLOWERS[:2]]
    five[4].pop("petal_width")
    cases += [
        ("an empty instance {}", {"instances": [FLOWERS[0], {}]}),
        ("an instance with an extra field", _with(0, color="blue")),
        ("an instance with a misspelt field (petal_lenght)",
         {"instances": [{**{k: v for k, v in FLOWERS[0].items() if k != "petal_length"}, "petal_lenght": 1.4}]}),
        ("an instance with a field in other case (Sepal_Length)",
         {"instances": [{**{k: v for k, v in FLOWERS[2].items() if k != "sepal_length"}, "Sepal_Length": 7.1}]}),
        ("an instance that is a list of four numbers", {"instances": [[5.1, 3.5, 1.4, 0.2]]}),
        ("an instance that is a number", {"instances": [FLOWERS[0], 5.1]}),
        ("an instance that is null", {"instances": [None, FLOWERS[1]]}),
        ("an instance that is a string", {"instances": ["setosa"]}),
        ("five instances, the last without petal_width", {"instances": five}),
    ]
    _rejects_all(service, cases)


@pytest.mark.points(2)
def test_rejects_values_of_the_wrong_type(student):
    """Feature values that are not numbers get a 4xx.

    A number written as a string ("5.1"), an empty string, null, true and false (bool is
    an int in Python), a list holding a number and an object, in various fields and
    instances.
    """
    service = ref.Service(student, "judge-m12-types")
    _accepts_the_valid_request(service)
    _accepts_the_valid_request(service, {"instances": [{"sepal_length": 5, "sepal_width": 3,
                                                        "petal_length": 1, "petal_width": 0}]},
                               what="a valid request with whole numbers (JSON integers)")
    _rejects_all(service, [
        ('sepal_length written as a string ("5.1")', _with(0, sepal_length="5.1")),
        ("petal_width as an empty string", _with(2, petal_width="")),
        ("sepal_width null", _with(1, sepal_width=None)),
        ("petal_length true", _with(0, petal_length=True)),
        ("petal_width false", _with(1, petal_width=False)),
        ("sepal_length as a list [5.1]", _with(2, sepal_length=[5.1])),
        ('petal_length as an object {"cm": 4.3}', _with(1, petal_length={"cm": 4.3})),
    ])


@pytest.mark.points(2)
def test_rejects_values_that_are_not_finite(student):
    """NaN, infinities and numbers beyond float64 get a 4xx.

    The JSON literals NaN, Infinity and -Infinity (which Python's json module reads) and
    1e999 and -1e999 (which read as infinities), in various fields and instances.
    """
    service = ref.Service(student, "judge-m12-finite")
    _accepts_the_valid_request(service)
    _rejects_all(service, [
        ("sepal_length NaN", _with(0, sepal_length=float("nan"))),
        ("petal_width Infinity", _with(1, petal_width=float("inf"))),
        ("sepal_width -Infinity", _with(2, sepal_width=float("-inf"))),
        ("petal_length 1e999", json.dumps(_with(1, petal_length=12345.678)).replace("12345.678", "1e999")),
        ("sepal_length -1e999", json.dumps(_with(2, sepal_length=12345.678)).replace("12345.678", "-1e999")),
    ])


@pytest.mark.points(1)
def test_limits_the_number_of_instances(student):
    """At most MAX_INSTANCES = 100 instances per request.

    Exactly 100 instances are answered 200 with 100 labels; 101 and 1000 get a 4xx.
    """
    service = ref.Service(student, "judge-m12-limit")
    many = [FLOWERS[i % 3] for i in range(1000)]
    _accepts_the_valid_request(service, {"instances": many[:100]}, what="a request with exactly 100 instances")
    _rejects_all(service, [
        ("a request with 101 instances", {"instances": many[:101]}),
        ("a request with 1000 instances", {"instances": many}),
    ])


@pytest.mark.points(1)
def test_rejects_the_wrong_content_type(student):
    """A /predict request that does not declare JSON gets a 4xx.

    A valid JSON body sent as text/plain, as a form (application/x-www-form-urlencoded)
    and without any Content-Type. With "application/json; charset=utf-8" it must be
    accepted.
    """
    service = ref.Service(student, "judge-m12-content-type")
    _accepts_the_valid_request(service, headers={"Content-Type": "application/json; charset=utf-8"},
                               what="a valid request with Content-Type application/json; charset=utf-8")
    body = json.dumps({"instances": FLOWERS})
    _rejects_all(service, [
        ("a valid body sent as text/plain", body, {"Content-Type": "text/plain"}),
        ("a valid body sent as a form", body, {"Content-Type": "application/x-www-form-urlencoded"}),
        ("a valid body without a Content-Type", body, {}),
    ])


@pytest.mark.points(1)
def test_wrong_methods_and_unknown_paths_answer_json(student):
    """Wrong methods and unknown paths get a 4xx with a JSON error, not an HTML page.

    GET and PUT /predict, POST /health, and GET of /, /predictions and /v1/predict.
    """
    service = ref.Service(student, "judge-m12-routes")
    body = json.dumps({"instances": FLOWERS})
    for what, method, path, payload in [
        ("GET /predict", "GET", "/predict", None),
        ("PUT /predict", "PUT", "/predict", body),
        ("POST /health", "POST", "/health", body),
        ("GET /", "GET", "/", None),
        ("GET /predictions", "GET", "/predictions", None),
        ("POST /v1/predict", "POST", "/v1/predict", body),
    ]:
        ref.expect_error(service.send(method, path, payload, ref.JSON, what), what)


# --------------------------------------------------------------------------- random requests
_ODD_VALUES = ["5.1", "", None, True, False, [1.0], {"v": 1.0}, "NaN", 10 ** 400, -10 ** 400,
               float("nan"), float("inf"), -0.0, 0, 7, 1e6, 2.5e-300, -3.25]


def _mutations(rng, n):
    """n seeded (description, body) pairs, each a valid request with one random defect.

    Some defects leave the request valid (an odd but finite number such as -0.0 or 1e6, or
    90-100 instances): the judge decides validity itself (reference.valid_payload).
    """
    out = []
    for k in range(n):
        payload = {"instances": [dict(FLOWERS[j % 3]) for j in rng.permutation(3)]}
        insts = payload["instances"]
        i, name = int(rng.integers(len(insts))), ref.FEATURES[int(rng.integers(4))]
        kind = k % 9
        if kind == 0:
            insts[i].pop(name)
            what = "a field dropped"
        elif kind == 1:
            insts[i][["id", "species", "", "petal_width "][int(rng.integers(4))]] = 1.0
            what = "a field added"
        elif kind in (2, 3, 4):
            insts[i][name] = _ODD_VALUES[int(rng.integers(len(_ODD_VALUES)))]
            what = "an odd value"
        elif kind == 5:
            payload = [{"instances": [insts]}, insts, insts[i], {"instances": {"0": insts[i]}}][int(rng.integers(4))]
            what = "a body of the wrong shape"
        elif kind == 6:
            text = json.dumps(payload)
            out.append(("a truncated body", text[: int(rng.integers(1, len(text)))]))
            continue
        elif kind == 7:
            raw = bytes(rng.integers(0, 256, size=int(rng.integers(1, 40))).astype(np.uint8).tolist())
            out.append(("a body of random bytes", raw))
            continue
        else:
            payload = {"instances": insts * int(rng.integers(30, 40))}
            what = "90 to 117 instances"
        out.append((what, json.dumps(payload)))
    return out


@pytest.mark.points(2)
def test_random_bad_requests_never_crash(student):
    """Sixty random variations of a valid request: every answer is a 200 or a clean 4xx.

    Each is a valid request with one seeded random defect: a field dropped or added, an odd
    value (strings, null, booleans, lists, NaN, infinity, integers with 400 digits, or a
    harmless -0.0, 0 or 1e6), a wrong shape, truncated text, random bytes, too many
    instances. Requests that still follow every rule must be answered 200 with one
    prediction per instance; the others with a 4xx and a JSON error. No answer may be a 500.
    """
    service = ref.Service(student, "judge-m12-fuzz")
    cases = _mutations(np.random.default_rng(2027), 60)
    bad = []
    for k, (what, body) in enumerate(cases):
        try:
            payload = json.loads(body)
            valid = ref.valid_payload(payload)
        except ValueError:
            valid = False
        answer = service.post(body, what)
        if valid:
            problem = ref.accepted_problem(answer, len(payload["instances"]))
            if problem:
                bad.append(f"random request {k + 1} ({what}, still valid) {problem}")
        else:
            problem = ref.error_problem(answer)
            if problem:
                bad.append(f"random request {k + 1} ({what}) {problem}")
    if bad:
        fail(f"{len(bad)} of {len(cases)} random requests were answered wrongly; the first: {bad[0]}")
