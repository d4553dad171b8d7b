"""Course grades of the five defined courses, on SQLite and PostgreSQL: a class per course with students
passing and failing modules, entered results missing or present, and every final grade its syllabus implies.

Module grades are stored the way a worker stores them (``jobs.claim`` then ``jobs.store_result``), so
the late rules and overrides that apply to them are the platform's own; entries go through the API.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import pytest
from werkzeug.security import generate_password_hash

from webtools import PASSWORD, SOLUTION

HASHED = generate_password_hash(PASSWORD)
STUDENTS = ("ada", "bo", "cy", "di", "ed", "fa")


@dataclass
class Class:
    """One defined course with a teacher, a TA and students, its modules released with no deadline."""

    app: object
    client: object
    code: str
    tokens: dict[str, str] = field(default_factory=dict)

    def email(self, who: str) -> str:
        return f"{who}@{self.code}.example.org"

    def hand_in(self, who: str, module: str, points: float, *, passed: bool, out_of: float = 10.0,
                at: dt.datetime | None = None) -> int:
        """``who`` hands in ``module`` (``at`` a time, default now) and it is graded ``points`` of ``out_of``."""
        from server.extensions import db
        from server.services import accounts, jobs, submissions

        with self.app.app_context():
            user = accounts.require_user(self.email(who))
            sub = submissions.submit(user, self.code, module, filename="nb.ipynb", data=SOLUTION.read_bytes(),
                                     now=at)
            token = jobs.claim(sub.id)
            results = {"status": "ok", "score": points, "max_score": out_of, "percent": 100.0 * points / out_of,
                       "grade": {"label": None, "passed": passed}}
            sub_id = sub.id
            assert jobs.store_result(sub_id, token, results, report_dir="") == "graded"
            db.session.remove()
            return sub_id

    def put(self, who: str, code: str, student: str, body: dict):
        return self.client.put(f"/api/v1/courses/{self.code}/components/{code}/grades/{self.email(student)}",
                               json=body, headers=self.auth(who))

    def enter(self, code: str, results: dict[str, dict], who: str = "teacher") -> None:
        for student, body in results.items():
            r = self.put(who, code, student, body)
            assert r.status_code == 200, r.get_json()

    def auth(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[who]}"}

    def table(self) -> dict[str, dict]:
        r = self.client.get(f"/api/v1/courses/{self.code}/course-grades", headers=self.auth("teacher"))
        assert r.status_code == 200, r.get_json()
        return {row["email"].split("@")[0]: row for row in r.get_json()}

    def finals(self) -> dict[str, str | None]:
        return {who: row["final"]["grade"] for who, row in self.table().items()}


def build(app, client, code: str, students: tuple[str, ...] = STUDENTS) -> Class:
    from server.extensions import db
    from server.models import Enrollment, User
    from server.services import accounts, catalog, course_grades

    k = Class(app, client, code)
    with app.app_context():
        course = accounts.ensure_course(code, code)
        defn = course_grades.require(course)
        for module in defn.modules:
            a = catalog.add_module(course, module, released=True)
            a.due, a.group_size = None, defn.group_size
        for who, role in (("teacher", "teacher"), ("ta", "ta"), *((s, "student") for s in students)):
            user = User(email=k.email(who), name=who.title(), password_hash=HASHED)
            db.session.add_all([user, Enrollment(user=user, course=course, role=role)])
            db.session.flush()
            k.tokens[who] = accounts.create_token(user)
        db.session.commit()
    return k


def test_id2223_the_exam_grade_once_the_labs_are_passed(app, client):
    k = build(app, client, "id2223")
    labs = ("m01-distributed-regression", "m02-feedforward", "m06-rnn")
    ids = {}
    for who in ("ada", "bo", "di", "ed", "fa"):
        for m in labs:
            ok = not (m == "m06-rnn" and who in ("di", "ed"))
            ids[who, m] = k.hand_in(who, m, 9 if ok else 3, passed=ok)
    for m in labs[:2]:
        k.hand_in("cy", m, 8, passed=True)
    from server.extensions import db
    from server.models import Submission
    from server.services import accounts, grades
    with app.app_context():   # a TA's override stands for the module: ed's failed RNN lab passes on review
        grades.override(db.session.get(Submission, ids["ed", "m06-rnn"]), actor=accounts.require_user(k.email("ta")),
                        comment="the test was too strict", points=10)
    k.enter("TEN1", {"ada": {"grade": "B"}, "cy": {"grade": "A"}, "di": {"grade": "C"}, "ed": {"grade": "FX"},
                     "fa": {"grade": "F"}})
    table = k.table()
    assert {who: row["final"]["grade"] for who, row in table.items()} == \
        {"ada": "B", "bo": None, "cy": None, "di": "F", "ed": "FX", "fa": "F"}
    assert table["bo"]["final"] == {**table["bo"]["final"], "complete": False, "status": "waiting for TEN1"}
    assert table["cy"]["components"]["LAB1"]["status"] == "2 of 3 modules passed; 1 not yet graded"
    assert table["di"]["final"]["status"] == "LAB1 not passed"
    assert table["ed"]["components"]["LAB1"]["grade"] == "P"
    assert table["ada"]["components"] == {
        "LAB1": {**table["ada"]["components"]["LAB1"], "grade": "P", "complete": True},
        "TEN1": {**table["ada"]["components"]["TEN1"], "grade": "B", "complete": True}}

    # A grade off the scale is refused with the reason; TAs may not enter the exam; a student reads their own.
    r = k.put("teacher", "TEN1", "bo", {"grade": "G"})
    assert r.status_code == 422 and r.get_json()["error"] == "'G' is not on TEN1's scale: one of A, B, C, D, E, FX, F"
    assert k.put("teacher", "LAB1", "bo", {"grade": "P"}).status_code == 400      # computed from modules
    assert k.put("ta", "TEN1", "bo", {"grade": "A"}).status_code == 404
    assert k.put("ada", "TEN1", "bo", {"grade": "A"}).status_code == 404
    me = client.get("/api/v1/courses/id2223/course-grades/me", headers=k.auth("ada")).get_json()
    assert (me["email"], me["final"]["grade"], me["published"]) == (k.email("ada"), "B", False)
    assert client.get("/api/v1/courses/id2223/course-grades", headers=k.auth("ada")).status_code == 404

    # Clearing an entry takes the final grade back; the audit log keeps both changes.
    k.enter("TEN1", {"ada": {"grade": None}})
    assert k.finals()["ada"] is None
    with app.app_context():
        from sqlalchemy import select

        from server.models import AuditEntry
        changes = [e.detail for e in db.session.scalars(select(AuditEntry).where(
            AuditEntry.action == "course_grade.enter", AuditEntry.target == f"{k.email('ada')}:TEN1"))]
        assert changes == [{"before": None, "after": {"grade": "B"}}, {"before": {"grade": "B"}, "after": None}]
        db.engine.dispose()


def test_ep236u_home_assignments_in_groups_and_the_workshop(app, client):
    k = build(app, client, "ep236u", ("ada", "bo", "cy", "di"))
    from server.extensions import db
    from server.models import Assignment, Group, GroupMember, User
    from sqlalchemy import select
    with app.app_context():   # ada and bo hand in the first lab together: every member answers for it
        a = db.session.scalar(select(Assignment).where(Assignment.module == "m11-data-pipeline"))
        group = Group(assignment=a, name="pair-1")
        db.session.add(group)
        db.session.flush()
        for who in ("ada", "bo"):
            uid = db.session.scalar(select(User.id).where(User.email == k.email(who)))
            db.session.add(GroupMember(group=group, assignment_id=a.id, user_id=uid))
        db.session.commit()
    k.hand_in("ada", "m11-data-pipeline", 9, passed=True)
    for who in ("ada", "bo", "cy", "di"):
        if who in ("cy", "di"):   # ada handed m11 in for both
            k.hand_in(who, "m11-data-pipeline", 9, passed=True)
        k.hand_in(who, "m12-serving", 8 if who != "di" else 2, passed=who != "di")
        k.hand_in(who, "m13-observability", 9, passed=True)
    k.enter("DEL1", {"ada": {"grade": "P"}, "bo": {"grade": "F"}, "di": {"grade": "P"}}, who="ta")   # TAs may
    table = k.table()
    assert {who: row["final"]["grade"] for who, row in table.items()} == {"ada": "P", "bo": "F", "cy": None, "di": "F"}
    assert table["bo"]["components"]["INL1"]["grade"] == "P"    # the group's hand-in counts for bo
    assert table["cy"]["final"]["status"] == "waiting for DEL1"
    assert table["di"]["final"]["status"] == "INL1 not passed"
    r = k.put("ta", "DEL1", "cy", {"points": 3})
    assert r.status_code == 422 and r.get_json()["error"] == "DEL1 takes 'grade' only"


def test_wasp_dl_every_module_hand_in_passed(app, client):
    k = build(app, client, "wasp-dl", ("ada", "bo", "cy"))
    for who in ("ada", "bo", "cy"):
        for m in ("m02-feedforward", "m03-cnn", "m04-optimizers", "m07-uncertainty", "m08-generative"):
            if who == "bo" and m == "m08-generative":
                continue
            failed = who == "cy" and m == "m04-optimizers"
            k.hand_in(who, m, 3 if failed else 8, passed=not failed)
    table = k.table()
    assert {who: row["final"]["grade"] for who, row in table.items()} == {"ada": "P", "bo": None, "cy": "F"}
    assert table["ada"]["components"]["HA1"]["status"] == "all 2 modules passed"
    assert table["bo"]["components"]["HA3"]["status"] == "1 of 2 modules passed; 1 not yet graded"
    assert table["bo"]["final"]["status"] == "waiting for HA3"
    assert table["cy"]["final"]["status"] == "HA2 not passed"


def test_ddl_points_total_and_cutoffs_with_a_late_penalty(app, client):
    k = build(app, client, "ddl", ("ada", "bo", "cy", "di", "ed"))
    modules = ("m09-data-parallel", "m10-model-parallel", "m08-generative", "m14-rl")
    from server.extensions import db
    from server.models import Assignment
    from sqlalchemy import select
    with app.app_context():   # m14 was due an hour ago: 10 % off per day late
        a = db.session.scalar(select(Assignment).where(Assignment.module == "m14-rl"))
        a.due = dt.datetime.now(dt.timezone.utc) - dt.timedelta(hours=1)
        a.late_penalty_per_day, a.max_late_days = 10.0, 3.0
        db.session.commit()
    early = dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=1)
    for who, points in (("ada", 10), ("bo", 5), ("cy", 5), ("di", 8), ("ed", 10)):
        for m in modules:   # di hands m14 in now, late; everyone else in time
            k.hand_in(who, m, points, passed=True, at=None if who == "di" else early)
    k.enter("PRJ", {"ada": {"points": 30}, "bo": {"points": 20}, "cy": {"points": 20}, "di": {"points": 25},
                    "ed": {"points": 28}})
    k.enter("EXAM", {"ada": {"points": 40}, "bo": {"points": 16}, "cy": {"points": 15.5}, "di": {"points": 30}})
    table = k.table()
    assert {who: row["final"]["grade"] for who, row in table.items()} == \
        {"ada": "10", "bo": "6", "cy": "5", "di": "8", "ed": None}
    assert [table[w]["final"].get("points") for w in ("ada", "bo", "cy", "di")] == [100, 51, 50.5, 78.25]
    assert table["di"]["components"]["COL"]["points"] == 23.25      # (8 + 8 + 8 + 7 late) / 40 × 30
    assert table["bo"]["components"]["PRE"]["points"] == 35
    assert table["ed"]["final"]["status"] == "waiting for EXAM"
    r = k.put("teacher", "EXAM", "ed", {"points": 41})
    assert r.status_code == 422 and r.get_json()["error"] == "EXAM takes 0 to 40 points"


def test_chalmers_dl_project_grade_with_enough_sessions(app, client):
    k = build(app, client, "chalmers-dl", ("ada", "bo", "cy", "di", "ed"))
    k.enter("ATT", {"ada": {"attended": 16}, "bo": {"attended": 15}, "cy": {"attended": 20}, "di": {"attended": 18},
                    "ed": {"attended": 17}}, who="ta")
    k.enter("PRJ", {"ada": {"grade": "5"}, "bo": {"grade": "4"}, "cy": {"grade": "3"}, "di": {"grade": "U"}})
    table = k.table()
    assert {who: row["final"]["grade"] for who, row in table.items()} == \
        {"ada": "5", "bo": "U", "cy": "3", "di": "U", "ed": None}
    assert table["bo"]["components"]["ATT"]["status"] == "15 of 20 sessions attended (under 80%)"
    assert table["bo"]["final"]["status"] == "ATT not passed"
    assert k.put("ta", "PRJ", "ed", {"grade": "4"}).status_code == 404     # the project is the teacher's
    assert k.put("ta", "ATT", "ed", {"attended": 21}).status_code == 422


def test_csv_entry_is_all_or_nothing_and_the_export_is_a_registrars(app, client):
    from server.extensions import db
    from server.services import accounts, course_grade_files
    k = build(app, client, "id2223", ("ada", "bo"))
    for m in ("m01-distributed-regression", "m02-feedforward", "m06-rnn"):
        k.hand_in("ada", m, 9, passed=True)
    bad = (f"email,component,result\n{k.email('ada')},TEN1,B\n{k.email('bo')},TEN1,G\n"
           f"nobody@example.org,TEN1,A\n{k.email('ada')},LAB1,P\n{k.email('ada')},TEN1,C\n")
    with app.app_context():
        teacher = accounts.require_user(k.email("teacher"))
        course = accounts.get_course("id2223")
        with pytest.raises(course_grade_files.GradesRejected) as info:
            course_grade_files.import_csv(course, bad.encode(), actor=teacher)
        assert [(r.line, r.error) for r in info.value.rows] == [
            (3, "'G' is not on TEN1's scale: one of A, B, C, D, E, FX, F"),
            (4, "nobody@example.org is not a student of id2223"),
            (5, "LAB1 is computed from modules; it cannot be entered"),
            (6, f"{k.email('ada')} TEN1 is already on line 2")]
        db.session.rollback()
        db.engine.dispose()
    assert k.finals() == {"ada": None, "bo": None}           # nothing was entered
    with app.app_context():
        good = f"email,component,result\n{k.email('ada')},TEN1,b\n{k.email('bo')},TEN1,E\n"
        assert course_grade_files.import_csv(accounts.get_course("id2223"), good.encode(),
                                             actor=accounts.require_user(k.email("teacher"))) == 2
        db.engine.dispose()
    r = client.get("/api/v1/courses/id2223/course-grades.csv", headers=k.auth("ta"))
    assert r.status_code == 200 and r.mimetype == "text/csv"
    today = dt.datetime.now(dt.timezone.utc).date().isoformat()
    assert r.data.decode().splitlines() == [
        "student,name,component,credits,grade,date",
        f"{k.email('ada')},Ada,LAB1,3,P,{today}", f"{k.email('ada')},Ada,TEN1,4.5,B,{today}",
        f"{k.email('ada')},Ada,ID2223,7.5,B,{today}",
        f"{k.email('bo')},Bo,TEN1,4.5,E,{today}"]


def test_a_course_without_a_definition_has_no_course_grades(app, client, world):
    r = client.get("/api/v1/courses/c1/course-grades", headers=world.headers("teacher"))
    assert r.status_code == 404 and "no course definition" in r.get_json()["error"]


def test_the_pages_students_and_staff_see(app, client):
    k = build(app, client, "id2223", ("ada", "bo"))
    for m in ("m01-distributed-regression", "m02-feedforward"):
        k.hand_in("ada", m, 9, passed=True)

    def sign_in(who: str):
        client.post("/logout")
        assert client.post("/login", data={"email": k.email(who), "password": PASSWORD}).status_code == 302

    sign_in("ada")
    page = client.get("/courses/id2223/").get_data(as_text=True)
    assert 'id="course-grade-link"' in page
    page = client.get("/courses/id2223/course-grade").get_data(as_text=True)
    assert "2 of 3 modules passed; 1 not yet graded" in page and "TEN1 not yet graded" in page
    assert "not complete yet" in page
    assert client.get("/courses/id2223/course-grades/").status_code == 404      # the class is the staff's

    sign_in("ta")
    assert client.get("/courses/id2223/course-grades/").status_code == 200
    ada = client.get("/courses/id2223/course-grades/").get_data(as_text=True)
    assert 'id="grades-form"' not in ada                                         # nothing a TA may enter here
    with app.app_context():
        from server.services import accounts
        ada_id, bo_id = accounts.require_user(k.email("ada")).id, accounts.require_user(k.email("bo")).id
    r = client.post(f"/courses/id2223/course-grades/{ada_id}", data={"component": "TEN1", "result": "A"})
    assert r.status_code == 404

    sign_in("teacher")
    r = client.post(f"/courses/id2223/course-grades/{ada_id}", data={"component": "TEN1", "result": "Q"})
    assert r.status_code == 303
    assert "&#39;Q&#39; is not on TEN1" in client.get(r.location).get_data(as_text=True)
    r = client.post(f"/courses/id2223/course-grades/{ada_id}", data={"component": "TEN1", "result": "A"})
    assert r.status_code == 303
    import io
    bad = f"email,component,result\n{k.email('bo')},TEN1,Z\n".encode()
    r = client.post("/courses/id2223/course-grades/import", data={"grades": (io.BytesIO(bad), "g.csv")},
                    content_type="multipart/form-data")
    assert r.status_code == 422 and "line 2: &#39;Z&#39; is not on TEN1" in r.get_data(as_text=True)
    table = client.get("/courses/id2223/course-grades/").get_data(as_text=True)
    assert f'id="student-{bo_id}"' in table and 'id="publish"' in table
    assert client.post("/courses/id2223/course-grades/publish", data={"published": "yes"}).status_code == 303
    k.hand_in("ada", "m06-rnn", 9, passed=True)
    sign_in("ada")
    page = client.get("/courses/id2223/course-grade").get_data(as_text=True)
    assert '<strong class="big pass" id="final-grade">A</strong>' in page and 'id="provisional"' not in page
