"""Hidden tests, part 1: parse_cell and load_and_validate (HIDDEN, not shipped).

load_and_validate gets the text of the judge's own messy files (graders/.../data/loans_a.csv
and loans_b.csv, made by make_data.py with other seeds and other kinds of mess than the public
file): the text crosses as a string, so the student process never needs to read a file.
The accepted rows and the rejection report are compared with reference.load_and_validate.
Report checks are split by reason so that each kind of mistake costs its own points.
"""

import copy

import pytest
import reference as ref
from handin.checks import fail
from reading import compare_tables, report, table, unpack_validation

FILES = (("hidden file A", "loans_a.csv"), ("hidden file B", "loans_b.csv"))


def _validate(student, text, schema, what):
    clean, rejections = unpack_validation(student.load_and_validate(text, copy.deepcopy(schema)), what)
    return table(clean, schema, what), report(rejections, what)


def _on_hidden_files(student):
    """(what, got table, got report, want table, want report) for each hidden file."""
    for what, name in FILES:
        text = ref.read_text(name)
        got_table, got_report = _validate(student, text, ref.SCHEMA, f"load_and_validate on {what}")
        want_table, want_report = ref.load_and_validate(text, ref.SCHEMA)
        yield what, got_table, got_report, want_table, want_report


def _check_reasons(student, reasons, label):
    for what, _, got, _, want in _on_hidden_files(student):
        got = {r for r in got if r[2] in reasons}
        want = {r for r in want if r[2] in reasons}
        if want - got:
            fail(f"on {what}, the report is missing {label} records")
        if got - want:
            fail(f"on {what}, the report has {label} records that should not be there")


# --------------------------------------------------------------------------- parse_cell
INT = {"type": "int"}
INT_RANGE = {"type": "int", "min": 18, "max": 100}
FLOAT_POS = {"type": "float", "min": 0.0}
FLOAT = {"type": "float"}
STR_ALLOWED = {"type": "str", "allowed": ["employed", "self-employed", "retired"]}
STR_ANY = {"type": "str"}
NULLABLE_INT = {"type": "int", "min": 300, "max": 850, "nullable": True}
INT_ALLOWED = {"type": "int", "allowed": [12, 24, 36, 60]}
BOTH = {"type": "int", "min": 0, "max": 10, "allowed": [2, 4, 6]}


def _parse(student, raw, spec):
    result = student.parse_cell(raw, copy.deepcopy(spec))
    if not isinstance(result, (tuple, list)) or len(result) != 2:
        fail("parse_cell must return a pair (value, reason)")
    value, reason = result
    if reason is not None and not isinstance(reason, str):
        fail("parse_cell: the reason must be None or a str")
    return value, reason


def _expect(student, cases, topic):
    for raw, spec in cases:
        want_value, want_reason = ref.parse_cell(raw, spec)
        value, reason = _parse(student, raw, spec)
        shown = repr(raw) if len(raw) < 20 else repr(raw[:20] + "...")
        if reason != want_reason:
            fail(f"parse_cell({shown}, {spec}) gives the wrong reason ({topic})")
        if want_value is None:
            if not ref.is_missing(value):
                fail(f"parse_cell({shown}, {spec}): a bad or missing cell must give the value None")
            continue
        if spec["type"] == "str":
            ok = isinstance(value, str) and value == want_value
        else:
            ok = (not isinstance(value, bool) and isinstance(value, (int, float))
                  and float(value) == float(want_value))
            if ok and spec["type"] == "int" and isinstance(value, float):
                ok = False
        if not ok:
            fail(f"parse_cell({shown}, {spec}) gives the wrong value ({topic})")


@pytest.mark.points(1)
def test_parse_cell_valid_values(student):
    """parse_cell converts good cells to int, float and str.

    Whitespace around a value is stripped; "+42", "42.0" and "4.2e1" are the int 42.
    """
    _expect(student, [
        ("42", INT), (" 42 ", INT), ("+42", INT), ("42.0", INT), ("4.2e1", INT), ("-7", INT),
        ("18", INT_RANGE), ("100", INT_RANGE), ("\t65", INT_RANGE),
        ("3.25", FLOAT), ("-0.5", FLOAT), (" 1e3", FLOAT), ("0", FLOAT_POS), ("7", FLOAT),
        ("employed", STR_ALLOWED), ("  retired ", STR_ALLOWED), ("Anything at all", STR_ANY),
        ("36", INT_ALLOWED), ("36.0", INT_ALLOWED), ("712", NULLABLE_INT),
    ], "a good cell")


@pytest.mark.points(1)
def test_parse_cell_missing(student):
    """parse_cell recognises every spelling of a missing value.

    The tokens of MISSING_TOKENS in any case, after stripping whitespace: "missing" in a
    column that is not nullable, no problem (value None) in a nullable one.
    """
    tokens = ["", "   ", "NA", "na", "N/A", "n/a", "NaN", "nan", "NULL", "null", "None", " none ", "\t"]
    _expect(student, [(t, spec) for t in tokens for spec in (INT, FLOAT, STR_ALLOWED, STR_ANY, NULLABLE_INT)],
            "a missing value")


@pytest.mark.points(1)
def test_parse_cell_bad_type(student):
    """parse_cell reports text that is not a number of the column's type as bad_type.

    Words, units, thousand separators, infinities, and fractions in an int column.
    """
    _expect(student, [
        ("forty", INT), ("42.5", INT), ("12k", INT), ("1,200", INT), ("4 2", INT), ("true", INT),
        ("0x1A", INT), ("inf", INT), ("1e-1", INT), ("36 months", INT_ALLOWED), ("712.5", NULLABLE_INT),
        ("1,200.5", FLOAT), ("45k", FLOAT), ("EUR 45", FLOAT), ("inf", FLOAT), ("-Infinity", FLOAT),
        ("45.0.1", FLOAT), ("good", NULLABLE_INT),
    ], "a value of the wrong type")


