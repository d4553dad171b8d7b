"""Course grades as files: the export a registrar's system or an LMS gradebook takes, and entry by CSV.

The import is all or nothing, like the roster's: every row is checked first and each bad one is
named with its line; nothing is written unless all are good.
"""

from __future__ import annotations

import csv
import io

from handin.course import Component

from ..extensions import db
from ..models import Course, User
from . import accounts, course_grades
from .errors import ServiceError
from .grades import _csv_safe
from .roster import RosterRejected, RowError

EXPORT_FIELDS = ("student", "name", "component", "credits", "grade", "date")
IMPORT_COLUMNS = ("email", "component", "result")
MAX_ROWS = 5000


class GradesRejected(RosterRejected):
    """The grades file was refused as a whole; ``rows`` names every bad line."""


def export_csv(course: Course) -> str:
    """One row per student and completed component, and one for the course grade once it is complete.

    The course grade's row has the course's code (upper case) and credits; dates are ISO days.
    """
    defn = course_grades.require(course)
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=EXPORT_FIELDS)
    w.writeheader()
    for row in course_grades.class_grades(course, defn):
        user = row.user
        for code, r in row.grade.components.items():
            if r.complete:
                w.writerow(_safe(user, code, defn.components[code].credits, r.shown, r.at))
        final = row.grade.final
        if final.complete:
            w.writerow(_safe(user, defn.code.upper(), defn.credits, final.grade, final.at))
    return buf.getvalue()


def _safe(user: User, code: str, credits: float, grade: str | None, at) -> dict:
    return {"student": _csv_safe(user.email), "name": _csv_safe(user.name), "component": code,
            "credits": f"{credits:g}", "grade": grade or "", "date": at.date().isoformat() if at else ""}


def import_csv(course: Course, data: bytes, *, actor: User) -> int:
    """Enter the results in ``data`` (CSV: email,component,result); returns how many rows were stored.

    ``result`` is a grade of the component's scale, its points, or the sessions attended. An
    empty result clears what was entered.
    """
    enrollment = accounts.membership(actor, course.code, ("ta", "teacher"))
    defn = course_grades.require(course)
    rows, errors, seen = [], [], {}
    for line, fields in _rows(data):
        value = {name: fields[i].strip() for i, name in enumerate(IMPORT_COLUMNS)}
        key = (value["email"].lower(), value["component"])
        if key in seen:
            errors.append(RowError(line, f"{key[0]} {key[1]} is already on line {seen[key]}"))
            continue
        seen[key] = line
        try:
            c, student = course_grades.check(defn, enrollment, course, value["component"], value["email"].lower())
            entry = entry_of(c, value["result"])
            problem = c.check_entry(**entry) if entry else None
        except ServiceError as exc:
            problem = exc.message
        if problem:
            errors.append(RowError(line, problem))
        else:
            rows.append((c, student, entry))
    if errors:
        raise GradesRejected(f"{len(errors)} bad row{'s' if len(errors) != 1 else ''}: nothing was entered", errors)
    for c, student, entry in rows:
        course_grades.store(course, c, student, actor=actor, **entry)
    db.session.commit()
    return len(rows)


def _rows(data: bytes) -> list[tuple[int, list[str]]]:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise GradesRejected("the file is not UTF-8 text (save it as CSV UTF-8)", [RowError(1, "not UTF-8")]) \
            from None
    reader = csv.reader(io.StringIO(text, newline=""))
    expected = ",".join(IMPORT_COLUMNS)
    try:
        header = [h.strip().lower() for h in next(reader, [])]
        if header != list(IMPORT_COLUMNS):
            raise GradesRejected(f"wrong header: expected {expected}", [RowError(1, f"expected {expected}")])
        out, bad = [], []
        for fields in reader:
            line = reader.line_num
            if not any(f.strip() for f in fields):
                continue
            if len(fields) != len(IMPORT_COLUMNS):
                bad.append(RowError(line, f"{len(fields)} fields, the header has {len(IMPORT_COLUMNS)}"))
            else:
                out.append((line, fields))
    except csv.Error as exc:
        raise GradesRejected("the file is not valid CSV", [RowError(reader.line_num, str(exc))]) from None
    if bad:
        raise GradesRejected(f"{len(bad)} bad row{'s' if len(bad) != 1 else ''}: nothing was entered", bad)
    if not out or len(out) > MAX_ROWS:
        raise GradesRejected("no rows" if not out else f"at most {MAX_ROWS} rows",
                             [RowError(2 if not out else MAX_ROWS + 2, "no rows" if not out else "over the limit")])
    return out


def entry_of(c: Component, result: str) -> dict:
    """The entry a cell stands for: {} (clear), {"grade"}, {"points"} or {"attended"}."""
    if not result:
        return {}
    if c.kind == "grade":
        return {"grade": result.upper() if result.upper() in c.scale.grades else result}
    try:
        number = float(result.replace(",", "."))
    except ValueError:
        raise ServiceError(f"{result!r} is not a number ({c.code} takes "
                           f"{'points' if c.kind == 'points' else 'the sessions attended'})") from None
    if c.kind == "points":
        return {"points": number}
    if not number.is_integer():
        raise ServiceError(f"{result!r}: sessions attended is a whole number")
    return {"attended": int(number)}
