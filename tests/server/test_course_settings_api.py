"""Teachers' settings through the API: an assignment's rules, a student's extension, the course's late days.

"late" follows each change at once (GET /submissions/{id} right after), without a regrade.
"""

from __future__ import annotations

import datetime as dt

import pytest

from webtools import M02, STARTER, upload
from server.extensions import db
from server.models import AuditEntry

NOW = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
ASSIGNMENT = f"/api/v1/courses/c1/assignments/{M02}"


def _patch(client, world, body, who="teacher", url=ASSIGNMENT):
    return client.patch(url, json=body, headers=world.headers(who))


def _late(client, world, sub_id: int, who: str = "alice") -> bool:
    r = client.get(f"/api/v1/submissions/{sub_id}", headers=world.headers(who))
    assert r.status_code == 200
    return r.get_json()["late"]


def test_a_teacher_patches_an_assignment_and_gets_it_back(client, world, app):
    due = (NOW + dt.timedelta(days=7)).astimezone(dt.timezone(dt.timedelta(hours=2)))
    r = _patch(client, world, {"due": due.isoformat(), "late_penalty_per_day": 10, "max_late_days": 3,
                               "max_attempts": 5, "counts": "chosen", "group_size": 2, "regrade_days": 14})
    assert r.status_code == 200, r.get_json()
    got = r.get_json()
    assert dt.datetime.fromisoformat(got["course_due"]) == due
    assert (got["late_penalty_per_day"], got["max_late_days"], got["max_attempts"], got["counts"],
            got["group_size"], got["regrade_days"]) == (10, 3, 5, "chosen", 2, 14)
    # only what is sent changes
    got = _patch(client, world, {"max_attempts": None}).get_json()
    assert got["max_attempts"] is None and got["counts"] == "chosen" and got["group_size"] == 2
    got = _patch(client, world, {"due": None, "released": False}).get_json()
    assert got["course_due"] is None and got["released"] is False
    with app.app_context():
        actions = [e.action for e in db.session.query(AuditEntry).order_by(AuditEntry.id)]
    assert actions.count("assignment.settings") == 3 and "assignment.unrelease" in actions


@pytest.mark.parametrize("body, words", [
    ({"due": "2030-01-01T12:00"}, "zone"),
    ({"due": "next friday"}, "ISO 8601"),
    ({"counts": "first"}, "counts"),
    ({"group_size": 0}, "group"),
    ({"group_size": 1.5}, "whole number"),
    ({"late_penalty_per_day": True}, "number"),
    ({"regrade_days": -1}, "regrade"),
    ({"colour": "red"}, "unknown field"),
    ({"released": "yes"}, "true or false"),
])
def test_bad_settings_are_refused_with_what_is_wrong(client, world, body, words):
    r = _patch(client, world, body)
    assert r.status_code == 400 and words in r.get_json()["error"], r.get_json()


def test_only_the_courses_teachers_change_settings(client, world):
    for who in ("ta", "alice", "carol"):
        assert _patch(client, world, {"max_attempts": 1}, who=who).status_code == 404
        assert _patch(client, world, {"late_days": 3}, who=who, url="/api/v1/courses/c1").status_code == 404
        assert client.put(f"{ASSIGNMENT}/extensions/alice@example.org", json={"due": NOW.isoformat()},
                          headers=world.headers(who)).status_code == 404
    assert client.patch(ASSIGNMENT, json={"max_attempts": 1}).status_code == 401
    rows = client.get("/api/v1/courses/c1/assignments", headers=world.headers("alice")).get_json()
    assert rows[0]["max_attempts"] is None


def test_an_extension_put_and_deleted_changes_late_at_once(client, world):
    assert _patch(client, world, {"due": (NOW - dt.timedelta(hours=5)).isoformat(),
                                  "late_penalty_per_day": 10}).status_code == 200
    sub_id = upload(client, world, "alice", STARTER).get_json()["id"]
    assert _late(client, world, sub_id)
    url = f"{ASSIGNMENT}/extensions/alice@example.org"
    r = client.put(url, json={"due": (NOW + dt.timedelta(days=2)).isoformat()}, headers=world.headers("teacher"))
    assert r.status_code == 200 and r.get_json()["email"] == "alice@example.org"
    assert not _late(client, world, sub_id)
    rows = client.get("/api/v1/courses/c1/assignments", headers=world.headers("alice")).get_json()
    assert rows[0]["due"] > rows[0]["course_due"]
    assert client.delete(url, headers=world.headers("teacher")).status_code == 200
    assert _late(client, world, sub_id)
    # a group member's extension is the group's
    assert client.post(f"{ASSIGNMENT}/groups", json={"members": ["alice@example.org", "bob@example.org"]},
                       headers=world.headers("teacher")).status_code == 201
    group_sub = upload(client, world, "alice", STARTER).get_json()["id"]
    assert _late(client, world, group_sub, who="bob")
    client.put(f"{ASSIGNMENT}/extensions/bob@example.org", json={"due": (NOW + dt.timedelta(days=1)).isoformat()},
               headers=world.headers("teacher"))
    assert not _late(client, world, group_sub, who="alice")
    # refused: no zone, not a student of the course
    assert client.put(url, json={"due": "2030-01-01T00:00"}, headers=world.headers("teacher")).status_code == 400
    assert client.put(f"{ASSIGNMENT}/extensions/ta@example.org", json={"due": NOW.isoformat()},
                      headers=world.headers("teacher")).status_code == 404
    assert client.put(f"{ASSIGNMENT}/extensions/carol@example.org", json={"due": NOW.isoformat()},
                      headers=world.headers("teacher")).status_code == 404


def test_moving_the_deadline_over_the_api_changes_late_at_once(client, world):
    _patch(client, world, {"due": (NOW - dt.timedelta(hours=1)).isoformat(), "max_late_days": 2})
    sub_id = upload(client, world, "alice", STARTER).get_json()["id"]
    assert _late(client, world, sub_id)
    _patch(client, world, {"due": (NOW + dt.timedelta(hours=1)).isoformat()})
    assert not _late(client, world, sub_id)


def test_the_course_late_day_budget_over_the_api(client, world):
    _patch(client, world, {"due": (NOW - dt.timedelta(hours=5)).isoformat(), "late_penalty_per_day": 10})
    sub_id = upload(client, world, "alice", STARTER).get_json()["id"]
    assert _late(client, world, sub_id)
    r = _patch(client, world, {"late_days": 2}, url="/api/v1/courses/c1")
    assert r.status_code == 200 and r.get_json() == {"code": "c1", "title": "Course one", "late_days": 2}
    s = client.get(f"/api/v1/submissions/{sub_id}", headers=world.headers("alice")).get_json()
    assert (s["late"], s["late_days_used"]) == (False, 1)
    rows = client.get("/api/v1/courses/c1/assignments", headers=world.headers("alice")).get_json()
    assert rows[0]["late_days_left"] == 2    # for this assignment: the day it spent stays its to re-spend
    for body in ({"late_days": -1}, {"late_days": "2"}, {"late_days": 2, "title": "x"}, {}):
        assert _patch(client, world, body, url="/api/v1/courses/c1").status_code == 400
