"""Regrade requests: a student asks within the window, the course's staff answer with a comment.

Each graded submission here is a real run's results (the m02 solution stopped at its wall-clock
limit, 0 of 29 points, every test "not run"), stored as a worker stores them.
"""

from __future__ import annotations

import csv
import datetime as dt
import io

from sqlalchemy import func, select

from server.extensions import db
from server.models import Assignment, AuditEntry, RegradeRequest, Submission, utcnow
from server.services import accounts, grades, regrades
from webtools import M02, PASSWORD, STARTER, pair_up, timed_out, upload

PUBLIC_TEST = "test_public.py::test_relu_small_example"     # visible from the start
LATER_TEST = "test_numpy.py::test_relu"                     # visible once the grades are published
QUEUE = "/courses/c1/review/regrades"


def ask(client, world, who: str, sub_id: int, **body):
    return client.post(f"/api/v1/submissions/{sub_id}/regrade-requests", json=body, headers=world.headers(who))


def decide(client, world, who: str, request_id: int, **body):
    return client.post(f"/api/v1/regrade-requests/{request_id}", json=body, headers=world.headers(who))


def assignment() -> Assignment:
    return db.session.scalar(select(Assignment).join(Assignment.course).where(
        Assignment.module == M02, Assignment.course.has(code="c1")))


def publish(app, world, *, days_ago: float = 0.0) -> None:
    with app.app_context():
        a = assignment()
        grades.set_published(a, True, actor=accounts.require_user(world.emails["teacher"]))
        a.published_at = utcnow() - dt.timedelta(days=days_ago)
        db.session.commit()


def staff_of_c2(world, app) -> None:
    """Dora teaches c2: staff, but of another course."""
    with app.app_context():
        user, _ = accounts.add_user("dora@example.org", course=accounts.get_course("c2"), role="teacher",
                                    password=PASSWORD)
        world.emails["dora"], world.tokens["dora"] = user.email, accounts.create_token(user)
        db.session.commit()


def gradebook_row(client, world, who: str) -> dict:
    text = client.get("/api/v1/courses/c1/gradebook.csv", headers=world.headers("ta")).get_data(as_text=True)
    return next(r for r in csv.DictReader(io.StringIO(text)) if r["student_email"] == world.emails[who])


# --- the API, end to end --------------------------------------------------------------------------

def test_a_student_asks_and_a_ta_accepts_with_new_points_everywhere_at_once(client, world, app):
    sub_id = timed_out(client, world, app, "alice")
    r = ask(client, world, "alice", sub_id, reason="My notebook ran in 40 s on my laptop; please look again.")
    assert r.status_code == 201, r.get_json()
    req = r.get_json()
    assert (req["state"], req["submission"], req["test"], req["requester"]) == ("open", sub_id, None,
                                                                                 "alice@example.org")
    listed = client.get("/api/v1/courses/c1/regrade-requests?state=open", headers=world.headers("ta")).get_json()
    assert [x["id"] for x in listed] == [req["id"]]

    r = decide(client, world, "ta", req["id"], decision="accepted", comment="The timeout was ours: full marks.",
               points=27)
    assert r.status_code == 200, r.get_json()
    assert (r.get_json()["state"], r.get_json()["points"]) == ("accepted", 27)
    sub = client.get(f"/api/v1/submissions/{sub_id}", headers=world.headers("alice")).get_json()
    assert sub["score"] == 27 and sub["override"]["comment"] == "The timeout was ours: full marks."
    row = gradebook_row(client, world, "alice")
    assert (row["points"], row["overridden"]) == ("27", "yes")
    report = client.get(f"/api/v1/submissions/{sub_id}/report", headers=world.headers("alice")).get_data(as_text=True)
    assert "27" in report and "The timeout was ours: full marks." in report
    mine = client.get(f"/api/v1/submissions/{sub_id}/regrade-requests", headers=world.headers("alice")).get_json()
    assert [(x["state"], x["comment"], x["decided_by"]) for x in mine] == [
        ("accepted", "The timeout was ours: full marks.", "Ta")]

    r = decide(client, world, "teacher", req["id"], decision="declined", comment="changed my mind")
    assert r.status_code == 409 and "already accepted by Ta" in r.get_json()["error"]
    with app.app_context():
        actions = [e.action for e in db.session.scalars(select(AuditEntry).order_by(AuditEntry.id))]
        assert actions[-3:] == ["regrade.request", "regrade.decide", "grade.override"]
        assert db.session.get(Submission, sub_id).grade.final_points == 27


