"""A course's definition, ``courses/<code>/course.toml``: its components and the rule for the final grade.

A course is examined in components (KTH's LAB1 and TEN1, a project, an oral exam), each with a
code, credits, a scale and where its result comes from:

- ``from = "modules"``: the platform's modules, every one passed (scale ``pass-fail``) or their
  points scaled to the component's ``points``;
- ``from = "entered"``: staff enter it (a grade on the component's scale, ``points`` out of its
  ``points``, or an ``attendance`` count out of its ``sessions``); TAs too with ``ta_may_enter``;
- ``from = "components"``: other components, every one passed or their points added up.

``[final]`` turns the components into the course grade: ``grade-of`` one component (once the
``requires`` ones are passed), ``all-passed``, or a ``points`` total through ``cutoffs``.

The file is data, never code: it is checked at load and every problem comes back as one line,
``file: key: what is wrong`` (see :class:`CourseDefError`). Results are computed in
:mod:`handin.course_grade`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import ConfigDict, Field, ValidationError

from .scales import make_scale
from .spec import SPEC_FILE, SpecError, _describe, read_toml
from .spec import _Strict as _SpecStrict

COURSE_FILE = "course.toml"
LABEL_PRESETS = ("pass-fail", "a-f", "u345")
KINDS = ("points", "attendance")      # scales without grade labels


class CourseDefError(SpecError):
    """course.toml is wrong; one line per problem, each naming the file and the key."""


class _Strict(_SpecStrict):
    model_config = ConfigDict(populate_by_name=True)   # `from` is a Python keyword: read into `source`


class _ScaleModel(_Strict):
    grades: tuple[str, ...] = Field(min_length=2)       # best first
    passing: tuple[str, ...] = Field(min_length=1)


class _ComponentModel(_Strict):
    title: str = Field(min_length=1)
    credits: float = Field(0.0, ge=0)
    scale: str
    source: Literal["modules", "entered", "components"] = Field(alias="from")
    modules: tuple[str, ...] = ()
    components: tuple[str, ...] = ()
    points: float | None = Field(None, gt=0)          # the most a points component gives
    sessions: int | None = Field(None, ge=1)          # attendance: out of how many sessions
    pass_at: float | None = Field(None, gt=0, le=1)   # attendance: the share that passes
    ta_may_enter: bool = False


class _FinalModel(_Strict):
    rule: Literal["grade-of", "all-passed", "points"]
    component: str | None = None
    components: tuple[str, ...] = ()
    requires: tuple[str, ...] = ()
    cutoffs: dict[str, float] = {}


class _CourseModel(_Strict):
    code: str = Field(pattern=r"^[a-z0-9][a-z0-9._-]*$")
    title: str = Field(min_length=1)
    credits: float = Field(ge=0)
    scale: str
    modules: tuple[str, ...] = ()
    group_size: int = Field(1, ge=1, le=20)
    scales: dict[str, _ScaleModel] = {}
    components: dict[str, _ComponentModel] = Field(min_length=1)
    final: _FinalModel


@dataclass(frozen=True)
class GradeScale:
    name: str
    grades: tuple[str, ...]          # best first; empty for points and attendance
    passing: frozenset[str]

    @property
    def labelled(self) -> bool:
        return bool(self.grades)

    @property
    def failing(self) -> str:
        """The grade given when a requirement is not met: the scale's lowest."""
        return self.grades[-1]


@dataclass(frozen=True)
class Component:
    code: str
    title: str
    credits: float
    scale: GradeScale
    source: str                      # modules | entered | components
    modules: tuple[str, ...] = ()
    components: tuple[str, ...] = ()
    max_points: float | None = None
    sessions: int | None = None
    pass_at: float = 0.8
    ta_may_enter: bool = False

    @property
    def kind(self) -> str:
        """What a result of it is: a grade, points, or an attendance count."""
        return self.scale.name if self.scale.name in KINDS else "grade"

    @property
    def passable(self) -> bool:
        return self.kind != "points"

    def check_entry(self, *, grade: str | None = None, points: float | None = None,
                    attended: int | None = None) -> str | None:
        """Why an entered result does not fit this component, or None when it does."""
        if self.source != "entered":
            return f"{self.code} comes from {self.source}, it is not entered"
        given = {k for k, v in (("grade", grade), ("points", points), ("attended", attended)) if v is not None}
        want = {"grade": "grade", "points": "points", "attendance": "attended"}[self.kind]
        if given != {want}:
            return f"{self.code} takes {want!r} only"
        if grade is not None and grade not in self.scale.grades:
            return f"{grade!r} is not on {self.code}'s scale: one of {', '.join(self.scale.grades)}"
        if points is not None and not 0 <= points <= (self.max_points or 0):
            return f"{self.code} takes 0 to {self.max_points:g} points"
        if attended is not None and not 0 <= attended <= (self.sessions or 0):
            return f"{self.code} takes 0 to {self.sessions} sessions attended"
        return None


