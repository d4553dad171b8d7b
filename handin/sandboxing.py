"""What a sandbox backend is asked to do, and what it hands back.

The backends themselves live in the top-level ``sandbox`` package (local,
docker); the core only knows this interface. A backend starts two processes,
the student (``python -m handin.student``) and the judge
(``python -m handin.judge``), joined by one socket, under the limits given
here, and returns the judge's raw report with what it saw of the run.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from .capture import Drain, OutputCap  # noqa: F401  (where the backends look for them)
from .spec import ModuleSpec
from . import wire

# Where the processes see their files, whatever the backend.
STUDENT_HOME = "/home/student"
STUDENT_CONFIG = "/run/handin/student.json"
JUDGE_CONFIG = "/run/handin/judge.json"
GRADER_MOUNT = "/grader"
PUBLIC_DATA_MOUNT = "/public"  # the judge's read-only view of the module's public data ([assignment] data)
JUDGE_OUT = "/out"
CHANNEL_FD = 3
MAX_REPORT_BYTES = 16 * 1024**2

PROTECTIONS = {
    "rlimits": "CPU time, address space, processes, file size and open files capped",
    "wall_clock": "the whole run is killed at the wall-clock limit",
    "network_isolated": "no network for student code",
    "filesystem_hidden": "student code sees only its submission, the module's public data and Python",
    "uid_separation": "judge and student run as two different unprivileged users",
    "pid_isolated": "student code cannot see or signal other processes",
}


@dataclass(frozen=True)
class Limits:
    wall_seconds: float
    notebook_seconds: float
    call_seconds: float
    memory_bytes: int
    cpus: int = 1
    gpus: int = 0
    gpu_sharing: bool = False
    max_processes: int = 256
    max_file_size: int = 256 * 1024**2
    max_output: int = 1024**2
    tmp_size: int = 512 * 1024**2
    max_message_bytes: int = wire.DEFAULT_MAX_BYTES

    @classmethod
    def for_module(cls, spec: ModuleSpec, *, wall_seconds: float | None = None) -> "Limits":
        r = spec.resources
        wall = wall_seconds if wall_seconds is not None else r.wall_time
        notebook = min(r.notebook_seconds, wall * 0.8) if wall_seconds is not None else r.notebook_seconds
        return cls(wall_seconds=wall, notebook_seconds=notebook, call_seconds=min(r.call_time, wall),
                   memory_bytes=r.memory, cpus=r.cpus, gpus=r.gpus, gpu_sharing=r.gpu_sharing,
                   max_processes=r.max_processes, max_file_size=r.max_file_size,
                   max_output=r.max_output, tmp_size=r.tmp_size)


@dataclass(frozen=True)
class RunRequest:
    label: str                      # a safe id, used in names and logs
    cells: tuple[str, ...]          # the notebook's code cells
    grader_dir: Path                # hidden tests: the judge alone may read them
    data: tuple[tuple[str, Path], ...]  # (name inside the student's home, host path), read-only
    limits: Limits
    seed: int = 0
    benchmark: dict[str, Any] | None = None  # [benchmark] run parameters for the judge's harness
    on_cell_error: str = "continue"          # [grading] on_cell_error: "continue" or "stop"
    # Installed libraries the module's starter and grader files import: what prepared
    # interpreters load ahead (handin.preload); never chosen by a submission.
    student_imports: tuple[str, ...] = ()
    judge_imports: tuple[str, ...] = ()

    def student_config(self) -> dict[str, Any]:
        lim = self.limits
        return {"cells": list(self.cells), "notebook_seconds": lim.notebook_seconds,
                "call_seconds": lim.call_seconds, "max_message_bytes": lim.max_message_bytes,
                "seed": self.seed, "threads": lim.cpus, "fd": CHANNEL_FD, "on_cell_error": self.on_cell_error}

    def judge_config(self) -> dict[str, Any]:
        lim = self.limits
        return {"grader_dir": GRADER_MOUNT, "public_data": PUBLIC_DATA_MOUNT, "out": f"{JUDGE_OUT}/raw.json",
                "scratch": "/tmp",
                "fd": CHANNEL_FD, "call_seconds": lim.call_seconds,
                "ready_seconds": lim.notebook_seconds + 15.0, "max_message_bytes": lim.max_message_bytes,
                "benchmark": self.benchmark}


@dataclass
class RunOutcome:
    raw: dict | None
    wall_seconds: float
    timed_out: bool = False
    student_exit: int | None = None
    judge_exit: int | None = None
    student_log: str = ""
    judge_log: str = ""
    protections: dict[str, bool] = field(default_factory=dict)
    environment: dict[str, Any] = field(default_factory=dict)
    error: str | None = None        # the backend itself failed (not the student)


def thread_env(request: RunRequest) -> dict[str, str]:
    """Thread settings for both processes of a run: as many threads as the run has cpus.

    Untimed runs may share cores with another run, and OpenMP threads that spin while they
    wait then starve each other: two m02 notebooks training at once on 2 cores took 43-71 s
    instead of 7 s. So they wait passively. Timed runs keep OpenMP's default: they have their
    cores to themselves, and their thresholds were measured that way.
    """
    n = str(request.limits.cpus)
    env = {"OMP_NUM_THREADS": n, "MKL_NUM_THREADS": n}
    if request.benchmark is None:
        env["OMP_WAIT_POLICY"] = "PASSIVE"
    return env


class Backend(Protocol):
    name: str

    def protections(self) -> dict[str, bool]:
        """Which of :data:`PROTECTIONS` this backend can enforce on this host."""

    def run(self, request: RunRequest) -> RunOutcome:
        """Run one submission; never raises for anything the student did."""


def read_report(path: Path) -> tuple[dict | None, str | None]:
    """Read the judge's raw report as plain JSON, capped in size."""
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        return None, "the judge wrote no report"
    if size > MAX_REPORT_BYTES:
        return None, f"the judge's report is {size} bytes, over the {MAX_REPORT_BYTES} cap"
    try:
        doc = json.loads(path.read_bytes())
    except (ValueError, RecursionError) as exc:
        return None, f"the judge's report is not JSON: {exc}"
    if not isinstance(doc, dict) or not isinstance(doc.get("tests"), list):
        return None, "the judge's report has no test list"
    return doc, None