def test_only_the_student_asks_and_only_the_courses_staff_answer(client, world, app):
    sub_id = timed_out(client, world, app, "alice")
    staff_of_c2(world, app)
    for who in ("bob", "carol", "dora"):       # another student, another course's student and teacher
        assert ask(client, world, who, sub_id, reason="mine too").status_code == 404, who
    assert ask(client, world, "alice", 999_999, reason="?").status_code == 404
    req_id = ask(client, world, "alice", sub_id, reason="please").get_json()["id"]
    for who in ("alice", "bob", "carol", "dora"):
        r = decide(client, world, who, req_id, decision="accepted", comment="sure", points=29)
        assert r.status_code == 404, who
    for who in ("alice", "carol", "dora"):
        assert client.get("/api/v1/courses/c1/regrade-requests", headers=world.headers(who)).status_code == 404
    assert client.get(f"/api/v1/submissions/{sub_id}/regrade-requests",
                      headers=world.headers("bob")).status_code == 404
    assert decide(client, world, "ta", 999_999, decision="declined", comment="x").status_code == 404


def test_an_answer_needs_a_comment_and_accepting_needs_valid_points(client, world, app):
    sub_id = timed_out(client, world, app, "alice")
    req_id = ask(client, world, "alice", sub_id, reason="please").get_json()["id"]
    cases = [({"decision": "accepted", "points": 20}, "comment"),
             ({"decision": "declined", "comment": "   "}, "comment"),
             ({"decision": "accepted", "comment": "yes"}, "points"),
             ({"decision": "accepted", "comment": "yes", "points": 30}, "between 0 and 29"),
             ({"decision": "accepted", "comment": "yes", "points": "lots"}, "number"),
             ({"decision": "maybe", "comment": "hmm"}, "decision")]
    for body, said in cases:
        r = decide(client, world, "ta", req_id, **body)
        assert r.status_code == 400 and said in r.get_json()["error"], (body, r.get_json())
    with app.app_context():      # a refused answer changed nothing: the request is open, the grade computed
        assert db.session.get(RegradeRequest, req_id).state == "open"
        assert not db.session.get(Submission, sub_id).grade.overridden
    r = decide(client, world, "teacher", req_id, decision="declined", comment="The run really took 20 minutes.",
               points=29)
    assert r.status_code == 200 and (r.get_json()["state"], r.get_json()["points"]) == ("declined", None)
    with app.app_context():
        assert not db.session.get(Submission, sub_id).grade.overridden


def test_one_open_request_per_test_and_only_on_tests_the_student_sees(client, world, app):
    sub_id = timed_out(client, world, app, "alice")
    assert ask(client, world, "alice", sub_id, reason="whole").status_code == 201
    r = ask(client, world, "alice", sub_id, reason="whole, again")
    assert r.status_code == 409 and "already an open request on this hand-in" in r.get_json()["error"]
    assert ask(client, world, "alice", sub_id, reason="this test", test=PUBLIC_TEST).status_code == 201
    r = ask(client, world, "alice", sub_id, reason="this test again", test=PUBLIC_TEST)
    assert r.status_code == 409 and PUBLIC_TEST in r.get_json()["error"]
    for test in (LATER_TEST, "test_secret.py::test_nothing"):      # not shown before publishing; no such test
        r = ask(client, world, "alice", sub_id, reason="that test", test=test)
        assert r.status_code == 400 and "no test named" in r.get_json()["error"], test
    for reason, said in (("", "reason is required"), ("   ", "reason is required"),
                         ("x" * (regrades.REASON_MAX + 1), "keep it under")):
        r = ask(client, world, "alice", sub_id, reason=reason)
        assert r.status_code == 400 and said in r.get_json()["error"]
    assert ask(client, world, "alice", sub_id, test=PUBLIC_TEST).status_code == 400       # no reason at all
    r = client.post(f"/api/v1/submissions/{sub_id}/regrade-requests", data="reason=x", headers=world.headers("alice"))
    assert r.status_code == 400 and "JSON" in r.get_json()["error"]

    publish(app, world)
    assert ask(client, world, "alice", sub_id, reason="now I see it", test=LATER_TEST).status_code == 201
    first = client.get("/api/v1/courses/c1/regrade-requests", headers=world.headers("ta")).get_json()[-1]
    decide(client, world, "ta", first["id"], decision="declined", comment="no")
    assert ask(client, world, "alice", sub_id, reason="whole, once more").status_code == 201   # none open now
    states = [x["state"] for x in client.get("/api/v1/courses/c1/regrade-requests",
                                             headers=world.headers("ta")).get_json()]
    assert states == ["open", "open", "open", "declined"]                                   # open ones first
    assert client.get("/api/v1/courses/c1/regrade-requests?state=bogus",
                      headers=world.headers("ta")).status_code == 400


