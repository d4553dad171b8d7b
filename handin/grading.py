"""Grade submissions: intake → sandbox → results.json + reports, one folder per submission.

Each submission is graded inside its own ``try``: a file that breaks
anything becomes a result with a status, never a dead batch.
"""

from __future__ import annotations

import concurrent.futures as cf
import csv
import datetime as dt
import json
import os
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from .preload import module_imports
from .notebook import IntakeError, Notebook, read_notebook_file, submission_id
from .report import write_reports
from .results import build_results, validate_results
from .sandboxing import Backend, Limits, RunOutcome, RunRequest
from .spec import ModuleSpec

CSV_FIELDS = ("submission", "filename", "status", "score", "max_score", "percent", "grade", "passed",
              "days_late", "sha256")


@dataclass(frozen=True)
class GradeOptions:
    wall_seconds: float | None = None   # override the module's wall time (tests, quick checks)
    submitted_at: dt.datetime | None = None


def grade_file(spec: ModuleSpec, path: Path, *, backend: Backend, out_dir: Path | None,
               options: GradeOptions = GradeOptions(), sub_id: str | None = None) -> dict:
    """Grade one notebook file. Writes ``out_dir/<id>/`` when ``out_dir`` is given."""
    return grade_run(spec, path, backend=backend, out_dir=out_dir, options=options, sub_id=sub_id)[0]


def grade_run(spec: ModuleSpec, path: Path, *, backend: Backend, out_dir: Path | None,
              options: GradeOptions = GradeOptions(), sub_id: str | None = None) -> tuple[dict, RunOutcome | None]:
    """:func:`grade_file`, also returning the sandbox's outcome (None when intake refused the file):
    its raw judge report holds what results.json leaves out, e.g. the suite's collection errors."""
    outcome: RunOutcome | None = None
    filename = path.name
    sub_id = sub_id or submission_id(filename)
    started = time.monotonic()
    notebook: Notebook | None = None
    submission = {"id": sub_id, "filename": filename, "sha256": None, "size": None}
    student_log = judge_log = ""
    try:
        notebook = read_notebook_file(path, max_bytes=spec.intake.max_notebook_size,
                                      max_cells=spec.intake.max_cells)
        submission.update(sha256=notebook.sha256, size=notebook.size)
        intake_s = time.monotonic() - started
    except IntakeError as exc:
        results = build_results(spec, submission=submission, intake_error=str(exc),
                                submitted_at=options.submitted_at,
                                execution_time=time.monotonic() - started)
    else:
        try:
            outcome = backend.run(make_request(spec, notebook, sub_id, options))
            student_log, judge_log = outcome.student_log, outcome.judge_log
            results = build_results(spec, submission=submission, outcome=outcome, notebook=notebook,
                                    submitted_at=options.submitted_at, intake_seconds=intake_s)
        except Exception as exc:  # the platform's own failure: record it, keep the batch going
            judge_log = traceback.format_exc()
            outcome = RunOutcome(raw=None, wall_seconds=time.monotonic() - started,
                                 error=f"internal error: {type(exc).__name__}: {exc}")
            results = build_results(spec, submission=submission, outcome=outcome, notebook=notebook,
                                    submitted_at=options.submitted_at)
    validate_results(results)
    if out_dir is not None:
        write_submission(out_dir / sub_id, results, student_log=student_log, judge_log=judge_log)
    return results, outcome


def make_request(spec: ModuleSpec, notebook: Notebook, label: str, options: GradeOptions) -> RunRequest:
    data = tuple((rel, spec.paths.assignment_dir / rel) for rel in spec.assignment.data)
    student_imports, judge_imports = module_imports(spec.starter, spec.paths.grader_dir)
    return RunRequest(label=label, cells=notebook.code_cells, grader_dir=spec.paths.grader_dir,
                      data=data, limits=Limits.for_module(spec, wall_seconds=options.wall_seconds),
                      seed=spec.grading.seed, on_cell_error=spec.grading.on_cell_error,
                      benchmark=spec.benchmark.run_config() if spec.benchmark else None,
                      student_imports=student_imports, judge_imports=judge_imports)


def write_submission(folder: Path, results: dict, *, student_log: str, judge_log: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    _atomic_write(folder / "results.json", json.dumps(results, indent=2))
    (folder / "student.log").write_text(student_log)
    (folder / "judge.log").write_text(judge_log)
    write_reports(results, folder, student_log=student_log, judge_log=judge_log)


def _atomic_write(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def collect_submissions(inputs: list[Path]) -> list[Path]:
    """Files named, plus every file directly inside folders named (sorted)."""
    files: list[Path] = []
    for p in inputs:
        if p.is_dir():
            files += sorted(f for f in p.iterdir() if f.is_file() and not f.name.startswith("."))
        else:
            files.append(p)
    return files


def unique_ids(files: list[Path]) -> list[str]:
    seen: dict[str, int] = {}
    ids = []
    for f in files:
        base = submission_id(f.name)
        n = seen.get(base, 0)
        seen[base] = n + 1
        ids.append(base if n == 0 else f"{base}-{n + 1}")
    return ids


def grade_batch(spec: ModuleSpec, files: list[Path], *, backend: Backend, out_dir: Path, jobs: int = 1,
                options: GradeOptions = GradeOptions(),
                on_done: Callable[[dict], None] | None = None) -> list[dict]:
    """Grade many files, ``jobs`` at a time, and write ``out_dir/grades.csv``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    ids = unique_ids(files)
    results: list[dict | None] = [None] * len(files)
    with cf.ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        futures = {pool.submit(grade_file, spec, f, backend=backend, out_dir=out_dir, options=options,
                               sub_id=i): n for n, (f, i) in enumerate(zip(files, ids))}
        for fut in cf.as_completed(futures):
            n = futures[fut]
            results[n] = fut.result()
            if on_done:
                on_done(results[n])
    done = [r for r in results if r is not None]
    write_grades_csv(out_dir / "grades.csv", done)
    return done


def write_grades_csv(path: Path, results: list[dict]) -> None:
    with path.open("w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=CSV_FIELDS)
        w.writeheader()
        for r in results:
            w.writerow({
                "submission": r["submission"]["id"], "filename": r["submission"]["filename"],
                "status": r["status"], "score": r["score"], "max_score": r["max_score"],
                "percent": r.get("percent"), "grade": r["grade"]["label"] or "",
                "passed": "yes" if r["grade"]["passed"] else "no",
                "days_late": (r.get("late") or {}).get("days_late", 0), "sha256": r["submission"]["sha256"] or "",
            })
