"""The course repository's modules (assignments/, solutions/, graders/) as seen by one course.

The repository is data: specs are read from it, never imported. An assignment row overlays the
module's spec with the course's own deadline, late policy and attempt limit.
"""

from __future__ import annotations

import dataclasses
import shutil
from functools import lru_cache
from pathlib import Path

from flask import current_app
from sqlalchemy import select

from handin.release import ReleaseError, release
from handin.spec import DeadlineSection, ModuleSpec, SpecError, load_module

from ..extensions import db
from ..models import Assignment, Course

QUEUES = ("cpu", "gpu", "timed")


def course_root() -> Path:
    return current_app.extensions["handin"].course_root


def module_names(root: Path | None = None) -> list[str]:
    root = root or course_root()
    base = root / "assignments"
    return sorted(p.name for p in base.iterdir() if (p / "assignment.toml").is_file()) if base.is_dir() else []


def load_spec(module: str, root: Path | None = None) -> ModuleSpec:
    folder = (root or course_root()) / "assignments" / module
    spec_file = folder / "assignment.toml"
    try:
        mtime = spec_file.stat().st_mtime_ns
    except FileNotFoundError:
        raise SpecError(spec_file, ["the module is not in the course repository"]) from None
    return _load(str(folder), mtime)


@lru_cache(maxsize=256)
def _load(folder: str, mtime: int) -> ModuleSpec:
    return load_module(folder)


def spec_for(assignment: Assignment) -> ModuleSpec:
    """The module's spec with this course's deadline and attempt limit in place of its defaults."""
    spec = load_spec(assignment.module)
    deadline = DeadlineSection(due=assignment.due, late_penalty_per_day=assignment.late_penalty_per_day,
                               max_late_days=assignment.max_late_days)
    intake = spec.intake.model_copy(update={"max_attempts": assignment.max_attempts})
    return dataclasses.replace(spec, deadline=deadline, intake=intake)


def max_points(assignment: Assignment) -> float | None:
    """The assignment's total points (None when its module cannot be read)."""
    from handin.results import max_score
    try:
        return max_score(spec_for(assignment))
    except Exception:  # noqa: BLE001 - a broken module must not break a gradebook
        return None


def queue_for(spec: ModuleSpec) -> str:
    """Queues by what a job needs: timed (speedup modules), gpu, or cpu."""
    if spec.benchmark is not None:
        return "timed"
    return "gpu" if spec.resources.gpus > 0 else "cpu"


def add_module(course: Course, module: str, *, released: bool = False) -> Assignment:
    """An assignment row for ``module`` with the defaults of its assignment.toml."""
    existing = db.session.scalar(select(Assignment).where(Assignment.course_id == course.id,
                                                          Assignment.module == module))
    if existing is not None:
        return existing
    spec = load_spec(module)
    d = spec.deadline
    a = Assignment(course=course, module=module, title=spec.assignment.title, released=released,
                   due=d.due, late_penalty_per_day=d.late_penalty_per_day, max_late_days=d.max_late_days,
                   max_attempts=spec.intake.max_attempts, counts="last", grades_published=False)
    if released:
        from ..models import utcnow
        a.released_at = utcnow()
    db.session.add(a)
    db.session.flush()
    return a


def starter_bundle(module: str) -> Path:
    """The student bundle's zip (what ``handin release`` writes), built once per module version."""
    spec = load_spec(module)
    stamp = spec.paths.spec_file.stat().st_mtime_ns
    out = current_app.extensions["handin"].instance / "bundles" / f"{module}-{stamp}"
    zipped = out / f"{module}.zip"
    if not zipped.is_file():
        tmp = out.with_name(out.name + ".tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        try:
            release(spec, tmp)
        except ReleaseError as exc:
            shutil.rmtree(tmp, ignore_errors=True)
            raise RuntimeError(f"the bundle of {module} cannot be built: {exc}") from None
        shutil.rmtree(out, ignore_errors=True)
        tmp.rename(out)
    return zipped


def release_problems(module: str) -> list[str]:
    """What stops a module from being handed out: the same checks as ``handin validate``'s static ones."""
    from handin.release import check_public_tests
    from handin.validate import unmatched_points

    try:
        spec = load_spec(module)
    except SpecError as exc:
        return [str(exc)]
    problems = list(check_public_tests(spec))
    unmatched = unmatched_points(spec)
    if unmatched:
        problems.append("[points] names tests that do not exist: " + ", ".join(map(repr, unmatched)))
    return problems


def sync_modules(course: Course) -> list[str]:
    """Give the course an (unreleased) assignment for every module the repository has gained.

    Modules whose spec is broken are skipped here; ``release_problems`` names what is wrong.
    Returns the modules added.
    """
    have = {a.module for a in course.assignments}
    added = []
    for module in module_names():
        if module in have:
            continue
        try:
            add_module(course, module, released=False)
        except SpecError:
            continue
        added.append(module)
    return added