def test_the_window_closes_regrade_days_after_publishing_and_zero_turns_requests_off(client, world, app):
    queued = upload(client, world, "bob", STARTER).get_json()["id"]
    r = ask(client, world, "bob", queued, reason="early")
    assert r.status_code == 409 and "not graded yet" in r.get_json()["error"]
    sub_id = timed_out(client, world, app, "alice")
    publish(app, world, days_ago=6.9)                       # regrade_days is 7 by default
    assert ask(client, world, "alice", sub_id, reason="just in time").status_code == 201
    publish(app, world, days_ago=7.1)
    r = ask(client, world, "alice", sub_id, reason="too late", test=PUBLIC_TEST)
    assert r.status_code == 409 and "closed" in r.get_json()["error"] and "7 days after" in r.get_json()["error"]
    with app.app_context():
        a = assignment()
        a.regrade_days, a.grades_published, a.published_at = 0, False, None
        db.session.commit()
    r = ask(client, world, "alice", sub_id, reason="off?", test=PUBLIC_TEST)
    assert r.status_code == 409 and "off for this assignment" in r.get_json()["error"]


def test_a_group_member_asks_on_the_groups_hand_in(client, world, app):
    sub_id = timed_out(client, world, app, "alice")
    pair_up(app, world, sub_id)
    r = ask(client, world, "bob", sub_id, reason="we both think test 3 is right", test=PUBLIC_TEST)
    assert r.status_code == 201 and r.get_json()["requester"] == "bob@example.org"
    mine = client.get(f"/api/v1/submissions/{sub_id}/regrade-requests", headers=world.headers("alice")).get_json()
    assert [x["requester"] for x in mine] == ["bob@example.org"]


# --- the pages --------------------------------------------------------------------------------------

