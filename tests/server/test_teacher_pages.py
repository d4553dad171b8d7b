"""Teacher pages: release, deadline and limits, regrading, publication, gradebook, queue, distributions.

The m02 solution is graded once per module for real (local sandbox); tests that need a graded
submission store that run's results and report files for their own upload, as a worker would.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import shutil
from pathlib import Path

import pytest
from flask import url_for
from sqlalchemy import select

from builders import REPO
from server.extensions import db
from server.models import Assignment, AuditEntry, Submission
from server.services import jobs
from server.services.grades import GRADEBOOK_FIELDS
from webtools import M02, PASSWORD, SOLUTION, STARTER, csrf_token, upload

M09 = "m09-data-parallel"
TEACH = "/courses/c1/teach"
PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def solution_run(tmp_path_factory) -> Path:
    """The m02 solution graded for real: its run folder (results.json, student.html, ta.html, logs)."""
    import sandbox
    from handin.grading import grade_file
    from handin.spec import load_module

    backend, _ = sandbox.choose_backend("local")
    out = tmp_path_factory.mktemp("runs")
    results = grade_file(load_module(REPO / "assignments" / M02), SOLUTION, backend=backend, out_dir=out,
                         sub_id="solution")
    assert (results["score"], results["max_score"]) == (29, 29)
    return out / "solution"


def graded(client, world, app, who: str, run: Path) -> int:
    """Upload the solution as ``who`` and store ``run`` as its grading; the submission id."""
    sub_id = upload(client, world, who).get_json()["id"]
    with app.app_context():
        token = jobs.claim(sub_id)
        report_dir = f"reports/{sub_id}/{token}"
        shutil.copytree(run, app.extensions["handin"].instance / report_dir)
        results = json.loads((run / "results.json").read_text())
        assert jobs.store_result(sub_id, token, results, report_dir=report_dir) == "graded"
    return sub_id


def failed(client, world, app, who: str) -> int:
    """A submission whose grading failed on the platform's side (its stored file vanished)."""
    sub_id = upload(client, world, who, STARTER).get_json()["id"]
    with app.app_context():
        sub = db.session.get(Submission, sub_id)
        app.extensions["handin"].uploads.path(sub.sha256).unlink()
        assert jobs.run_job(sub_id) == "error"
    return sub_id


def stored(client, world, app, who: str, points: float) -> int:
    """Upload as ``who`` and store a graded result of ``points`` of 29 without running anything."""
    sub_id = upload(client, world, who, STARTER).get_json()["id"]
    with app.app_context():
        token = jobs.claim(sub_id)
        results = {"status": "ok", "score": points, "max_score": 29.0, "percent": 100.0 * points / 29,
                   "grade": {"scale": "a-f", "label": "C", "passed": True}, "tests": []}
        assert jobs.store_result(sub_id, token, results, report_dir="") == "graded"
    return sub_id


def audit(app, action: str) -> list[AuditEntry]:
    with app.app_context():
        entries = db.session.scalars(select(AuditEntry).where(AuditEntry.action == action)
                                     .order_by(AuditEntry.id)).all()
        for e in entries:
            e.actor_email = e.actor.email if e.actor else None
        return entries


def assignment(app, module: str = M02) -> Assignment:
    with app.app_context():
        return db.session.scalar(select(Assignment).join(Assignment.course)
                                 .where(Assignment.module == module, Assignment.course.has(code="c1")))


def test_dashboard_shows_assignments_queue_and_failures(client, world, app):
    queued = upload(client, world, "alice").get_json()["id"]
    error = failed(client, world, app, "bob")
    world.login(client, "teacher")
    html = client.get(f"{TEACH}/").get_data(as_text=True)
    assert f'id="row-{M02}"' in html and f'id="row-{M09}"' in html
    assert f'id="unrelease-{M02}"' in html and f'id="release-{M09}"' in html   # m02 released, m09 hidden
    assert "2027-02-05 22:59 UTC" in html and "last" in html and "provisional" in html
    for name, n in {"queued": 1, "running": 0, "graded": 0, "error": 1}.items():
        assert f'id="count-{name}"><span class="n">{n}</span>' in html, name
    in_flight = html.split('id="in-flight"')[1]
    assert in_flight.index(f"#{error}<") < in_flight.index(f"#{queued}<")    # failures first
    assert f"/courses/c1/teach/submissions/{error}/regrade" in in_flight       # a failed one can be regraded
    assert f"/courses/c1/teach/submissions/{queued}/regrade" not in in_flight


