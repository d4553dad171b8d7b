"""What TAs and teachers see of students: submission lists with filters, and one student's page.

Every function checks again that the actor is staff of the course. A student removed from the
course keeps their submissions, and these lists still show them: rows are found through the
submission's user, never through the roster.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field

from sqlalchemy import func, or_, select

from ..extensions import db
from ..models import (SUBMISSION_STATES, Assignment, Course, Enrollment, Extension, RegradeRequest, Submission,
                      User)
from . import grades, teams
from .accounts import membership, normalise_email
from .errors import BadRequest, NotFound
from .submissions import STAFF, submissions_of

PER_PAGE = 50
MAX_PER_PAGE = 500


@dataclass(frozen=True)
class Filters:
    """Which submissions a list shows; every field left empty shows everything."""

    module: str | None = None
    student: str | None = None     # an exact email
    q: str = ""                    # part of a name or an email, any case
    status: str | None = None      # one of SUBMISSION_STATES
    counted: bool = False          # only the attempt that counts, per student and module

    @classmethod
    def from_args(cls, args: Mapping[str, str]) -> "Filters":
        """From a query string (the page's GET form and the API share it); blank values filter nothing."""
        return cls(module=args.get("module") or None, student=args.get("student") or None, q=args.get("q", ""),
                   status=args.get("status") or None,
                   counted=args.get("counted", "").lower() in ("1", "true", "yes", "on"))

    def check(self) -> None:
        if self.status is not None and self.status not in SUBMISSION_STATES:
            raise BadRequest(f"status must be one of {', '.join(SUBMISSION_STATES)}")


@dataclass(frozen=True)
class SubmissionPage:
    items: list[Submission]
    counted_ids: set[int]          # which of ``items`` count
    page: int
    per_page: int
    total: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))

    @property
    def has_next(self) -> bool:
        return self.page < self.pages


def page_number(args: Mapping[str, str]) -> int:
    try:
        return int(args.get("page") or 1)
    except ValueError:
        raise BadRequest("page is a number from 1") from None


def submissions(course: Course, *, actor: User, filters: Filters = Filters(), page: int = 1,
                per_page: int = PER_PAGE) -> SubmissionPage:
    """The course's submissions that match ``filters``, newest first, one page of them."""
    membership(actor, course.code, STAFF)
    filters.check()
    if page < 1 or not 1 <= per_page <= MAX_PER_PAGE:
        raise BadRequest(f"page starts at 1; per_page is between 1 and {MAX_PER_PAGE}")
    query = (select(Submission).join(Assignment).join(User, Submission.user_id == User.id)
             .where(Assignment.course_id == course.id))
    if filters.module:
        query = query.where(Assignment.module == filters.module)
    if filters.student:
        query = query.where(User.email == normalise_email(filters.student))
    q = filters.q.strip()
    if q:
        query = query.where(or_(User.email.icontains(q, autoescape=True), User.name.icontains(q, autoescape=True)))
    if filters.status:
        query = query.where(Submission.status == filters.status)
    if filters.counted:
        query = query.where(Submission.id.in_(_counted_among(query)))
    total = db.session.scalar(select(func.count()).select_from(query.subquery()))
    items = list(db.session.scalars(query.order_by(Submission.submitted_at.desc(), Submission.id.desc())
                                    .offset((page - 1) * per_page).limit(per_page)))
    return SubmissionPage(items, _counted_among_items(items), page, per_page, total)


def _counted_among(query) -> set[int]:
    """The counted submission of every (assignment, student) that ``query`` finds any submission of."""
    pairs = db.session.execute(query.with_only_columns(Submission.assignment_id, Submission.user_id).distinct())
    return _counted({(a_id, u_id) for a_id, u_id in pairs})


def _counted_among_items(items: list[Submission]) -> set[int]:
    ids = _counted({(s.assignment_id, s.user_id) for s in items})
    return {s.id for s in items if s.id in ids}


def _counted(pairs: set[tuple[int, int]]) -> set[int]:
    ids = set()
    for a_id, u_id in pairs:
        sub = grades.counted(db.session.get(Assignment, a_id), u_id)
        if sub is not None:
            ids.add(sub.id)
    return ids


# -- one student's page --------------------------------------------------------------------------