@dataclass(frozen=True)
class FinalRule:
    rule: str
    component: str | None
    components: tuple[str, ...]
    requires: tuple[str, ...]
    cutoffs: tuple[tuple[str, float], ...]   # points rule: best grade first

    def describe(self) -> str:
        needs = f", once {' and '.join(self.requires)} {'is' if len(self.requires) == 1 else 'are'} passed" \
            if self.requires else ""
        if self.rule == "grade-of":
            return f"{self.component}'s grade{needs}"
        if self.rule == "all-passed":
            return f"passed when {', '.join(self.components)} {'is' if len(self.components) == 1 else 'are'} passed"
        bands = ", ".join(f"{label} from {low:g}" for label, low in self.cutoffs)
        return f"the points of {' + '.join(self.components)}: {bands}{needs}"


@dataclass(frozen=True)
class CourseDef:
    path: Path
    code: str
    title: str
    credits: float
    scale: GradeScale
    modules: tuple[str, ...]           # handed out in the course, in this order
    group_size: int
    components: dict[str, Component]   # in the file's order
    final: FinalRule

    def component(self, code: str) -> Component | None:
        return self.components.get(code)


def builtin_scale(name: str) -> GradeScale | None:
    if name in KINDS:
        return GradeScale(name, (), frozenset())
    if name in LABEL_PRESETS:
        preset = make_scale(name)
        return GradeScale(name, tuple(label for label, _ in preset.bands), preset.passing)
    return None


def load_course(path: Path | str, *, root: Path | None = None) -> CourseDef:
    """Read and check ``path`` (a course.toml or its folder). ``root``: the repository, whose
    ``assignments/`` the component modules must be in (default: two levels above the file)."""
    path = Path(path)
    if path.is_dir():
        path = path / COURSE_FILE
    root = root or path.resolve().parent.parent.parent
    raw = read_toml(path, CourseDefError)
    try:
        model = _CourseModel.model_validate(raw)
    except ValidationError as exc:
        raise CourseDefError(path, [_describe(e).replace(".source", ".from") for e in exc.errors()]) from None
    problems: list[str] = []
    if model.code != path.parent.name:
        problems.append(f"code: {model.code!r} must match the folder name {path.parent.name!r}")
    scales = _scales(model, problems)
    known = {p.parent.name for p in (root / "assignments").glob(f"*/{SPEC_FILE}")}
    course_scale = scales.get(model.scale)
    if model.scale in scales and not course_scale.labelled:
        problems.append(f"scale: the course grade needs grades, not {model.scale}")
    components = {code: _component(code, c, scales, problems) for code, c in model.components.items()}
    components = {code: c for code, c in components.items() if c is not None}
    modules = model.modules or tuple(dict.fromkeys(m for c in components.values() for m in c.modules))
    for i, m in enumerate(model.modules):
        if m not in known:
            problems.append(f"modules[{i}]: unknown module {m!r} (not in {root / 'assignments'})")
    for c in components.values():
        _check_component(c, components, known, set(modules), problems)
    _check_credits(model.credits, components, problems)
    final = _final(model.final, components, course_scale, problems)
    if problems:
        raise CourseDefError(path, problems)
    return CourseDef(path=path, code=model.code, title=model.title, credits=model.credits, scale=course_scale,
                     modules=modules, group_size=model.group_size, components=components, final=final)


def load_courses(root: Path) -> tuple[list[CourseDef], list[CourseDefError]]:
    """Every ``courses/*/course.toml`` under ``root``: those that load, and the errors of the rest."""
    good, bad = [], []
    for path in sorted((root / "courses").glob(f"*/{COURSE_FILE}")):
        try:
            good.append(load_course(path, root=root))
        except CourseDefError as exc:
            bad.append(exc)
    return good, bad


