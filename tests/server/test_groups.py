"""Forming groups: teachers make them (from emails, from the roster's group column), students invite
and accept; one group per student and module, even when two requests race to add the same student."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from webtools import M02, STARTER, store_grade, upload
from server.extensions import db
from server.models import Assignment, AuditEntry, Course, Enrollment, GroupInvite, GroupMember
from server.services import accounts, groups, teams
from server.services.errors import BadRequest, Conflict, NotFound

GROUPS = f"/api/v1/courses/c1/assignments/{M02}/groups"


def _m02() -> Assignment:
    return db.session.query(Assignment).join(Course).filter(Course.code == "c1", Assignment.module == M02).one()


def _user(world, who: str):
    return accounts.require_user(world.emails[who])


def _add_students(app, *names: str, group: str | None = None) -> None:
    with app.app_context():
        c1 = accounts.get_course("c1")
        for name in names:
            user, _ = accounts.add_user(f"{name}@example.org", course=c1, role="student", name=name.title(),
                                        password="x" * 12)
            db.session.flush()
            e = db.session.scalar(select(Enrollment).where(Enrollment.user_id == user.id,
                                                           Enrollment.course_id == c1.id))
            e.group_name = group
        db.session.commit()


def _memberships(app, email: str) -> int:
    with app.app_context():
        uid = accounts.require_user(email).id
        return db.session.scalar(select(func.count()).select_from(GroupMember).where(GroupMember.user_id == uid))


def test_a_teacher_makes_a_group_over_the_api_and_a_second_one_with_the_same_student_is_a_conflict(client, world):
    r = client.post(GROUPS, json={"members": ["alice@example.org", "BOB@example.org"]}, headers=world.headers("teacher"))
    assert r.status_code == 201, r.get_json()
    gid = r.get_json()["id"]
    listed = client.get(GROUPS, headers=world.headers("teacher")).get_json()
    assert listed == [{"id": gid, "name": "group-1", "members": ["alice@example.org", "bob@example.org"],
                       "submissions": 0}]
    r = client.post(GROUPS, json={"members": ["bob@example.org"], "name": "other"}, headers=world.headers("teacher"))
    assert r.status_code == 409 and "bob@example.org" in r.get_json()["error"]
    assert len(client.get(GROUPS, headers=world.headers("teacher")).get_json()) == 1
    # members are students of the course: the others are named
    r = client.post(GROUPS, json={"members": ["carol@example.org", "ta@example.org"]}, headers=world.headers("teacher"))
    assert r.status_code == 400
    assert "carol@example.org" in r.get_json()["error"] and "ta@example.org" in r.get_json()["error"]
    assert client.post(GROUPS, json={"members": "alice"}, headers=world.headers("teacher")).status_code == 400
    # the students see their group
    rows = client.get("/api/v1/courses/c1/assignments", headers=world.headers("bob")).get_json()
    assert rows[0]["group"]["members"] == ["alice@example.org", "bob@example.org"]


def test_students_and_tas_cannot_make_or_list_groups(client, world):
    for who in ("alice", "ta"):
        assert client.post(GROUPS, json={"members": ["alice@example.org", "bob@example.org"]},
                           headers=world.headers(who)).status_code == 404
        assert client.get(GROUPS, headers=world.headers(who)).status_code == 404
    assert client.post(GROUPS, json={"members": ["alice@example.org"]}).status_code == 401
    assert _memberships(world.app, "alice@example.org") == 0


def test_two_requests_racing_to_add_the_same_student_end_with_one_membership(app, world):
    _add_students(app, "dan", "eve")
    start = threading.Barrier(2)
    outcomes: list[str] = []

    def make(partner: str) -> None:
        with app.app_context():
            teacher = _user(world, "teacher")
            a = _m02()
            start.wait()
            try:
                groups.create(a, ["alice@example.org", f"{partner}@example.org"], teacher)
                outcomes.append("made")
            except Conflict as exc:
                outcomes.append(exc.message)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=make, args=(p,)) for p in ("dan", "eve")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sorted(outcomes)[-1] == "made" and "already in a group" in sorted(outcomes)[0], outcomes
    assert _memberships(app, "alice@example.org") == 1


def test_two_sessions_adding_the_same_student_the_second_commit_is_refused(app, world):
    """The database decides, not the check before it: of two uncommitted joins, the later commit loses."""
    _add_students(app, "dan", "eve")
    with app.app_context():
        teacher, a = _user(world, "teacher"), _m02()
        ids = [groups.create(a, [f"{p}@example.org"], teacher).id for p in ("dan", "eve")]
        aid, alice = a.id, _user(world, "alice").id
        with Session(db.engine) as one, Session(db.engine) as two:
            for s, gid in ((one, ids[0]), (two, ids[1])):
                s.add(GroupMember(group_id=gid, assignment_id=aid, user_id=alice))
            one.commit()
            with pytest.raises(IntegrityError):
                two.commit()
    assert _memberships(app, "alice@example.org") == 1


def test_forming_groups_from_the_roster_takes_students_without_a_group(app, world):
    _add_students(app, "dan", "eve", group="pair-1")
    _add_students(app, "fay", group="solo")
    with app.app_context():
        teacher, a = _user(world, "teacher"), _m02()
        groups.create(a, ["eve@example.org"], teacher, name="eve's")
        made = groups.from_roster(a, teacher)
        assert sorted(g.name for g in made) == ["pair-1", "solo"]
        by_name = {g.name: [m.user.email for m in g.members] for g in groups.groups_of(a)}
        assert by_name == {"eve's": ["eve@example.org"], "pair-1": ["dan@example.org"], "solo": ["fay@example.org"]}
        assert groups.from_roster(a, teacher) == []     # again: nothing left to place
        actions = db.session.scalars(select(AuditEntry.action).where(AuditEntry.action.like("group.%"))).all()
        assert actions.count("group.roster") == 2 and "group.create" in actions
        with pytest.raises(NotFound):
            groups.from_roster(a, _user(world, "ta"))


def test_invitations_accept_decline_cancel_and_the_size_limit(app, world):
    _add_students(app, "dan", "eve")
    with app.app_context():
        a = _m02()
        alice, bob = _user(world, "alice"), _user(world, "bob")
        dan, eve = accounts.require_user("dan@example.org"), accounts.require_user("eve@example.org")
        with pytest.raises(Conflict, match="alone"):
            groups.invite(a, alice, bob.email)
        a.group_size = 2
        db.session.commit()
        inv = groups.invite(a, alice, bob.email)
        group = teams.group_of(a, alice.id)          # made for the invitation, alice in it
        assert [m.user_id for m in group.members] == [alice.id]
        with pytest.raises(Conflict, match="at most 2"):
            groups.invite(a, alice, dan.email)       # alice + bob's open invitation fill it
        with pytest.raises(NotFound):
            groups.accept(inv.id, dan)               # not dan's to accept
        groups.decline(inv.id, bob)
        with pytest.raises(Conflict, match="declined"):
            groups.accept(inv.id, bob)
        inv = groups.invite(a, alice, dan.email)
        groups.cancel(inv.id, alice)                 # alice alone again: her group goes
        assert teams.group_of(a, alice.id) is None
        # eve invites dan too; dan accepts alice's: eve's lapses
        first = groups.invite(a, alice, dan.email)
        other = groups.invite(a, eve, dan.email)
        assert [i.id for i in groups.invitations_for(a, dan)] == [first.id, other.id]
        joined = groups.accept(first.id, dan)
        assert sorted(m.user.email for m in joined.members) == [alice.email, dan.email]
        assert db.session.get(GroupInvite, other.id).state == "cancelled"
        with pytest.raises(Conflict, match="in a group"):
            groups.invite(a, eve, dan.email)
        with pytest.raises(NotFound):
            groups.invite(a, _user(world, "ta"), bob.email)   # staff do not form groups by invitation


def test_leaving_only_before_the_group_hands_in_and_a_joiners_solo_hand_ins_stop_counting(client, app, world):
    solo = upload(client, world, "bob", STARTER).get_json()["id"]
    with app.app_context():
        a = _m02()
        a.group_size = 2
        db.session.commit()
        alice, bob = _user(world, "alice"), _user(world, "bob")
        inv = groups.invite(a, alice, bob.email)
        groups.accept(inv.id, bob)
        assert teams.team_of(a, bob.id).group is not None
        groups.leave(a, bob)
        assert teams.team_of(a, bob.id).group is None
        inv = groups.invite(a, alice, bob.email)
        groups.accept(inv.id, bob)
    # bob's own hand-in is still his to see, but the group's attempts are what count
    assert client.get(f"/api/v1/submissions/{solo}", headers=world.headers("bob")).status_code == 200
    rows = client.get("/api/v1/courses/c1/assignments", headers=world.headers("bob")).get_json()
    assert rows[0]["attempts_used"] == 0
    assert upload(client, world, "alice", STARTER).status_code == 202
    with app.app_context():
        a, alice = _m02(), _user(world, "alice")
        with pytest.raises(Conflict, match="handed in"):
            groups.leave(a, alice)
        group = teams.group_of(a, alice.id)
        with pytest.raises(Conflict, match="handed in"):
            groups.dissolve(group, _user(world, "teacher"))
        groups.remove_member(group, alice.id, _user(world, "teacher"))   # bob keeps the group's hand-in
        with pytest.raises(Conflict, match="last member"):
            groups.remove_member(group, _user(world, "bob").id, _user(world, "teacher"))
        assert teams.team_of(a, alice.id).group is None
        assert len(teams.team_submissions(a, _user(world, "bob").id)) == 1


def test_a_teacher_dissolves_a_group_that_has_not_handed_in(app, world):
    with app.app_context():
        teacher, a = _user(world, "teacher"), _m02()
        g = groups.create(a, ["alice@example.org", "bob@example.org"], teacher)
        with pytest.raises(BadRequest):
            groups.create(a, [], teacher)
        groups.dissolve(g, teacher)
        assert groups.groups_of(a) == []
        assert teams.group_of(a, _user(world, "alice").id) is None


def test_students_form_a_pair_on_the_assignment_page_and_choose_the_attempt_that_counts(client, app, world):
    with app.app_context():
        a = _m02()
        a.group_size, a.counts = 2, "chosen"
        db.session.commit()
    page = f"/courses/c1/assignments/{M02}/"
    world.login(client, "alice")
    assert 'id="invite"' in client.get(page).get_data(as_text=True)
    r = client.post(f"{page}group/invite", data={"email": "bob@example.org"}, follow_redirects=True)
    assert "bob@example.org is invited" in r.get_data(as_text=True)
    world.login(client, "bob")
    html = client.get(page).get_data(as_text=True)
    assert "invites you to group-1" in html
    with app.app_context():
        (inv,) = groups.invitations_for(_m02(), _user(world, "bob"))
        inv_id = inv.id
    r = client.post(f"{page}group/invitations/{inv_id}/accept", follow_redirects=True)
    html = r.get_data(as_text=True)
    assert "You joined group-1" in html and "Your group: group-1" in html and "whole group" in html
    first = upload(client, world, "alice", STARTER).get_json()["id"]
    second = upload(client, world, "bob", STARTER).get_json()["id"]
    store_grade(app, first, 27)
    store_grade(app, second, 20)
    html = client.get(page).get_data(as_text=True)
    assert f'id="choose-{first}"' in html and "by Alice" in html
    r = client.post(f"/submissions/{first}/choose", follow_redirects=True)
    assert "Attempt 1 counts now" in r.get_data(as_text=True)
    book = client.get("/api/v1/courses/c1/gradebook.csv", headers=world.headers("teacher")).get_data(as_text=True)
    assert book.count(f",{first},1,") == 2      # both members' row is the chosen attempt


def test_the_teacher_sets_the_course_late_days_on_the_dashboard(client, world, app):
    world.login(client, "teacher")
    r = client.post("/courses/c1/teach/late-days", data={"late_days": "3"}, follow_redirects=True)
    assert "may spend 3 late days" in r.get_data(as_text=True)
    assert client.post("/courses/c1/teach/late-days", data={"late_days": "-1"}).status_code == 303
    with app.app_context():
        assert accounts.get_course("c1").late_days == 3
    world.login(client, "alice")
    assert client.post("/courses/c1/teach/late-days", data={"late_days": "9"}).status_code == 404
    assert 'id="late-days-left">3<' in client.get("/courses/c1/").get_data(as_text=True)
