"""Handing in: which assignments a member sees, deadlines, attempts, intake and storage."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from flask import current_app
from sqlalchemy import func, or_, select
from sqlalchemy.exc import IntegrityError

from handin.notebook import IntakeError, parse_notebook
from handin.units import format_size

from ..extensions import db
from ..models import Assignment, Course, Enrollment, Submission, User, utcnow
from . import catalog, lateness, teams
from .accounts import membership
from .errors import Conflict, NotFound, TooLarge, Unprocessable

STAFF = ("ta", "teacher")


@dataclass(frozen=True)
class Window:
    """Where an assignment's hand-in stands at one moment."""

    open: bool
    late: bool
    closes: dt.datetime | None   # the last moment a hand-in is accepted (None: never closes)
    reason: str = ""


def window(a: Assignment, now: dt.datetime | None = None, user: User | None = None) -> Window:
    """On time until the due date; then late while the late policy or late days allow; then closed.

    With ``user``, the due date is their team's (an extension) and their late days left keep the
    hand-in open that much longer. With no late policy (no penalty, no late-day limit) and no
    late days the deadline is hard. With a penalty and no day limit, late hand-ins are taken until
    the penalty reaches 100%.
    """
    now = now or utcnow()
    due, spare = a.due, 0
    if user is not None and a.due is not None:
        team = teams.team_of(a, user.id)
        due = lateness.due_for(a, team.member_ids)
        spare = lateness.late_days_left(a.course, team.member_ids, besides=a)
    if due is None:
        return Window(True, False, None)
    closes = _closes(a, due, spare)
    if now <= due:
        return Window(True, False, closes)
    if closes is not None and now > closes:
        return Window(False, True, closes, f"the deadline ({_fmt(due)}) has passed"
                      + (f" and so has the late period ({a.max_late_days:g} days)" if a.max_late_days else ""))
    return Window(True, True, closes)


def _closes(a: Assignment, due: dt.datetime, spare_days: int = 0) -> dt.datetime | None:
    if a.max_late_days:
        return due + dt.timedelta(days=max(a.max_late_days, spare_days))
    if a.late_penalty_per_day:
        return None
    return due + dt.timedelta(days=spare_days)


def _fmt(t: dt.datetime) -> str:
    return t.strftime("%Y-%m-%d %H:%M UTC")


def assignment_for(user: User, course_code: str, module: str) -> tuple[Enrollment, Assignment]:
    """The assignment as ``user`` may see it: students only see released ones."""
    enrollment = membership(user, course_code)
    a = db.session.scalar(select(Assignment).join(Course).where(Course.code == course_code,
                                                                Assignment.module == module))
    if a is None or (not a.released and enrollment.role not in STAFF):
        raise NotFound()
    return enrollment, a


def visible_assignments(enrollment: Enrollment) -> list[Assignment]:
    q = select(Assignment).where(Assignment.course_id == enrollment.course_id).order_by(Assignment.module)
    if enrollment.role not in STAFF:
        q = q.where(Assignment.released.is_(True))
    return list(db.session.scalars(q))


def attempts_used(a: Assignment, user: User) -> int:
    """Attempts the user's team (alone, or their group) has used on ``a``."""
    return _used(a, teams.team_of(a, user.id).key)


def _used(a: Assignment, team_key: str) -> int:
    return db.session.scalar(select(func.count()).select_from(Submission).where(
        Submission.assignment_id == a.id, Submission.team == team_key)) or 0


def attempts_left(a: Assignment, user: User) -> int | None:
    if a.max_attempts is None:
        return None
    return max(0, a.max_attempts - attempts_used(a, user))


def submit(user: User, course_code: str, module: str, *, filename: str, data: bytes,
           now: dt.datetime | None = None) -> Submission:
    """Check, store and record one upload; the caller dispatches it after this commits.

    Order of refusals: not visible (404), closed or out of attempts (409), too large (413), not a
    notebook (422; it costs no attempt). The file is on disk, fsynced, before the commit.
    """
    now = now or utcnow()
    _, a = assignment_for(user, course_code, module)
    w = window(a, now, user)
    if not w.open:
        raise Conflict(f"hand-in closed: {w.reason}")
    team = teams.team_of(a, user.id)
    if a.max_attempts is not None and _used(a, team.key) >= a.max_attempts:
        raise Conflict(f"no attempts left: all {a.max_attempts} are used")
    spec = catalog.spec_for(a)
    limit = spec.intake.max_notebook_size
    if len(data) > limit:
        raise TooLarge(f"the notebook is {format_size(len(data))}; the limit is {format_size(limit)} "
                       "(clear all outputs — Edit → Clear All Outputs — and save again)")
    if not filename.lower().endswith(".ipynb"):
        raise Unprocessable(f"not a notebook: expected a .ipynb file, got {filename[:100]!r}")
    try:
        parse_notebook(data, max_bytes=limit, max_cells=spec.intake.max_cells)
    except IntakeError as exc:
        raise Unprocessable(str(exc)) from None
    sha, _ = current_app.extensions["handin"].uploads.put(data)
    for _try in range(5):
        attempt = _used(a, team.key) + 1
        if a.max_attempts is not None and attempt > a.max_attempts:
            raise Conflict(f"no attempts left: all {a.max_attempts} are used")
        sub = Submission(assignment=a, user=user, team=team.key, group_id=team.group_id, attempt=attempt,
                         filename=_clean_name(filename), sha256=sha, size=len(data), submitted_at=now,
                         late=w.late, status="queued", queue=catalog.queue_for(spec), queued_at=now)
        db.session.add(sub)
        try:
            db.session.commit()
        except IntegrityError:   # a concurrent upload (a group mate's, perhaps) took this number: count again
            db.session.rollback()
            continue
        _refresh_lateness(a)
        return sub
    raise Conflict("too many uploads at once; try again")


def _refresh_lateness(a: Assignment) -> None:
    """A new hand-in may spend late days: recompute the course's lateness (it is recorded already)."""
    if a.due is None:
        return
    try:
        lateness.refresh(a.course, changed_in=a)
        db.session.commit()
    except Exception:   # the hand-in is safe; the next rule change or grading recomputes
        db.session.rollback()
        current_app.logger.exception("recomputing lateness after a hand-in to %s failed", a.module)


def _clean_name(filename: str) -> str:
    name = filename.replace("\\", "/").rsplit("/", 1)[-1]
    return "".join(c for c in name if c.isprintable())[:200] or "submission.ipynb"


def submission_for(user: User, submission_id: int) -> tuple[Submission, Enrollment]:
    """A submission its owner or the course's staff may see; NotFound for anyone else."""
    sub = db.session.get(Submission, submission_id)
    if sub is None:
        raise NotFound()
    course_code = sub.assignment.course.code
    enrollment = membership(user, course_code)
    if enrollment.role not in STAFF and not teams.may_see(user, sub):
        raise NotFound()
    if enrollment.role not in STAFF and not sub.assignment.released:
        raise NotFound()
    return sub, enrollment


def submissions_of(user: User, a: Assignment) -> list[Submission]:
    """The user's team's hand-ins of ``a`` and any they handed in alone before joining it, latest first."""
    key = teams.team_of(a, user.id).key
    return list(db.session.scalars(select(Submission).where(
        Submission.assignment_id == a.id, or_(Submission.team == key, Submission.user_id == user.id))
        .order_by(Submission.submitted_at.desc(), Submission.id.desc())))
