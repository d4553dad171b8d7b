"""A course's people: import the roster from CSV, list and search members, change a role, remove.

An import is all or nothing: every row is checked before anything is written, and one bad row
(named with its line) rejects the file. Importing the same file again changes nothing; a changed
name, role or group is updated in place. New accounts get no password: each gets a one-time
invitation link, returned to the caller to hand on (there is no mail yet).
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass

from sqlalchemy import func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload

from ..extensions import db
from ..models import ROLES, Assignment, Course, Enrollment, Submission, User
from . import accounts, audit
from .errors import BadRequest, Conflict, NotFound, Unprocessable

COLUMNS = ("email", "name", "role")
OPTIONAL = ("group",)
MAX_ROWS = 5000
MAX_NAME = 200
MAX_GROUP = 100
_CHUNK = 500   # emails per IN (...) query: well under every database's bound-parameter limit


@dataclass(frozen=True)
class RosterRow:
    line: int
    email: str
    name: str
    role: str
    group: str | None
    has_group: bool     # the file has a group column (without one, a member's group is left as it is)


@dataclass(frozen=True)
class RowError:
    line: int
    error: str


class RosterRejected(Unprocessable):
    """The file was refused as a whole; ``rows`` names every bad line."""

    def __init__(self, message: str, rows: list[RowError]):
        super().__init__(message)
        self.rows = rows


@dataclass(frozen=True)
class Invitation:
    email: str
    link: str


@dataclass(frozen=True)
class ImportReport:
    added: int          # new members of the course (new accounts or accounts from other courses)
    updated: int        # members whose name, role or group changed
    unchanged: int
    invitations: list[Invitation]   # one per new account: shown once, never stored in the clear


@dataclass(frozen=True)
class Member:
    user_id: int
    email: str
    name: str
    role: str
    group: str | None
    invited: bool       # has not set a password yet


def parse_csv(data: bytes) -> list[RosterRow]:
    """The rows of a roster file, or RosterRejected naming every bad line (line 1 is the header)."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[:exc.start].count(b"\n") + 1
        raise RosterRejected("the file is not UTF-8 text (save it as CSV UTF-8)",
                             [RowError(line, "not UTF-8")]) from None
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    line = 1   # where the row being read starts
    try:
        header = next(reader, None)
        if header is None:
            raise RosterRejected("the file is empty", [RowError(1, "no header: expected email,name,role[,group]")])
        index = _read_header(header)
        rows, errors, seen = [], [], {}
        while True:
            line = reader.line_num + 1
            fields = next(reader, None)
            if fields is None:
                break
            if not any(f.strip() for f in fields):
                continue   # blank lines (a spreadsheet's trailing ones)
            if len(rows) + len(errors) >= MAX_ROWS:
                raise RosterRejected(f"too many rows: at most {MAX_ROWS} per file",
                                     [RowError(line, f"row {MAX_ROWS + 1}: over the limit")])
            row, problems = _read_row(line, fields, index, header_len=len(header))
            if row is not None and row.email in seen:
                problems.append(f"{row.email} is already on line {seen[row.email]}")
            if problems:
                errors.append(RowError(line, "; ".join(problems)))
            else:
                seen[row.email] = line
                rows.append(row)
    except csv.Error as exc:
        raise RosterRejected("the file is not valid CSV", [RowError(line, f"{exc} (an unclosed quote?)")]) from None
    if errors:
        raise RosterRejected(f"{len(errors)} bad row{'s' if len(errors) != 1 else ''}: nothing was imported", errors)
    if not rows:
        raise RosterRejected("the file has a header but no rows", [RowError(2, "no rows")])
    return rows


def _read_header(header: list[str]) -> dict[str, int]:
    names = [h.strip().lower() for h in header]
    expected = ",".join(COLUMNS) + "[," + ",".join(OPTIONAL) + "]"
    problems = [f"unknown column {n!r}" for n in names if n not in COLUMNS + OPTIONAL]
    problems += [f"column {n!r} twice" for n in sorted(set(names)) if names.count(n) > 1]
    problems += [f"no {c!r} column" for c in COLUMNS if c not in names]
    if problems:
        raise RosterRejected(f"wrong header: expected {expected}",
                             [RowError(1, "; ".join(problems) + f" (expected {expected})")])
    return {n: i for i, n in enumerate(names)}


def _read_row(line: int, fields: list[str], index: dict[str, int], *, header_len: int
              ) -> tuple[RosterRow | None, list[str]]:
    if len(fields) > header_len and not any(f.strip() for f in fields[header_len:]):
        fields = fields[:header_len]   # a spreadsheet's empty trailing cells
    if len(fields) != header_len:
        return None, [f"{len(fields)} fields, the header has {header_len}"]
    value = {name: fields[i].strip() for name, i in index.items()}
    problems = [f"{c} is missing" for c in COLUMNS if not value[c]]
    email = value["email"]
    if email:
        try:
            email = accounts.normalise_email(email)
        except BadRequest as exc:
            problems.append(exc.message)
    role = value["role"].lower()
    if role and role not in ROLES:
        problems.append(f"role {value['role']!r} is not one of {', '.join(ROLES)}")
    if len(value["name"]) > MAX_NAME:
        problems.append(f"name longer than {MAX_NAME} characters")
    group = value.get("group") or None
    if group is not None and len(group) > MAX_GROUP:
        problems.append(f"group longer than {MAX_GROUP} characters")
    return (RosterRow(line, email, value["name"], role, group, "group" in index) if email else None), problems


