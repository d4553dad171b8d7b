"""Build the m11-data-pipeline starter and solution notebooks from one cell list.

    .venv/bin/python graders/m11-data-pipeline/build_notebooks.py

Writes
  assignments/m11-data-pipeline/data_pipeline.ipynb   starter (bodies raise NotImplementedError)
  solutions/m11-data-pipeline/solution.ipynb          the same notebook with the bodies filled in

HIDDEN: this file contains the solution; it lives in graders/ so it is never shipped.
Both notebooks have exactly the same cells in the same order (the fixtures in
tests/fixtures/m11-data-pipeline/ patch cells found by marker strings: "def parse_cell",
"def load_and_validate", "def fit_features", "def train_model"), no outputs, and are
validated with nbformat before they are written.
"""

from __future__ import annotations

from pathlib import Path

from handin.authoring import TODO, code, md, write_pair

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
STARTER_PATH = REPO / "assignments" / "m11-data-pipeline" / "data_pipeline.ipynb"
SOLUTION_PATH = REPO / "solutions" / "m11-data-pipeline" / "solution.ipynb"

CELLS = [
    md(r'''
# Labs 1–2 — From a messy CSV to a versioned model

In production the model is the small part. Most of the work, and most of the failures, sit
in the pipeline around it: files arrive with broken rows, missing values, numbers written as
words and the same customer twice. A pipeline that silently "fixes" such rows, or silently
drops them, trains on something nobody looked at. In this lab you build the front half of a
production pipeline for a small loan table:

1. **Ingest and validate** (Lab 1): read the CSV text, check every cell against a *schema*,
   keep the rows that pass and write a **rejection report** that says, for every row that
   was rejected, *which* column was wrong and *why*.
2. **Features** (Lab 2): turn the clean table into a numeric matrix with documented
   transformations whose statistics come **from the training data only**.
3. **Train and version** (Lab 2): train a scikit-learn model and give it a **version**, a
   content hash of the training data and the parameters — the same data always gives the
   same version, different data a different one.

**How this notebook is graded.** The autograder runs the whole notebook top to bottom and then
calls your functions. It feeds them **its own messy files**: other rows, other seeds and
other kinds of mess than `data/loans.csv` (for example quoted commas, extra columns, columns
in another order, whitespace around values, other spellings of "missing") — everything this
notebook describes can happen there. It compares the accepted rows and the rejection report
with a reference, checks your features, and scores your model on held-out loans whose labels
you never see. Keep the names and signatures exactly as given; you may add helper functions.
A cell that raises an error is reported and the cells after it still run, but names it did
not get to define are missing — run *Restart & Run All* before you hand in. The notebook must
not download anything; the whole run takes a few seconds.

`test_public.py` contains a few of the autograder's tests.
'''),
    code(r'''
import csv
import hashlib
import io
import json
import math
import zlib

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression

with open("data/loans.csv", encoding="utf-8") as f:
    raw_text = f.read()           # the file as one string: this is what load_and_validate gets
print(raw_text[:400])

# The schema of the loan table: column -> rules (see "The schema" below). Provided: do not change.
SCHEMA = {
    "loan_id":      {"type": "int", "primary_key": True, "min": 1},
    "age":          {"type": "int", "min": 18, "max": 100},
    "income":       {"type": "float", "min": 0.0, "max": 1000.0},    # thousand EUR per year
    "loan_amount":  {"type": "float", "min": 1.0, "max": 500.0},     # thousand EUR
    "term_months":  {"type": "int", "allowed": [12, 24, 36, 60]},
    "employment":   {"type": "str", "allowed": ["employed", "self-employed", "unemployed", "retired"]},
    "credit_score": {"type": "int", "min": 300, "max": 850, "nullable": True},
    "defaulted":    {"type": "int", "allowed": [0, 1]},               # the label
}
LABEL = "defaulted"

# Spellings of "no value" (compared after stripping whitespace, ignoring case).
MISSING_TOKENS = ("", "na", "n/a", "nan", "null", "none")

# The vocabulary of the rejection report.
REASONS = ("malformed_row", "missing", "bad_type", "out_of_range", "not_allowed", "duplicate_key")


# Provided -- do not change. The autograder hands you tables through this function.
def make_frame(columns):
    """A DataFrame from a dict {column name: list of values}."""
    return pd.DataFrame(columns)
'''),
    md(r'''
## Part 1 — ingest and validate (Lab 1)

### The schema

`SCHEMA` maps each column name to a dict of rules:

| key | meaning | default |
|---|---|---|
| `"type"` | `"int"`, `"float"` or `"str"` | required |
| `"nullable"` | may the value be missing? | `False` |
| `"min"`, `"max"` | inclusive bounds of a number | no bound |
| `"allowed"` | the list of allowed values (after conversion to the type) | anything |
| `"primary_key"` | the column identifies a row: no two accepted rows may share it (at most one column; never nullable) | `False` |

Your functions must work for **any** schema of this form, not only the loan table's: the
autograder also tries them on a small table of its own (with a `str` primary key, or none).

### Task 1: one cell

`parse_cell(raw, spec)` takes the text of one cell (`raw`, a `str`) and the rules of its
column (`spec`) and returns a pair `(value, reason)`:

* a good cell gives `(value, None)` with `value` converted to the column's type — a Python
  `int`, `float` or `str`;
* a bad cell gives `(None, reason)`, the **first** problem found in this order:

1. Strip whitespace around the text (`raw.strip()`). If what is left, **lower-cased**, is one
   of `MISSING_TOKENS`, the value is missing: `(None, None)` if the column is nullable,
   otherwise `(None, "missing")`.
2. **Type.** `"int"` and `"float"`: the text must be something Python's `float()` reads, and
   the number must be finite (`"inf"` is a `bad_type`). An `"int"` must moreover be a whole
   number: `"42"`, `"+42"` and `"42.0"` all give `42` (tables exported through a float
   column look like that), while `"42.5"`, `"forty"`, `"12k"` or `"1,200"` are `"bad_type"`.
   `"str"`: any text is a string (the stripped text is the value).
3. **Range.** A number below `"min"` or above `"max"` is `"out_of_range"`.
4. **Allowed values.** A value not in `"allowed"` is `"not_allowed"`. Strings are compared
   exactly, after stripping whitespace: `"Employed"` is not `"employed"`.
'''),
    code(r'''
def parse_cell(raw, spec):
    """(value, None) for a good cell, (None, reason) for a bad one; (None, None) if missing and nullable."""
''' + TODO, r'''
def parse_cell(raw, spec):
    """(value, None) for a good cell, (None, reason) for a bad one; (None, None) if missing and nullable."""
    text = raw.strip()
    if text.lower() in MISSING_TOKENS:
        return None, (None if spec.get("nullable", False) else "missing")
    if spec["type"] in ("int", "float"):
        try:
            number = float(text)
        except ValueError:
            return None, "bad_type"
        if not math.isfinite(number):
            return None, "bad_type"
        if spec["type"] == "int":
            if number != int(number):
                return None, "bad_type"
            value = int(number)
        else:
            value = number
        if "min" in spec and value < spec["min"]:
            return None, "out_of_range"
        if "max" in spec and value > spec["max"]:
            return None, "out_of_range"
    else:
        value = text
    if "allowed" in spec and value not in spec["allowed"]:
        return None, "not_allowed"
    return value, None
'''),
    md(r'''
### Task 2: the whole file

`load_and_validate(csv_text, schema)` takes the **text** of a CSV file and a schema and
returns a pair `(clean, rejections)`.

**Reading.** Parse the text with Python's `csv` module (`csv.reader(io.StringIO(csv_text))`):
fields may be quoted, and a quoted field may contain commas (`"paid late, twice"`). The
first record is the header; strip whitespace around the header names. The file has every
column of the schema, **in any order** — find them by name — and may have **extra columns**,
which you ignore. Number the data records 1, 2, 3, … in file order (the record after the
header is row 1); the files contain no blank lines.

**Checking**, record by record:

* A record with a different number of fields than the header is **malformed**: report it once
  as `(row, None, "malformed_row")` and check nothing else in it.
* Otherwise check **every** schema column with `parse_cell` and report **each** bad cell as
  `(row, column, reason)` — a record can have several. A record with any bad cell is rejected.
* **Duplicate keys.** Among the records that passed every cell check, the **first** one (the
  lowest row number) with a given primary key is kept; each later one is rejected and reported
  as `(row, key_column, "duplicate_key")`. A rejected record never "uses up" its key: if the
  first record with key 7 has a bad cell and the second one is fine, the second is kept.
  Without a primary key in the schema there are no duplicates to check.

**Returns**

* `clean`: a pandas DataFrame of the accepted records in file order, with exactly the
  schema's columns (in schema order), a fresh index `0..n-1`, and converted values: an `int`
  column has dtype `int64`, except a nullable one, which is `float64` with `NaN` for a missing
  value; a `float` column is `float64` (`NaN` for missing); a `str` column holds `str` values.
* `rejections`: a **list of dicts** `{"row": int, "column": str or None, "reason": str}`, one
  per problem, with reasons from the vocabulary `REASONS`. Nothing is dropped silently: every
  record that is not in `clean` is in the report.

(Why not `pd.read_csv`? It guesses types, turns many spellings into `NaN` without telling you,
and skips or pads rows with the wrong number of fields. You may use pandas to build `clean`.)
'''),
    code(r'''
def load_and_validate(csv_text, schema):
    """(clean DataFrame, list of {"row", "column", "reason"} dicts) for the CSV text csv_text."""
''' + TODO, r'''
def _as_column(values, spec):
    if spec["type"] == "str":
        return pd.Series(values, dtype=object)
    if spec["type"] == "int" and not spec.get("nullable", False):
        return pd.Series(values, dtype="int64")
    return pd.Series([np.nan if v is None else v for v in values], dtype="float64")


def load_and_validate(csv_text, schema):
    """(clean DataFrame, list of {"row", "column", "reason"} dicts) for the CSV text csv_text."""
    records = list(csv.reader(io.StringIO(csv_text)))
    header = [name.strip() for name in records[0]]
    where = {name: i for i, name in enumerate(header)}
    key = next((c for c, spec in schema.items() if spec.get("primary_key", False)), None)
    rejections, accepted, seen = [], [], set()
    for row, fields in enumerate(records[1:], start=1):
        if len(fields) != len(header):
            rejections.append({"row": row, "column": None, "reason": "malformed_row"})
            continue
        values, problems = {}, []
        for column, spec in schema.items():
            value, reason = parse_cell(fields[where[column]], spec)
            if reason is not None:
                problems.append({"row": row, "column": column, "reason": reason})
            values[column] = value
        if problems:
            rejections.extend(problems)
            continue
        if key is not None:
            if values[key] in seen:
                rejections.append({"row": row, "column": key, "reason": "duplicate_key"})
                continue
            seen.add(values[key])
        accepted.append(values)
    clean = pd.DataFrame({c: _as_column([r[c] for r in accepted], spec) for c, spec in schema.items()})
    return clean, rejections
'''),
    md(r'''
### Try it

The cell below validates `data/loans.csv` and summarises the report. Look at a few rejected
rows in the raw text: do you agree with the reasons?
'''),
    code(r'''
try:
    clean, rejections = load_and_validate(raw_text, SCHEMA)
    print(f"{len(clean)} rows accepted, {len(rejections)} problems reported")
    report = pd.DataFrame(rejections, columns=["row", "column", "reason"])
    print(report["reason"].value_counts().to_string())
    print(report.head(10).to_string())
except NotImplementedError:
    print("not implemented yet")
'''),
    md(r'''
## Part 2 — features (Lab 2)

The model gets a numeric matrix with these 13 columns, in this order (`FEATURE_NAMES`):

* **0–3** `age`, `income`, `loan_amount`, `credit_score`, each **standardised**:
  $z = (x - \mu) / \sigma$ with the mean $\mu$ and the **population** standard deviation
  $\sigma$ (`ddof=0`, as `np.std` computes it; careful: pandas' `.std()` uses `ddof=1`) of
  the **training** data, computed over the values that are not missing. If $\sigma = 0$, use
  $\sigma = 1$. A missing value is replaced by the training mean, so it becomes $0$.
* **4** `credit_score_missing`: $1.0$ where `credit_score` is missing, else $0.0$.
* **5–8** one-hot of `employment` in the fixed order `CATEGORIES["employment"]`.
* **9–12** one-hot of `term_months` in the fixed order `CATEGORIES["term_months"]`.
  A value that is not in the list (which cannot happen after validation, but `transform` may
  get any table) gives zeros in all columns of its block.

The category lists are fixed in code, not read from the data: the matrix has the same
columns whatever the file contains.

### Task 3: fit on training data, apply anywhere

* `fit_features(train_df)` returns the statistics, a dict
  `{"mean": {column: float}, "std": {column: float}}` with one entry per column of
  `NUMERIC_FEATURES` (plain Python floats).
* `transform(df, stats)` returns the feature matrix of `df` as a float64 numpy array of shape
  `(len(df), 13)`, using **only** the `stats` it is given. `df` may lack the label column
  (at prediction time it does).

Computing the statistics from the table being transformed (or from the whole file before
splitting it) is *leakage*: the test split then influences its own features, and the numbers
you report are better than what the model will do on tomorrow's data.
'''),
    code(r'''
NUMERIC_FEATURES = ["age", "income", "loan_amount", "credit_score"]
CATEGORIES = {
    "employment": ["employed", "self-employed", "unemployed", "retired"],
    "term_months": [12, 24, 36, 60],
}
FEATURE_NAMES = (NUMERIC_FEATURES + ["credit_score_missing"]
                 + [f"employment={c}" for c in CATEGORIES["employment"]]
                 + [f"term_months={c}" for c in CATEGORIES["term_months"]])


def fit_features(train_df):
    """{"mean": {column: float}, "std": {column: float}} of NUMERIC_FEATURES over train_df."""
''' + TODO + r'''

def transform(df, stats):
    """The (len(df), 13) float64 feature matrix of df, standardised with the given stats."""
''' + TODO, r'''
NUMERIC_FEATURES = ["age", "income", "loan_amount", "credit_score"]
CATEGORIES = {
    "employment": ["employed", "self-employed", "unemployed", "retired"],
    "term_months": [12, 24, 36, 60],
}
FEATURE_NAMES = (NUMERIC_FEATURES + ["credit_score_missing"]
                 + [f"employment={c}" for c in CATEGORIES["employment"]]
                 + [f"term_months={c}" for c in CATEGORIES["term_months"]])


def fit_features(train_df):
    """{"mean": {column: float}, "std": {column: float}} of NUMERIC_FEATURES over train_df."""
    mean, std = {}, {}
    for column in NUMERIC_FEATURES:
        x = train_df[column].to_numpy(dtype=np.float64)
        x = x[~np.isnan(x)]
        mean[column] = float(x.mean())
        s = float(x.std())                     # ddof=0
        std[column] = s if s > 0 else 1.0
    return {"mean": mean, "std": std}


def transform(df, stats):
    """The (len(df), 13) float64 feature matrix of df, standardised with the given stats."""
    blocks = []
    for column in NUMERIC_FEATURES:
        x = df[column].to_numpy(dtype=np.float64)
        z = (x - stats["mean"][column]) / stats["std"][column]
        blocks.append(np.where(np.isnan(x), 0.0, z))
    blocks.append(df["credit_score"].isna().to_numpy(dtype=np.float64))
    for column, categories in CATEGORIES.items():
        for category in categories:
            blocks.append((df[column] == category).to_numpy(dtype=np.float64))
    return np.column_stack(blocks).astype(np.float64)
'''),
    md(r'''
## Part 3 — train and version (Lab 2)

### The split (provided)

`split_train_test` puts a row in the test split when a hash of its key falls into the first
25 of 100 buckets. Unlike a random shuffle, this split is **stable**: a loan stays on the same
side when the file is re-exported in another order or when new loans arrive, so the test
split never leaks into training in the next run.

### Task 4: `train_model` and `predict`

`train_model(train_df, params)` trains a `LogisticRegression(**params)` on
`transform(train_df, fit_features(train_df))` with the labels `train_df[LABEL]`, and returns a
pair `(model, version)`:

* `model` is whatever your `predict` needs (it must carry the training statistics, since new
  data has to be transformed with them), for example a dict `{"stats": ..., "clf": ...}`;
* `version` is a **string**: a hash (e.g. `hashlib.sha256(...).hexdigest()`) of the **content**
  of the training data and of `params`. Training again on the same content with the same
  params — in this run, tomorrow, or on a copy of the table built separately — must give the
  same version; changing any value, dropping a row, or changing a parameter must give a
  different one. So: no time stamps, no random numbers, no `id()`, and not Python's built-in
  `hash()` of a string (it changes from one process to the next). `str(df)` is not the content
  either: pandas shows only the first and last rows of a long table.
  `pd.util.hash_pandas_object(df, index=False)` hashes every row; `json.dumps(params,
  sort_keys=True)` is a canonical text of the params.

`predict(model, df)` returns the predicted labels of the rows of `df` (which has no label
column) as a numpy `int64` array of 0s and 1s.

The autograder trains your `train_model` on clean loans of its own and scores `predict` on
held-out loans; with the features above, logistic regression gets about 80% of them right
(full marks from 77%).
'''),
    code(r'''
PARAMS = {"C": 1.0, "max_iter": 500}


# Provided -- do not change.
def split_train_test(df, test_percent=25):
    """(train_df, test_df): a row is in the test split when crc32 of its loan_id mod 100 < test_percent."""
    bucket = np.array([zlib.crc32(str(int(k)).encode()) % 100 for k in df["loan_id"]], dtype=np.int64)
    is_test = bucket < test_percent
    return df[~is_test].reset_index(drop=True), df[is_test].reset_index(drop=True)


def train_model(train_df, params):
    """(model, version): a LogisticRegression(**params) on the features of train_df, and a content hash."""
''' + TODO + r'''

def predict(model, df):
    """Predicted labels (numpy int64 array of 0/1) for the rows of df."""
''' + TODO, r'''
PARAMS = {"C": 1.0, "max_iter": 500}


# Provided -- do not change.
def split_train_test(df, test_percent=25):
    """(train_df, test_df): a row is in the test split when crc32 of its loan_id mod 100 < test_percent."""
    bucket = np.array([zlib.crc32(str(int(k)).encode()) % 100 for k in df["loan_id"]], dtype=np.int64)
    is_test = bucket < test_percent
    return df[~is_test].reset_index(drop=True), df[is_test].reset_index(drop=True)


def data_version(train_df, params):
    """sha256 of the table's content (column names and every row) and of the params."""
    h = hashlib.sha256()
    h.update(json.dumps([str(c) for c in train_df.columns]).encode())
    h.update(pd.util.hash_pandas_object(train_df, index=False).to_numpy().tobytes())
    h.update(json.dumps(params, sort_keys=True).encode())
    return h.hexdigest()


def train_model(train_df, params):
    """(model, version): a LogisticRegression(**params) on the features of train_df, and a content hash."""
    stats = fit_features(train_df)
    X = transform(train_df, stats)
    y = train_df[LABEL].to_numpy(dtype=np.int64)
    clf = LogisticRegression(**params).fit(X, y)
    return {"stats": stats, "clf": clf}, data_version(train_df, params)


def predict(model, df):
    """Predicted labels (numpy int64 array of 0/1) for the rows of df."""
    return model["clf"].predict(transform(df, model["stats"])).astype(np.int64)
'''),
    md(r'''
### The pipeline

The last cell runs everything on `data/loans.csv`: validate, split, train, evaluate on the
test split, and train once more to see that the version does not change.
'''),
    code(r'''
try:
    clean, rejections = load_and_validate(raw_text, SCHEMA)
    train_df, test_df = split_train_test(clean)
    model, version = train_model(train_df, PARAMS)
    accuracy = float(np.mean(predict(model, test_df.drop(columns=[LABEL])) == test_df[LABEL].to_numpy()))
    print(f"train {len(train_df)} rows, test {len(test_df)} rows, test accuracy {accuracy:.3f}")
    print("model version:", version)
    _, again = train_model(train_df, PARAMS)
    print("same version when trained again:", again == version)
    _, other = train_model(train_df.iloc[1:], PARAMS)
    print("different version without the first row:", other != version)
except NotImplementedError:
    print("not implemented yet")
'''),
]


if __name__ == "__main__":
    write_pair(CELLS, "m11", STARTER_PATH, SOLUTION_PATH, REPO)
