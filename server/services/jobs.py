"""Grading jobs: claim a submission, grade it with ``handin.grading``, store one result.

The database, not the broker, decides who grades what. A job first claims its submission with a
conditional update (queued → running, with a lease token and a lease end); only the holder of
the current lease may store a result, and storing is again a conditional update. So a message
delivered twice, a job requeued after a worker died, or two workers racing never write two
results, and a submission stuck in ``running`` past its lease is requeued by :func:`requeue_stuck`.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import shutil
import tempfile
import traceback
import uuid
from pathlib import Path

from flask import current_app
from sqlalchemy import and_, or_, select, update

from handin.grading import GradeOptions, grade_file

from ..extensions import db
from ..models import Assignment, Grade, Result, Submission, User, utcnow
from . import audit, catalog, lateness, notify

log = logging.getLogger("handin.jobs")
RESEND_QUEUED_AFTER = dt.timedelta(minutes=30)


def claim(submission_id: int, now: dt.datetime | None = None) -> str | None:
    """Take the lease on a queued (or lease-expired) submission; None when someone else has it."""
    now = now or utcnow()
    sub = db.session.get(Submission, submission_id)
    if sub is None:
        return None
    try:
        wall = catalog.spec_for(sub.assignment).resources.wall_time
    except Exception:
        wall = 600.0
    margin = current_app.extensions["handin"].settings.lease_margin
    token = uuid.uuid4().hex
    res = db.session.execute(
        update(Submission)
        .where(Submission.id == submission_id,
               or_(Submission.status == "queued",
                   and_(Submission.status == "running", Submission.lease_until < now)))
        .values(status="running", lease_token=token, lease_until=now + dt.timedelta(seconds=wall + margin),
                started_at=now, deliveries=Submission.deliveries + 1)
        .execution_options(synchronize_session=False))
    db.session.commit()
    return token if res.rowcount == 1 else None


def run_job(submission_id: int) -> str:
    """Grade one submission if it is ours to grade. Returns what happened (for logs and tests)."""
    token = claim(submission_id)
    if token is None:
        return "skipped"
    state = current_app.extensions["handin"]
    sub = db.session.get(Submission, submission_id)
    db.session.refresh(sub)
    try:
        spec = catalog.spec_for(sub.assignment)
        upload = state.uploads.path(sub.sha256)
        out = state.instance / "reports" / str(sub.id)
        filename = sub.filename
        db.session.commit()   # hold no transaction open while the sandbox runs (minutes, maybe)
        backend = state.backend(gpu=spec.resources.gpus > 0)
        with tempfile.TemporaryDirectory(prefix=f"handin-{submission_id}-") as tmp:
            named = Path(tmp) / _notebook_name(filename)
            os.link(upload, named) if _same_fs(upload, Path(tmp)) else shutil.copyfile(upload, named)
            results = grade_file(spec, named, backend=backend, out_dir=out,
                                 options=GradeOptions(), sub_id=token)
    except Exception as exc:
        log.exception("grading submission %s failed", submission_id)
        db.session.rollback()
        return _fail(submission_id, token, f"{type(exc).__name__}: {exc}", traceback.format_exc())
    return store_result(submission_id, token, results, report_dir=f"reports/{submission_id}/{token}")


def store_result(submission_id: int, token: str, results: dict, *, report_dir: str) -> str:
    """Write the result and grade, if ``token`` still holds the lease; else drop them."""
    now = utcnow()
    res = db.session.execute(
        update(Submission)
        .where(Submission.id == submission_id, Submission.status == "running", Submission.lease_token == token)
        .values(status="graded", finished_at=now, lease_token=None, lease_until=None, error=None)
        .execution_options(synchronize_session=False))
    if res.rowcount != 1:
        db.session.rollback()
        _remove_report(report_dir)
        log.warning("submission %s: lease %s lost, result dropped", submission_id, token)
        return "superseded"
    sub = db.session.get(Submission, submission_id)
    db.session.refresh(sub)
    result = sub.result
    old_dir = result.report_dir if result else None
    if result is None:
        result = Result(submission=sub, runs=0)
        db.session.add(result)
    result.data = json.dumps(results)
    result.run_status = results["status"]
    result.score = float(results["score"])
    result.max_score = float(results["max_score"])
    result.needs_review = bool(results.get("review"))
    result.graded_at = now
    result.runs = (result.runs or 0) + 1
    result.report_dir = report_dir
    grade = sub.grade
    before = (grade.final_points, grade.final_label) if grade is not None else None
    if grade is None:
        grade = Grade(submission=sub)
        db.session.add(grade)
    grade.points, grade.max_points = result.score, result.max_score
    # The run scores the notebook only; the late penalty is the platform's, from the rules as they stand.
    grade.raw_points = result.score + float((results.get("late") or {}).get("points_deducted") or 0.0)
    grade.percent = float(results.get("percent") or 0.0)
    grade.label = results["grade"]["label"]
    grade.passed = bool(results["grade"]["passed"])
    lateness.apply_penalty(sub)
    audit.record("grade.computed", actor=None, course=sub.assignment.course, target=f"submission:{sub.id}",
                 score=result.score, max_score=result.max_score, status=result.run_status, run=result.runs)
    db.session.commit()
    if before != (grade.final_points, grade.final_label):   # a regrade that changes nothing mails no one
        notify.graded(sub)
    if old_dir and old_dir != report_dir:
        _remove_report(old_dir)
    return "graded"


def _fail(submission_id: int, token: str, message: str, detail: str) -> str:
    res = db.session.execute(
        update(Submission)
        .where(Submission.id == submission_id, Submission.status == "running", Submission.lease_token == token)
        .values(status="error", finished_at=utcnow(), lease_token=None, lease_until=None,
                error=(message + "\n\n" + detail)[:20_000])
        .execution_options(synchronize_session=False))
    db.session.commit()
    return "error" if res.rowcount == 1 else "superseded"


def requeue_stuck(now: dt.datetime | None = None) -> list[int]:
    """Requeue runs whose lease ran out (their worker died) and re-send long-queued jobs.

    Returns the ids to dispatch (the caller dispatches them: this only changes rows).
    """
    now = now or utcnow()
    ids = []
    for sub_id in db.session.scalars(select(Submission.id).where(Submission.status == "running",
                                                                 Submission.lease_until < now)):
        res = db.session.execute(
            update(Submission)
            .where(Submission.id == sub_id, Submission.status == "running", Submission.lease_until < now)
            .values(status="queued", lease_token=None, lease_until=None, queued_at=now)
            .execution_options(synchronize_session=False))
        if res.rowcount == 1:
            ids.append(sub_id)
            log.warning("submission %s: its worker's lease ran out; requeued", sub_id)
    for sub_id in db.session.scalars(select(Submission.id).where(Submission.status == "queued",
                                                                 Submission.queued_at < now - RESEND_QUEUED_AFTER)):
        res = db.session.execute(
            update(Submission).where(Submission.id == sub_id, Submission.status == "queued")
            .values(queued_at=now).execution_options(synchronize_session=False))
        if res.rowcount == 1:
            ids.append(sub_id)
    db.session.commit()
    return ids


def regrade(submission_ids: list[int], *, actor: User, assignment: Assignment) -> list[int]:
    """Queue again what is graded or failed; what is already queued or running stays as it is."""
    from .accounts import membership
    membership(actor, assignment.course.code, ("teacher",))
    now = utcnow()
    queued = []
    for sub_id in submission_ids:
        res = db.session.execute(
            update(Submission)
            .where(Submission.id == sub_id, Submission.assignment_id == assignment.id,
                   Submission.status.in_(("graded", "error")))
            .values(status="queued", queued_at=now, error=None)
            .execution_options(synchronize_session=False))
        if res.rowcount == 1:
            queued.append(sub_id)
    target = f"submission:{submission_ids[0]}" if len(submission_ids) == 1 else assignment.module
    audit.record("assignment.regrade", actor=actor, course=assignment.course, target=target,
                 submissions=queued, asked=len(submission_ids))
    db.session.commit()
    return queued


def _notebook_name(filename: str) -> str:
    from handin.notebook import submission_id as safe
    return safe(filename) + ".ipynb"


def _same_fs(a: Path, b: Path) -> bool:
    try:
        return a.stat().st_dev == b.stat().st_dev
    except OSError:
        return False


def _remove_report(report_dir: str) -> None:
    if report_dir:
        shutil.rmtree(current_app.extensions["handin"].instance / report_dir, ignore_errors=True)
