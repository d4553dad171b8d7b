"""A student's course grade from their module results and entered results, as a course definition says.

Pure: the platform hands in what stands now (the grade that counts per module, overrides and late
rules applied; what staff entered), nothing is stored, so a course grade is never stale.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass

from .course import Component, CourseDef

EPS = 1e-9


@dataclass(frozen=True)
class ModuleOutcome:
    """The grade that counts for one student in one module (graded False: nothing graded yet)."""

    module: str
    graded: bool
    passed: bool = False
    points: float = 0.0
    max_points: float = 0.0
    at: dt.datetime | None = None


@dataclass(frozen=True)
class Entered:
    """What staff entered for one student in one component."""

    grade: str | None = None
    points: float | None = None
    attended: int | None = None
    at: dt.datetime | None = None


@dataclass(frozen=True)
class ComponentResult:
    code: str
    complete: bool
    grade: str | None = None        # a label, P/F for attendance; None for points or while incomplete
    points: float | None = None
    attended: int | None = None
    passed: bool | None = None      # None: points have no pass
    status: str = ""                # what a student reads: "2 of 3 modules passed; 1 not yet graded"
    at: dt.datetime | None = None   # when its result came about (the latest part)

    @property
    def shown(self) -> str:
        """The grade as a gradebook shows it: the label, or the points."""
        if self.grade is not None:
            return self.grade
        return f"{self.points:g}" if self.points is not None and self.complete else ""


@dataclass(frozen=True)
class FinalResult:
    complete: bool
    grade: str | None
    points: float | None = None
    status: str = ""
    at: dt.datetime | None = None


@dataclass(frozen=True)
class CourseGrade:
    components: dict[str, ComponentResult]
    final: FinalResult


def evaluate(course: CourseDef, modules: Mapping[str, ModuleOutcome], entered: Mapping[str, Entered]) -> CourseGrade:
    """Every component's result and the final grade of one student."""
    results: dict[str, ComponentResult] = {}

    def result(code: str) -> ComponentResult:
        if code not in results:
            c = course.components[code]
            if c.source == "modules":
                results[code] = _from_modules(c, [modules.get(m) or ModuleOutcome(m, False) for m in c.modules])
            elif c.source == "entered":
                results[code] = _entered(c, entered.get(code))
            else:
                results[code] = _from_components(c, [result(p) for p in c.components])
        return results[code]

    for code in course.components:
        result(code)
    return CourseGrade(results, _final(course, results))


def _latest(times) -> dt.datetime | None:
    times = [t for t in times if t is not None]
    return max(times) if times else None


def _from_modules(c: Component, outcomes: list[ModuleOutcome]) -> ComponentResult:
    graded = [o for o in outcomes if o.graded]
    waiting = len(outcomes) - len(graded)
    complete = waiting == 0
    tail = f"; {waiting} not yet graded" if waiting else ""
    at = _latest(o.at for o in graded) if complete else None
    if c.scale.name == "points":
        most = sum(o.max_points for o in outcomes)
        points = (c.max_points or 0.0) * sum(o.points for o in graded) / most if most else 0.0
        points = round(points, 2)
        return ComponentResult(c.code, complete, points=points, status=f"{points:g} of {c.max_points:g} points{tail}",
                               at=at)
    passed = sum(o.passed for o in graded)
    ok = passed == len(outcomes)
    status = f"all {len(outcomes)} modules passed" if ok else f"{passed} of {len(outcomes)} modules passed{tail}"
    return ComponentResult(c.code, complete, grade=("P" if ok else "F") if complete else None,
                           passed=ok if complete else None, status=status, at=at)


def _entered(c: Component, e: Entered | None) -> ComponentResult:
    if e is None:
        return ComponentResult(c.code, False, status="attendance not yet entered" if c.kind == "attendance"
                               else "not yet graded")
    if c.kind == "attendance":
        ok = (e.attended or 0) + EPS >= c.pass_at * (c.sessions or 0)
        return ComponentResult(c.code, True, grade="P" if ok else "F", attended=e.attended, passed=ok, at=e.at,
                               status=f"{e.attended} of {c.sessions} sessions attended "
                                      f"({'at least' if ok else 'under'} {c.pass_at:.0%})")
    if c.kind == "points":
        return ComponentResult(c.code, True, points=e.points, at=e.at,
                               status=f"{e.points:g} of {c.max_points:g} points entered")
    return ComponentResult(c.code, True, grade=e.grade, passed=e.grade in c.scale.passing, status="entered", at=e.at)


def _from_components(c: Component, parts: list[ComponentResult]) -> ComponentResult:
    waiting = [p.code for p in parts if not p.complete]
    complete = not waiting
    tail = f"; waiting for {', '.join(waiting)}" if waiting else ""
    at = _latest(p.at for p in parts) if complete else None
    if c.scale.name == "points":
        points = round(sum(p.points or 0.0 for p in parts), 2)
        return ComponentResult(c.code, complete, points=points, status=f"{points:g} points{tail}", at=at)
    ok = all(p.passed for p in parts)
    failed = [p.code for p in parts if p.complete and not p.passed]
    status = "all passed" if complete and ok else (f"{', '.join(failed)} not passed" if failed else "") + tail
    return ComponentResult(c.code, complete, grade=("P" if ok else "F") if complete else None,
                           passed=ok if complete else None, status=status.lstrip("; "), at=at)


def _final(course: CourseDef, results: dict[str, ComponentResult]) -> FinalResult:
    rule = course.final
    involved = list(dict.fromkeys([*rule.components, *rule.requires]))
    waiting = [code for code in involved if not results[code].complete]
    if waiting:
        return FinalResult(False, None, status=f"waiting for {', '.join(waiting)}")
    at = _latest(results[code].at for code in involved)
    unmet = [code for code in rule.requires if not results[code].passed]
    if unmet:
        return FinalResult(True, course.scale.failing, status=f"{', '.join(unmet)} not passed", at=at)
    if rule.rule == "grade-of":
        return FinalResult(True, results[rule.component].grade, status=f"{rule.component}'s grade", at=at)
    if rule.rule == "all-passed":
        failed = [code for code in rule.components if not results[code].passed]
        return FinalResult(True, "F" if failed else "P", at=at,
                           status=f"{', '.join(failed)} not passed" if failed else "every component passed")
    total = round(sum(results[code].points or 0.0 for code in rule.components), 2)
    grade = next(label for label, low in rule.cutoffs if total + EPS >= low)
    return FinalResult(True, grade, points=total, status=f"{total:g} points", at=at)
