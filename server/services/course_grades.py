"""Course grades: each student's components and final grade, as the course's course.toml defines them.

Computed whenever they are read, from the module grades that count now (overrides and late rules
included) and what staff entered, so nothing stale is ever stored. Staff enter the entered
components here (TAs only those the definition lets them); every change is audited.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from sqlalchemy import select

from handin.course import COURSE_FILE, Component, CourseDef, CourseDefError, load_course
from handin.course_grade import CourseGrade, Entered, ModuleOutcome, evaluate

from ..extensions import db
from ..models import Assignment, ComponentGrade, Course, Enrollment, User, utcnow
from . import accounts, audit, catalog, grades
from .errors import BadRequest, NotFound, ServiceError, Unprocessable


class BrokenDefinition(ServiceError):
    """The course's course.toml does not load: the platform's fault, not the caller's."""

    status = 503


@dataclass(frozen=True)
class StudentGrade:
    user: User
    grade: CourseGrade


def definition(course: Course) -> CourseDef | None:
    """The course's definition (courses/<code>/course.toml), or None for a course without one."""
    root = catalog.course_root()
    path = root / "courses" / course.code / COURSE_FILE
    try:
        mtime = path.stat().st_mtime_ns
    except FileNotFoundError:
        return None
    try:
        return _load(str(path), str(root), mtime)
    except CourseDefError as exc:
        raise BrokenDefinition(f"the course definition has a problem (`handin course check` lists it): {exc}") \
            from None


@lru_cache(maxsize=64)
def _load(path: str, root: str, mtime: int) -> CourseDef:
    return load_course(Path(path), root=Path(root))


def require(course: Course) -> CourseDef:
    found = definition(course)
    if found is None:
        raise NotFound("this course has no course definition (courses/<code>/course.toml)")
    return found


def students(course: Course) -> list[User]:
    return list(db.session.scalars(select(User).join(Enrollment).where(
        Enrollment.course_id == course.id, Enrollment.role == "student").order_by(User.email)))


def student_grade(course: Course, defn: CourseDef, user: User) -> CourseGrade:
    return _grades_of(course, defn, [user])[0].grade


def class_grades(course: Course, defn: CourseDef) -> list[StudentGrade]:
    """Every student of the course, by email, with their components and final grade."""
    return _grades_of(course, defn, students(course))


def _grades_of(course: Course, defn: CourseDef, users: list[User]) -> list[StudentGrade]:
    used = {m for c in defn.components.values() for m in c.modules}
    assignments = {a.module: a for a in course.assignments if a.module in used}
    most = {m: catalog.max_points(a) or 0.0 for m, a in assignments.items()}
    entered: dict[int, dict[str, Entered]] = {}
    for row in db.session.scalars(select(ComponentGrade).where(ComponentGrade.course_id == course.id,
                                                               ComponentGrade.user_id.in_([u.id for u in users]))):
        entered.setdefault(row.user_id, {})[row.code] = Entered(row.grade, row.points, row.attended, row.entered_at)
    out = []
    for user in users:
        outcomes = {m: _outcome(a, user.id, most[m]) for m, a in assignments.items()}
        out.append(StudentGrade(user, evaluate(defn, outcomes, entered.get(user.id, {}))))
    return out


def _outcome(a: Assignment, user_id: int, max_points: float) -> ModuleOutcome:
    sub = grades.counted(a, user_id)
    g = sub.grade if sub is not None else None
    if g is None:
        return ModuleOutcome(a.module, False, max_points=max_points)
    times = [t for t in (sub.result.graded_at if sub.result else None, g.override_at) if t is not None]
    return ModuleOutcome(a.module, True, g.final_passed, g.final_points, g.max_points, max(times, default=None))


def may_enter(enrollment: Enrollment, c: Component) -> bool:
    return c.source == "entered" and (enrollment.role == "teacher" or (enrollment.role == "ta" and c.ta_may_enter))


def enterable(enrollment: Enrollment, defn: CourseDef) -> list[Component]:
    """The components this member may enter: teachers every entered one, TAs those the definition allows."""
    return [c for c in defn.components.values() if may_enter(enrollment, c)]


def enter(course: Course, code: str, email: str, *, actor: User, grade: str | None = None,
          points: float | None = None, attended: int | None = None) -> User:
    """Set (or, with nothing given, clear) a student's result in an entered component; audited.

    Returns the student. Unprocessable names why a result does not fit the component's scale.
    """
    enrollment = accounts.membership(actor, course.code, ("ta", "teacher"))
    defn = require(course)
    c, student = check(defn, enrollment, course, code, email)
    if grade is not None or points is not None or attended is not None:
        problem = c.check_entry(grade=grade, points=points, attended=attended)
        if problem:
            raise Unprocessable(problem)
    store(course, c, student, actor=actor, grade=grade, points=points, attended=attended)
    db.session.commit()
    return student


def check(defn: CourseDef, enrollment: Enrollment, course: Course, code: str, email: str) -> tuple[Component, User]:
    """The component and the student an entry is for, or the error that stops it."""
    c = defn.component(code)
    if c is None:
        raise NotFound(f"{course.code} has no component {code!r} (it has {', '.join(defn.components)})")
    if c.source != "entered":
        raise BadRequest(f"{code} is computed from {c.source}; it cannot be entered")
    if not may_enter(enrollment, c):
        raise NotFound(f"only teachers enter {code}")
    student = accounts.find_user(email) if email else None
    if student is None or not db.session.scalar(select(Enrollment.id).where(
            Enrollment.course_id == course.id, Enrollment.user_id == student.id, Enrollment.role == "student")):
        raise NotFound(f"{email} is not a student of {course.code}")
    return c, student


def store(course: Course, c: Component, student: User, *, actor: User | None, grade: str | None = None,
          points: float | None = None, attended: int | None = None) -> ComponentGrade | None:
    """Write one checked entry into the session (the caller commits), audited with before and after."""
    row = db.session.scalar(select(ComponentGrade).where(ComponentGrade.course_id == course.id,
                                                         ComponentGrade.user_id == student.id,
                                                         ComponentGrade.code == c.code))
    before = _shown(row)
    if grade is None and points is None and attended is None:
        if row is not None:
            db.session.delete(row)
        row = None
    else:
        if row is None:
            row = ComponentGrade(course_id=course.id, user_id=student.id, code=c.code)
            db.session.add(row)
        row.grade, row.points, row.attended = grade, points, attended
        row.entered_by, row.entered_at = actor, utcnow()
    after = _shown(row)
    if before != after:
        audit.record("course_grade.enter", actor=actor, course=course, target=f"{student.email}:{c.code}",
                     before=before, after=after)
    return row


def _shown(row: ComponentGrade | None) -> dict | None:
    if row is None:
        return None
    return {k: v for k, v in (("grade", row.grade), ("points", row.points), ("attended", row.attended))
            if v is not None}


def set_published(course: Course, published: bool, *, actor: User) -> None:
    """Publish the course grades (students see them as final) or take them back to provisional."""
    accounts.membership(actor, course.code, ("teacher",))
    require(course)
    if course.course_grades_published == published:
        return
    course.course_grades_published = published
    audit.record("course_grades.publish" if published else "course_grades.unpublish", actor=actor, course=course,
                 target=course.code)
    db.session.commit()
