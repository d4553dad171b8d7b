"""A module's assignment.toml, read and checked.

A module lives in three places that share its name::

    assignments/<module>/assignment.toml + starter notebook + public data
    solutions/<module>/solution.ipynb
    graders/<module>/test_*.py

Every problem with the file is reported as ``file: key: what is wrong``.
"""

from __future__ import annotations

import datetime as dt
import fnmatch
import math
import tomllib
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from .points import exact
from .scales import PRESETS, Scale, make_scale
from .units import parse_duration, parse_size

SPEC_FILE = "assignment.toml"
VISIBILITIES = ("visible", "hidden", "after_due_date", "after_published")


class SpecError(Exception):
    """assignment.toml (or the module's layout) is wrong; the message says where and how."""

    def __init__(self, path: Path | str, problems: list[str]):
        self.path = str(path)
        self.problems = problems
        super().__init__("\n".join(f"{self.path}: {p}" for p in problems))


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class AssignmentSection(_Strict):
    title: str = Field(min_length=1)
    course: str = Field(min_length=1)
    module: str = Field(pattern=r"^[a-z0-9][a-z0-9._-]*$")
    starter: str = Field(pattern=r"^[^/\\]+\.ipynb$")
    data: tuple[str, ...] = ()
    description: str = ""

    @field_validator("data")
    @classmethod
    def _relative(cls, paths: tuple[str, ...]) -> tuple[str, ...]:
        for p in paths:
            if Path(p).is_absolute() or ".." in Path(p).parts:
                raise ValueError(f"{p!r} must be a path inside the module directory")
        return paths


class GradingSection(_Strict):
    scale: Literal["pass-fail", "a-f", "u345", "points"] = "a-f"
    pass_threshold: float = Field(50.0, ge=0, le=100)
    cutoffs: dict[str, float] = {}
    public_tests: tuple[str, ...] = ()
    hidden_visibility: Literal["visible", "hidden", "after_due_date", "after_published"] = "after_published"
    default_points: float = Field(1.0, ge=0)
    seed: int = 0
    # A code cell that raises: "continue" records the error and runs the next cells (only what
    # depends on the failed cell is lost); "stop" ends the notebook there, later cells never run.
    on_cell_error: Literal["continue", "stop"] = "continue"

    @model_validator(mode="after")
    def _scale_builds(self) -> "GradingSection":
        make_scale(self.scale, pass_threshold=self.pass_threshold, cutoffs=self.cutoffs)
        return self


class ResourcesSection(_Strict):
    cpus: int = Field(1, ge=1, le=256)
    memory: int = Field(2 * 1024**3, description="bytes; write e.g. 3GiB")
    gpus: int = Field(0, ge=0, le=64)
    gpu_sharing: bool = False
    wall_time: float = Field(300.0, gt=0, description="seconds for the whole run")
    notebook_time: float | None = Field(None, gt=0, description="seconds for the notebook's cells")
    call_time: float = Field(30.0, gt=0, description="seconds for one call from a test into the student")
    max_processes: int = Field(256, ge=16)
    max_file_size: int = Field(256 * 1024**2)
    max_output: int = Field(1024**2, description="bytes of student stdout/stderr kept")
    tmp_size: int = Field(512 * 1024**2, description="size of the student's writable tmpfs")

    @field_validator("memory", "max_file_size", "max_output", "tmp_size", mode="before")
    @classmethod
    def _size(cls, v: Any) -> int:
        return parse_size(v)

    @field_validator("wall_time", "notebook_time", "call_time", mode="before")
    @classmethod
    def _duration(cls, v: Any) -> Any:
        return None if v is None else parse_duration(v)

    @model_validator(mode="after")
    def _fits(self) -> "ResourcesSection":
        if self.notebook_time is not None and self.notebook_time >= self.wall_time:
            raise ValueError("notebook_time must be shorter than wall_time (tests need time too)")
        if self.memory < 256 * 1024**2:
            raise ValueError("memory below 256MiB cannot even start Python with numpy")
        return self

    @property
    def notebook_seconds(self) -> float:
        return self.notebook_time if self.notebook_time is not None else round(self.wall_time * 0.6, 1)


class DeadlineSection(_Strict):
    due: dt.datetime | None = None
    late_penalty_per_day: float = Field(0.0, ge=0, le=100, description="percent of max score per started day")
    max_late_days: float = Field(0.0, ge=0, description="after this many days late the score is 0")

    @field_validator("due")
    @classmethod
    def _aware(cls, v: dt.datetime | None) -> dt.datetime | None:
        if v is not None and v.tzinfo is None:
            raise ValueError("give the deadline with a time zone, e.g. 2027-01-31T23:59:00+01:00")
        return v


class IntakeSection(_Strict):
    max_notebook_size: int = Field(20 * 1024**2)
    max_cells: int = Field(1000, ge=1)
    max_attempts: int | None = Field(None, ge=1)

    @field_validator("max_notebook_size", mode="before")
    @classmethod
    def _size(cls, v: Any) -> int:
        return parse_size(v)


