"""What the student's side may see of the platform's own code: an allowlist, and the folder that holds it.

The student's process runs the notebook and answers the judge's calls; its rank processes
(timed modules) run the grader's training loops around the student's functions. Both import
the platform's package, so whatever of ``handin`` and ``sandbox`` they can reach, a student
can read and call. They get exactly this runtime and nothing else: no harness, no checks, no
scoring, no web platform, no backend. Reference code is not here by construction: a module's
own baseline, partition or gradient lives in its grader folder (``[benchmark] reference``)
and runs in the judge or in rank processes the judge owns.

Both sandboxes mount :func:`build`'s folder where the student's side looks for the packages
(local: over the package's own path and /opt/handin; docker: /opt/handin); the judge gets the
whole package elsewhere (local: its own namespace; docker: /judge/lib, which only the judge
uid may enter). ``tests/sandbox/test_student_view.py`` lists, from inside each sandbox, every
module of handin, sandbox and server the student can import and fails on anything not here.
"""

from __future__ import annotations

import compileall
import hashlib
import os
import shutil
import tempfile
from pathlib import Path

# Every module of the platform the student's side may import; a package means its __init__ only.
STUDENT_MODULES: tuple[str, ...] = (
    "handin",                    # the package (its version)
    "handin.student",            # runs the notebook's cells, then serves the judge's calls
    "handin.wire",               # the plain-data message format both sides speak
    "handin.notebook",           # the cell-error cap the student process applies (and units)
    "handin.units",
    "handin.roles",              # a forked process becoming the run's student (zygote, supervisor)
    "handin.capture",            # the supervisor's output drains (docker)
    "handin.bench",              # the rank runtime of timed modules:
    "handin.bench.launcher",     #   starts and drives the ranks
    "handin.bench.export",       #   the notebook's definitions as a module the ranks import
    "handin.bench.rank",         #   one rank process
    "handin.bench.comm",         #   counting wrappers around torch.distributed
    "handin.bench.tasks",        #   the grader's model, data and data-parallel training loop
    "handin.bench.regression",   #   the grader's loop around partition_gradient/aggregate (no gradient)
    "handin.bench.pipeline",     #   the grader's loop around pipeline_step (no partition, no schedule)
    "sandbox",                   # the package (backends load on first use, from files the student lacks)
    "sandbox.zygote",            # local: the forking parent the student's process comes from
    "sandbox.supervisor",        # docker: the container's pid 1
)

_VIEW_PREFIX = "handin-student-view-"


def _source_roots() -> dict[str, Path]:
    import handin
    return {"handin": Path(handin.__file__).resolve().parent, "sandbox": Path(__file__).resolve().parent}


def module_files(roots: dict[str, Path] | None = None) -> list[tuple[str, Path]]:
    """(path relative to the view, source file) for every allowlisted module."""
    roots = roots or _source_roots()
    out = []
    for name in STUDENT_MODULES:
        top, *rest = name.split(".")
        base = roots[top].joinpath(*rest)
        if base.is_dir():
            rel, src = "/".join([top, *rest, "__init__.py"]), base / "__init__.py"
        else:
            rel, src = "/".join([top, *rest]) + ".py", base.with_suffix(".py")
        out.append((rel, src))
    return out


def build(parent: Path | str | None = None) -> Path:
    """The view: a folder with ``handin/`` and ``sandbox/`` holding only the allowlisted files
    (compiled ahead, world-readable, read-only), named by a hash of their contents so a changed
    source gets a new one. Built once per content; safe to call from concurrent processes."""
    files = module_files()
    h = hashlib.sha256()
    for rel, src in files:
        h.update(rel.encode() + b"\0" + src.read_bytes() + b"\0")
    parent = Path(parent or tempfile.gettempdir())
    view = parent / f"{_VIEW_PREFIX}{h.hexdigest()[:20]}"
    if (view / ".complete").is_file():
        return view
    tmp = Path(tempfile.mkdtemp(prefix=".building-", dir=parent))
    try:
        for rel, src in files:
            dst = tmp / rel
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dst)
        compileall.compile_dir(str(tmp), quiet=2, workers=1)
        (tmp / ".complete").write_text("")
        for d, dirs, names in os.walk(tmp):
            os.chmod(d, 0o755)
            for n in names:
                os.chmod(os.path.join(d, n), 0o444)
        try:
            os.rename(tmp, view)
        except OSError:  # another process built the same view first
            if not (view / ".complete").is_file():
                raise
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return view
