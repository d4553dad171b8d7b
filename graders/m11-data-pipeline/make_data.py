"""Generate the data files for m11-data-pipeline (run once; the outputs are committed).

    .venv/bin/python graders/m11-data-pipeline/make_data.py

Writes
  assignments/m11-data-pipeline/data/loans.csv     public: a messy loan table (seed 11)
  graders/m11-data-pipeline/data/loans_a.csv       hidden: messy, other seed and other kinds of mess
  graders/m11-data-pipeline/data/loans_b.csv       hidden: messy, CRLF line endings, reordered columns
  graders/m11-data-pipeline/data/loans_heldout.csv hidden: clean and labelled; scored by the judge only

The table: one loan application per row (loan_id, age, income and loan_amount in thousand EUR,
term_months, employment, credit_score, defaulted). Whether a loan defaulted is drawn from a
logistic model of the debt-to-income ratio, the credit score, employment, term and age, so a
logistic regression on the documented features gets about 80% right.

Mess is injected row by row and every injected problem is recorded; the script then checks that
reference.load_and_validate rejects exactly those (row, column, reason) records and accepts
exactly the other rows with their intended values, so the data and the reference agree by
construction. Kinds of mess:
  public (loans.csv): missing values ("" and "NA"), wrong types ("forty", "45k", ...),
      out-of-range and not-allowed values, exact and conflicting duplicate keys, rows with a
      field too few or too many, integers written as "650.0".
  hidden (loans_a/b.csv), in addition: an extra free-text `note` column whose values contain
      quoted commas, columns in another order, whitespace around values and header names,
      other missing tokens ("N/A", "null", "None", "nan", whitespace only), thousand separators
      ("1,200.5", quoted), "inf", values in the wrong case ("Employed"), an unquoted comma in a
      note (one field too many), a duplicate whose first occurrence is invalid (the later,
      valid row is kept), a duplicate that is itself invalid (reported for its cell only),
      CRLF line endings (loans_b.csv).
Everything is seeded: running the script again rewrites byte-identical files.
"""

from __future__ import annotations

import csv
import io
import math
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
sys.path.insert(0, str(HERE))
import reference as ref  # noqa: E402

PUBLIC_PATH = REPO / "assignments" / "m11-data-pipeline" / "data" / "loans.csv"
COLUMNS = list(ref.SCHEMA)
EMPLOYMENT = ref.CATEGORIES["employment"]
TERMS = ref.CATEGORIES["term_months"]

NOTES = ["", "", "", "first loan", "repeat customer", "paid late, twice", "co-signed, by parent",
         "refinancing", "asked for a longer term", "car, used", "home repairs", "wedding, small"]

BAD_TYPES = {
    "loan_id": ["L-{id}", "#{id}", "{id}a"],
    "age": ["forty", "42 years", "4 2", "42.5", "true"],
    "income": ["45k", "EUR 45", "45.0.1", "forty"],
    "loan_amount": ["12k", "ten", "$5.0"],
    "term_months": ["36 months", "3y", "36.5"],
    "credit_score": ["good", "700+", "712.5"],
    "defaulted": ["yes", "no", "0.5"],
}
HIDDEN_BAD_TYPES = {
    "income": ["1,200.5", "2,450", "inf", "-inf"],
    "loan_amount": ["1,250", "Infinity"],
    "age": ["3O", "1e-1"],
}
OUT_OF_RANGE = {
    "loan_id": [0, -5],
    "age": [7, 17, 101, 150],
    "income": [-3.0, -0.5, 1500.0],
    "loan_amount": [0.0, 0.5, 750.0],
    "credit_score": [250, 299, 851, 900],
}
NOT_ALLOWED = {
    "term_months": [48, 6, 18],
    "employment": ["student", "contractor", "unknown"],
    "defaulted": [2, -1],
}
HIDDEN_NOT_ALLOWED = {"employment": ["Employed", "RETIRED", "self employed"]}