class BenchmarkProfile(_Strict):
    """Thresholds for one hardware profile: points rise linearly from ``floor`` to ``target``."""

    metric: Literal["speedup", "efficiency"] = "speedup"  # efficiency = speedup / world size
    floor: float = Field(ge=0, description="no points at or below this")
    target: float = Field(gt=0, description="full points at or above this")
    world_size: int | None = Field(None, ge=2, description="the world size that scores (default: the largest)")

    @model_validator(mode="after")
    def _ordered(self) -> "BenchmarkProfile":
        if self.target <= self.floor:
            raise ValueError("target must be above floor")
        return self


class BenchmarkSection(_Strict):
    """How the judge times parallel training, and per hardware profile how that scores."""

    world_sizes: tuple[int, ...] = (2,)
    threads_per_rank: int = Field(1, ge=1, le=256)
    baseline_threads: Literal["total", "per_rank"] = "total"
    steps: int = Field(20, ge=1, le=100_000)
    warmup: int = Field(3, ge=0, le=10_000)
    trials: int = Field(5, ge=1, le=101)
    max_extra_trials: int = Field(3, ge=0, le=100)
    decision_trials: int = Field(4, ge=0, le=100, description="pairs added, one at a time, while the median "
                                 "cannot yet be told from a threshold of the host's profile")
    quiet_cores: float = Field(0.3, gt=0, description="others' CPU load (in cores) a baseline trial tolerates")
    quiet_wait: float = Field(30.0, ge=0, description="seconds to wait in all for a quiet host")
    single_rank_check: bool = True
    single_rank_slack: float = Field(2.0, gt=1)
    max_spread: float | None = Field(None, gt=0, description="the widest the middle half of the trials' speedups "
                                     "may span, as a fraction of their median, before a TA must look")
    micro_batches: int = Field(4, ge=1, le=4096, description="pipeline modules: micro-batches per step")
    rtol: float = Field(1e-5, gt=0, le=1)
    atol: float = Field(1e-6, gt=0, le=1)
    reference: str | None = Field(
        None, pattern=r"^[A-Za-z_][A-Za-z0-9_]*\.py$",
        description="the module's own baseline and partition code: a file in its grader folder, run by the judge")
    profiles: dict[str, BenchmarkProfile] = {}

    @field_validator("quiet_wait", mode="before")
    @classmethod
    def _duration(cls, v: Any) -> Any:
        return parse_duration(v)

    @field_validator("world_sizes")
    @classmethod
    def _sizes(cls, v: tuple[int, ...]) -> tuple[int, ...]:
        if not v or any(n < 2 or n > 1024 for n in v):
            raise ValueError("world sizes must be between 2 and 1024 (the baseline is the single process)")
        return tuple(sorted(set(v)))

    @field_validator("profiles")
    @classmethod
    def _profile_names(cls, v: dict[str, "BenchmarkProfile"]) -> dict[str, "BenchmarkProfile"]:
        import re
        for name in v:
            if not re.fullmatch(r"(cpu|gpu)-[0-9]+(-[a-z0-9][a-z0-9-]*)?", name):
                raise ValueError(f"profile {name!r}: write cpu-N, gpu-N or gpu-N-<model>, e.g. cpu-2, gpu-8-h100")
        return v

    def run_config(self) -> dict[str, Any]:
        """What the judge needs to run the trials (everything but the scoring profiles)."""
        d = self.model_dump(exclude={"profiles"})
        d["world_sizes"] = list(d["world_sizes"])
        # the thresholds too, so the judge can measure more where a verdict is close (they score on the host)
        d["cutoffs"] = {name: {"metric": p.metric, "floor": p.floor, "target": p.target}
                        for name, p in self.profiles.items()}
        return d


class _SpecModel(_Strict):
    assignment: AssignmentSection
    grading: GradingSection = GradingSection()
    points: dict[str, float] = {}
    resources: ResourcesSection = ResourcesSection()
    deadline: DeadlineSection = DeadlineSection()
    intake: IntakeSection = IntakeSection()
    benchmark: BenchmarkSection | None = None

    @field_validator("points")
    @classmethod
    def _non_negative(cls, v: dict[str, float]) -> dict[str, float]:
        for key, pts in v.items():
            if pts < 0 or not math.isfinite(pts):
                raise ValueError(f"points for {key!r} must be a non-negative number")
        return v


@dataclass(frozen=True)
class ModulePaths:
    root: Path  # the course repository (parent of assignments/)
    assignment_dir: Path
    solution_dir: Path
    grader_dir: Path

    @property
    def spec_file(self) -> Path:
        return self.assignment_dir / SPEC_FILE


