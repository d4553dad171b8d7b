"""Rows as the JSON the API and the pages' live status share."""

from __future__ import annotations

import datetime as dt
from typing import Any

from .models import Assignment, Submission, User
from .services import submissions


def iso(t: dt.datetime | None) -> str | None:
    return t.isoformat() if t is not None else None


def assignment_json(a: Assignment, user: User) -> dict[str, Any]:
    w = submissions.window(a)
    used = submissions.attempts_used(a, user)
    return {
        "module": a.module, "title": a.title, "released": a.released,
        "due": iso(a.due), "closes": iso(w.closes), "open": w.open, "late": w.late,
        "late_penalty_per_day": a.late_penalty_per_day, "max_late_days": a.max_late_days,
        "max_attempts": a.max_attempts, "attempts_used": used,
        "attempts_left": None if a.max_attempts is None else max(0, a.max_attempts - used),
        "counts": a.counts, "grades_published": a.grades_published,
    }


def submission_json(sub: Submission) -> dict[str, Any]:
    g, r = sub.grade, sub.result
    doc: dict[str, Any] = {
        "id": sub.id, "course": sub.assignment.course.code, "module": sub.assignment.module,
        "attempt": sub.attempt, "filename": sub.filename, "sha256": sub.sha256,
        "submitted_at": iso(sub.submitted_at), "late": sub.late, "status": sub.status,
        "run_status": r.run_status if r else None,
        "score": g.final_points if g else None, "max_score": g.max_points if g else None,
        "grade": {"label": g.final_label, "passed": g.final_passed} if g else None,
        "graded_at": iso(r.graded_at) if r else None,
        "override": None,
    }
    if sub.status == "error":
        doc["error"] = "grading failed on the platform's side; a TA has been told"
    if g is not None and g.overridden:
        doc["override"] = {"points": g.override_points, "label": g.override_label, "comment": g.override_comment,
                           "by": g.override_by.display_name if g.override_by else None, "at": iso(g.override_at),
                           "computed_score": g.points}
    return doc
