"""First start: a ``demo`` course with every module of the repository, released, and five people; and the
courses defined in courses/ with theirs."""

from __future__ import annotations

from sqlalchemy import func, select

from handin.spec import SpecError

from ..extensions import db
from ..models import Course, Enrollment, User
from . import accounts, catalog

DEMO_PEOPLE = (("teacher", "teacher@demo.handin", "Demo Teacher"), ("ta", "ta@demo.handin", "Demo TA"),
               ("student", "student1@demo.handin", "Student One"), ("student", "student2@demo.handin", "Student Two"),
               ("student", "student3@demo.handin", "Student Three"))
COURSE_PEOPLE = (("teacher", "teacher", "Teacher"), ("ta", "ta", "TA"), ("student", "student1", "Student One"),
                 ("student", "student2", "Student Two"), ("student", "student3", "Student Three"))


def needs_seed() -> bool:
    return not db.session.scalar(select(func.count()).select_from(Course)) and \
        not db.session.scalar(select(func.count()).select_from(User))


def seed_demo(warn=lambda line: None) -> list[tuple[str, str, str]]:
    """Create the demo course; returns (role, email, password) of the accounts made.

    A module whose assignment.toml is broken is left out with a warning, not a failed start.
    """
    course = accounts.ensure_course("demo", "handin demo course")
    for module in catalog.module_names():
        try:
            catalog.add_module(course, module, released=True)
        except SpecError as exc:
            warn(f"module {module} left out of the demo course: {exc}")
    made = []
    for role, email, name in DEMO_PEOPLE:
        _, password = accounts.add_user(email, course=course, role=role, name=name)
        made.append((role, email, password or ""))
    made += seed_defined_courses(warn)
    db.session.commit()
    return made


def seed_defined_courses(warn=lambda line: None) -> list[tuple[str, str, str]]:
    """Every course of courses/*/course.toml, its modules released, with a teacher, a TA and three students.

    Their accounts share one generated password (hashed once: a first start stays quick). A
    definition that does not load is left out with a warning (`handin course check` says why).
    """
    from handin.course import load_courses

    defined, broken = load_courses(catalog.course_root())
    for exc in broken:
        warn(f"course left out: {exc}")
    password = accounts.generate_password()
    hashed = accounts.hash_password(password)
    made = []
    for defn in defined:
        course = accounts.ensure_course(defn.code, defn.title)
        for module in defn.modules:
            try:
                a = catalog.add_module(course, module, released=True)
            except SpecError as exc:
                warn(f"module {module} left out of {defn.code}: {exc}")
                continue
            a.group_size = defn.group_size
        for role, local, name in COURSE_PEOPLE:
            email = f"{local}@{defn.code}.handin"
            user = User(email=email, name=f"{name} ({defn.code})", password_hash=hashed)
            db.session.add(user)
            db.session.add(Enrollment(user=user, course=course, role=role))
            made.append((role, email, password))
    return made
