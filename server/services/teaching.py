"""Teaching staff's rules: release, an assignment's deadline and limits, regrading, what staff see.

Each function that changes something takes the ``actor`` and checks again that they teach the
assignment's course (a view that forgot its decorator still cannot release or regrade), records
the change in the audit log, and commits. Regrading only changes rows: the caller dispatches
the ids it gets back after the commit.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass
from pathlib import Path

from flask import current_app
from sqlalchemy import select

from handin.report import render_ta_report

from ..extensions import db
from ..models import COUNTS, Assignment, AuditEntry, Course, Submission, User, utcnow
from . import audit, catalog, grades, jobs, lateness
from .accounts import membership
from .errors import BadRequest, Conflict, NotFound

IN_FLIGHT = ("error", "queued", "running")
MAX_GROUP = 20   # what a teacher watches on the dashboard, most urgent first


@dataclass(frozen=True)
class AssignmentSettings:
    """What a teacher sets per course: the deadline (aware UTC), the late policy, attempts, which counts,
    how many hand in together, and how long after publishing students may ask for a regrade."""

    due: dt.datetime | None
    late_penalty_per_day: float
    max_late_days: float
    max_attempts: int | None
    counts: str
    group_size: int
    regrade_days: float

    @classmethod
    def of(cls, a: Assignment) -> "AssignmentSettings":
        return cls(a.due, a.late_penalty_per_day, a.max_late_days, a.max_attempts, a.counts, a.group_size,
                   a.regrade_days)

    def check(self) -> None:
        if self.due is not None and self.due.tzinfo is None:
            raise BadRequest("the deadline needs a time zone (UTC)")
        if not 0 <= self.late_penalty_per_day <= 100:
            raise BadRequest("the late penalty is a percent per day between 0 and 100")
        if self.max_late_days < 0:
            raise BadRequest("late days cannot be negative")
        if self.max_attempts is not None and self.max_attempts < 1:
            raise BadRequest("allow at least one attempt, or leave it blank for unlimited")
        if self.counts not in COUNTS:
            raise BadRequest(f"the submission that counts is one of {', '.join(COUNTS)}")
        if not 1 <= self.group_size <= MAX_GROUP:
            raise BadRequest(f"a group is 1 (everyone alone) to {MAX_GROUP} students")
        if not 0 <= self.regrade_days <= 365:
            raise BadRequest("the regrade window is 0 (no requests) to 365 days after publishing")

    def as_audit(self) -> dict:
        d = asdict(self)
        d["due"] = self.due.isoformat() if self.due else None
        return d


def _teaches(actor: User, course: Course) -> None:
    membership(actor, course.code, ("teacher",))


def assignment_in(course: Course, module: str) -> Assignment:
    a = db.session.scalar(select(Assignment).where(Assignment.course_id == course.id, Assignment.module == module))
    if a is None:
        raise NotFound()
    return a


def submission_in(course: Course, submission_id: int) -> Submission:
    """The submission, if it belongs to ``course``; NotFound otherwise (ids of other courses stay hidden)."""
    sub = db.session.get(Submission, submission_id)
    if sub is None or sub.assignment.course_id != course.id:
        raise NotFound()
    return sub


def set_released(a: Assignment, released: bool, *, actor: User) -> None:
    """Release (after the checks ``handin validate`` makes without grading) or hide an assignment."""
    _teaches(actor, a.course)
    if a.released == released:
        return
    if released:
        problems = catalog.release_problems(a.module)
        if problems:
            raise Conflict(f"{a.module} cannot be released: " + "; ".join(problems))
    a.released = released
    a.released_at = utcnow() if released else None
    audit.record("assignment.release" if released else "assignment.unrelease", actor=actor, course=a.course,
                 target=a.module)
    db.session.commit()


def update_settings(a: Assignment, new: AssignmentSettings, *, actor: User) -> bool:
    """Apply ``new``; returns whether anything changed (only changes are audited)."""
    _teaches(actor, a.course)
    new.check()
    before = AssignmentSettings.of(a)
    if new == before:
        return False
    a.due, a.late_penalty_per_day, a.max_late_days = new.due, new.late_penalty_per_day, new.max_late_days
    a.max_attempts, a.counts = new.max_attempts, new.counts
    a.group_size, a.regrade_days = new.group_size, new.regrade_days
    audit.record("assignment.settings", actor=actor, course=a.course, target=a.module,
                 before=before.as_audit(), after=new.as_audit())
    lateness.refresh(a.course)   # "late" and its penalty follow the new deadline at once, everywhere
    db.session.commit()
    return True


def regrade_targets(a: Assignment, *, every: bool = False) -> list[int]:
    """The submissions of ``a`` a regrade asks for: those that stand (one per student), or ``every`` attempt."""
    ids = db.session.scalars(select(Submission.id).where(Submission.assignment_id == a.id).order_by(Submission.id))
    standing = None if every else grades.standing_ids(a)
    return [i for i in ids if standing is None or i in standing]


def regrade_all(a: Assignment, *, actor: User, every: bool = False) -> list[int]:
    """Queue again the graded or failed submissions of ``a`` that stand, or of ``every`` attempt.

    Returns the ids to dispatch.
    """
    _teaches(actor, a.course)
    return jobs.regrade(regrade_targets(a, every=every), actor=actor, assignment=a)


def regrade_one(sub: Submission, *, actor: User) -> list[int]:
    _teaches(actor, sub.assignment.course)
    return jobs.regrade([sub.id], actor=actor, assignment=sub.assignment)


def submissions_to(a: Assignment) -> list[Submission]:
    """Every submission of ``a``, by student, latest attempt first."""
    return list(db.session.scalars(select(Submission).join(User, Submission.user_id == User.id)
                                   .where(Submission.assignment_id == a.id)
                                   .order_by(User.email, Submission.attempt.desc())))


def in_flight(course: Course, limit: int = 50) -> list[Submission]:
    """Failed, queued and running submissions of the course: failures first, then oldest first."""
    subs = db.session.scalars(select(Submission).join(Assignment).where(
        Assignment.course_id == course.id, Submission.status.in_(IN_FLIGHT)).order_by(Submission.queued_at))
    return sorted(subs, key=lambda s: IN_FLIGHT.index(s.status))[:limit]


def history(sub: Submission) -> list[AuditEntry]:
    """The audit entries about ``sub``, oldest first: its grades, overrides, and the regrades that queued it."""
    a = sub.assignment
    own = db.session.scalars(select(AuditEntry).where(AuditEntry.course_id == a.course_id,
                                                      AuditEntry.target == f"submission:{sub.id}"))
    # A regrade is recorded once per module with the ids it queued.
    regrades = db.session.scalars(select(AuditEntry).where(
        AuditEntry.course_id == a.course_id, AuditEntry.action == "assignment.regrade",
        AuditEntry.target == a.module))
    mine = [e for e in regrades if sub.id in (e.detail or {}).get("submissions", ())]
    return sorted([*own, *mine], key=lambda e: (e.at, e.id))


def ta_report(sub: Submission) -> Path | None:
    """The run's full report (ta.html, with both logs) in the instance folder, if it is there."""
    if sub.result is None or not sub.result.report_dir:
        return None
    root = current_app.extensions["handin"].instance.resolve()
    path = (root / sub.result.report_dir / "ta.html").resolve()
    return path if path.is_relative_to(root) and path.is_file() else None


def ta_report_html(sub: Submission) -> str | None:
    """The full report rendered now, from the stored run and logs, with the grade that stands now.

    The ta.html written at grading time knows only the computed grade; rendering again keeps the
    report in step with an override without a regrade.
    """
    path = ta_report(sub)
    if path is None:
        return None
    logs = {name: _read_log(path.parent / f"{name}.log") for name in ("student", "judge")}
    return render_ta_report(grades.current_results(sub), student_log=logs["student"], judge_log=logs["judge"])


def _read_log(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