# --------------------------------------------------------------------------- clean rows
def clean_rows(rng, n, first_id):
    rows = []
    loan_id = first_id
    for _ in range(n):
        loan_id += int(rng.integers(1, 4))
        age = int(np.clip(round(rng.normal(42, 13)), 18, 90))
        p_emp = [0.62, 0.15, 0.10, 0.13] if age < 62 else [0.25, 0.10, 0.05, 0.60]
        employment = EMPLOYMENT[int(rng.choice(4, p=p_emp))]
        income = float(np.exp(rng.normal(math.log(48.0), 0.45)))
        if employment == "unemployed":
            income *= 0.35
        elif employment == "retired":
            income *= 0.7
        income = round(float(np.clip(income, 3.0, 900.0)), 1)
        loan_amount = round(float(np.clip(income * rng.uniform(0.05, 1.3), 1.0, 500.0)), 1)
        term = TERMS[int(rng.choice(4, p=[0.2, 0.3, 0.3, 0.2]))]
        credit = int(np.clip(round(rng.normal(660, 75)), 300, 850))
        credit_missing = rng.random() < 0.08
        logit = (-1.0 + 5.0 * (loan_amount / income - 0.65) - 0.025 * (credit - 660)
                 + (0.9 if employment == "unemployed" else 0.0) + (0.35 if term == 60 else 0.0)
                 - 0.02 * (age - 42) + (0.5 if credit_missing else 0.0))
        defaulted = int(rng.random() < 1.0 / (1.0 + math.exp(-logit)))
        rows.append({"loan_id": loan_id, "age": age, "income": income, "loan_amount": loan_amount,
                     "term_months": term, "employment": employment,
                     "credit_score": None if credit_missing else credit, "defaulted": defaulted})
    return rows


# --------------------------------------------------------------------------- formatting
class Style:
    def __init__(self, rng, hidden):
        self.rng = rng
        self.hidden = hidden
        self.missing_tokens = ["", "NA"] if not hidden else ["N/A", "null", "None", "nan", "  ", "", "na", "NA"]

    def pick(self, options):
        return options[int(self.rng.integers(len(options)))]

    def pad(self, text):
        if self.hidden and self.rng.random() < 0.06:
            return self.pick([" ", "  ", "\t"]) + text + self.pick(["", " ", "  "])
        return text

    def value(self, column, value):
        if value is None:
            return self.pick(self.missing_tokens)
        if isinstance(value, float):
            text = repr(value)
        elif isinstance(value, int) and column in ("credit_score", "term_months", "age") \
                and self.rng.random() < (0.05 if self.hidden else 0.03):
            text = f"{value}.0"                      # exported through a float column
        else:
            text = str(value)
        return self.pad(text)