def _scales(model: _CourseModel, problems: list[str]) -> dict[str, GradeScale]:
    names = {model.scale, *(c.scale for c in model.components.values())}
    scales = {n: s for n in names if (s := builtin_scale(n)) is not None}
    for name, s in model.scales.items():
        if builtin_scale(name) is not None:
            problems.append(f"scales.{name}: {name} is a built-in scale; give yours another name")
            continue
        unknown = [p for p in s.passing if p not in s.grades]
        twice = sorted({g for g in s.grades if s.grades.count(g) > 1})
        if unknown:
            problems.append(f"scales.{name}.passing: {', '.join(unknown)} not among its grades")
        if twice:
            problems.append(f"scales.{name}.grades: {', '.join(twice)} listed twice")
        if set(s.passing) == set(s.grades):
            problems.append(f"scales.{name}.passing: every grade passes; the last grade must fail")
        scales[name] = GradeScale(name, s.grades, frozenset(s.passing))
    known = ", ".join([*LABEL_PRESETS, *KINDS, *model.scales])
    if model.scale not in scales:
        problems.append(f"scale: unknown scale {model.scale!r} (one of {known})")
    return scales


def _component(code: str, c: _ComponentModel, scales: dict[str, GradeScale],
               problems: list[str]) -> Component | None:
    key = f"components.{code}"
    if not code.replace("-", "").replace("_", "").isalnum() or len(code) > 32:
        problems.append(f"{key}: a component code is letters and digits (e.g. LAB1), at most 32")
    scale = scales.get(c.scale)
    if scale is None:
        problems.append(f"{key}.scale: unknown scale {c.scale!r} (one of {', '.join([*LABEL_PRESETS, *KINDS])}, "
                        "or one defined under [scales])")
        return None
    unused = [f for f, v in (("modules", c.modules), ("components", c.components)) if v and f != c.source]
    unused += [f for f in ("sessions", "pass_at") if getattr(c, f) is not None and c.scale != "attendance"]
    unused += ["points"] if c.points is not None and c.scale != "points" else []
    unused += ["ta_may_enter"] if c.ta_may_enter and c.source != "entered" else []
    for f in unused:
        problems.append(f"{key}.{f}: not used by a component on scale {c.scale} from {c.source}; remove it")
    return Component(code=code, title=c.title, credits=c.credits, scale=scale, source=c.source, modules=c.modules,
                     components=c.components, max_points=c.points, sessions=c.sessions,
                     pass_at=c.pass_at if c.pass_at is not None else 0.8, ta_may_enter=c.ta_may_enter)


def _check_component(c: Component, components: dict[str, Component], known: set[str], course_modules: set[str],
                     problems: list[str]) -> None:
    key = f"components.{c.code}"
    if c.source == "modules":
        if not c.modules:
            problems.append(f"{key}.modules: name the modules it is made of")
        for i, m in enumerate(c.modules):
            if m not in known:
                problems.append(f"{key}.modules[{i}]: unknown module {m!r} (not in assignments/)")
            elif m not in course_modules:
                problems.append(f"{key}.modules[{i}]: {m} is not among the course's modules")
        if c.scale.name not in ("pass-fail", "points"):
            problems.append(f"{key}.scale: from modules, a component is pass-fail (every module passed) or "
                            f"points (their points, scaled), not {c.scale.name}")
    elif c.source == "components":
        if not c.components:
            problems.append(f"{key}.components: name the components it is made of")
        for i, other in enumerate(c.components):
            part = components.get(other)
            if other == c.code or (part is not None and c.code in _parts(part, components)):
                problems.append(f"{key}.components[{i}]: {other} is made of {c.code} itself (a cycle)")
            elif part is None:
                problems.append(f"{key}.components[{i}]: unknown component {other!r}")
            elif c.scale.name == "points" and part.kind != "points":
                problems.append(f"{key}.components[{i}]: {other} has no points to add up (scale mismatch)")
            elif c.scale.name == "pass-fail" and not part.passable:
                problems.append(f"{key}.components[{i}]: {other} has points, not a pass (scale mismatch)")
        if c.scale.name not in ("pass-fail", "points"):
            problems.append(f"{key}.scale: from components, a component is pass-fail (every one passed) or "
                            f"points (their sum), not {c.scale.name}")
    if c.scale.name == "points" and c.source != "components" and c.max_points is None:
        problems.append(f"{key}.points: a points component needs its maximum, e.g. points = 30")
    if c.scale.name == "points" and c.source == "components" and c.max_points is not None:
        total = sum(components[p].max_points or 0 for p in c.components if p in components)
        if abs(total - c.max_points) > 1e-9:
            problems.append(f"{key}.points: {c.max_points:g}, but its components add up to {total:g}")
    if c.scale.name == "attendance":
        if c.source != "entered":
            problems.append(f"{key}.from: attendance is entered by staff")
        if c.sessions is None:
            problems.append(f"{key}.sessions: how many sessions there are, e.g. sessions = 20")