def import_csv(course: Course, data: bytes, *, actor: User | None) -> ImportReport:
    """Check every row, then add or update them all in one transaction (the caller's ``actor`` is audited).

    A teacher cannot change their own role by import (they would lock themselves out). ``actor``
    None is the command line, which may do anything.
    """
    if actor is not None:
        accounts.membership(actor, course.code, ("teacher",))
    rows = parse_csv(data)
    members = {e.user.email: e for e in db.session.scalars(
        select(Enrollment).where(Enrollment.course_id == course.id).options(joinedload(Enrollment.user)))}
    if actor is not None:
        mine = members.get(actor.email)
        own = [RowError(r.line, "you cannot change your own role") for r in rows
               if r.email == actor.email and mine is not None and r.role != mine.role]
        if own:
            raise RosterRejected("a bad row: nothing was imported", own)
    users = _users_by_email([r.email for r in rows if r.email not in members])
    added = updated = unchanged = 0
    invitations = []
    try:
        for r in rows:
            enrollment = members.get(r.email)
            if enrollment is None:
                user = users.get(r.email)
                if user is None:
                    user = User(email=r.email, name=r.name, password_hash=accounts.NO_PASSWORD)
                    db.session.add(user)
                    invitations.append(Invitation(r.email, accounts.issue_link(user, "invite", new_user=True)))
                else:
                    user.name = r.name
                db.session.add(Enrollment(user=user, course=course, role=r.role, group_name=r.group))
                added += 1
                continue
            before = (enrollment.user.name, enrollment.role, enrollment.group_name)
            group = r.group if r.has_group else enrollment.group_name
            enrollment.user.name, enrollment.role, enrollment.group_name = r.name, r.role, group
            if before == (r.name, r.role, group):
                unchanged += 1
            else:
                updated += 1
        audit.record("roster.import", actor=actor, course=course, target=course.code, added=added, updated=updated,
                     invited=len(invitations))
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        raise Conflict("the roster changed while this file was imported (another import at once?); "
                       "import it again") from None
    return ImportReport(added, updated, unchanged, invitations)


def _users_by_email(emails: list[str]) -> dict[str, User]:
    found: dict[str, User] = {}
    for i in range(0, len(emails), _CHUNK):
        for user in db.session.scalars(select(User).where(User.email.in_(emails[i:i + _CHUNK]))):
            found[user.email] = user
    return found


def members(course: Course, *, search: str = "", role: str | None = None) -> list[Member]:
    """The course's members by role (teachers first) then email; ``search`` matches email or name."""
    if role is not None and role not in ROLES:
        raise BadRequest(f"role must be one of {', '.join(ROLES)}")
    query = select(Enrollment, User).join(User).where(Enrollment.course_id == course.id)
    search = search.strip()
    if search:
        query = query.where(or_(User.email.icontains(search, autoescape=True),
                                User.name.icontains(search, autoescape=True)))
    if role:
        query = query.where(Enrollment.role == role)
    order = {r: i for i, r in enumerate(reversed(ROLES))}
    rows = [Member(u.id, u.email, u.name, e.role, e.group_name, u.password_hash == accounts.NO_PASSWORD)
            for e, u in db.session.execute(query)]
    return sorted(rows, key=lambda m: (order[m.role], m.email))


def member(course: Course, user_id: int) -> Enrollment:
    e = db.session.scalar(select(Enrollment).where(Enrollment.course_id == course.id, Enrollment.user_id == user_id))
    if e is None:
        raise NotFound()
    return e


def submission_count(course: Course, user_id: int) -> int:
    return db.session.scalar(select(func.count(Submission.id)).join(Assignment)
                             .where(Assignment.course_id == course.id, Submission.user_id == user_id)) or 0


def set_role(course: Course, user_id: int, role: str, *, actor: User) -> bool:
    """Change a member's role; False when it was already that. Teachers only; not their own."""
    accounts.membership(actor, course.code, ("teacher",))
    if role not in ROLES:
        raise BadRequest(f"role must be one of {', '.join(ROLES)}")
    e = member(course, user_id)
    if e.user_id == actor.id:
        raise Conflict("you cannot change your own role")
    if e.role == role:
        return False
    audit.record("member.role", actor=actor, course=course, target=e.user.email, before=e.role, after=role)
    e.role = role
    db.session.commit()
    return True


def remove(course: Course, user_id: int, *, actor: User) -> str:
    """Take a member out of the course; their account and submissions stay. Returns their email."""
    accounts.membership(actor, course.code, ("teacher",))
    e = member(course, user_id)
    if e.user_id == actor.id:
        raise Conflict("you cannot remove yourself from the course")
    email = e.user.email
    audit.record("member.remove", actor=actor, course=course, target=email, role=e.role, group=e.group_name)
    db.session.delete(e)
    db.session.commit()
    return email


def invite_again(course: Course, user_id: int, *, actor: User) -> Invitation:
    """A new invitation link for a member who has not set a password yet (the old link stops working).

    Only for them: a teacher cannot take over an account its holder already uses (that is a
    password reset, for the platform's admin: ``handin user reset-password``).
    """
    accounts.membership(actor, course.code, ("teacher",))
    e = member(course, user_id)
    if e.user.password_hash != accounts.NO_PASSWORD:
        raise Conflict(f"{e.user.email} has set a password already; the platform's admin can send a reset link")
    link = accounts.issue_link(e.user, "invite")
    audit.record("member.invite", actor=actor, course=course, target=e.user.email)
    db.session.commit()
    return Invitation(e.user.email, link)