# --------------------------------------------------------------------------- messing up
def make_file(seed, n, first_id, hidden, header_order=None):
    """(records, expected): the data records (lists of field strings, in header order), the header,
    and the expected outcome: the set of (row, column, reason) and the intended accepted rows."""
    rng = np.random.default_rng(seed)
    style = Style(rng, hidden)
    header = list(header_order or COLUMNS)
    if hidden:
        header.insert(int(rng.integers(2, len(header))), "note")
    rows = clean_rows(rng, n, first_id)
    emitted = []          # (fields dict column -> text, issues: list of (column, reason), intended dict, malformed)

    def emit(values, issues=(), texts=None, malformed=0):
        fields = {c: style.value(c, values.get(c)) for c in COLUMNS}
        fields.update(texts or {})
        if "note" in header:
            fields["note"] = style.pick(NOTES)
        emitted.append((fields, list(issues), dict(values), malformed))

    def bad(column, kind):
        if kind == "missing":
            return style.pick([t for t in style.missing_tokens])
        if kind == "bad_type":
            options = BAD_TYPES[column] + (HIDDEN_BAD_TYPES.get(column, []) if hidden else [])
            return style.pad(style.pick(options).format(id=int(rng.integers(100, 999))))
        if kind == "out_of_range":
            return style.pad(str(style.pick(OUT_OF_RANGE[column])))
        if kind == "not_allowed":
            options = NOT_ALLOWED[column] + (HIDDEN_NOT_ALLOWED.get(column, []) if hidden else [])
            return style.pad(str(style.pick(options)))
        raise ValueError(kind)

    columns_for = {
        "missing": [c for c in COLUMNS if not ref.SCHEMA[c].get("nullable")],
        "bad_type": list(BAD_TYPES),
        "out_of_range": list(OUT_OF_RANGE),
        "not_allowed": list(NOT_ALLOWED),
    }
    kinds = ["missing", "bad_type", "out_of_range", "not_allowed"]
    p_cell = 0.09
    for i, row in enumerate(rows):
        u = rng.random()
        if u < p_cell:                                           # one or two broken cells
            n_bad = 1 if rng.random() < 0.85 else 2
            issues, texts = [], {}
            for _ in range(n_bad):
                kind = style.pick(kinds)
                column = style.pick(columns_for[kind])
                if column in texts:
                    continue
                texts[column] = bad(column, kind)
                issues.append((column, kind))
            emit(row, issues, texts)
        elif u < p_cell + 0.012:                                 # a field too few or too many
            emit(row, malformed=style.pick([-1, 1]))
        else:
            emit(row)
        # duplicates of earlier rows
        if i > 5 and rng.random() < 0.035:
            j = int(rng.integers(max(0, len(emitted) - 40), len(emitted)))
            fields, issues, values, malformed = emitted[j]
            if malformed:
                continue
            choice = rng.random()
            if choice < 0.45:                                    # exact copy (the same text)
                emitted.append((dict(fields), list(issues), dict(values), 0))
            elif choice < 0.8 or not hidden:                     # same key, other (valid) values
                other = dict(clean_rows(rng, 1, values["loan_id"])[0])
                other["loan_id"] = values["loan_id"]
                emit(other)
            else:                                                # same key, and itself invalid
                other = dict(values)
                emit(other, [("age", "out_of_range")], {"age": style.pad(str(style.pick(OUT_OF_RANGE["age"])))})
    if hidden:
        # a key whose first occurrence is invalid: the later, valid row is the one that is kept
        for _ in range(2):
            k = int(rng.integers(10, len(emitted) - 10))
            fields, issues, values, malformed = emitted[k]
            if issues or malformed:
                continue
            broken = dict(fields)
            broken["income"] = bad("income", "bad_type")
            emitted.insert(k, (broken, [("income", "bad_type")], dict(values), 0))
        # one unquoted comma in a note: that record gets one field too many
        k = next(i for i in range(len(emitted) // 2, len(emitted)) if not emitted[i][1] and not emitted[i][3])
        fields, issues, values, _ = emitted[k]
        emitted[k] = (fields, issues, values, "note")
    # the records and the expected outcome, in file order
    expected, accepted, seen = set(), [], set()
    records = []
    for row_no, (fields, issues, values, malformed) in enumerate(emitted, start=1):
        record = [fields[c] for c in header]
        if malformed == "note":
            at = header.index("note")
            record[at:at + 1] = ["paid on time", " mostly"]
        elif malformed > 0:
            record.insert(int(rng.integers(1, len(record))), style.pick(["", "x", "0"]))
        elif malformed < 0:
            del record[int(rng.integers(0, len(record)))]
        if malformed:
            expected.add((row_no, None, "malformed_row"))
        elif issues:
            expected.update((row_no, c, r) for c, r in issues)
        elif values["loan_id"] in seen:
            expected.add((row_no, "loan_id", "duplicate_key"))
        else:
            seen.add(values["loan_id"])
            accepted.append(values)
        records.append(record)
    return header, records, expected, accepted


def to_text(header, records, crlf=False, pad_header=False):
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n" if crlf else "\n")
    writer.writerow([f" {h}" if pad_header and h in ("age", "employment") else h for h in header])
    writer.writerows(records)
    return buf.getvalue()


def check(text, expected, accepted, name):
    columns, rejections = ref.load_and_validate(text, ref.SCHEMA)
    if rejections != expected:
        missing, extra = sorted(expected - rejections, key=str), sorted(rejections - expected, key=str)
        raise SystemExit(f"{name}: the reference disagrees with the injected mess: "
                         f"not found {missing[:10]}, unexpected {extra[:10]}")
    want = {c: [r[c] for r in accepted] for c in ref.SCHEMA}
    if columns != want:
        raise SystemExit(f"{name}: the reference's accepted rows differ from the intended ones")
    counts = {}
    for _, _, reason in rejections:
        counts[reason] = counts.get(reason, 0) + 1
    rows = len(text.splitlines()) - 1
    print(f"{name}: {rows} records, {len(columns['loan_id'])} accepted, rejections {dict(sorted(counts.items()))}")


def write(path: Path, text: str):
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8", newline="") as f:
        f.write(text)


def main():
    header, records, expected, accepted = make_file(11, 520, 10000, hidden=False)
    text = to_text(header, records)
    check(text, expected, accepted, "loans.csv (public)")
    write(PUBLIC_PATH, text)

    order_b = ["loan_id", "employment", "age", "credit_score", "income", "term_months", "loan_amount", "defaulted"]
    for name, seed, first_id, order, crlf in (("loans_a.csv", 101, 20000, None, False),
                                              ("loans_b.csv", 202, 30000, order_b, True)):
        header, records, expected, accepted = make_file(seed, 420, first_id, hidden=True, header_order=order)
        text = to_text(header, records, crlf=crlf, pad_header=True)
        check(text, expected, accepted, name + " (hidden)")
        write(ref.DATA / name, text)

    rng = np.random.default_rng(303)
    rows = clean_rows(rng, 600, 40000)
    style = Style(rng, hidden=False)
    text = to_text(COLUMNS, [[style.value(c, r[c]) if r[c] is not None else "" for c in COLUMNS] for r in rows])
    check(text, set(), rows, ref.HELDOUT_FILE + " (hidden)")
    write(ref.DATA / ref.HELDOUT_FILE, text)
    print("default rate (held-out):", round(float(np.mean([r["defaulted"] for r in rows])), 3))


if __name__ == "__main__":
    main()
