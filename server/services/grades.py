"""Grades: which submission counts, overrides, publication, the gradebook and the review queue."""

from __future__ import annotations

import copy
import csv
import io
import re
from dataclasses import dataclass

from sqlalchemy import func, select

from ..extensions import db
from ..models import Assignment, Course, Enrollment, Grade, Result, Submission, User, utcnow
from . import audit, catalog, lateness, notify, teams
from .accounts import membership
from .errors import BadRequest, Conflict, NotFound

GRADEBOOK_FIELDS = ("course", "assignment", "student_email", "student_name", "submission", "attempt",
                    "status", "points", "max_points", "percent", "grade", "passed", "late", "overridden",
                    "published")
# nbgrader's `export` columns, for courses whose tools read that format
NBGRADER_FIELDS = ("assignment", "student_id", "raw_score", "late_submission_penalty", "score", "max_score")
BORDERLINE_POINTS = 2.0   # a grade this close to a cut-off goes to the review queue


def counted(a: Assignment, user_id: int) -> Submission | None:
    """The submission that counts for ``user_id``'s gradebook: their team's last graded one, the best,
    or the one the student chose (the last graded when they chose none)."""
    return _counted_of(a, teams.team_submissions(a, user_id))


def _counted_of(a: Assignment, subs: list[Submission]) -> Submission | None:
    """Of one team's submissions, latest attempt first, the one that counts."""
    graded = [s for s in subs if s.status == "graded" and s.grade is not None]
    if not graded:
        return None
    if a.counts == "best":
        return max(graded, key=lambda s: (s.grade.final_points, s.attempt))
    if a.counts == "chosen":
        chosen = [s for s in graded if s.chosen_at is not None]
        if chosen:
            return max(chosen, key=lambda s: s.chosen_at)
    return graded[0]


def standing_ids(a: Assignment) -> set[int]:
    """Per team, the attempt that stands: the one that counts, or the latest when none is graded.

    A latest attempt the platform failed to grade stands too: once graded it may be the one that
    counts. Every other attempt is superseded: regrading it or reviewing it changes no grade.
    """
    ids = set()
    for subs in teams.by_team(a).values():
        sub = _counted_of(a, subs)
        ids.add(sub.id if sub is not None else subs[0].id)
        if subs[0].status == "error":
            ids.add(subs[0].id)
    return ids


def counted_ids(a: Assignment) -> set[int]:
    """Ids of the submissions that count for the gradebook, one per team at most."""
    return {sub.id for subs in teams.by_team(a).values() if (sub := _counted_of(a, subs)) is not None}


def choose(sub: Submission, *, actor: User, now=None) -> None:
    """The student picks the attempt that counts (policy "chosen"): a graded one, before the deadline."""
    a = sub.assignment
    now = now or utcnow()
    if a.counts != "chosen":
        raise BadRequest("on this assignment the teacher decides which attempt counts "
                         f"({'the last graded' if a.counts == 'last' else 'the best'})")
    if not teams.may_see(actor, sub) or sub.team != teams.team_of(a, actor.id).key:
        raise NotFound()
    if sub.status != "graded" or sub.grade is None:
        raise BadRequest("only a graded attempt can be chosen")
    due = lateness.due_for(a, teams.members_of_key(sub.team))
    if due is not None and now > due:
        raise Conflict("the deadline has passed: the attempt that counts can no longer change")
    sub.chosen_at = now
    audit.record("submission.choose", actor=actor, course=a.course, target=f"submission:{sub.id}",
                 attempt=sub.attempt)
    db.session.commit()


def current_results(sub: Submission) -> dict | None:
    """results.json with the grade that stands now, for the reports to agree with every page.

    A staff override replaces the computed score, percent and grade, and travels as ``override``
    (what was computed, who changed it and why), so no regrade is needed for the report to show it.
    """
    if sub.result is None:
        return None
    doc = copy.deepcopy(sub.result.doc)
    g = sub.grade
    if g is not None:   # the late penalty as the rules stand now (deadline, extension, late days)
        _with_lateness(doc, sub, g)
    if g is not None and g.overridden:
        doc["override"] = {"points": g.final_points, "label": g.final_label, "passed": g.final_passed,
                           "computed_points": g.points, "computed_label": g.label,
                           "comment": g.override_comment or "",
                           "by": g.override_by.display_name if g.override_by else "staff"}
        doc["score"] = g.final_points
        doc["percent"] = 100.0 * g.final_points / g.max_points if g.max_points else 0.0
        grade = doc["grade"] if isinstance(doc.get("grade"), dict) else {}
        doc["grade"] = {**grade, "label": g.final_label, "passed": g.final_passed}
    if g is not None:
        _summary(doc, g)
    return doc


def _with_lateness(doc: dict, sub: Submission, g: Grade) -> None:
    late = lateness.late_block(sub)
    if late is None:
        doc.pop("late", None)
    else:
        doc["late"] = late
    doc["score"], doc["percent"] = g.points, g.percent
    grade = doc["grade"] if isinstance(doc.get("grade"), dict) else {}
    doc["grade"] = {**grade, "label": g.label, "passed": g.passed}


