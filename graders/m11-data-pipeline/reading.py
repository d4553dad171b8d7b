"""Reading what a submission returned, for the m11-data-pipeline hidden tests (HIDDEN).

A DataFrame stays in the student process; the judge holds a handle to it and asks it for
``to_dict(orient="list")``, which comes back as plain lists. Everything is normalised to the
reference's shapes: a table is a dict {column: list of values} with None for a missing value,
a rejection report is a list of (row, column, reason) tuples. Every failure goes through
handin.checks.fail with a message that names what was wrong, never an expected value and
never an echo of what came back.
"""

from __future__ import annotations

import math

import numpy as np
import reference as ref
from handin import checks
from handin.checks import fail

NUMBERS = (int, float, np.integer, np.floating)


def _is_handle(value) -> bool:
    return type(value).__name__ == "Remote"


def _missing(value) -> bool:
    return value is None or (isinstance(value, (float, np.floating)) and math.isnan(value))


def unpack_validation(result, what="load_and_validate"):
    if not isinstance(result, (tuple, list)) or len(result) != 2:
        fail(f"{what} must return a pair (clean, rejections)")
    return result[0], result[1]


def table(value, schema, what):
    """A DataFrame (handle) as {column: list}, None for missing; fails unless its columns are the schema's."""
    try:
        columns = value.to_dict(orient="list")
    except Exception:
        fail(f"{what}: `clean` must be a pandas DataFrame")
    if not isinstance(columns, dict):
        fail(f"{what}: `clean` must be a pandas DataFrame")
    names = [str(c) for c in columns]
    if sorted(names) != sorted(schema):
        extra = sorted(set(names) - set(schema))
        lacking = sorted(set(schema) - set(names))
        parts = []
        if lacking:
            parts.append("lacks column(s) " + ", ".join(lacking))
        if extra:
            parts.append(f"has {len(extra)} column(s) that are not in the schema")
        fail(f"{what}: `clean` must have exactly the schema's columns; it " + " and ".join(parts))
    out = {}
    for name, values in columns.items():
        name = str(name)
        if not isinstance(values, list):
            fail(f"{what}: column {name!r} of `clean` did not come back as a list of values")
        kind = schema[name]["type"]
        column = []
        for v in values:
            if _is_handle(v):
                fail(f"{what}: column {name!r} of `clean` holds objects that are not plain numbers or strings "
                     "(use float64 with NaN for missing numbers)")
            if _missing(v):
                column.append(None)
            elif kind == "str":
                if not isinstance(v, str):
                    fail(f"{what}: column {name!r} of `clean` must hold strings")
                column.append(v)
            else:
                if isinstance(v, (bool, np.bool_)) or not isinstance(v, NUMBERS):
                    fail(f"{what}: column {name!r} of `clean` must hold numbers (it holds {type(v).__name__})")
                column.append(float(v))
        out[name] = column
    lengths = {len(v) for v in out.values()}
    if len(lengths) > 1:
        fail(f"{what}: the columns of `clean` have different lengths")
    return out


def report(value, what):
    """The rejection report as a list of (row, column, reason)."""
    if _is_handle(value):               # a DataFrame with columns row, column, reason
        try:
            value = value.to_dict(orient="records")
        except Exception:
            fail(f"{what}: `rejections` must be a list of dicts with keys row, column, reason")
    if not isinstance(value, (list, tuple)):
        fail(f"{what}: `rejections` must be a list of dicts with keys row, column, reason")
    out = []
    for item in value:
        if isinstance(item, dict):
            if not {"row", "column", "reason"} <= set(item):
                fail(f"{what}: every rejection must be a dict with keys row, column, reason")
            row, column, reason = item["row"], item["column"], item["reason"]
        elif isinstance(item, (list, tuple)) and len(item) == 3:
            row, column, reason = item
        else:
            fail(f"{what}: every rejection must be a dict with keys row, column, reason")
        if isinstance(row, (bool, np.bool_)) or not isinstance(row, NUMBERS) or _missing(row) \
                or float(row) != int(row):
            fail(f"{what}: the `row` of a rejection must be an int (the record number)")
        if _missing(column):
            column = None
        elif not isinstance(column, str):
            fail(f"{what}: the `column` of a rejection must be a column name (str) or None")
        if not isinstance(reason, str):
            fail(f"{what}: the `reason` of a rejection must be a str")
        out.append((int(row), column, reason))
    return out


