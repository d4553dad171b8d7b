"""The JSON API's contract: every answer and every refusal, with its status and message."""

from __future__ import annotations

import datetime as dt
import json
import re

import pytest

from webtools import M02, SOLUTION, STARTER, upload
from server.extensions import db
from server.models import Assignment, Submission


def test_courses_lists_only_the_callers(client, world):
    r = client.get("/api/v1/courses", headers=world.headers("alice"))
    assert r.status_code == 200
    assert r.get_json() == [{"code": "c1", "title": "Course one", "role": "student"}]


def test_assignments_show_released_ones_with_deadline_and_attempts(client, world):
    r = client.get("/api/v1/courses/c1/assignments", headers=world.headers("alice"))
    assert r.status_code == 200
    rows = {a["module"]: a for a in r.get_json()}
    assert set(rows) == {M02}            # m09 is not released: a student does not see it
    a = rows[M02]
    assert a["due"].startswith("2027-02-05T22:59") and a["open"] and a["attempts_left"] is None
    staff = client.get("/api/v1/courses/c1/assignments", headers=world.headers("teacher")).get_json()
    assert {a["module"] for a in staff} == {M02, "m09-data-parallel"}


def test_upload_is_queued_stored_and_counts_an_attempt(client, world, app):
    r = upload(client, world, "alice")
    assert r.status_code == 202
    body = r.get_json()
    assert body["status"] == "queued" and isinstance(body["id"], int) and body["attempt"] == 1
    with app.app_context():
        sub = db.session.get(Submission, body["id"])
        stored = app.extensions["handin"].uploads.path(sub.sha256)
        assert stored.read_bytes() == SOLUTION.read_bytes()
        assert sub.queue == "cpu" and sub.status == "queued"
    s = client.get(f"/api/v1/submissions/{body['id']}", headers=world.headers("alice")).get_json()
    assert s["status"] == "queued" and s["score"] is None and s["late"] is False


@pytest.mark.slow
def test_the_m02_solution_is_graded_29_of_29(client, world, app):
    from server.services.jobs import run_job

    sub_id = upload(client, world, "alice").get_json()["id"]
    with app.app_context():
        assert run_job(sub_id) == "graded"
        assert run_job(sub_id) == "skipped"          # a redelivered job does nothing
    s = client.get(f"/api/v1/submissions/{sub_id}", headers=world.headers("alice")).get_json()
    assert s["status"] == "graded" and s["run_status"] == "ok"
    assert (s["score"], s["max_score"]) == (29, 29)
    assert s["grade"] == {"label": "A", "passed": True}
    report = client.get(f"/api/v1/submissions/{sub_id}/report", headers=world.headers("alice"))
    assert report.status_code == 200 and report.mimetype == "text/html"
    assert "29" in report.get_data(as_text=True)
    assert "script-src" not in report.headers["Content-Security-Policy"]
    # Others may not see it: another student, a student of another course, no token.
    for who in ("bob", "carol"):
        r = client.get(f"/api/v1/submissions/{sub_id}", headers=world.headers(who))
        assert r.status_code == 404 and r.get_json() == {"error": "not found"}
    assert client.get(f"/api/v1/submissions/{sub_id}/report", headers=world.headers("bob")).status_code == 404
    assert client.get(f"/api/v1/submissions/{sub_id}", headers=world.headers("ta")).status_code == 200


def test_no_or_bad_token_is_401_and_cookies_are_ignored(client, world):
    r = client.get("/api/v1/courses")
    assert r.status_code == 401 and "token" in r.get_json()["error"]
    assert r.headers["WWW-Authenticate"].startswith("Bearer")
    assert client.get("/api/v1/courses", headers={"Authorization": "Bearer hdn_forged"}).status_code == 401
    assert client.get("/api/v1/courses", headers={"Authorization": "Basic Zm9vOmJhcg=="}).status_code == 401
    world.login(client, "alice")               # a browser session is no API credential
    assert client.get("/api/v1/courses").status_code == 401


def test_revoked_token_stops_working(client, world, app):
    from server.services import accounts
    assert client.get("/api/v1/courses", headers=world.headers("alice")).status_code == 200
    with app.app_context():
        assert accounts.revoke_tokens(accounts.require_user(world.emails["alice"])) == 1
        db.session.commit()
    assert client.get("/api/v1/courses", headers=world.headers("alice")).status_code == 401