def test_release_and_unrelease_are_audited(client, world, app):
    world.login(client, "teacher")
    r = client.post(f"{TEACH}/assignments/{M09}/release", data={"back": "dashboard"})
    assert r.status_code == 303 and r.headers["Location"] == f"{TEACH}/"
    a = assignment(app, M09)
    assert a.released and a.released_at is not None
    world.login(client, "alice")
    assert client.get(f"/courses/c1/assignments/{M09}/").status_code == 200
    world.login(client, "teacher")
    r = client.post(f"{TEACH}/assignments/{M09}/unrelease", data={"back": "assignment", "confirm": "yes"})
    assert r.status_code == 303 and r.headers["Location"] == f"{TEACH}/assignments/{M09}/"
    assert not assignment(app, M09).released
    world.login(client, "alice")
    assert client.get(f"/courses/c1/assignments/{M09}/").status_code == 404
    released, unreleased = audit(app, "assignment.release"), audit(app, "assignment.unrelease")
    assert [(e.target, e.actor_email) for e in released + unreleased] == [(M09, world.emails["teacher"])] * 2


def test_settings_set_deadline_late_policy_attempts_and_counts(client, world, app):
    upload(client, world, "alice", STARTER)
    world.login(client, "teacher")
    url = f"{TEACH}/assignments/{M02}/settings"
    form = {"due": "2027-03-01 12:00", "late_penalty_per_day": "10", "max_late_days": "3", "max_attempts": "",
            "counts": "best", "group_size": "2", "regrade_days": "5"}
    assert client.post(url, data=form).status_code == 303
    a = assignment(app)
    assert a.due == dt.datetime(2027, 3, 1, 12, 0, tzinfo=dt.timezone.utc)
    assert (a.late_penalty_per_day, a.max_late_days, a.max_attempts, a.counts) == (10, 3, None, "best")
    page = client.get(f"{TEACH}/assignments/{M02}/").get_data(as_text=True)
    assert 'value="2027-03-01 12:00"' in page and "−10% per day, at most 3 days" in page
    assert "groups of up to 2" in page and "5 days after publishing" in page
    (entry,) = audit(app, "assignment.settings")
    assert entry.actor_email == world.emails["teacher"] and entry.target == M02
    assert entry.detail["before"]["due"].startswith("2027-02-05T22:59") and entry.detail["before"]["counts"] == "last"
    assert entry.detail["after"] == {"due": "2027-03-01T12:00:00+00:00", "late_penalty_per_day": 10.0,
                                     "max_late_days": 3.0, "max_attempts": None, "counts": "best",
                                     "group_size": 2, "regrade_days": 5.0}
    # Unchanged: nothing recorded. One attempt: alice, who used hers, is refused.
    assert b"Nothing changed" in client.post(url, data=form, follow_redirects=True).data
    assert client.post(url, data={**form, "max_attempts": "1"}).status_code == 303
    assert len(audit(app, "assignment.settings")) == 2
    r = upload(client, world, "alice", STARTER)
    assert r.status_code == 409 and "no attempts left" in r.get_json()["error"]


@pytest.mark.parametrize("field,value,message", [
    ("late_penalty_per_day", "150", "between 0 and 100"), ("max_late_days", "-1", "between 0 and 365"),
    ("max_attempts", "0", "between 1 and 1000"), ("counts", "worst", "Not a valid choice"),
    ("due", "next tuesday", "Not a valid datetime"), ("due", "03/01/2027 12:00 PM", "Not a valid datetime"),
    ("group_size", "0", "between 1 and 20"), ("regrade_days", "-1", "between 0 and 365"),
])
def test_bad_settings_are_refused_and_change_nothing(client, world, app, field, value, message):
    world.login(client, "teacher")
    form = {"due": "", "late_penalty_per_day": "0", "max_late_days": "0", "max_attempts": "", "counts": "last",
            "group_size": "1", "regrade_days": "7", field: value}
    r = client.post(f"{TEACH}/assignments/{M02}/settings", data=form)
    assert r.status_code == 400 and message in r.get_data(as_text=True)
    assert assignment(app).due is not None and not audit(app, "assignment.settings")