def test_pages_from_asking_to_the_answer(client, world, app):
    sub_id = timed_out(client, world, app, "alice")
    world.login(client, "alice")
    page = client.get(f"/submissions/{sub_id}").get_data(as_text=True)
    assert 'id="regrade-form"' in page and PUBLIC_TEST in page and LATER_TEST not in page
    r = client.post(f"/submissions/{sub_id}/regrade-requests", data={"test": PUBLIC_TEST, "reason": ""})
    assert r.status_code == 303
    assert "the course staff read your reason" in client.get(r.headers["Location"]).get_data(as_text=True)
    r = client.post(f"/submissions/{sub_id}/regrade-requests",
                    data={"test": PUBLIC_TEST, "reason": "relu(0) is 0 in my notebook too"})
    page = client.get(r.headers["Location"]).get_data(as_text=True)
    assert "is with the course staff" in page and 'data-state="open"' in page and "relu(0) is 0" in page
    r = client.post(f"/submissions/{sub_id}/regrade-requests", data={"test": PUBLIC_TEST, "reason": "again"})
    assert "already an open request" in client.get(r.headers["Location"]).get_data(as_text=True)
    assert client.get(QUEUE).status_code == 404                 # students have no queue

    world.login(client, "bob")
    assert client.post(f"/submissions/{sub_id}/regrade-requests", data={"reason": "x"}).status_code == 404

    world.login(client, "ta")
    review = client.get("/courses/c1/review/").get_data(as_text=True)
    assert 'id="open-regrades">1<' in review and QUEUE in review
    page = client.get(QUEUE).get_data(as_text=True)
    with app.app_context():
        req_id = db.session.scalar(select(RegradeRequest.id))
    assert f'id="decide-{req_id}"' in page and "relu(0) is 0" in page
    assert f"/courses/c1/review/submissions/{sub_id}/ta.html" in page       # the run's report, for the TA
    r = client.post(f"{QUEUE}/{req_id}", data={"decision": "accepted", "points": "3", "comment": ""})
    assert r.status_code == 400 and "the student reads this comment" in r.get_data(as_text=True)
    r = client.post(f"{QUEUE}/{req_id}", data={"decision": "accepted", "points": "40", "comment": "ok"})
    assert r.status_code == 400 and "between 0 and 29" in r.get_data(as_text=True)
    r = client.post(f"{QUEUE}/{req_id}", data={"decision": "accepted", "points": "3",
                                               "comment": "Right: relu(0) = 0 is accepted."})
    assert r.status_code == 303
    page = client.get(f"{QUEUE}?state=accepted").get_data(as_text=True)
    assert f'id="request-{req_id}" data-state="accepted"' in page and f'id="decide-{req_id}"' not in page
    assert client.get(f"{QUEUE}?state=open").get_data(as_text=True).count('data-state="') == 0
    r = client.post(f"{QUEUE}/{req_id}", data={"decision": "declined", "comment": "again"})
    assert r.status_code == 303 and "already accepted" in client.get(r.headers["Location"]).get_data(as_text=True)
    history = client.get(f"/courses/c1/review/submissions/{sub_id}").get_data(as_text=True)
    assert f"regrade request #{req_id}</a> on {PUBLIC_TEST}" in history
    assert f"regrade request #{req_id} accepted <q>Right: relu(0) = 0 is accepted.</q>" in history

    world.login(client, "alice")
    page = client.get(f"/submissions/{sub_id}").get_data(as_text=True)
    assert 'data-state="accepted"' in page and "Right: relu(0) = 0 is accepted." in page
    assert '<span data-field="score" id="score">3 / 29</span>' in page


def test_the_queue_is_404_to_other_courses_and_lists_only_its_own(client, world, app):
    sub_id = timed_out(client, world, app, "alice")
    req_id = ask(client, world, "alice", sub_id, reason="please").get_json()["id"]
    staff_of_c2(world, app)
    world.login(client, "dora")
    assert client.get(QUEUE).status_code == 404
    assert client.post(f"{QUEUE}/{req_id}", data={"decision": "declined", "comment": "x"}).status_code == 404
    assert client.post(f"/courses/c2/review/regrades/{req_id}",            # her own course's URL: not its request
                       data={"decision": "declined", "comment": "x"}).status_code == 404
    assert "please" not in client.get("/courses/c2/review/regrades").get_data(as_text=True)
    world.login(client, "teacher")
    assert client.get(QUEUE).status_code == 200
    assert client.post(f"{QUEUE}/999999", data={"decision": "declined", "comment": "x"}).status_code == 404


def test_two_asks_at_once_open_one_request(client, world, app):
    """Both threads find nothing open, then race to insert: the submission's row lock lets one through."""
    import threading

    from server.services.errors import Conflict

    sub_id = timed_out(client, world, app, "alice")
    barrier, outcomes = threading.Barrier(2), []

    def asker(reason: str) -> None:
        with app.app_context():
            alice = accounts.require_user(world.emails["alice"])
            barrier.wait()
            try:
                regrades.ask(alice, sub_id, reason=reason)
                outcomes.append("opened")
            except Conflict:
                outcomes.append("refused")

    threads = [threading.Thread(target=asker, args=(f"reason {i}",)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(outcomes) == ["opened", "refused"]
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(RegradeRequest)) == 1
