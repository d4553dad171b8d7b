"""Default-deny: every route declares who may use it, and undeclared routes are refused."""

from __future__ import annotations

import pytest
from flask import Blueprint
from werkzeug.routing import AnyConverter, IntegerConverter

from server.authz import access_of
from webtools import M02, upload

# Every route and who may use it, as declared (server/authz.py). A new route fails
# test_the_access_matrix_is_exactly_this until it is added here, with its access.
ACCESS = {
    "api.ask_regrade": "api",
    "api.assignments": "api(student, ta, teacher)",
    "api.course_grades_csv": "api(ta, teacher)",
    "api.course_grades_of_class": "api(ta, teacher)",
    "api.course_regrades": "api(ta, teacher)",
    "api.course_submissions": "api(ta, teacher)",
    "api.courses": "api",
    "api.create_group": "api(teacher)",
    "api.decide_regrade": "api",
    "api.enter_component_grade": "api(ta, teacher)",
    "api.extension": "api(teacher)",
    "api.gradebook": "api(ta, teacher)",
    "api.import_roster": "api(teacher)",
    "api.list_groups": "api(teacher)",
    "api.members": "api(ta, teacher)",
    "api.my_course_grade": "api(student)",
    "api.notebook": "api",
    "api.openapi": "public",
    "api.patch_assignment": "api(teacher)",
    "api.patch_course": "api(teacher)",
    "api.regrade": "api(teacher)",
    "api.report": "api",
    "api.submission": "api",
    "api.submission_regrades": "api",
    "api.submit": "api(student, ta, teacher)",
    "auth.index": "public",
    "auth.login": "public",
    "auth.logout": "login",
    "auth.set_password": "public",
    "course_grades.class_table": "course(ta, teacher)",
    "course_grades.export": "course(ta, teacher)",
    "course_grades.import_csv": "course(ta, teacher)",
    "course_grades.mine": "course(student)",
    "course_grades.publish": "course(teacher)",
    "course_grades.student": "course(ta, teacher)",
    "static": "public",
    "student.answer": "course(student)",
    "student.ask_regrade": "login",
    "student.assignment": "course(student, ta, teacher)",
    "student.choose": "login",
    "student.course_home": "course(student, ta, teacher)",
    "student.courses": "login",
    "student.invite": "course(student)",
    "student.leave": "course(student)",
    "student.my_grades": "course(student, ta, teacher)",
    "student.report": "login",
    "student.starter": "course(student, ta, teacher)",
    "student.status": "login",
    "student.submission": "login",
    "student.upload": "course(student, ta, teacher)",
    "ta.decide_regrade": "course(ta, teacher)",
    "ta.notebook": "course(ta, teacher)",
    "ta.notebook_file": "course(ta, teacher)",
    "ta.notebook_html": "course(ta, teacher)",
    "ta.override": "course(ta, teacher)",
    "ta.queue": "course(ta, teacher)",
    "ta.regrade_requests": "course(ta, teacher)",
    "ta.report": "course(ta, teacher)",
    "ta.review": "course(ta, teacher)",
    "ta.similar": "course(ta, teacher)",
    "ta.student": "course(ta, teacher)",
    "ta.submissions": "course(ta, teacher)",
    "teacher.assignment": "course(teacher)",
    "teacher.create_group": "course(teacher)",
    "teacher.dashboard": "course(teacher)",
    "teacher.dissolve_group": "course(teacher)",
    "teacher.distribution": "course(teacher)",
    "teacher.extensions_page": "course(teacher)",
    "teacher.gradebook": "course(ta, teacher)",
    "teacher.groups_from_roster": "course(teacher)",
    "teacher.groups_page": "course(teacher)",
    "teacher.import_roster": "course(teacher)",
    "teacher.invite_again": "course(teacher)",
    "teacher.late_days": "course(teacher)",
    "teacher.people": "course(teacher)",
    "teacher.regrade_all": "course(teacher)",
    "teacher.regrade_every": "course(teacher)",
    "teacher.regrade_one": "course(teacher)",
    "teacher.remove": "course(teacher)",
    "teacher.remove_extension": "course(teacher)",
    "teacher.remove_member": "course(teacher)",
    "teacher.set_extension": "course(teacher)",
    "teacher.set_role": "course(teacher)",
    "teacher.settings": "course(teacher)",
    "teacher.switch": "course(teacher)",
}


def test_the_access_matrix_is_exactly_this(app):
    declared = {rule.endpoint: access_of(app.view_functions[rule.endpoint]).describe()
                for rule in app.url_map.iter_rules()}
    assert declared == ACCESS


def _url(rule) -> str:
    values = {name: (1 if isinstance(conv, IntegerConverter) else "c1" if name == "course" else
                     M02 if name == "module" else sorted(conv.items)[0] if isinstance(conv, AnyConverter) else "x")
              for name, conv in rule._converters.items()}
    return rule.build(values)[1]


def test_a_student_reaches_no_staff_route_and_a_stranger_no_course_route(client, world, app):
    """Walks every course and API route: a student of the course gets 404 from each that is not for
    students, and carol (another course) from each course route of c1, before the view runs."""
    world.login(client, "alice")
    rules = list(app.url_map.iter_rules())
    walked = 0
    for rule in rules:
        access = access_of(app.view_functions[rule.endpoint])
        if access.kind not in ("course", "api") or not access.roles or "course" not in rule.arguments:
            continue
        methods = sorted(rule.methods - {"HEAD", "OPTIONS"})
        method = "GET" if "GET" in methods else methods[0]
        url = _url(rule)
        if "student" not in access.roles:
            headers = world.headers("alice") if access.kind == "api" else {}
            assert client.open(url, method=method, headers=headers).status_code == 404, url
            walked += 1
        headers = world.headers("carol") if access.kind == "api" else {}
        if access.kind == "course":
            client.post("/logout")
            world.login(client, "carol")
        assert client.open(url, method=method, headers=headers).status_code == 404, url
        if access.kind == "course":
            client.post("/logout")
            world.login(client, "alice")
    assert walked >= 50


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