@dataclass(frozen=True)
class Attempt:
    submission_id: int
    attempt: int
    submitted_at: dt.datetime
    handed_in_by: str              # a group member's hand-in names who uploaded it
    status: str
    run_status: str | None
    score: float | None
    max_score: float | None
    label: str | None
    passed: bool | None
    late: bool
    counts: bool
    overridden: bool
    override_by: str | None
    override_comment: str | None
    override_at: dt.datetime | None


@dataclass(frozen=True)
class Request:
    """A regrade request, read-only here (its workflow is the regrade queue's)."""

    id: int
    submission_id: int
    attempt: int
    test: str | None
    reason: str
    state: str
    created_at: dt.datetime
    requester: str
    decided_by: str | None
    comment: str | None
    points: float | None


@dataclass(frozen=True)
class ModuleRecord:
    module: str
    title: str
    released: bool
    due: dt.datetime | None
    extension_due: dt.datetime | None
    group: str | None
    partners: tuple[str, ...]      # the other members of the group
    attempts: list[Attempt] = field(default_factory=list)
    requests: list[Request] = field(default_factory=list)

    @property
    def counted(self) -> Attempt | None:
        return next((a for a in self.attempts if a.counts), None)


@dataclass(frozen=True)
class StudentRecord:
    user_id: int
    email: str
    name: str
    role: str | None               # None: removed from the course (their submissions stay)
    group_name: str | None         # the roster's group column
    modules: list[ModuleRecord]


def student(course: Course, user_id: int, *, actor: User) -> StudentRecord:
    """Everything staff need about one person in ``course``, module by module.

    Anyone enrolled, or anyone who handed in to the course and was removed since; NotFound for
    everyone else, so user ids of other courses stay hidden.
    """
    membership(actor, course.code, STAFF)
    user = db.session.get(User, user_id)
    enrollment = db.session.scalar(select(Enrollment).where(Enrollment.course_id == course.id,
                                                            Enrollment.user_id == user_id))
    if user is None or (enrollment is None and not _handed_in(course, user_id)):
        raise NotFound()
    modules = [_module_record(a, user) for a in course.assignments]
    return StudentRecord(user.id, user.email, user.name, enrollment.role if enrollment else None,
                         enrollment.group_name if enrollment else None, modules)


def _handed_in(course: Course, user_id: int) -> bool:
    return db.session.scalar(select(func.count(Submission.id)).join(Assignment).where(
        Assignment.course_id == course.id, Submission.user_id == user_id)) > 0


def attempts_beside(sub: Submission) -> list[Submission]:
    """Every attempt of ``sub``'s student (their team's, and their own before it) at its assignment."""
    return submissions_of(sub.user, sub.assignment)


def _module_record(a: Assignment, user: User) -> ModuleRecord:
    group = teams.group_of(a, user.id)
    subs = submissions_of(user, a)
    counted = grades.counted(a, user.id)
    extension = db.session.scalar(select(Extension).where(Extension.assignment_id == a.id,
                                                          Extension.user_id == user.id))
    requests = db.session.scalars(select(RegradeRequest).where(RegradeRequest.submission_id.in_([s.id for s in subs]))
                                  .order_by(RegradeRequest.created_at.desc())) if subs else []
    return ModuleRecord(
        a.module, a.title, a.released, a.due, extension.due if extension else None,
        group.name if group else None,
        tuple(m.user.display_name for m in group.members if m.user_id != user.id) if group else (),
        [_attempt(s, counted is not None and s.id == counted.id) for s in subs],
        [_request(r) for r in requests])


def _attempt(s: Submission, counts: bool) -> Attempt:
    g, r = s.grade, s.result
    return Attempt(s.id, s.attempt, s.submitted_at, s.user.display_name, s.status, r.run_status if r else None,
                   g.final_points if g else None, g.max_points if g else None, g.final_label if g else None,
                   g.final_passed if g else None, s.late, counts, bool(g and g.overridden),
                   g.override_by.display_name if g and g.override_by else None,
                   g.override_comment if g else None, g.override_at if g else None)


def _request(r: RegradeRequest) -> Request:
    return Request(r.id, r.submission_id, r.submission.attempt, r.test, r.reason, r.state, r.created_at,
                   r.requester.display_name if r.requester else "(deleted account)",
                   r.decided_by.display_name if r.decided_by else None, r.comment, r.points)
