"""The rules of a course around a hand-in: pairs hand in together, extensions and late days decide
"late" at once (no regrade), and the student may choose the attempt that counts."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest

from webtools import M02, STARTER, store_grade as _grade, upload
from server.extensions import db
from server.models import Assignment, Course, Group, GroupMember, Submission
from server.services import accounts, grades, lateness, teaching

NOW = dt.datetime.now(dt.timezone.utc)


def _set(app, **values):
    with app.app_context():
        a = _m02(app)
        for k, v in values.items():
            setattr(a, k, v)
        db.session.commit()


def _m02(app) -> Assignment:
    return db.session.query(Assignment).join(Course).filter(Course.code == "c1", Assignment.module == M02).one()


def _pair(app, world, *who: str) -> int:
    with app.app_context():
        a = _m02(app)
        g = Group(assignment=a, name="pair")
        db.session.add(g)
        db.session.flush()
        for w in who:
            db.session.add(GroupMember(group=g, assignment_id=a.id, user_id=world.user_id(w)))
        db.session.commit()
        return g.id


def _sub(client, world, who: str, sub_id: int) -> dict:
    r = client.get(f"/api/v1/submissions/{sub_id}", headers=world.headers(who))
    assert r.status_code == 200, r.get_data(as_text=True)
    return r.get_json()


def _gradebook(client, world) -> dict[str, dict]:
    import csv
    import io
    text = client.get("/api/v1/courses/c1/gradebook.csv", headers=world.headers("teacher")).get_data(as_text=True)
    return {row["student_email"]: row for row in csv.DictReader(io.StringIO(text)) if row["assignment"] == M02}


def test_a_pairs_hand_in_is_both_members_and_attempts_count_per_pair(client, world, app):
    _set(app, max_attempts=2)
    gid = _pair(app, world, "alice", "bob")
    first = upload(client, world, "alice", STARTER).get_json()
    assert first["attempt"] == 1
    # bob sees alice's hand-in as his own group's: the submission, its attempt count, its grade
    mine = _sub(client, world, "bob", first["id"])
    assert mine["group"]["id"] == gid and mine["submitted_by"] == "alice@example.org"
    rows = client.get("/api/v1/courses/c1/assignments", headers=world.headers("bob")).get_json()
    assert rows[0]["attempts_used"] == 1 and rows[0]["group"]["members"] == ["alice@example.org", "bob@example.org"]
    assert upload(client, world, "bob", STARTER).get_json()["attempt"] == 2
    r = upload(client, world, "alice", STARTER)
    assert r.status_code == 409 and "attempts" in r.get_json()["error"]
    _grade(app, first["id"], 26)
    book = _gradebook(client, world)
    # the counted attempt is the group's last graded one, for both members
    assert (book["alice@example.org"]["points"], book["bob@example.org"]["points"]) == ("26", "26")
    assert book["alice@example.org"]["submission"] == book["bob@example.org"]["submission"] == str(first["id"])
    # no one outside the pair sees it
    with app.app_context():
        accounts.add_user("dave@example.org", course=accounts.get_course("c1"), role="student", name="Dave",
                          password="x" * 12)
        token = accounts.create_token(accounts.require_user("dave@example.org"))
        db.session.commit()
    assert client.get(f"/api/v1/submissions/{first['id']}",
                      headers={"Authorization": f"Bearer {token}"}).status_code == 404
    assert client.get(f"/api/v1/submissions/{first['id']}", headers=world.headers("carol")).status_code == 404


def test_an_extension_changes_late_and_the_penalty_at_once_without_a_regrade(client, world, app):
    _set(app, due=NOW - dt.timedelta(hours=30), late_penalty_per_day=10.0, max_late_days=5.0)
    sub_id = upload(client, world, "alice", STARTER).get_json()["id"]
    _grade(app, sub_id, 29)
    s = _sub(client, world, "alice", sub_id)
    assert (s["late"], s["days_late"], s["score"]) == (True, 2, pytest.approx(29 * 0.8))
    assert s["grade"]["label"] == "B"
    assert _gradebook(client, world)["alice@example.org"]["late"] == "yes"
    report = client.get(f"/api/v1/submissions/{sub_id}/report", headers=world.headers("alice")).get_data(as_text=True)
    assert "Late submission" in report and "handed in 2 days late" in report and "23.2" in report
    with app.app_context():
        teacher = accounts.require_user(world.emails["teacher"])
        lateness.set_extension(_m02(app), [world.user_id("alice")], NOW + dt.timedelta(days=1), actor=teacher)
    s = _sub(client, world, "alice", sub_id)
    assert (s["late"], s["days_late"], s["score"], s["grade"]["label"]) == (False, 0, 29, "A")
    assert _gradebook(client, world)["alice@example.org"]["late"] == "no"
    report = client.get(f"/api/v1/submissions/{sub_id}/report", headers=world.headers("alice")).get_data(as_text=True)
    assert "Late submission" not in report and "29 / 29" in report
    rows = client.get("/api/v1/courses/c1/assignments", headers=world.headers("alice")).get_json()
    assert rows[0]["due"] > rows[0]["course_due"] and rows[0]["open"] and not rows[0]["late"]
    # bob has no extension: his deadline is the course's
    rows = client.get("/api/v1/courses/c1/assignments", headers=world.headers("bob")).get_json()
    assert rows[0]["due"] == rows[0]["course_due"] and rows[0]["late"]


def test_moving_the_deadline_clears_late_everywhere_without_a_regrade(client, world, app):
    _set(app, due=NOW - dt.timedelta(hours=2), late_penalty_per_day=20.0, max_late_days=2.0)
    sub_id = upload(client, world, "alice", STARTER).get_json()["id"]
    _grade(app, sub_id, 29)
    assert _sub(client, world, "alice", sub_id)["score"] == pytest.approx(29 * 0.8)
    with app.app_context():
        a = _m02(app)
        new = dataclasses.replace(teaching.AssignmentSettings.of(a), due=NOW + dt.timedelta(days=3))
        teaching.update_settings(a, new, actor=accounts.require_user(world.emails["teacher"]))
    s = _sub(client, world, "alice", sub_id)
    assert (s["late"], s["score"]) == (False, 29)
    assert _gradebook(client, world)["alice@example.org"]["late"] == "no"


def test_late_days_are_spent_once_for_the_same_hours_and_then_the_penalty_applies(client, world, app):
    _set(app, due=NOW - dt.timedelta(hours=12), late_penalty_per_day=10.0, max_late_days=0.0)
    with app.app_context():
        c = accounts.get_course("c1")
        lateness.set_late_days(c, 2, actor=accounts.require_user(world.emails["teacher"]))
    first = upload(client, world, "alice", STARTER).get_json()["id"]      # 1 day late: one late day
    s = _sub(client, world, "alice", first)
    assert (s["late"], s["days_late"], s["late_days_used"]) == (False, 1, 1)
    rows = client.get("/api/v1/courses/c1/assignments", headers=world.headers("alice")).get_json()
    assert rows[0]["late_days_left"] == 2      # this module's own spending is not counted against it
    _set(app, due=NOW - dt.timedelta(hours=60))   # now the same hand-ins are three days late
    with app.app_context():
        lateness.refresh(accounts.get_course("c1"))
        db.session.commit()
    second = upload(client, world, "alice", STARTER).get_json()["id"]
    _grade(app, second, 29)
    s = _sub(client, world, "alice", second)
    # three days late with two late days: both spent (not 1 + 2), one day of penalty
    assert (s["late"], s["days_late"], s["late_days_used"]) == (True, 3, 2)
    assert s["score"] == pytest.approx(29 * 0.9)
    with app.app_context():
        entry = db.session.get(Submission, first)
        assert entry.late_days_used == 2            # the team's spending is one number per module
    # a hand-in without a late policy closes once the late days are spent
    _set(app, due=NOW - dt.timedelta(days=4), late_penalty_per_day=0.0)
    with app.app_context():
        lateness.refresh(accounts.get_course("c1"))
        db.session.commit()
    r = upload(client, world, "bob", STARTER)
    assert r.status_code == 409 and "deadline" in r.get_json()["error"]


def test_a_group_spends_each_members_late_days(client, world, app):
    _set(app, due=NOW - dt.timedelta(hours=30), late_penalty_per_day=50.0, max_late_days=3.0)
    with app.app_context():
        lateness.set_late_days(accounts.get_course("c1"), 3, actor=accounts.require_user(world.emails["teacher"]))
    _pair(app, world, "alice", "bob")
    sub_id = upload(client, world, "bob", STARTER).get_json()["id"]
    _grade(app, sub_id, 20)
    s = _sub(client, world, "alice", sub_id)
    assert (s["late"], s["late_days_used"], s["score"]) == (False, 2, 20)
    with app.app_context():
        a = _m02(app)
        from server.services.lateness import late_days_left
        assert late_days_left(a.course, [world.user_id("alice")]) == 1
        assert late_days_left(a.course, [world.user_id("bob")]) == 1


def test_the_student_chooses_the_attempt_that_counts_until_the_deadline(client, world, app):
    _set(app, counts="chosen", due=NOW + dt.timedelta(days=1))
    ids = [upload(client, world, "alice", STARTER).get_json()["id"] for _ in range(3)]
    for sub_id, points in zip(ids, (27, 15, 20)):
        _grade(app, sub_id, points)
    assert _gradebook(client, world)["alice@example.org"]["points"] == "20"   # none chosen: the last graded
    with app.app_context():
        alice = accounts.require_user(world.emails["alice"])
        bob = accounts.require_user(world.emails["bob"])
        first = db.session.get(Submission, ids[0])
        grades.choose(first, actor=alice)
        from server.services.errors import Conflict, NotFound
        with pytest.raises(NotFound):
            grades.choose(first, actor=bob)                       # not bob's to choose
        _m02(app).due = NOW - dt.timedelta(minutes=1)
        db.session.commit()
        with pytest.raises(Conflict):
            grades.choose(db.session.get(Submission, ids[2]), actor=alice)
    assert _gradebook(client, world)["alice@example.org"]["points"] == "27"
    assert _sub(client, world, "alice", ids[0])["chosen"] is True