def test_regrade_all_twice_queues_each_submission_once(client, world, app):
    done = failed(client, world, app, "alice")
    waiting = upload(client, world, "bob").get_json()["id"]
    world.login(client, "teacher")
    url = f"{TEACH}/assignments/{M02}/regrade"
    r = client.post(url, data={"back": "assignment", "confirm": "yes"}, follow_redirects=True)
    assert b"1 submission queued for regrading" in r.data
    with app.app_context():
        assert {s.id: s.status for s in db.session.scalars(select(Submission))} == {done: "queued", waiting: "queued"}
    assert b"0 submissions queued" in client.post(url, data={"confirm": "yes"}, follow_redirects=True).data
    assert [e.detail["submissions"] for e in audit(app, "assignment.regrade")] == [[done], []]


def test_regrade_one_queues_a_failed_submission(client, world, app):
    sub_id = failed(client, world, app, "alice")
    world.login(client, "teacher")
    url = f"{TEACH}/submissions/{sub_id}/regrade"
    r = client.post(url)
    assert r.status_code == 303 and r.headers["Location"] == f"/courses/c1/review/submissions/{sub_id}"
    with app.app_context():
        sub = db.session.get(Submission, sub_id)
        assert sub.status == "queued" and sub.error is None
    assert b"is already queued" in client.post(url, follow_redirects=True).data
    assert [e.detail["submissions"] for e in audit(app, "assignment.regrade")] == [[sub_id], []]


@pytest.mark.slow
def test_publish_and_unpublish_grades(client, world, app, solution_run):
    sub_id = graded(client, world, app, "alice", solution_run)
    world.login(client, "alice")
    assert b"provisional" in client.get("/courses/c1/grades").data
    world.login(client, "teacher")
    assert client.post(f"{TEACH}/assignments/{M02}/publish", data={"confirm": "yes"}).status_code == 303
    assert assignment(app).grades_published and assignment(app).published_at is not None
    world.login(client, "alice")
    assert b"provisional" not in client.get("/courses/c1/grades").data
    assert b"29 / 29" in client.get(f"/submissions/{sub_id}").data
    world.login(client, "teacher")
    assert client.post(f"{TEACH}/assignments/{M02}/unpublish").status_code == 303
    assert not assignment(app).grades_published
    assert [e.target for e in audit(app, "grades.publish") + audit(app, "grades.unpublish")] == [M02, M02]


@pytest.mark.slow
def test_gradebook_csv_columns_and_values(client, world, app, solution_run):
    sub_id = graded(client, world, app, "alice", solution_run)
    world.login(client, "teacher")
    r = client.get(f"{TEACH}/gradebook.csv")
    assert r.status_code == 200 and r.mimetype == "text/csv"
    assert r.headers["Content-Disposition"] == 'attachment; filename="c1-gradebook.csv"'
    rows = list(csv.DictReader(io.StringIO(r.get_data(as_text=True))))
    assert tuple(rows[0]) == GRADEBOOK_FIELDS
    by = {(row["assignment"], row["student_email"]): row for row in rows}
    assert set(by) == {(m, world.emails[w]) for m in (M02, M09) for w in ("alice", "bob")}
    assert by[M02, world.emails["alice"]] == {
        "course": "c1", "assignment": M02, "student_email": world.emails["alice"], "student_name": "Alice",
        "submission": str(sub_id), "attempt": "1", "status": "ok", "points": "29", "max_points": "29",
        "percent": "100.0", "grade": "A", "passed": "yes", "late": "no", "overridden": "no", "published": "no"}
    assert by[M02, world.emails["bob"]]["status"] == "missing" and by[M02, world.emails["bob"]]["points"] == "0"
    world.login(client, "ta")
    assert client.get(f"{TEACH}/gradebook.csv").data == r.data


@pytest.mark.slow
def test_gradebook_in_nbgraders_export_columns(client, world, app, solution_run):
    graded(client, world, app, "alice", solution_run)
    world.login(client, "teacher")
    r = client.get(f"{TEACH}/gradebook.csv?format=nbgrader")
    assert r.status_code == 200 and r.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(r.get_data(as_text=True))))
    assert tuple(rows[0]) == ("assignment", "student_id", "raw_score", "late_submission_penalty", "score", "max_score")
    by = {(row["assignment"], row["student_id"]): row for row in rows}
    assert by[M02, world.emails["alice"]] == {"assignment": M02, "student_id": world.emails["alice"],
                                              "raw_score": "29", "late_submission_penalty": "0", "score": "29",
                                              "max_score": "29"}
    # no submission: 0 of the module's points, read from its suite
    assert by[M02, world.emails["bob"]]["score"] == "0" and by[M02, world.emails["bob"]]["max_score"] == "29"
    assert float(by[M09, world.emails["bob"]]["max_score"]) > 0
    api = client.get("/api/v1/courses/c1/gradebook.csv?format=nbgrader", headers=world.headers("ta"))
    assert api.status_code == 200 and api.data == r.data
    assert client.get(f"{TEACH}/gradebook.csv?format=excel").status_code == 400