def _summary(doc: dict, g: Grade) -> None:
    """The report's one-paragraph summary, led by the score and grade that stand now."""
    late = doc.get("late") or {}
    summary = [s for s in re.split(r"(?<=\.) (?=[A-Z])", doc.get("output") or "")
               if s and not s.startswith(("Score ", "Handed in "))]
    label = f" — grade {g.final_label}" if g.final_label else ""
    percent = 100.0 * g.final_points / g.max_points if g.max_points else 0.0
    head = [f"Score {g.final_points:g}/{g.max_points:g} ({percent:.1f}%){label}, "
            f"{'passed' if g.final_passed else 'not passed'}."]
    if late.get("days_late"):
        head.append(f"Handed in {late['days_late']} day(s) late: {late['penalty_percent']:g}% of the points "
                    "deducted.")
    if late.get("late_days_used"):
        head.append(f"{late['late_days_used']} late day(s) spent on this hand-in.")
    doc["output"] = " ".join(head[:1] + summary[:1] + head[1:] + summary[1:])


def student_results(sub: Submission, now=None) -> dict | None:
    """results.json as this submission's student may see it now.

    Tests hidden ``after_published`` become visible once the assignment's grades are published,
    ``after_due_date`` ones once the deadline has passed; ``hidden`` stay hidden. The core's
    student report then shows only what is visible.
    """
    doc = current_results(sub)
    if doc is None:
        return None
    a = sub.assignment
    now = now or utcnow()
    reveal = {"after_published": a.grades_published, "after_due_date": a.due is not None and now > a.due}
    for t in doc.get("tests", []):
        if reveal.get(t.get("visibility")):
            t["visibility"] = "visible"
    return doc


def override(sub: Submission, *, actor: User, comment: str, points: float | None = None,
             label: str | None = None) -> Grade:
    """A TA's or teacher's override of points and/or grade; the comment is required and shown."""
    membership(actor, sub.assignment.course.code, ("ta", "teacher"))
    comment = (comment or "").strip()
    if not comment:
        raise BadRequest("an override needs a comment saying why")
    if points is None and not label:
        raise BadRequest("give points, a grade, or both")
    grade = sub.grade
    if grade is None:
        raise BadRequest("this submission has no grade yet; wait for it to be graded")
    spec = catalog.spec_for(sub.assignment)
    scale = spec.scale
    if points is not None and not (0 <= points <= grade.max_points):
        raise BadRequest(f"points must be between 0 and {grade.max_points:g}")
    labels = [label_ for label_, _ in scale.bands]
    if label and label not in labels:
        raise BadRequest(f"grade must be one of {', '.join(labels) or '(this scale has no labels)'}")
    before = {"points": grade.final_points, "label": grade.final_label, "passed": grade.final_passed}
    if points is not None or grade.override_at is None:
        grade.override_points = points     # a grade-only change keeps points an earlier override set
    if label:
        grade.override_label, grade.override_passed = label, label in scale.passing
    else:
        computed = scale.grade(100.0 * points / grade.max_points if grade.max_points else 0.0)
        grade.override_label, grade.override_passed = computed.label, computed.passed
    grade.override_comment = comment[:4000]
    grade.override_by = actor
    grade.override_at = utcnow()
    audit.record("grade.override", actor=actor, course=sub.assignment.course, target=f"submission:{sub.id}",
                 before=before, after={"points": grade.final_points, "label": grade.final_label,
                                       "passed": grade.final_passed}, comment=grade.override_comment)
    db.session.commit()
    notify.overridden(sub)
    return grade


def set_published(a: Assignment, published: bool, *, actor: User) -> None:
    membership(actor, a.course.code, ("teacher",))
    if a.grades_published == published:
        return
    a.grades_published = published
    a.published_at = utcnow() if published else None
    audit.record("grades.publish" if published else "grades.unpublish", actor=actor, course=a.course,
                 target=a.module)
    db.session.commit()
    notify.published(a)


def gradebook_rows(course: Course) -> list[dict]:
    rows = []
    students = list(db.session.scalars(select(User).join(Enrollment).where(
        Enrollment.course_id == course.id, Enrollment.role == "student").order_by(User.email)))
    for a in course.assignments:
        module_max = catalog.max_points(a) or 0.0    # what a student with nothing graded is out of
        for user in students:
            sub = counted(a, user.id)
            g = sub.grade if sub else None
            rows.append({
                "course": course.code, "assignment": a.module, "student_email": user.email,
                "student_name": user.name, "submission": sub.id if sub else "", "attempt": sub.attempt if sub else "",
                "status": sub.result.run_status if sub and sub.result else "missing",
                "points": f"{g.final_points:g}" if g else "0",
                "max_points": f"{g.max_points if g else module_max:g}",
                "percent": f"{(100.0 * g.final_points / g.max_points if g and g.max_points else 0.0):.1f}",
                "grade": (g.final_label or "") if g else "",
                "passed": ("yes" if g.final_passed else "no") if g else "no",
                "late": "yes" if sub and sub.late else "no", "overridden": "yes" if g and g.overridden else "no",
                "published": "yes" if a.grades_published else "no",
            })
    return rows


