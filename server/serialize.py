"""Rows as the JSON the API and the pages' live status share."""

from __future__ import annotations

import datetime as dt
from typing import Any

from .models import Assignment, Group, Submission, User
from .services import lateness, submissions, teams


def iso(t: dt.datetime | None) -> str | None:
    return t.isoformat() if t is not None else None


def assignment_json(a: Assignment, user: User) -> dict[str, Any]:
    w = submissions.window(a, user=user)
    used = submissions.attempts_used(a, user)
    team = teams.team_of(a, user.id)
    return {
        "module": a.module, "title": a.title, "released": a.released,
        "due": iso(lateness.due_for(a, team.member_ids)), "course_due": iso(a.due),
        "closes": iso(w.closes), "open": w.open, "late": w.late,
        "late_days_left": lateness.late_days_left(a.course, team.member_ids, besides=a),
        "group": _group_json(team.group),
        "late_penalty_per_day": a.late_penalty_per_day, "max_late_days": a.max_late_days,
        "max_attempts": a.max_attempts, "attempts_used": used,
        "attempts_left": None if a.max_attempts is None else max(0, a.max_attempts - used),
        "counts": a.counts, "grades_published": a.grades_published,
        "group_size": a.group_size, "regrade_days": a.regrade_days,
    }


def _group_json(group: Group | None) -> dict[str, Any] | None:
    if group is None:
        return None
    return {"id": group.id, "name": group.name, "members": [m.user.email for m in group.members]}


def submission_json(sub: Submission) -> dict[str, Any]:
    g, r = sub.grade, sub.result
    doc: dict[str, Any] = {
        "id": sub.id, "course": sub.assignment.course.code, "module": sub.assignment.module,
        "attempt": sub.attempt, "filename": sub.filename, "sha256": sub.sha256,
        "submitted_at": iso(sub.submitted_at), "late": sub.late, "days_late": sub.days_late,
        "late_days_used": sub.late_days_used, "status": sub.status,
        "group": _group_json(sub.group), "submitted_by": sub.user.email, "chosen": sub.chosen_at is not None,
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