@pytest.mark.parametrize("course,module", [("c2", M02), ("nope", M02), ("c1", "m09-data-parallel"),
                                           ("c1", "no-such-module")])
def test_what_a_student_may_not_see_is_404(client, world, course, module):
    r = upload(client, world, "alice", course=course, module=module)
    assert r.status_code == 404 and r.get_json() == {"error": "not found"}
    r = client.get(f"/api/v1/courses/{course}/assignments", headers=world.headers("alice"))
    assert r.status_code == (200 if course == "c1" else 404)


def test_missing_file_field_is_400(client, world):
    r = client.post(f"/api/v1/courses/c1/assignments/{M02}/submissions", headers=world.headers("alice"),
                    data={"other": "x"}, content_type="multipart/form-data")
    assert r.status_code == 400 and "'file'" in r.get_json()["error"]


@pytest.mark.parametrize("filename,data,needle", [
    ("notes.txt", b"hello", "expected a .ipynb file"),
    ("broken.ipynb", b'{"cells": [', "not JSON"),
    ("empty.ipynb", b"", "empty"),
    ("old.ipynb", json.dumps({"nbformat": 3, "worksheets": []}).encode(), "nbformat 3"),
    ("nocode.ipynb", json.dumps({"nbformat": 4, "nbformat_minor": 5, "metadata": {},
                                 "cells": [{"cell_type": "markdown", "source": "hi", "metadata": {}}]}).encode(),
     "no code"),
    ("binary.ipynb", bytes(range(256)) * 4, "UTF-8"),
])
def test_not_a_notebook_is_422_and_costs_no_attempt(client, world, app, filename, data, needle):
    r = upload(client, world, "alice", filename=filename, data=data)
    assert r.status_code == 422, r.get_json()
    assert needle in r.get_json()["error"]
    with app.app_context():
        assert db.session.query(Submission).count() == 0
        assert not list((app.extensions["handin"].instance / "uploads").glob("*/*"))


def test_too_large_is_413(client, world, app):
    big = b"x" * (app.config["MAX_CONTENT_LENGTH"] + 1)
    r = upload(client, world, "alice", data=big, filename="big.ipynb")
    assert r.status_code == 413 and "too large" in r.get_json()["error"]
    with app.app_context():   # a module's own cap, below the request cap
        a = db.session.query(Assignment).filter_by(module=M02).first()
    from server.services import catalog
    with app.app_context():
        cap = catalog.load_spec(M02).intake.max_notebook_size
    r = upload(client, world, "alice", data=b" " * (cap + 1), filename="padded.ipynb")
    assert r.status_code == 413 and "the limit is" in r.get_json()["error"]


def _set(app, **values):
    with app.app_context():
        for a in db.session.query(Assignment).filter_by(module=M02):
            for k, v in values.items():
                setattr(a, k, v)
        db.session.commit()


def test_attempts_used_up_is_409(client, world, app):
    _set(app, max_attempts=2)
    assert upload(client, world, "alice", STARTER).status_code == 202
    rows = client.get("/api/v1/courses/c1/assignments", headers=world.headers("alice")).get_json()
    assert rows[0]["attempts_left"] == 1
    assert upload(client, world, "alice", STARTER).status_code == 202
    r = upload(client, world, "alice", STARTER)
    assert r.status_code == 409 and "attempts" in r.get_json()["error"]
    assert upload(client, world, "bob", STARTER).status_code == 202      # attempts are per student


def test_deadline_closed_is_409_late_is_flagged(client, world, app):
    now = dt.datetime.now(dt.timezone.utc)
    _set(app, due=now - dt.timedelta(days=1), late_penalty_per_day=10.0, max_late_days=3.0)
    r = upload(client, world, "alice", STARTER)
    assert r.status_code == 202
    assert client.get(f"/api/v1/submissions/{r.get_json()['id']}", headers=world.headers("alice")).get_json()["late"]
    _set(app, due=now - dt.timedelta(days=4))
    r = upload(client, world, "alice", STARTER)
    assert r.status_code == 409 and "deadline" in r.get_json()["error"]
    _set(app, due=now - dt.timedelta(minutes=1), late_penalty_per_day=0.0, max_late_days=0.0)
    assert upload(client, world, "alice", STARTER).status_code == 409   # no late policy: a hard deadline