def nbgrader_rows(course: Course) -> list[dict]:
    """The gradebook in nbgrader's export format: the score before and after the late penalty.

    An overridden grade is the TA's final word: its points are both the raw score and the
    score, with no penalty. A student with no graded submission scores 0 of the module's points.
    """
    rows = []
    students = list(db.session.scalars(select(User).join(Enrollment).where(
        Enrollment.course_id == course.id, Enrollment.role == "student").order_by(User.email)))
    for a in course.assignments:
        for user in students:
            sub = counted(a, user.id)
            g = sub.grade if sub else None
            penalty = 0.0
            if g is not None and not g.overridden:
                late = (sub.result.doc.get("late") if sub.result else None) or {}
                penalty = float(late.get("points_deducted") or 0.0)
            score = g.final_points if g else 0.0
            max_score = g.max_points if g else (catalog.max_points(a) or 0.0)
            rows.append({"assignment": a.module, "student_id": user.email, "raw_score": f"{score + penalty:g}",
                         "late_submission_penalty": f"{penalty:g}", "score": f"{score:g}",
                         "max_score": f"{max_score:g}"})
    return rows


GRADEBOOK_STYLES = {"handin": (GRADEBOOK_FIELDS, gradebook_rows), "nbgrader": (NBGRADER_FIELDS, nbgrader_rows)}


def gradebook_filename(course: Course, style: str = "handin") -> str:
    """A download name per format, so the two files of a course never overwrite each other."""
    return f"{course.code}-gradebook.csv" if style == "handin" else f"{course.code}-gradebook-{style}.csv"


def gradebook_csv(course: Course, style: str = "handin") -> str:
    """The course's gradebook as CSV: handin's columns, or nbgrader's export columns."""
    if style not in GRADEBOOK_STYLES:
        raise BadRequest(f"format must be one of {', '.join(GRADEBOOK_STYLES)}")
    fields, rows = GRADEBOOK_STYLES[style]
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=fields)
    w.writeheader()
    for row in rows(course):
        w.writerow({k: _csv_safe(v) for k, v in row.items()})
    return buf.getvalue()


def _csv_safe(value):
    """Names come from users: keep a spreadsheet from reading them as formulas."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


@dataclass(frozen=True)
class ReviewItem:
    submission: Submission
    reasons: tuple[str, ...]


def review_queue(course: Course) -> list[ReviewItem]:
    """Runs that errored, timed out or ran out of memory, speedups held for review, borderline grades.

    Only attempts that stand (:func:`standing_ids`): a superseded attempt changes no grade.
    """
    items = []
    standing = set().union(*(standing_ids(a) for a in course.assignments))
    subs = db.session.scalars(select(Submission).join(Assignment).where(Assignment.course_id == course.id)
                              .order_by(Submission.submitted_at.desc()))
    for sub in subs:
        if sub.id not in standing:
            continue
        reasons = []
        if sub.status == "error":
            reasons.append("the platform failed to grade it")
        r, g = sub.result, sub.grade
        if r is not None and sub.status == "graded":
            if r.run_status in ("timeout", "memory", "crash"):
                reasons.append({"timeout": "timed out", "memory": "ran out of memory", "crash": "crashed"}
                               [r.run_status])
            if r.needs_review:
                reasons.append("speedup held for review")
            if g is not None and not g.overridden:
                near = _near_cutoff(sub, g)
                if near:
                    reasons.append(near)
        if reasons and not (g is not None and g.overridden and sub.status == "graded"
                            and r is not None and not r.needs_review):
            items.append(ReviewItem(sub, tuple(reasons)))
    return items


def _near_cutoff(sub: Submission, g: Grade) -> str:
    try:
        scale = catalog.spec_for(sub.assignment).scale
    except Exception:
        return ""
    if not g.max_points:
        return ""
    cutoffs = [(label, minimum) for label, minimum in scale.bands if minimum > 0] or [
        ("passing", scale.pass_threshold)]
    for label, minimum in cutoffs:
        cut = minimum * g.max_points / 100.0
        if 0 < cut - g.points <= BORDERLINE_POINTS:
            return f"{cut - g.points:g} points below the cut-off for {label}"
    return ""


def queue_counts(course: Course) -> dict[str, int]:
    rows = db.session.execute(select(Submission.status, func.count()).join(Assignment)
                              .where(Assignment.course_id == course.id).group_by(Submission.status))
    counts = {"queued": 0, "running": 0, "graded": 0, "error": 0}
    counts.update({status: n for status, n in rows})
    return counts


def distribution(a: Assignment) -> list[float]:
    """Percent of the counted submission of every team that handed in."""
    out = []
    for subs in teams.by_team(a).values():
        sub = _counted_of(a, subs)
        if sub is not None and sub.grade is not None and sub.grade.max_points:
            out.append(100.0 * sub.grade.final_points / sub.grade.max_points)
    return out
