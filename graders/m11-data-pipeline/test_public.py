"""Public tests for m11-data-pipeline (shipped to students).

These are a few of the autograder's tests. The autograder runs your notebook top to bottom
and gives each test a ``student`` object: ``student.parse_cell(raw, spec)`` calls the
``parse_cell`` your notebook defined. The hidden tests check the same functions on the
autograder's own messy files, with other kinds of mess than data/loans.csv.
"""

import math

import pytest

SCHEMA = {
    "loan_id":      {"type": "int", "primary_key": True, "min": 1},
    "age":          {"type": "int", "min": 18, "max": 100},
    "income":       {"type": "float", "min": 0.0, "max": 1000.0},
    "loan_amount":  {"type": "float", "min": 1.0, "max": 500.0},
    "term_months":  {"type": "int", "allowed": [12, 24, 36, 60]},
    "employment":   {"type": "str", "allowed": ["employed", "self-employed", "unemployed", "retired"]},
    "credit_score": {"type": "int", "min": 300, "max": 850, "nullable": True},
    "defaulted":    {"type": "int", "allowed": [0, 1]},
}

SMALL_CSV = (
    "loan_id,age,income,loan_amount,term_months,employment,credit_score,defaulted\n"
    "1,34,52.0,12.5,36,employed,710,0\n"          # row 1: fine
    "2,forty,41.0,8.0,24,employed,650,0\n"        # row 2: age is not a number
    "3,29,38.5,9.0,24,student,,1\n"               # row 3: employment not allowed (credit_score may be missing)
    "4,51,60.0,20.0,36,retired\n"                 # row 4: a field too few
    "1,34,52.0,12.5,36,employed,710,0\n"          # row 5: loan_id 1 again
    "5,17,22.0,NA,12,unemployed,590,1\n"          # row 6: age too low and loan_amount missing
    "6,45,47.5,15.0,60.0,self-employed,NA,1\n"    # row 7: fine (60.0 is the int 60)
)
SMALL_REJECTIONS = {
    (2, "age", "bad_type"),
    (3, "employment", "not_allowed"),
    (4, None, "malformed_row"),
    (5, "loan_id", "duplicate_key"),
    (6, "age", "out_of_range"),
    (6, "loan_amount", "missing"),
}


def _fail(message):
    pytest.fail(message, pytrace=False)


def _rejections(value):
    out = set()
    for item in value:
        if isinstance(item, dict):
            row, column, reason = item.get("row"), item.get("column"), item.get("reason")
        else:
            row, column, reason = item
        if isinstance(column, float) and math.isnan(column):
            column = None
        out.add((int(row), column, reason))
    return out


@pytest.mark.points(1)
def test_parse_cell_examples(student):
    """parse_cell on a few simple cells."""
    cases = [
        (" 42 ", {"type": "int"}, 42, None),
        ("42.0", {"type": "int"}, 42, None),
        ("forty", {"type": "int"}, None, "bad_type"),
        ("2.5", {"type": "float", "min": 0.0}, 2.5, None),
        ("-1", {"type": "float", "min": 0.0}, None, "out_of_range"),
        ("NA", {"type": "float"}, None, "missing"),
        ("", {"type": "int", "nullable": True}, None, None),
        ("retired", {"type": "str", "allowed": ["employed", "retired"]}, "retired", None),
        ("student", {"type": "str", "allowed": ["employed", "retired"]}, None, "not_allowed"),
    ]
    for raw, spec, value, reason in cases:
        result = tuple(student.parse_cell(raw, spec))
        if len(result) != 2:
            _fail("parse_cell must return a pair (value, reason)")
        if result[1] != reason:
            _fail(f"parse_cell({raw!r}, {spec}) should give the reason {reason!r}")
        if value is None and result[0] is not None:
            _fail(f"parse_cell({raw!r}, {spec}) should give the value None")
        if value is not None and (result[0] != value or type(result[0]) is not type(value)):
            _fail(f"parse_cell({raw!r}, {spec}) should give the value {value!r}")


@pytest.mark.points(1)
def test_small_file(student):
    """load_and_validate on a small file with one problem of each kind."""
    clean, rejections = student.load_and_validate(SMALL_CSV, SCHEMA)
    got = _rejections(rejections)
    if got != SMALL_REJECTIONS:
        missing = sorted(SMALL_REJECTIONS - got, key=str)
        extra = len(got - SMALL_REJECTIONS)
        _fail(f"the rejections should include {missing}" if missing else
              f"the rejections have {extra} record(s) too many")
    columns = clean.to_dict(orient="list")
    if list(columns) != list(SCHEMA):
        _fail("clean should have exactly the schema's columns, in schema order")
    if [int(k) for k in columns["loan_id"]] != [1, 6]:
        _fail("clean should hold the loans 1 and 6, in this order")
    if [int(t) for t in columns["term_months"]] != [36, 60]:
        _fail("term_months of the accepted rows should be [36, 60]")
    score = columns["credit_score"]
    if score[0] != 710 or not (isinstance(score[1], float) and math.isnan(score[1])):
        _fail("credit_score of the accepted rows should be [710.0, NaN]")


@pytest.mark.points(1)
def test_features_shape(student):
    """transform gives 13 standardised / one-hot columns."""
    clean = student.make_frame({          # the two rows that SMALL_CSV should keep
        "loan_id": [1, 6], "age": [34, 45], "income": [52.0, 47.5], "loan_amount": [12.5, 15.0],
        "term_months": [36, 60], "employment": ["employed", "self-employed"],
        "credit_score": [710.0, float("nan")], "defaulted": [0, 1],
    })
    stats = student.fit_features(clean)
    if sorted(stats) != ["mean", "std"]:
        _fail("fit_features should return a dict with keys 'mean' and 'std'")
    if abs(stats["mean"]["age"] - 39.5) > 1e-9 or abs(stats["std"]["age"] - 5.5) > 1e-9:
        _fail("the mean and (population, ddof=0) std of age over loans 1 and 6 are 39.5 and 5.5")
    X = student.transform(clean, stats)
    if tuple(X.shape) != (2, 13):
        _fail("transform should give shape (2, 13) here")
    rows = X.tolist()
    if [round(r[0], 9) for r in rows] != [-1.0, 1.0]:
        _fail("the standardised ages of loans 1 and 6 should be -1 and 1")
    if [r[4] for r in rows] != [0.0, 1.0]:
        _fail("credit_score_missing (column 4) should be [0, 1]")
    if [r[5:9] for r in rows] != [[1.0, 0.0, 0.0, 0.0], [0.0, 1.0, 0.0, 0.0]]:
        _fail("the employment one-hot (columns 5-8) is wrong")
    if [r[9:13] for r in rows] != [[0.0, 0.0, 1.0, 0.0], [0.0, 0.0, 0.0, 1.0]]:
        _fail("the term_months one-hot (columns 9-12) is wrong")


@pytest.mark.points(1)
def test_version_is_stable(student, public_data):
    """train_model gives the same version twice, and another one for other data."""
    text = (public_data / "data" / "loans.csv").read_text(encoding="utf-8")
    clean, _ = student.load_and_validate(text, SCHEMA)
    params = {"C": 1.0, "max_iter": 500}
    _, v1 = student.train_model(clean, params)
    _, v2 = student.train_model(clean, params)
    if not isinstance(v1, str) or not v1:
        _fail("the version should be a non-empty str")
    if v1 != v2:
        _fail("training twice on the same data gave two different versions")
    small, _ = student.load_and_validate(SMALL_CSV, SCHEMA)
    _, v3 = student.train_model(small, params)
    if v3 == v1:
        _fail("training on other data gave the same version")
