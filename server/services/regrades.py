"""Regrade requests: a student asks the staff to look at a grade again; a TA or teacher answers.

A request is on a graded submission, or on one test of it the student can see, with a reason. It
may be asked while the grades are unpublished, and for ``Assignment.regrade_days`` days after they
are published (0 turns requests off). One request per submission and test is open at a time. An
answer always carries a comment; "accepted" sets the new points through
:func:`grades.override`, so the grade, the banner, the report and the gradebook agree.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import case, func, select, update

from ..extensions import db
from ..models import REQUEST_STATES, Assignment, RegradeRequest, Submission, User, utcnow
from . import audit, grades, notify, submissions, teams
from .accounts import membership
from .errors import BadRequest, Conflict, NotFound

REASON_MAX = 4000
DECISIONS = ("accepted", "declined")
STAFF = ("ta", "teacher")


@dataclass(frozen=True)
class Window:
    open: bool
    closes: dt.datetime | None = None   # None while open: until the grades are published (or never)
    why_closed: str = ""


def window(sub: Submission, now: dt.datetime | None = None) -> Window:
    """Whether a regrade may be asked on ``sub`` now."""
    a = sub.assignment
    if not a.regrade_days:
        return Window(False, why_closed="regrade requests are off for this assignment")
    if sub.status != "graded" or sub.grade is None:
        return Window(False, why_closed="this hand-in is not graded yet")
    if not a.grades_published or a.published_at is None:
        return Window(True)
    closes = a.published_at + dt.timedelta(days=a.regrade_days)
    if (now or utcnow()) > closes:
        return Window(False, closes, f"regrade requests closed {closes:%Y-%m-%d %H:%M} UTC, "
                                     f"{a.regrade_days:g} days after the grades were published")
    return Window(True, closes)


def askable_tests(sub: Submission) -> list[tuple[str, str]]:
    """The tests a student may ask about: ``(name, title)`` of those their report shows."""
    doc = grades.student_results(sub) or {}
    return [(t["name"], t.get("title") or t["name"]) for t in doc.get("tests", [])
            if t.get("visibility") == "visible" and t.get("name")]


def ask(user: User, submission_id: int, *, reason: str, test: str | None = None,
        now: dt.datetime | None = None) -> RegradeRequest:
    """Open a request on a submission ``user`` handed in (alone or with their group); 404 for anyone else."""
    sub = own_submission(user, submission_id)
    reason = (reason or "").strip()
    test = (test or "").strip() or None
    if not reason:
        raise BadRequest("say why the grade should change: the reason is required")
    if len(reason) > REASON_MAX:
        raise BadRequest(f"the reason is {len(reason)} characters; keep it under {REASON_MAX}")
    w = window(sub, now)
    if not w.open:
        raise Conflict(w.why_closed)
    if test is not None and test not in dict(askable_tests(sub)):
        raise BadRequest(f"no test named {test[:300]!r} in your results")
    # Write to the submission's row first: PostgreSQL locks the row, SQLite takes its write lock. A second
    # ask waits here until the first commits, then finds its request open.
    db.session.execute(update(Submission).where(Submission.id == sub.id).values(attempt=Submission.attempt)
                       .execution_options(synchronize_session=False))
    if _open_request(sub.id, test) is not None:
        raise Conflict(f"there is already an open request on {_on(test)}; wait for its answer")
    req = RegradeRequest(submission=sub, requester=user, test=test, reason=reason, state="open",
                         created_at=now or utcnow())
    db.session.add(req)
    db.session.flush()
    audit.record("regrade.request", actor=user, course=sub.assignment.course, target=f"submission:{sub.id}",
                 request=req.id, test=test, reason=reason)
    db.session.commit()
    return req


def requests_on(sub: Submission) -> list[RegradeRequest]:
    """Every request on ``sub``, the newest first (the caller has checked who may see it)."""
    return list(db.session.scalars(select(RegradeRequest).where(RegradeRequest.submission_id == sub.id)
                                   .order_by(RegradeRequest.created_at.desc(), RegradeRequest.id.desc())))


def queue(course, state: str | None = None) -> list[RegradeRequest]:
    """A course's requests for its staff: open ones first, then the newest."""
    if state is not None and state not in REQUEST_STATES:
        raise BadRequest(f"state must be one of {', '.join(REQUEST_STATES)}")
    q = (select(RegradeRequest).join(Submission).join(Assignment).where(Assignment.course_id == course.id)
         .order_by(case((RegradeRequest.state == "open", 0), else_=1), RegradeRequest.created_at.desc(),
                   RegradeRequest.id.desc()))
    if state is not None:
        q = q.where(RegradeRequest.state == state)
    return list(db.session.scalars(q))


