"""Lateness from the rules as they stand now: the deadline, a student's extension, their late days.

Nothing about lateness is decided once and kept: :func:`refresh` recomputes every submission's
``days_late``, ``late_days_used`` and ``late`` and every grade's late penalty (from the points
before it, ``Grade.raw_points``) whenever a rule changes, so a moved deadline, an extension or a
group shows at once on every page and in the gradebook, without running a notebook again.

Late days are a course-wide budget per student (``Course.late_days``). A team's latest hand-in
of an assignment spends what it needs (whole days after its due date, rounded up) while every
member has days left, so a resubmission two days late after one a day late spends two days,
not three. A group spends the same days from each member's budget. Assignments spend in the
order of their deadlines. Days spent move that team's deadline for that assignment; the late
penalty (``late_penalty_per_day``, ``max_late_days``) applies to what lies beyond.
"""

from __future__ import annotations

import datetime as dt
import math
from sqlalchemy import select

from ..extensions import db
from ..models import Assignment, Course, Extension, Submission, utcnow
from . import audit, catalog, teams
from .accounts import membership
from .errors import BadRequest

DAY = dt.timedelta(days=1)
FAR = dt.datetime.max.replace(tzinfo=dt.timezone.utc)


def days_after(t: dt.datetime, due: dt.datetime | None) -> int:
    """Whole days from ``due`` to ``t``, rounded up; 0 when on time or without a deadline."""
    if due is None or t <= due:
        return 0
    return math.ceil((t - due).total_seconds() / 86400)


def penalty_percent(a: Assignment, days: int) -> float:
    if days <= 0:
        return 0.0
    if a.max_late_days and days > a.max_late_days:
        return 100.0
    return min(100.0, a.late_penalty_per_day * days)


def extensions(a: Assignment) -> dict[int, dt.datetime]:
    return {e.user_id: e.due for e in db.session.scalars(select(Extension).where(Extension.assignment_id == a.id))}


def due_for(a: Assignment, member_ids, granted: dict[int, dt.datetime] | None = None) -> dt.datetime | None:
    """The team's due date: the latest extension any member has, or the assignment's deadline."""
    granted = extensions(a) if granted is None else granted
    own = [granted[m] for m in member_ids if m in granted]
    return max(own) if own else a.due


def late_days_left(course: Course, member_ids, *, besides: Assignment | None = None) -> int:
    """The days the team could still spend (the least any member has left), not counting ``besides``."""
    if not course.late_days:
        return 0
    left = []
    for m in member_ids:
        spent = 0
        for a in course.assignments:
            if besides is not None and a.id == besides.id:
                continue
            subs = teams.team_submissions(a, m)
            spent += max((s.late_days_used for s in subs), default=0)
        left.append(max(0, course.late_days - spent))
    return min(left, default=0)


def refresh(course: Course, *, changed_in: Assignment | None = None) -> int:
    """Recompute lateness and late penalties of every submission of ``course``; returns rows changed.

    The caller commits. Cheap enough for every rule change: one pass over the course's submissions.
    ``changed_in``: only that assignment's hand-ins changed; without late days nothing else can move
    (a hand-in's lateness is then its own), so only that assignment is walked.
    """
    budget: dict[int, int] = {}
    changed = 0
    scales: dict[int, object] = {}
    walk = [changed_in] if changed_in is not None and not course.late_days else course.assignments
    for a in sorted(walk, key=lambda a: (a.due or FAR, a.id)):
        granted = extensions(a)
        for key, subs in teams.by_team(a).items():
            members = teams.members_of_key(key) or (subs[0].user_id,)
            due = due_for(a, members, granted)
            need = days_after(subs[0].submitted_at, due)   # the latest attempt spends for the team
            have = min(budget.setdefault(m, course.late_days) for m in members)
            use = min(need, have)
            for m in members:
                budget[m] -= use
            for sub in subs:
                changed += _set(sub, days_after(sub.submitted_at, due), use, scales)
    return changed


def _set(sub: Submission, days: int, used: int, scales: dict) -> int:
    late = days > used
    before = (sub.days_late, sub.late_days_used, sub.late)
    sub.days_late, sub.late_days_used, sub.late = days, used, late
    moved = before != (days, used, late)
    if sub.grade is not None:
        moved = apply_penalty(sub, scales) or moved
    return int(moved)


