"""Reference implementation and shared helpers for the m11-data-pipeline hidden tests.

HIDDEN: this file is never shipped to students.

It mirrors what the notebook asks for, in plain Python/numpy (no pandas), so that the judge's
reference never depends on the pandas version in the sandbox: tables are dicts of column lists
("columns"), rejection reports are sets of (row, column, reason) tuples.

make_data.py also imports it: every generated messy file is checked against the problems
that were injected into it, so the reference and the data agree by construction.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import math
from pathlib import Path

import numpy as np
from sklearn.linear_model import LogisticRegression

HERE = Path(__file__).resolve().parent
DATA = HERE / "data"
HIDDEN_FILES = ("loans_a.csv", "loans_b.csv")     # messy files the student never sees
HELDOUT_FILE = "loans_heldout.csv"                # clean, labelled: scored by the judge only

# --------------------------------------------------------------------------- the task's constants
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
MISSING_TOKENS = ("", "na", "n/a", "nan", "null", "none")
REASONS = ("malformed_row", "missing", "bad_type", "out_of_range", "not_allowed", "duplicate_key")
LABEL = "defaulted"
NUMERIC_FEATURES = ["age", "income", "loan_amount", "credit_score"]
CATEGORIES = {
    "employment": ["employed", "self-employed", "unemployed", "retired"],
    "term_months": [12, 24, 36, 60],
}
FEATURE_NAMES = (NUMERIC_FEATURES + ["credit_score_missing"]
                 + [f"employment={c}" for c in CATEGORIES["employment"]]
                 + [f"term_months={c}" for c in CATEGORIES["term_months"]])
PARAMS = {"C": 1.0, "max_iter": 500}


# --------------------------------------------------------------------------- validation
def is_missing(value) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def parse_cell(raw: str, spec: dict):
    """(value, reason): reason None when the cell is fine (value None for a missing nullable cell)."""
    text = raw.strip()
    if text.lower() in MISSING_TOKENS:
        return None, (None if spec.get("nullable", False) else "missing")
    kind = spec["type"]
    if kind in ("int", "float"):
        try:
            number = float(text)
        except ValueError:
            return None, "bad_type"
        if not math.isfinite(number):
            return None, "bad_type"
        if kind == "int":
            if number != int(number):
                return None, "bad_type"
            value = int(number)
        else:
            value = number
        if "min" in spec and value < spec["min"]:
            return None, "out_of_range"
        if "max" in spec and value > spec["max"]:
            return None, "out_of_range"
    elif kind == "str":
        value = text
    else:
        raise ValueError(f"unknown type {kind!r}")
    if "allowed" in spec and value not in spec["allowed"]:
        return None, "not_allowed"
    return value, None


def primary_key(schema: dict):
    keys = [c for c, s in schema.items() if s.get("primary_key", False)]
    return keys[0] if keys else None


def load_and_validate(text: str, schema: dict):
    """(columns, rejections): columns maps each schema column to its list of accepted values
    (file order; None for a missing nullable value); rejections is a set of (row, column, reason)."""
    records = list(csv.reader(io.StringIO(text)))
    header = [h.strip() for h in records[0]]
    position = {name: i for i, name in enumerate(header)}
    key = primary_key(schema)
    rejections = set()
    accepted = []                 # (row, {column: value})
    seen = set()
    for row, fields in enumerate(records[1:], start=1):
        if len(fields) != len(header):
            rejections.add((row, None, "malformed_row"))
            continue
        values, bad = {}, []
        for column, spec in schema.items():
            value, reason = parse_cell(fields[position[column]], spec)
            if reason is not None:
                bad.append((row, column, reason))
            values[column] = value
        if bad:
            rejections.update(bad)
            continue
        if key is not None:
            if values[key] in seen:
                rejections.add((row, key, "duplicate_key"))
                continue
            seen.add(values[key])
        accepted.append(values)
    columns = {c: [v[c] for v in accepted] for c in schema}
    return columns, rejections


def read_text(name: str) -> str:
    return (DATA / name).read_text(encoding="utf-8")


# --------------------------------------------------------------------------- features and model
def _float_column(columns, name):
    return np.array([math.nan if is_missing(v) else float(v) for v in columns[name]], dtype=np.float64)


def fit_features(columns):
    mean, std = {}, {}
    for name in NUMERIC_FEATURES:
        x = _float_column(columns, name)
        x = x[~np.isnan(x)]
        m = float(x.mean())
        s = float(x.std())
        mean[name] = m
        std[name] = s if s > 0 else 1.0
    return {"mean": mean, "std": std}


def transform(columns, stats):
    n = len(columns[NUMERIC_FEATURES[0]])
    out = np.zeros((n, len(FEATURE_NAMES)), dtype=np.float64)
    for j, name in enumerate(NUMERIC_FEATURES):
        x = _float_column(columns, name)
        z = (x - stats["mean"][name]) / stats["std"][name]
        out[:, j] = np.where(np.isnan(x), 0.0, z)
    out[:, len(NUMERIC_FEATURES)] = np.isnan(_float_column(columns, "credit_score"))
    j = len(NUMERIC_FEATURES) + 1
    for name, cats in CATEGORIES.items():
        for c in cats:
            out[:, j] = [1.0 if (not is_missing(v) and v == c) else 0.0 for v in columns[name]]
            j += 1
    return out


def train(columns, params=PARAMS):
    stats = fit_features(columns)
    clf = LogisticRegression(**params).fit(transform(columns, stats), np.asarray(columns[LABEL], dtype=np.int64))
    return {"stats": stats, "clf": clf}


def predict(model, columns):
    return model["clf"].predict(transform(columns, model["stats"])).astype(np.int64)


def version(columns, params) -> str:
    """One content hash (the tests only check the properties: same input -> same, change -> different)."""
    payload = json.dumps({"data": columns, "params": params}, sort_keys=True, default=str)
    return hashlib.sha256(payload.encode()).hexdigest()


# --------------------------------------------------------------------------- judge helpers
def without(columns, *names):
    return {c: list(v) for c, v in columns.items() if c not in names}


def for_wire(columns, schema=SCHEMA):
    """Columns as the judge sends them to make_frame: a missing number is NaN (so pandas gives float64)."""
    out = {}
    for c, values in columns.items():
        if schema.get(c, {}).get("type") in ("int", "float") and any(is_missing(v) for v in values):
            out[c] = [math.nan if is_missing(v) else float(v) for v in values]
        else:
            out[c] = list(values)
    return out


def concat(*tables):
    return {c: [v for t in tables for v in t[c]] for c in tables[0]}


def hidden_training_table():
    """The accepted rows of both hidden messy files: the judge's training data."""
    return concat(*(load_and_validate(read_text(name), SCHEMA)[0] for name in HIDDEN_FILES))


def heldout_table():
    columns, rejections = load_and_validate(read_text(HELDOUT_FILE), SCHEMA)
    assert not rejections, "the held-out file is clean"
    return columns