def normalised(columns, schema):
    """The reference's table in the shape `table` gives: numbers as float, None for missing."""
    return {c: [None if _missing(v) else (v if schema[c]["type"] == "str" else float(v)) for v in values]
            for c, values in columns.items()}


def compare_tables(got, want, schema, what):
    """Fail unless the accepted rows are the reference's (matched by primary key, or in file order)."""
    want = normalised(want, schema)
    n_got, n_want = len(next(iter(got.values()))), len(next(iter(want.values())))
    if n_got > n_want:
        fail(f"{what}: `clean` has too many rows (rows that should have been rejected were kept)")
    if n_got < n_want:
        fail(f"{what}: `clean` has too few rows (rows that pass every check were rejected)")
    key = ref.primary_key(schema)
    order_got = order_want = list(range(n_got))
    if key is not None:
        keys = got[key]
        if any(k is None for k in keys):
            fail(f"{what}: `clean` has rows without a primary key")
        if len(set(keys)) != len(keys):
            fail(f"{what}: `clean` has two rows with the same primary key")
        order_got = sorted(range(n_got), key=lambda i: got[key][i])
        order_want = sorted(range(n_want), key=lambda i: want[key][i])
        if [got[key][i] for i in order_got] != [want[key][i] for i in order_want]:
            fail(f"{what}: `clean` holds other rows than the ones that pass every check")
    for name in sorted(schema):
        g = [got[name][i] for i in order_got]
        w = [want[name][i] for i in order_want]
        if [x is None for x in g] != [x is None for x in w]:
            fail(f"{what}: column {name!r} of `clean` has missing values in the wrong places")
        if schema[name]["type"] == "str":
            if g != w:
                fail(f"{what}: column {name!r} of `clean` differs from the reference")
        else:
            gv = np.array([x for x in g if x is not None], dtype=np.float64)
            wv = np.array([x for x in w if x is not None], dtype=np.float64)
            # parsed from text, float64 gives the values exactly; the tolerance is fp32's (rtol 1e-5,
            # atol 1e-6) so that a table kept in float32 still matches
            if not np.allclose(gv, wv, rtol=1e-5, atol=1e-6):
                fail(f"{what}: column {name!r} of `clean` differs from the reference")


def frame(student, columns):
    """A DataFrame in the student process (through the notebook's provided make_frame)."""
    return student.make_frame(ref.for_wire(columns))


def stats_dict(value, what):
    if not isinstance(value, dict) or not {"mean", "std"} <= set(value):
        fail(f"{what} must return a dict with keys 'mean' and 'std'")
    out = {}
    for part in ("mean", "std"):
        d = value[part]
        if not isinstance(d, dict):
            fail(f"{what}[{part!r}] must be a dict {{column: float}}")
        lacking = [c for c in ref.NUMERIC_FEATURES if c not in d]
        if lacking:
            fail(f"{what}[{part!r}] lacks column(s) {', '.join(lacking)}")
        vals = []
        for c in ref.NUMERIC_FEATURES:
            v = d[c]
            if isinstance(v, (bool, np.bool_)) or not isinstance(v, NUMBERS) or not math.isfinite(float(v)):
                fail(f"{what}[{part!r}][{c!r}] must be a finite float")
            vals.append(float(v))
        out[part] = vals
    return out


as_array = checks.to_array


def features(value, n, what):
    return check_shape(value, (n, len(ref.FEATURE_NAMES)), what)


def check_shape(value, shape, what):
    x = as_array(value, what)
    if x.shape != shape:
        fail(f"{what} has shape {x.shape}, expected {shape}")
    if not np.all(np.isfinite(x)):
        fail(f"{what} contains NaN or inf")
    return x


def labels(value, n, what):
    y = as_array(value, what)
    if y.shape != (n,):
        fail(f"{what} returned shape {y.shape}, expected {(n,)}")
    if not np.all(np.isin(y, (0.0, 1.0))):
        fail(f"{what} must return labels 0 and 1")
    return y.astype(np.int64)


def version(result, what="train_model"):
    if not isinstance(result, (tuple, list)) or len(result) != 2:
        fail(f"{what} must return a pair (model, version)")
    model, v = result
    if not isinstance(v, str) or not v.strip():
        fail(f"{what}: the version must be a non-empty str")
    return model, v


__all__ = ["unpack_validation", "table", "report", "compare_tables", "frame", "stats_dict",
           "features", "labels", "version", "check_close"]