def test_gradebook_is_for_staff_only(client, world):
    r = client.get("/api/v1/courses/c1/gradebook.csv", headers=world.headers("ta"))
    assert r.status_code == 200 and r.mimetype == "text/csv"
    header = r.get_data(as_text=True).splitlines()[0]
    assert header.startswith("course,assignment,student_email")
    lines = r.get_data(as_text=True).splitlines()[1:]
    assert {line.split(",")[2] for line in lines} == {"alice@example.org", "bob@example.org"}
    for who in ("alice", "carol"):
        assert client.get("/api/v1/courses/c1/gradebook.csv", headers=world.headers(who)).status_code == 404


def test_regrade_is_for_teachers_and_queues_each_submission_once(client, world, app):
    ids = [upload(client, world, w, STARTER).get_json()["id"] for w in ("alice", "bob")]
    with app.app_context():   # pretend both were graded: only graded or failed ones are queued again
        for sub_id in ids:
            db.session.get(Submission, sub_id).status = "graded"
        db.session.commit()
    url = f"/api/v1/courses/c1/assignments/{M02}/regrade"
    assert client.post(url, headers=world.headers("ta")).status_code == 404
    assert client.post(url, headers=world.headers("alice")).status_code == 404
    first = client.post(url, headers=world.headers("teacher"))
    assert first.status_code == 202 and sorted(first.get_json()["ids"]) == sorted(ids)
    second = client.post(url, headers=world.headers("teacher"))
    assert second.get_json() == {"queued": 0, "ids": []}


def test_regrade_takes_the_latest_attempt_per_student_unless_asked_for_every_attempt(client, world, app):
    ids = [upload(client, world, "alice", STARTER).get_json()["id"] for _ in range(2)]
    with app.app_context():   # graded, but neither has a grade: the latest stands
        for sub_id in ids:
            db.session.get(Submission, sub_id).status = "graded"
        db.session.commit()
    url = f"/api/v1/courses/c1/assignments/{M02}/regrade"
    assert client.post(url, headers=world.headers("teacher")).get_json() == {"queued": 1, "ids": [ids[1]]}
    every = client.post(f"{url}?attempts=every", headers=world.headers("teacher"))
    assert every.get_json() == {"queued": 1, "ids": [ids[0]]}


def test_rate_limit_on_submitting_is_429(tmp_path, database_url):
    from webtools import PASSWORD, World, make_settings
    from server import create_app
    from server.services import accounts, catalog

    app = create_app(make_settings(tmp_path, database_url, rate_limits=True))
    with app.app_context():
        db.create_all()
        c = accounts.ensure_course("c1")
        catalog.add_module(c, M02, released=True)
        user, _ = accounts.add_user("dora@example.org", course=c, role="student", password=PASSWORD)
        world = World(app, emails={"dora": user.email}, tokens={"dora": accounts.create_token(user)})
        db.session.commit()
    client = app.test_client()
    codes = [upload(client, world, "dora", data=b"{}", filename="x.ipynb").status_code for _ in range(21)]
    assert codes[:20] == [422] * 20 and codes[20] == 429
    assert "too many requests" in upload(client, world, "dora", data=b"{}", filename="x.ipynb").get_json()["error"]
    # Login is limited per address and account.
    codes = [client.post("/login", data={"email": "dora@example.org", "password": "wrong"}).status_code
             for _ in range(11)]
    assert codes[-1] == 429
    # ... per account: a classmate behind the same address can still sign in.
    assert client.post("/login", data={"email": "eve@example.org", "password": "wrong"}).status_code == 200
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def test_openapi_documents_every_api_route(client, app):
    doc = client.get("/api/v1/openapi.json").get_json()
    assert doc["openapi"].startswith("3.")
    documented = set(doc["paths"])
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/api/v1"):
            path = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule.removeprefix("/api/v1"))
            assert path in documented, path
    post = doc["paths"]["/courses/{course}/assignments/{module}/submissions"]["post"]
    assert {"202", "400", "401", "404", "409", "413", "422", "429"} <= set(post["responses"])


def test_unknown_api_path_is_json_404(client, world):
    r = client.get("/api/v1/nothing-here", headers=world.headers("alice"))
    assert r.status_code == 404 and r.get_json() == {"error": "not found"}