@dataclass(frozen=True)
class ModuleSpec:
    """Everything the platform needs to know about one module."""

    paths: ModulePaths
    assignment: AssignmentSection
    grading: GradingSection
    points: dict[str, float]
    resources: ResourcesSection
    deadline: DeadlineSection
    intake: IntakeSection
    benchmark: BenchmarkSection | None = None

    @property
    def name(self) -> str:
        return self.assignment.module

    @property
    def starter(self) -> Path:
        return self.paths.assignment_dir / self.assignment.starter

    @property
    def solution(self) -> Path:
        return self.paths.solution_dir / "solution.ipynb"

    @property
    def scale(self) -> Scale:
        g = self.grading
        return make_scale(g.scale, pass_threshold=g.pass_threshold, cutoffs=g.cutoffs)

    def test_points(self, nodeid: str, name: str, marker: float | None, all_ids: list[str]) -> Fraction:
        """Points for one test, exact: assignment.toml first, then the marker, then the default.

        A key in ``[points]`` may name a test (``test_relu``), a node id
        (``test_numpy.py::test_relu``) or a glob (``test_forward*``); its points
        are split evenly among every test it matches (2 over 3 tests: 2/3 each).
        """
        for key, pts in self.points.items():
            if matches(key, nodeid, name):
                n = sum(1 for other in all_ids if matches(key, other, other.split("::")[-1]))
                return exact(pts) / max(n, 1)
        if marker is not None:
            return exact(marker)
        return exact(self.grading.default_points)

    def test_visibility(self, nodeid: str, marker: str | None) -> str:
        if marker in VISIBILITIES:
            return marker
        if nodeid.split("::", 1)[0] in self.grading.public_tests:
            return "visible"
        return self.grading.hidden_visibility


def matches(key: str, nodeid: str, name: str) -> bool:
    """Does a [points] key (test name, node id or glob) select this test?"""
    return key == nodeid or key == name or fnmatch.fnmatchcase(name, key) or fnmatch.fnmatchcase(nodeid, key)


def find_module_paths(assignment_dir: Path | str) -> ModulePaths:
    d = Path(assignment_dir).resolve()
    if not (d / SPEC_FILE).is_file():
        raise SpecError(d / SPEC_FILE, [f"no {SPEC_FILE} here; a module directory is assignments/<module>/ "
                                        f"with an {SPEC_FILE} in it"])
    root = d.parent.parent
    return ModulePaths(root=root, assignment_dir=d, solution_dir=root / "solutions" / d.name,
                       grader_dir=root / "graders" / d.name)


def load_module(assignment_dir: Path | str) -> ModuleSpec:
    """Read and check ``assignments/<module>/assignment.toml`` and the module's layout."""
    paths = find_module_paths(assignment_dir)
    spec_file = paths.spec_file
    raw = read_toml(spec_file)
    try:
        model = _SpecModel.model_validate(raw)
    except ValidationError as exc:
        raise SpecError(spec_file, [_describe(e) for e in exc.errors()]) from None

    problems = []
    a = model.assignment
    if a.module != paths.assignment_dir.name:
        problems.append(f"assignment.module: {a.module!r} must match the directory name "
                        f"{paths.assignment_dir.name!r}")
    if not (paths.assignment_dir / a.starter).is_file():
        problems.append(f"assignment.starter: {a.starter} does not exist in {paths.assignment_dir}")
    for p in a.data:
        if not (paths.assignment_dir / p).exists():
            problems.append(f"assignment.data: {p} does not exist in {paths.assignment_dir}")
    if not paths.grader_dir.is_dir() or not any(paths.grader_dir.glob("test_*.py")):
        problems.append(f"no hidden tests: expected {paths.grader_dir}/test_*.py")
    for f in model.grading.public_tests:
        if not (paths.grader_dir / f).is_file():
            problems.append(f"grading.public_tests: {f} does not exist in {paths.grader_dir}")
    reference = model.benchmark.reference if model.benchmark else None
    if reference and not (paths.grader_dir / reference).is_file():
        problems.append(f"benchmark.reference: {reference} does not exist in {paths.grader_dir}")
    if problems:
        raise SpecError(spec_file, problems)
    return ModuleSpec(paths=paths, assignment=a, grading=model.grading, points=dict(model.points),
                      resources=model.resources, deadline=model.deadline, intake=model.intake,
                      benchmark=model.benchmark)


def read_toml(path: Path, error: type[SpecError] = SpecError) -> dict[str, Any]:
    """The TOML file at ``path``; ``error`` (naming the file) when it is missing, not TOML or not UTF-8."""
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise error(path, ["no such file"]) from None
    except tomllib.TOMLDecodeError as exc:
        raise error(path, [f"not valid TOML: {exc}"]) from None
    except UnicodeDecodeError:
        raise error(path, ["not UTF-8 text"]) from None


def _describe(error: dict) -> str:
    key = ".".join(str(p) for p in error.get("loc", ())) or "(top level)"
    msg = error.get("msg", "invalid")
    msg = msg.removeprefix("Value error, ")
    if error.get("type") == "extra_forbidden":
        msg = "unknown key (check the spelling; see the README's assignment.toml reference)"
    elif error.get("type") == "missing":
        msg = "required key is missing"
    return f"{key}: {msg}"


__all__ = ["ModuleSpec", "ModulePaths", "SpecError", "load_module", "find_module_paths", "PRESETS"]
