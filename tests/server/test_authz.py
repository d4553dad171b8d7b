"""Default-deny: every route declares who may use it, and undeclared routes are refused."""

from __future__ import annotations

import pytest
from flask import Blueprint

from server.authz import access_of
from webtools import M02, upload


def test_every_route_declares_its_access(app):
    undeclared = [f"{rule.rule} ({rule.endpoint})" for rule in app.url_map.iter_rules()
                  if access_of(app.view_functions[rule.endpoint]) is None]
    assert not undeclared, "routes without an access declaration: " + ", ".join(undeclared)


def test_only_login_and_static_pages_are_public(app):
    public = sorted(rule.endpoint for rule in app.url_map.iter_rules()
                    if access_of(app.view_functions[rule.endpoint]).kind == "public")
    # static twice: /static/<filename> and /favicon.ico
    assert public == ["api.openapi", "auth.index", "auth.login", "auth.set_password", "static", "static"]


def test_teacher_and_ta_routes_require_staff_roles(app):
    for rule in app.url_map.iter_rules():
        access = access_of(app.view_functions[rule.endpoint])
        if rule.endpoint.startswith("teacher."):
            assert access.kind == "course" and "student" not in access.roles, rule.rule
            if rule.endpoint != "teacher.gradebook":
                assert access.roles == ("teacher",), rule.rule
        if rule.endpoint.startswith("ta."):
            assert access.kind == "course" and set(access.roles) <= {"ta", "teacher"}, rule.rule
        if rule.endpoint.startswith("api.") and rule.endpoint != "api.openapi":
            assert access.kind == "api", rule.rule


def test_a_route_that_declares_nothing_is_refused_at_run_time(app):
    bp = Blueprint("rogue", __name__)

    @bp.route("/rogue-export")
    def rogue():
        return "every grade"

    app.register_blueprint(bp)
    client = app.test_client()
    r = client.get("/rogue-export")
    assert r.status_code == 404 and b"every grade" not in r.data


def test_pages_need_a_sign_in(client, world):
    for url in ("/courses", "/courses/c1/", f"/courses/c1/assignments/{M02}/", "/courses/c1/grades",
                "/submissions/1", "/courses/c1/teach/", "/courses/c1/review/", "/courses/c1/teach/people"):
        r = client.get(url)
        assert r.status_code == 302 and "/login" in r.headers["Location"], url


@pytest.mark.parametrize("who,url,code", [
    ("carol", "/courses/c1/", 404),                        # another course's student
    ("alice", f"/courses/c1/assignments/m09-data-parallel/", 404),   # unreleased
    ("alice", "/courses/c1/teach/", 404),
    ("alice", "/courses/c1/review/", 404),
    ("ta", "/courses/c1/teach/", 404),
    ("ta", "/courses/c1/teach/people", 404),
    ("teacher", "/courses/c1/teach/people", 200),
    ("ta", "/courses/c1/review/", 200),
    ("teacher", "/courses/c1/teach/", 200),
    ("teacher", f"/courses/c1/assignments/m09-data-parallel/", 200),
    ("alice", f"/courses/c1/assignments/{M02}/", 200),
])
def test_pages_by_role(client, world, who, url, code):
    world.login(client, who)
    assert client.get(url).status_code == code


def test_another_students_submission_page_is_404(client, world):
    sub_id = upload(client, world, "alice").get_json()["id"]
    world.login(client, "bob")
    for url in (f"/submissions/{sub_id}", f"/submissions/{sub_id}/status.json", f"/submissions/{sub_id}/report"):
        assert client.get(url).status_code == 404, url
    world.login(client, "alice")
    assert client.get(f"/submissions/{sub_id}/status.json").get_json()["status"] == "queued"


def test_security_headers_and_cookies(client, world):
    r = client.get("/login")
    csp = r.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "http" not in csp
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    r = client.post("/login", data={"email": world.emails["alice"], "password": "correct horse battery"})
    cookie = r.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_login_rejects_wrong_password_and_foreign_redirects(client, world):
    r = client.post("/login", data={"email": world.emails["alice"], "password": "wrong password"})
    assert r.status_code == 200 and b"Wrong email or password" in r.data
    r = client.post("/login?next=//evil.example/x", data={"email": world.emails["alice"],
                                                         "password": "correct horse battery"})
    assert r.status_code == 302 and r.headers["Location"] == "/courses"


def test_forms_without_a_csrf_token_are_refused(tmp_path, database_url):
    from server import create_app
    from server.extensions import db
    from webtools import build_world, make_settings

    app = create_app(make_settings(tmp_path, database_url, extra={}))   # CSRF on, as in production
    with app.app_context():
        db.create_all()
    world = build_world(app)
    client = app.test_client()
    r = client.post("/login", data={"email": world.emails["alice"], "password": "correct horse battery"})
    assert r.status_code == 400 and b"CSRF" in r.data              # not signed in
    assert client.get("/courses").status_code == 302
    from webtools import csrf_token
    token = csrf_token(client.get("/login").get_data(as_text=True))
    r = client.post("/login", data={"email": world.emails["alice"], "password": "correct horse battery",
                                    "csrf_token": token})
    assert r.status_code == 302
    r = client.post(f"/courses/c1/assignments/{M02}/submissions", data={})
    assert r.status_code == 400 and b"CSRF" in r.data
    # The API takes no cookies, so it needs no CSRF token.
    assert upload(client, world, "alice").status_code == 202
    with app.app_context():
        db.session.remove()
        db.engine.dispose()