@pytest.mark.points(1)
def test_parse_cell_range_and_allowed(student):
    """parse_cell checks min/max (inclusive) and the allowed values, in that order."""
    _expect(student, [
        ("17", INT_RANGE), ("101", INT_RANGE), ("-3", INT_RANGE), ("-0.01", FLOAT_POS),
        ("299", NULLABLE_INT), ("851", NULLABLE_INT), ("48", INT_ALLOWED), ("18.0", INT_ALLOWED),
        ("Employed", STR_ALLOWED), ("student", STR_ALLOWED), ("self employed", STR_ALLOWED),
        ("12", BOTH), ("3", BOTH), ("4", BOTH), ("-1", BOTH),
    ], "range and allowed values")


# --------------------------------------------------------------------------- load_and_validate
@pytest.mark.points(3)
def test_accepted_rows(student):
    """The accepted rows of two unseen messy files are exactly the reference's.

    The same rows (by key), the same converted values, NaN only where a nullable value is
    missing, and exactly the schema's columns (extra columns in the file are dropped).
    """
    for what, got, _, want, _ in _on_hidden_files(student):
        compare_tables(got, want, ref.SCHEMA, f"load_and_validate on {what}")


@pytest.mark.points(1)
def test_rejects_missing_values(student):
    """Missing values in columns that are not nullable are reported as missing."""
    _check_reasons(student, {"missing"}, "'missing'")


@pytest.mark.points(2)
def test_rejects_bad_types(student):
    """Values of the wrong type are reported as bad_type, not turned into NaN."""
    _check_reasons(student, {"bad_type"}, "'bad_type'")


@pytest.mark.points(1)
def test_rejects_out_of_range_and_not_allowed(student):
    """Out-of-range numbers and values outside the allowed list are reported."""
    _check_reasons(student, {"out_of_range", "not_allowed"}, "'out_of_range' or 'not_allowed'")


@pytest.mark.points(2)
def test_rejects_duplicate_keys(student):
    """Later rows with a key already accepted are reported as duplicate_key; the first is kept.

    Only rows that pass every cell check take part: a rejected first occurrence does not
    block a later valid row with the same key.
    """
    _check_reasons(student, {"duplicate_key"}, "'duplicate_key'")


@pytest.mark.points(2)
def test_rejects_malformed_rows(student):
    """Rows with too few or too many fields are reported once as malformed_row.

    A comma inside a quoted field is not a field separator.
    """
    _check_reasons(student, {"malformed_row"}, "'malformed_row'")


@pytest.mark.points(1)
def test_report_format(student):
    """The rejection report uses the documented records and vocabulary.

    Each record is {"row": int, "column": str or None, "reason": one of REASONS}; a
    malformed row has column None, any other record names a schema column; no record twice.
    """
    for what, got_table, got, _, _ in _on_hidden_files(student):
        if len(set(got)) != len(got):
            fail(f"on {what}, the report lists the same (row, column, reason) more than once")
        for row, column, reason in got:
            if reason not in ref.REASONS:
                fail(f"on {what}, the report uses a reason that is not in REASONS")
            if row < 1:
                fail(f"on {what}, the report has a row number below 1 (the first record after the header is row 1)")
            if reason == "malformed_row" and column is not None:
                fail(f"on {what}, a malformed_row record must have column None")
            if reason != "malformed_row" and column not in ref.SCHEMA:
                fail(f"on {what}, a {reason!r} record must name a schema column")


OTHER_SCHEMA = {
    "sensor": {"type": "str", "primary_key": True},
    "temp_c": {"type": "float", "min": -40.0, "max": 85.0, "nullable": True},
    "status": {"type": "str", "allowed": ["ok", "fault"]},
}
OTHER_CSV = (
    'status,sensor,comment,temp_c\n'
    'ok,s-01,"roof, north",21.5\n'
    'ok,s-02,,\n'
    'fault,s-03,"basement, wet",-41\n'
    'ok,s-01,duplicate of the first,20.0\n'
    'ok, s-04 ,spaces around the key, 19.25\n'
    'warming up,s-05,,18\n'
    'ok,s-06,too many,fields,17\n'
    'fault,s-03,the first s-03 was rejected,12.5\n'
    ',s-07,no status,16\n'
    'ok,s-08,N/A,n/a\n'
)
NO_KEY_SCHEMA = {
    "city": {"type": "str"},
    "year": {"type": "int", "min": 1900, "max": 2100},
    "population": {"type": "int", "min": 0, "nullable": True},
}
NO_KEY_CSV = (
    "year,city,population\n"
    "2020,Uppsala,233839\n"
    "2020,Uppsala,233839\n"
    "2021,Lund,\n"
    "1850,Lund,40000\n"
    "2022,Kiruna,22.5e3\n"
    "2022,Umeå\n"
)


@pytest.mark.points(2)
def test_validate_other_schema(student):
    """load_and_validate works for any schema, not only the loan table's.

    A sensor table with a str primary key and a nullable float, and a table without a
    primary key (where repeated rows are not duplicates).
    """
    for schema, text, what in ((OTHER_SCHEMA, OTHER_CSV, "a sensor table"),
                               (NO_KEY_SCHEMA, NO_KEY_CSV, "a table without a primary key")):
        got_table, got_report = _validate(student, text, schema, f"load_and_validate on {what}")
        want_table, want_report = ref.load_and_validate(text, schema)
        compare_tables(got_table, want_table, schema, f"load_and_validate on {what}")
        if set(got_report) != want_report:
            fail(f"load_and_validate on {what}: the rejection report differs from the reference")