def _parts(c: Component, components: dict[str, Component], seen: frozenset[str] = frozenset()) -> set[str]:
    """Every component ``c`` is made of, directly or through others."""
    out: set[str] = set()
    for p in c.components:
        if p in components and p not in seen:
            out |= {p} | _parts(components[p], components, seen | {c.code})
    return out


def max_points_of(c: Component, components: dict[str, Component]) -> float:
    if c.source == "components":
        return sum(max_points_of(components[p], components) for p in c.components)
    return c.max_points or 0.0


def _check_credits(credits: float, components: dict[str, Component], problems: list[str]) -> None:
    total = sum(c.credits for c in components.values())
    if total and abs(total - credits) > 1e-6:
        problems.append(f"credits: the components' credits add up to {total:g}, the course has {credits:g}")


def _final(f: _FinalModel, components: dict[str, Component], scale: GradeScale | None,
           problems: list[str]) -> FinalRule:
    def known(code: str, key: str) -> Component | None:
        c = components.get(code)
        if c is None:
            problems.append(f"{key}: unknown component {code!r} (one of {', '.join(components)})")
        return c

    for i, code in enumerate(f.requires):
        c = known(code, f"final.requires[{i}]")
        if c is not None and not c.passable:
            problems.append(f"final.requires[{i}]: {code} has points, not a pass: the rule could never be met")
    used = {"grade-of": {"component"}, "all-passed": {"components"}, "points": {"components", "cutoffs"}}[f.rule]
    for field in ("component", "components", "cutoffs"):
        if getattr(f, field) and field not in used:
            problems.append(f"final.{field}: not used by rule {f.rule!r}; remove it")
    members = f.components or tuple(components)
    if f.rule == "grade-of":
        c = known(f.component, "final.component") if f.component else None
        if f.component is None:
            problems.append("final.component: name the component whose grade is the course's")
        elif c is not None and scale is not None and c.scale != scale:
            problems.append(f"final.component: {c.code}'s scale is {c.scale.name}, the course's is {scale.name} "
                            "(scale mismatch)")
        members = (f.component,) if f.component else ()
    elif f.rule == "all-passed":
        if scale is not None and scale.name != "pass-fail":
            problems.append(f"final.rule: all-passed gives P or F; the course's scale is {scale.name}")
        for i, code in enumerate(members):
            c = known(code, f"final.components[{i}]")
            if c is not None and not c.passable:
                problems.append(f"final.components[{i}]: {code} has points, not a pass (scale mismatch)")
    else:
        members = f.components
        if not members:
            problems.append("final.components: name the points components to add up")
        total = 0.0
        for i, code in enumerate(members):
            c = known(code, f"final.components[{i}]")
            if c is not None and c.kind != "points":
                problems.append(f"final.components[{i}]: {code} has no points to add up (scale mismatch)")
            elif c is not None:
                total += max_points_of(c, components)
        if scale is not None and scale.labelled:
            _check_cutoffs(f.cutoffs, scale, total, problems)
    cutoffs = tuple(sorted(f.cutoffs.items(), key=lambda kv: -kv[1]))
    return FinalRule(f.rule, f.component, tuple(members), f.requires, cutoffs)


def _check_cutoffs(cutoffs: dict[str, float], scale: GradeScale, total: float, problems: list[str]) -> None:
    missing = [g for g in scale.grades if g not in cutoffs]
    extra = [g for g in cutoffs if g not in scale.grades]
    if missing or extra:
        problems.append("final.cutoffs: give the least points of every grade of the course's scale "
                        f"({', '.join(scale.grades)})" + (f"; not on it: {', '.join(extra)}" if extra else ""))
        return
    lows = [cutoffs[g] for g in scale.grades]
    if lows != sorted(lows, reverse=True) or len(set(lows)) != len(lows):
        problems.append("final.cutoffs: the least points must fall from the best grade to the worst")
    if lows[-1] != 0:
        problems.append(f"final.cutoffs: the lowest grade ({scale.grades[-1]}) must start at 0")
    for g in scale.grades:
        if cutoffs[g] > total + 1e-9:
            problems.append(f"final.cutoffs: {g} needs {cutoffs[g]:g} points of {total:g}: it could never be given")