@pytest.mark.slow
def test_distribution_is_a_png_and_the_module_page_lists_submissions(client, world, app, solution_run):
    sub_id = graded(client, world, app, "alice", solution_run)
    queued = upload(client, world, "bob", STARTER).get_json()["id"]
    world.login(client, "teacher")
    for module in (M02, M09):   # with grades, and without any
        r = client.get(f"{TEACH}/assignments/{module}/distribution.png")
        assert r.status_code == 200 and r.mimetype == "image/png" and r.data.startswith(PNG)
        assert (int.from_bytes(r.data[16:20], "big"), int.from_bytes(r.data[20:24], "big")) == (600, 300)
    dashboard = client.get(f"{TEACH}/").get_data(as_text=True)
    assert f"{TEACH}/assignments/{M02}/distribution.png" in dashboard and "1 · mean 100%" in dashboard
    page = client.get(f"{TEACH}/assignments/{M02}/").get_data(as_text=True)
    rows = page.split('id="submissions"')[1]
    assert rows.index(world.emails["alice"]) < rows.index(world.emails["bob"])
    assert "29 / 29" in rows and "<td>A</td>" in rows
    assert 'badge">counts' in rows and "status-queued" in rows
    for s in (sub_id, queued):
        assert f'href="/courses/c1/review/submissions/{s}"' in rows


def test_teacher_routes_are_404_for_students_tas_and_other_courses(client, world, app):
    sub_id = upload(client, world, "alice").get_json()["id"]
    urls = []
    with app.test_request_context():
        for rule in app.url_map.iter_rules():
            if rule.endpoint.startswith("teacher."):
                values = {k: v for k, v in {"course": "c1", "module": M09, "verb": "release",
                                             "submission_id": sub_id, "user_id": world.user_id("bob"),
                                             "group_id": 1}.items()
                          if k in rule.arguments}
                urls.append((rule.endpoint, "POST" if "POST" in rule.methods else "GET",
                             url_for(rule.endpoint, **values)))
    assert len(urls) == 23
    for who in ("alice", "ta", "carol"):
        world.login(client, who)
        for endpoint, method, url in urls:
            code = client.open(url, method=method).status_code
            assert code == (200 if who == "ta" and endpoint == "teacher.gradebook" else 404), (who, url)
    assert not assignment(app, M09).released and not audit(app, "assignment.regrade")
    world.login(client, "teacher")
    assert client.get(f"{TEACH}/assignments/no-such-module/").status_code == 404
    assert client.post(f"{TEACH}/submissions/999999/regrade").status_code == 404


def test_teacher_forms_carry_a_csrf_token(client, world, app):
    app.config["WTF_CSRF_ENABLED"] = True      # as in production (the fixtures turn it off)
    token = csrf_token(client.get("/login").get_data(as_text=True))
    client.post("/login", data={"email": world.emails["teacher"], "password": PASSWORD, "csrf_token": token})
    url = f"{TEACH}/assignments/{M09}/release"
    assert client.post(url).status_code == 400
    page = client.get(f"{TEACH}/").get_data(as_text=True)
    assert page.count('name="csrf_token"') >= 5      # sign-out, and each release and publish button
    assert client.post(url, data={"csrf_token": csrf_token(page)}).status_code == 303
    settings = client.get(f"{TEACH}/assignments/{M09}/").get_data(as_text=True)
    assert 'id="csrf_token"' in settings.split('id="settings"')[1]
    assert assignment(app, M09).released


@pytest.mark.parametrize("verb,url", [("unrelease", "unrelease"), ("publish", "publish"), ("regrade", "regrade"),
                                      ("regrade-every", "regrade-every-attempt")])