def apply_penalty(sub: Submission, scales: dict | None = None) -> bool:
    """Set the grade's points from the points before the penalty and the days it is late now."""
    g, r = sub.grade, sub.result
    if g is None:
        return False
    if g.raw_points is None:
        g.raw_points = g.points
    a = sub.assignment
    days = max(0, sub.days_late - sub.late_days_used)
    before = (g.points, g.percent, g.label, g.passed)
    doc = r.doc if r is not None else {}
    computed_late = float((doc.get("late") or {}).get("points_deducted") or 0.0)
    if days == 0 and not computed_late and r is not None:
        # On time: exactly what the grading computed (its exact arithmetic decides the grade).
        g.points, g.percent = g.raw_points, float(doc.get("percent") or 0.0)
        grade = doc.get("grade") if isinstance(doc.get("grade"), dict) else {}
        g.label, g.passed = grade.get("label"), bool(grade.get("passed"))
    else:
        deducted = min(g.raw_points, g.max_points * penalty_percent(a, days) / 100.0)
        g.points = round(g.raw_points - deducted, 6)
        g.percent = 100.0 * g.points / g.max_points if g.max_points else 0.0
        scale = _scale(a, scales)
        if scale is not None:
            invalid = r is not None and r.run_status == "invalid"
            verdict = scale.grade(0.0 if invalid else g.percent)
            g.label, g.passed = verdict.label, verdict.passed
    return before != (g.points, g.percent, g.label, g.passed)


def _scale(a: Assignment, scales: dict | None):
    scales = {} if scales is None else scales
    if a.id not in scales:
        try:
            scales[a.id] = catalog.spec_for(a).scale
        except Exception:   # a module missing on disk keeps its stored label
            scales[a.id] = None
    return scales[a.id]


def late_block(sub: Submission) -> dict | None:
    """The ``late`` part of a report, as the rules stand now (None when on time and no days spent)."""
    if not sub.days_late:
        return None
    a = sub.assignment
    due = due_for(a, teams.members_of_key(sub.team) or (sub.user_id,))
    days = max(0, sub.days_late - sub.late_days_used)
    g = sub.grade
    deducted = (g.raw_points - g.points) if g is not None and g.raw_points is not None else 0.0
    return {"submitted_at": sub.submitted_at.isoformat(), "due": due.isoformat() if due else None,
            "days_late": days, "late_days_used": sub.late_days_used,
            "penalty_percent": penalty_percent(a, days), "points_deducted": round(deducted, 6)}


def set_extension(a: Assignment, user_ids, due: dt.datetime | None, *, actor) -> None:
    """Give students (a group: every member) their own due date for ``a``, or take it back (``None``)."""
    membership(actor, a.course.code, ("teacher",))
    if due is not None and due.tzinfo is None:
        raise BadRequest("the due date needs a time zone (UTC)")
    for uid in user_ids:
        ext = db.session.scalar(select(Extension).where(Extension.assignment_id == a.id, Extension.user_id == uid))
        before = ext.due.isoformat() if ext is not None else None
        if due is None:
            if ext is not None:
                db.session.delete(ext)
        elif ext is None:
            db.session.add(Extension(assignment=a, user_id=uid, due=due, set_by_id=actor.id, set_at=utcnow()))
        else:
            ext.due, ext.set_by_id, ext.set_at = due, actor.id, utcnow()
        audit.record("extension.set" if due else "extension.clear", actor=actor, course=a.course,
                     target=f"{a.module}:user:{uid}", before=before, after=due.isoformat() if due else None)
    db.session.flush()
    refresh(a.course)
    db.session.commit()


def set_late_days(course: Course, days: int, *, actor) -> None:
    """The course's late-day budget per student; every submission's lateness follows at once."""
    membership(actor, course.code, ("teacher",))
    if not 0 <= days <= 365:
        raise BadRequest("late days are a whole number between 0 and 365")
    if course.late_days == days:
        return
    audit.record("course.late_days", actor=actor, course=course, target=course.code,
                 before=course.late_days, after=days)
    course.late_days = days
    refresh(course)
    db.session.commit()