def open_count(course) -> int:
    return db.session.scalar(select(func.count()).select_from(RegradeRequest).join(Submission).join(Assignment)
                             .where(Assignment.course_id == course.id, RegradeRequest.state == "open")) or 0


def decide(actor: User, request_id: int, *, decision: str, comment: str,
           points: float | None = None) -> RegradeRequest:
    """Accept (with the new points) or decline a request; only the staff of its course, and only once."""
    req = db.session.get(RegradeRequest, request_id)
    if req is None:
        raise NotFound()
    sub = req.submission
    membership(actor, sub.assignment.course.code, STAFF)
    comment = (comment or "").strip()
    if decision not in DECISIONS:
        raise BadRequest(f"decision must be one of {', '.join(DECISIONS)}")
    if not comment:
        raise BadRequest("a decision needs a comment: the student reads it")
    if len(comment) > REASON_MAX:
        raise BadRequest(f"the comment is {len(comment)} characters; keep it under {REASON_MAX}")
    if decision == "accepted" and points is None:
        raise BadRequest("accepting a request sets the new points: give them")
    points = points if decision == "accepted" else None
    # Conditional on the request still being open: of two answers at once, one wins.
    res = db.session.execute(
        update(RegradeRequest).where(RegradeRequest.id == req.id, RegradeRequest.state == "open")
        .values(state=decision, comment=comment, points=points, decided_by_id=actor.id, decided_at=utcnow())
        .execution_options(synchronize_session=False))
    if res.rowcount != 1:
        db.session.rollback()
        db.session.refresh(req)
        raise Conflict(f"this request was already {req.state}"
                       + (f" by {req.decided_by.display_name}" if req.decided_by else ""))
    audit.record("regrade.decide", actor=actor, course=sub.assignment.course, target=f"submission:{sub.id}",
                 request=req.id, decision=decision, points=points, comment=comment)
    if decision == "accepted":
        try:
            with notify.held("overridden"):      # one message, the decision's, tells the student
                grades.override(sub, actor=actor, comment=comment, points=points)   # commits it all
        except Exception:
            db.session.rollback()
            raise
    else:
        db.session.commit()
    db.session.refresh(req)
    notify.regrade_decided(req)
    return req


def request_in(course, request_id: int) -> RegradeRequest:
    """A request on a submission of ``course``; NotFound for any other."""
    req = db.session.get(RegradeRequest, request_id)
    if req is None or req.submission.assignment.course_id != course.id:
        raise NotFound()
    return req


def own_submission(user: User, submission_id: int) -> Submission:
    """A submission ``user`` handed in, alone or with their group; NotFound for any other (staff's too)."""
    sub, _ = submissions.submission_for(user, submission_id)
    if not teams.may_see(user, sub):
        raise NotFound()
    return sub


def _open_request(submission_id: int, test: str | None) -> RegradeRequest | None:
    same_test = RegradeRequest.test.is_(None) if test is None else RegradeRequest.test == test
    return db.session.scalar(select(RegradeRequest).where(RegradeRequest.submission_id == submission_id,
                                                          RegradeRequest.state == "open", same_test))


def _on(test: str | None) -> str:
    return f"the test {test}" if test else "this hand-in"
