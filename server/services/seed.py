"""First start: a ``demo`` course with every module of the repository, released, and five people."""

from __future__ import annotations

from sqlalchemy import func, select

from handin.spec import SpecError

from ..extensions import db
from ..models import Course, User
from . import accounts, catalog

DEMO_PEOPLE = (("teacher", "teacher@demo.handin", "Demo Teacher"), ("ta", "ta@demo.handin", "Demo TA"),
               ("student", "student1@demo.handin", "Student One"), ("student", "student2@demo.handin", "Student Two"),
               ("student", "student3@demo.handin", "Student Three"))


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
    db.session.commit()
    return made