def test_unrelease_publish_and_regrades_ask_first_and_change_nothing_until_confirmed(client, world, app, verb, url):
    done = stored(client, world, app, "alice", 20)
    app.config["WTF_CSRF_ENABLED"] = True      # as in production (the fixtures turn it off)
    token = csrf_token(client.get("/login").get_data(as_text=True))
    client.post("/login", data={"email": world.emails["teacher"], "password": PASSWORD, "csrf_token": token})
    token = csrf_token(client.get(f"{TEACH}/assignments/{M02}/").get_data(as_text=True))
    r = client.post(f"{TEACH}/assignments/{M02}/{url}", data={"csrf_token": token, "back": "dashboard"})
    page = r.get_data(as_text=True)
    assert r.status_code == 200 and 'id="confirm-form"' in page and "?</h1>" in page
    assert 'name="confirm" value="yes"' in page and 'name="back" value="dashboard"' in page
    assert f'action="{TEACH}/assignments/{M02}/{url}"' in page and f'href="{TEACH}/"' in page   # cancel
    a = assignment(app)
    assert a.released and not a.grades_published and not audit(app, "assignment.regrade")
    with app.app_context():
        assert db.session.get(Submission, done).status == "graded"
    # The confirmation still needs the CSRF token; with it, the change is made.
    assert client.post(f"{TEACH}/assignments/{M02}/{url}", data={"confirm": "yes"}).status_code == 400
    r = client.post(f"{TEACH}/assignments/{M02}/{url}",
                    data={"csrf_token": csrf_token(page), "confirm": "yes", "back": "dashboard"})
    assert r.status_code == 303 and r.headers["Location"] == f"{TEACH}/"
    a = assignment(app)
    assert (not a.released, a.grades_published, bool(audit(app, "assignment.regrade"))) == (
        verb == "unrelease", verb == "publish", verb.startswith("regrade"))


def test_regrade_all_queues_the_attempt_that_counts_and_another_button_every_attempt(client, world, app):
    alice = [stored(client, world, app, "alice", p) for p in (20, 25, 10)]
    bob = [stored(client, world, app, "bob", p) for p in (5, 29)]
    world.login(client, "teacher")
    page = client.get(f"{TEACH}/assignments/{M02}/").get_data(as_text=True)
    assert 'id="regrade-all"' in page and 'id="regrade-every"' in page
    confirm = client.post(f"{TEACH}/assignments/{M02}/regrade").get_data(as_text=True)
    assert "2 submissions (the attempt that counts for each student" in confirm
    r = client.post(f"{TEACH}/assignments/{M02}/regrade", data={"confirm": "yes"}, follow_redirects=True)
    assert b"2 submissions queued for regrading" in r.data
    assert [e.detail["submissions"] for e in audit(app, "assignment.regrade")] == [[alice[-1], bob[-1]]]
    with app.app_context():   # under "best" the best attempt counts
        a = db.session.get(Assignment, assignment(app).id)
        a.counts = "best"
        db.session.execute(Submission.__table__.update().values(status="graded"))
        db.session.commit()
    client.post(f"{TEACH}/assignments/{M02}/regrade", data={"confirm": "yes"})
    assert audit(app, "assignment.regrade")[-1].detail["submissions"] == [alice[1], bob[1]]
    confirm = client.post(f"{TEACH}/assignments/{M02}/regrade-every-attempt").get_data(as_text=True)
    assert "All 5 submissions, superseded attempts included" in confirm
    r = client.post(f"{TEACH}/assignments/{M02}/regrade-every-attempt", data={"confirm": "yes"},
                    follow_redirects=True)
    assert b"3 submissions queued for regrading" in r.data     # two were queued already
    assert audit(app, "assignment.regrade")[-1].detail["submissions"] == [alice[0], alice[2], bob[0]]


def test_the_two_gradebooks_download_under_their_own_names_with_max_points_for_everyone(client, world):
    world.login(client, "teacher")
    names = set()
    for query, name in (("", "c1-gradebook.csv"), ("?format=nbgrader", "c1-gradebook-nbgrader.csv")):
        for url, who in ((f"{TEACH}/gradebook.csv{query}", None), (f"/api/v1/courses/c1/gradebook.csv{query}", "ta")):
            r = client.get(url, headers=world.headers(who) if who else None)
            assert r.headers["Content-Disposition"] == f'attachment; filename="{name}"', url
        names.add(name)
    assert len(names) == 2
    rows = list(csv.DictReader(io.StringIO(client.get(f"{TEACH}/gradebook.csv").get_data(as_text=True))))
    bob = {row["assignment"]: row for row in rows if row["student_email"] == world.emails["bob"]}
    assert bob[M02]["status"] == "missing" and bob[M02]["max_points"] == "29"     # nothing handed in
    assert float(bob[M09]["max_points"]) > 0
