"""Grading jobs: the database lease decides who grades, so nothing is graded into two results."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select

from server.extensions import db
from server.models import AuditEntry, Grade, Result, Submission, utcnow
from server.services import jobs
from webtools import STARTER, upload


def _results_for(spec_sub: Submission) -> dict:
    """A real results.json for a submission that was never run (the core's 'invalid' result)."""
    from handin.results import build_results
    from server.services import catalog
    spec = catalog.spec_for(spec_sub.assignment)
    return build_results(spec, submission={"id": str(spec_sub.id), "filename": spec_sub.filename,
                                           "sha256": spec_sub.sha256, "size": spec_sub.size},
                         intake_error="test result")


def _count(model, sub_id) -> int:
    return db.session.scalar(select(func.count()).select_from(model).where(model.submission_id == sub_id))


def test_a_claim_is_exclusive(client, world, app):
    sub_id = upload(client, world, "alice", STARTER).get_json()["id"]
    with app.app_context():
        first = jobs.claim(sub_id)
        assert first is not None
        assert jobs.claim(sub_id) is None                      # a second delivery finds it running
        sub = db.session.get(Submission, sub_id)
        assert sub.status == "running" and sub.deliveries == 1 and sub.lease_until > utcnow()


def test_only_the_lease_holder_stores_a_result(client, world, app):
    sub_id = upload(client, world, "alice", STARTER).get_json()["id"]
    with app.app_context():
        stale = jobs.claim(sub_id)
        sub = db.session.get(Submission, sub_id)
        results = _results_for(sub)
        # Its worker stalls; the lease runs out and another worker takes the job over.
        sub.lease_until = utcnow() - dt.timedelta(seconds=1)
        db.session.commit()
        fresh = jobs.claim(sub_id)
        assert fresh not in (None, stale)
        assert jobs.store_result(sub_id, stale, results, report_dir="") == "superseded"
        assert _count(Result, sub_id) == 0
        assert jobs.store_result(sub_id, fresh, results, report_dir="") == "graded"
        assert jobs.store_result(sub_id, fresh, results, report_dir="") == "superseded"   # once only
        assert (_count(Result, sub_id), _count(Grade, sub_id)) == (1, 1)
        sub = db.session.get(Submission, sub_id)
        assert sub.status == "graded" and sub.deliveries == 2 and sub.lease_token is None
        assert db.session.scalar(select(func.count()).select_from(AuditEntry).where(
            AuditEntry.action == "grade.computed")) == 1


def test_stuck_runs_are_requeued_and_fresh_ones_are_not(client, world, app):
    ids = [upload(client, world, w, STARTER).get_json()["id"] for w in ("alice", "bob")]
    with app.app_context():
        for sub_id in ids:
            assert jobs.claim(sub_id)
        db.session.get(Submission, ids[0]).lease_until = utcnow() - dt.timedelta(seconds=5)
        db.session.commit()
        assert jobs.requeue_stuck() == [ids[0]]
        assert jobs.requeue_stuck() == []
        assert db.session.get(Submission, ids[0]).status == "queued"
        assert db.session.get(Submission, ids[1]).status == "running"


def test_long_queued_jobs_are_sent_again(client, world, app):
    sub_id = upload(client, world, "alice", STARTER).get_json()["id"]
    with app.app_context():
        sub = db.session.get(Submission, sub_id)
        assert jobs.requeue_stuck() == []
        assert jobs.requeue_stuck(now=sub.queued_at + jobs.RESEND_QUEUED_AFTER + dt.timedelta(seconds=1)) == [sub_id]


def test_a_platform_failure_is_recorded_as_error(client, world, app):
    sub_id = upload(client, world, "alice", STARTER).get_json()["id"]
    with app.app_context():
        sub = db.session.get(Submission, sub_id)
        app.extensions["handin"].uploads.path(sub.sha256).unlink()     # the stored file is gone
        assert jobs.run_job(sub_id) == "error"
        sub = db.session.get(Submission, sub_id)
        assert sub.status == "error" and "FileNotFoundError" in sub.error and sub.lease_token is None
    s = client.get(f"/api/v1/submissions/{sub_id}", headers=world.headers("alice")).get_json()
    assert s["status"] == "error" and "FileNotFoundError" not in s["error"]   # the student is not shown internals


def test_regrade_leaves_queued_and_running_alone(client, world, app):
    ids = [upload(client, world, w, STARTER).get_json()["id"] for w in ("alice", "bob")]
    with app.app_context():
        from server.services import accounts
        teacher = accounts.require_user(world.emails["teacher"])
        a = db.session.get(Submission, ids[0]).assignment
        assert jobs.regrade(ids, actor=teacher, assignment=a) == []      # both still queued
        token = jobs.claim(ids[0])
        jobs.store_result(ids[0], token, _results_for(db.session.get(Submission, ids[0])), report_dir="")
        assert jobs.regrade(ids, actor=teacher, assignment=a) == [ids[0]]
        assert jobs.regrade(ids, actor=teacher, assignment=a) == []
        entries = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "assignment.regrade")).all()
        assert len(entries) == 3 and entries[1].detail["submissions"] == [ids[0]]


@pytest.mark.slow
def test_a_regrade_replaces_the_result_and_keeps_the_override(client, world, app):
    from server.services import accounts, grades
    sub_id = upload(client, world, "alice", STARTER).get_json()["id"]
    with app.app_context():
        assert jobs.run_job(sub_id) == "graded"
        sub = db.session.get(Submission, sub_id)
        first_dir = app.extensions["handin"].instance / sub.result.report_dir
        assert (first_dir / "ta.html").is_file() and (first_dir / "results.json").is_file()
        score = sub.grade.points
        ta = accounts.require_user(world.emails["ta"])
        grades.override(sub, actor=ta, comment="checked by hand", points=score + 1)
        assert jobs.regrade([sub_id], actor=accounts.require_user(world.emails["teacher"]),
                            assignment=sub.assignment) == [sub_id]
        assert jobs.run_job(sub_id) == "graded"
        sub = db.session.get(Submission, sub_id)
        assert sub.result.runs == 2 and _count(Result, sub_id) == 1
        assert not first_dir.exists() and (app.extensions["handin"].instance / sub.result.report_dir).is_dir()
        assert sub.grade.points == score and sub.grade.final_points == score + 1
        assert sub.grade.override_comment == "checked by hand"


def test_services_check_the_actor_again(client, world, app):
    from server.services import accounts, grades
    from server.services.errors import NotFound
    sub_id = upload(client, world, "alice", STARTER).get_json()["id"]
    with app.app_context():
        token = jobs.claim(sub_id)
        sub = db.session.get(Submission, sub_id)
        jobs.store_result(sub_id, token, _results_for(sub), report_dir="")
        sub = db.session.get(Submission, sub_id)
        alice = accounts.require_user(world.emails["alice"])
        ta = accounts.require_user(world.emails["ta"])
        for call in (lambda: grades.override(sub, actor=alice, comment="mine now", points=29),
                     lambda: grades.set_published(sub.assignment, True, actor=ta),
                     lambda: jobs.regrade([sub_id], actor=ta, assignment=sub.assignment)):
            with pytest.raises(NotFound):
                call()
        grades.override(sub, actor=ta, comment="partial credit by hand", points=5)
        grades.override(sub, actor=ta, comment="and the grade", label="E")
        g = db.session.get(Submission, sub_id).grade
        assert (g.final_points, g.final_label, g.final_passed) == (5, "E", True)
