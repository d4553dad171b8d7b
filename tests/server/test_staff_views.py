"""Staff's view of students: submission lists with filters, a student's page, notebooks, similar pairs.

Runs are recorded as the core builds them without a sandbox (a run stopped at its wall-clock
limit), so a submission is graded in milliseconds; every database row is the real one.
"""

from __future__ import annotations

import datetime as dt
import json
import re

import pytest
from server import REPORT_CSP
from server.extensions import db
from server.models import Extension, Group, GroupMember, RegradeRequest, Submission
from server.services import accounts, catalog, grades, jobs, roster, similarity, staff
from server.services.errors import NotFound
from webtools import M02, PASSWORD, SOLUTION, STARTER, upload

PAGES = "/courses/c1/review"
API = "/api/v1/courses/c1/submissions"


def graded(app, sub_id: int) -> int:
    """Record ``sub_id``'s run as stopped at the wall-clock limit, as a worker stores it (0 points)."""
    from handin.notebook import parse_notebook
    from handin.results import build_results
    from handin.sandboxing import RunOutcome

    with app.app_context():
        sub = db.session.get(Submission, sub_id)
        spec = catalog.spec_for(sub.assignment)
        token = jobs.claim(sub_id)
        notebook = parse_notebook(app.extensions["handin"].uploads.path(sub.sha256).read_bytes(),
                                  max_bytes=spec.intake.max_notebook_size, max_cells=spec.intake.max_cells)
        outcome = RunOutcome(raw=None, wall_seconds=spec.resources.wall_time, timed_out=True, student_log="",
                             judge_log="", environment={})
        results = build_results(spec, submission={"id": token, "filename": sub.filename, "sha256": sub.sha256,
                                                  "size": sub.size}, outcome=outcome, notebook=notebook)
        assert jobs.store_result(sub_id, token, results, report_dir=f"reports/{sub_id}/{token}") == "graded"
    return sub_id


def notebook_bytes(code_cells: list[str], markdown: str = "# My hand-in", outputs: list | None = None) -> bytes:
    cells = [{"cell_type": "markdown", "metadata": {}, "source": markdown}]
    cells += [{"cell_type": "code", "metadata": {}, "execution_count": i, "source": src,
               "outputs": outputs if i == 1 and outputs else []} for i, src in enumerate(code_cells, start=1)]
    return json.dumps({"nbformat": 4, "nbformat_minor": 4, "metadata": {}, "cells": cells}).encode()


def hand_in(client, world, who: str, data: bytes | None = None, **kw) -> int:
    r = upload(client, world, who, data=data, filename="hand-in.ipynb" if data else None, **kw)
    assert r.status_code == 202, r.get_json()
    return r.get_json()["id"]


def listed(html: str) -> set[int]:
    return {int(part.split('"')[0]) for part in html.split('<tr id="sub-')[1:]}


@pytest.fixture
def three(client, world, app) -> dict[str, int]:
    """Alice hands in twice (both graded: the second counts), Bob once (queued)."""
    ids = {"alice1": graded(app, hand_in(client, world, "alice")), "alice2": graded(app, hand_in(client, world, "alice")),
           "bob": hand_in(client, world, "bob", STARTER.read_bytes())}
    return ids


def test_the_list_filters_by_module_student_status_and_the_attempt_that_counts(client, world, app, three):
    elsewhere = hand_in(client, world, "carol", course="c2")
    world.login(client, "ta")
    html = client.get(f"{PAGES}/submissions").get_data(as_text=True)
    assert listed(html) == set(three.values())                            # newest first, c2's not among them
    assert html.index(f'id="sub-{three["bob"]}"') < html.index(f'id="sub-{three["alice1"]}"')
    assert elsewhere not in listed(html)
    assert listed(client.get(f"{PAGES}/submissions?q=ALI").get_data(as_text=True)) == {three["alice1"], three["alice2"]}
    assert listed(client.get(f"{PAGES}/submissions?status=queued").get_data(as_text=True)) == {three["bob"]}
    counted = client.get(f"{PAGES}/submissions?counted=1").get_data(as_text=True)
    assert listed(counted) == {three["alice2"]}                           # bob has nothing graded yet
    assert listed(client.get(f"{PAGES}/submissions?module=m09-data-parallel").get_data(as_text=True)) == set()
    assert listed(client.get(f"{PAGES}/submissions?module={M02}&student=bob@example.org")
                  .get_data(as_text=True)) == {three["bob"]}
    assert client.get(f"{PAGES}/submissions?status=lost").status_code == 400
    assert client.get(f"{PAGES}/submissions?q=nobody").get_data(as_text=True).count('<tr id="sub-') == 0


def test_the_api_lists_with_the_same_filters_and_pages(client, world, app, three):
    h = world.headers("teacher")
    rows = client.get(API, headers=h).get_json()
    assert [r["id"] for r in rows] == [three["bob"], three["alice2"], three["alice1"]]
    assert rows[0]["student"] == {"email": "bob@example.org", "name": "Bob"} and rows[0]["status"] == "queued"
    assert [r["counts"] for r in rows] == [False, True, False]
    mine = client.get(f"{API}?student=alice@example.org&counted=true", headers=h).get_json()
    assert [r["id"] for r in mine] == [three["alice2"]] and mine[0]["score"] == 0 and mine[0]["module"] == M02
    assert client.get(f"{API}?module={M02}&status=graded", headers=h).get_json()[0]["id"] == three["alice2"]
    r = client.get(f"{API}?per_page=2", headers=h)
    assert len(r.get_json()) == 2 and r.headers["X-Total-Count"] == "3"
    nxt = r.headers["Link"].split(">")[0].lstrip("<")
    assert [x["id"] for x in client.get(nxt, headers=h).get_json()] == [three["alice1"]]
    assert client.get(f"{API}?per_page=0", headers=h).status_code == 400
    assert client.get(f"{API}?module=m99", headers=h).get_json() == []


def test_students_and_staff_of_other_courses_cannot_list_or_read(client, world, app, three):
    with app.app_context():
        accounts.add_user("dora@example.org", course=accounts.get_course("c2"), role="ta", password=PASSWORD)
        dora = accounts.add_user("dora2@example.org", course=accounts.get_course("c2"), role="teacher",
                                 password=PASSWORD)[0]
        dora_token = accounts.create_token(dora)
        db.session.commit()
    world.emails["dora"] = "dora@example.org"
    bob = three["bob"]
    for who in ("alice", "dora"):
        world.login(client, who)
        for url in (f"{PAGES}/submissions", f"{PAGES}/students/{world.user_id('bob')}",
                    f"{PAGES}/submissions/{bob}/notebook", f"{PAGES}/submissions/{bob}/notebook.html",
                    f"{PAGES}/submissions/{bob}/notebook.ipynb", f"{PAGES}/similarity/{M02}"):
            assert client.get(url).status_code == 404, (who, url)
    for headers in (world.headers("alice"), {"Authorization": f"Bearer {dora_token}"}, world.headers("carol")):
        assert client.get(API, headers=headers).status_code == 404
        assert client.get(f"/api/v1/submissions/{bob}/notebook", headers=headers).status_code == 404
    carols = hand_in(client, world, "carol", course="c2")           # c1's TA, through c1's URLs, to c2's hand-in
    world.login(client, "ta")
    for url in (f"{PAGES}/submissions/{carols}/notebook", f"{PAGES}/submissions/{carols}/notebook.html",
                f"{PAGES}/submissions/{carols}/notebook.ipynb", f"{PAGES}/students/{world.user_id('carol')}"):
        assert client.get(url).status_code == 404, url
    assert client.get(f"/api/v1/submissions/{carols}/notebook", headers=world.headers("ta")).status_code == 404
    assert client.get(API).status_code == 401
    assert client.get(f"/api/v1/submissions/{bob}/notebook").status_code == 401
    with app.app_context():                                   # the services check again, whatever a view forgot
        alice = accounts.require_user(world.emails["alice"])
        with pytest.raises(NotFound):
            staff.submissions(accounts.get_course("c1"), actor=alice)
        with pytest.raises(NotFound):
            staff.student(accounts.get_course("c1"), alice.id, actor=alice)


def test_a_notebook_is_fetched_by_its_owner_its_group_and_staff(client, world, app, three):
    mine = client.get(f"/api/v1/submissions/{three['bob']}/notebook", headers=world.headers("bob"))
    assert mine.status_code == 200 and mine.data == STARTER.read_bytes()
    assert mine.mimetype == "application/x-ipynb+json"
    assert mine.headers["Content-Disposition"] == "attachment; filename=hand-in.ipynb"
    assert client.get(f"/api/v1/submissions/{three['bob']}/notebook", headers=world.headers("ta")).status_code == 200
    assert client.get(f"/api/v1/submissions/{three['bob']}/notebook", headers=world.headers("alice")).status_code == 404
    with app.app_context():                                   # Alice and Bob pair up: Bob's hand-in is theirs
        sub = db.session.get(Submission, three["bob"])
        group = Group(assignment=sub.assignment, name="pair-1")
        group.members = [GroupMember(assignment_id=sub.assignment_id, user_id=world.user_id(w)) for w in ("alice", "bob")]
        sub.group = group
        db.session.commit()
    assert client.get(f"/api/v1/submissions/{three['bob']}/notebook", headers=world.headers("alice")).status_code == 200
    assert client.get("/api/v1/submissions/999999/notebook", headers=world.headers("ta")).status_code == 404


def test_the_notebook_page_frames_a_sanitised_render_under_the_reports_csp(client, world, app):
    evil = notebook_bytes(
        ["def relu(x):\n    return max(x, 0)\n", "print('trained')"],
        markdown="## Notes\n\n<script>alert('md')</script> <img src='https://tracker.example/p.png'>",
        outputs=[{"output_type": "display_data", "metadata": {},
                  "data": {"text/html": "<b>loss 0.1</b><script>alert('out')</script><iframe src='https://x.example'>",
                           "text/plain": "loss"}}])
    sub_id = hand_in(client, world, "alice", evil)
    world.login(client, "ta")
    page = client.get(f"{PAGES}/submissions/{sub_id}/notebook").get_data(as_text=True)
    frame = f'<iframe class="report" id="notebook" sandbox="allow-same-origin" src="{PAGES}/submissions/{sub_id}/notebook.html"'
    assert frame in page and f'href="{PAGES}/submissions/{sub_id}/notebook.ipynb" download' in page
    r = client.get(f"{PAGES}/submissions/{sub_id}/notebook.html")
    assert r.status_code == 200 and r.mimetype == "text/html"
    assert r.headers["Content-Security-Policy"] == REPORT_CSP and "no-store" in r.headers["Cache-Control"]
    html = r.get_data(as_text=True)
    assert "relu" in html and "<b>loss 0.1</b>" in html and "<h2" in html      # code, outputs and markdown shown
    for bad in ("<script", "<iframe", "tracker.example", "https://x.example"):
        assert bad not in html, bad
    download = client.get(f"{PAGES}/submissions/{sub_id}/notebook.ipynb")
    assert download.data == evil and download.mimetype == "application/x-ipynb+json"
    assert download.headers["Content-Disposition"] == "attachment; filename=hand-in.ipynb"


def test_every_attempt_is_reachable_from_the_student_page(client, world, app, three):
    world.login(client, "ta")
    page = client.get(f"{PAGES}/students/{world.user_id('alice')}").get_data(as_text=True)
    for sub_id in (three["alice1"], three["alice2"]):
        assert f'id="attempt-{sub_id}"' in page and f"{PAGES}/submissions/{sub_id}/notebook" in page
    assert f'<tr id="attempt-{three["alice2"]}" class="counts">' in page
    assert f'<tr id="attempt-{three["alice1"]}">' in page
    notebook = client.get(f"{PAGES}/submissions/{three['alice1']}/notebook").get_data(as_text=True)
    assert f"{PAGES}/submissions/{three['alice2']}/notebook" in notebook    # the other attempt, one click away
    review = client.get(f"{PAGES}/submissions/{three['alice1']}").get_data(as_text=True)
    assert f"{PAGES}/students/{world.user_id('alice')}" in review and f"{PAGES}/submissions/{three['alice1']}/notebook" in review


def test_the_student_page_shows_extension_group_override_and_regrade_requests(client, world, app, three):
    due = dt.datetime(2027, 3, 1, 12, 0, tzinfo=dt.timezone.utc)
    with app.app_context():
        sub = db.session.get(Submission, three["alice2"])
        ta = accounts.require_user(world.emails["ta"])
        grades.override(sub, actor=ta, comment="graded by hand from the notebook", points=20)
        db.session.add(Extension(assignment=sub.assignment, user_id=sub.user_id, due=due, set_by_id=ta.id))
        m09 = catalog.add_module(accounts.get_course("c1"), "m09-data-parallel")
        group = Group(assignment=m09, name="pair-7")
        group.members = [GroupMember(assignment_id=m09.id, user_id=world.user_id(w)) for w in ("alice", "bob")]
        db.session.add(group)
        db.session.add(RegradeRequest(submission=sub, requester_id=sub.user_id, test="test_relu_small_example",
                                      reason="my relu handles the 0 case"))
        db.session.commit()
        record = staff.student(accounts.get_course("c1"), world.user_id("alice"), actor=ta)
    (m02, m09) = record.modules
    assert (m02.module, m09.module, m09.attempts) == (M02, "m09-data-parallel", [])
    assert m02.extension_due == due and m09.extension_due is None and m02.group is None
    assert m09.group == "pair-7" and m09.partners == ("Bob",)
    assert [a.submission_id for a in m02.attempts] == [three["alice2"], three["alice1"]]
    assert m02.counted.submission_id == three["alice2"] and m02.counted.score == 20 and m02.counted.overridden
    assert [(r.state, r.test) for r in m02.requests] == [("open", "test_relu_small_example")]
    world.login(client, "ta")
    page = client.get(f"{PAGES}/students/{world.user_id('alice')}").get_data(as_text=True)
    text = re.sub(r"<[^>]+>", "", page)   # times are <time> elements
    assert "extension to 2027-03-01 12:00 UTC" in text and "pair-7" in page and "with Bob" in page
    assert "graded by hand from the notebook" in page and "by Ta" in page
    assert "my relu handles the 0 case" in page and "open" in page


def test_a_removed_student_keeps_their_page_and_place_in_the_lists(client, world, app, three):
    with app.app_context():
        roster.remove(accounts.get_course("c1"), world.user_id("bob"), actor=accounts.require_user(world.emails["teacher"]))
    world.login(client, "ta")
    assert three["bob"] in listed(client.get(f"{PAGES}/submissions?q=bob").get_data(as_text=True))
    page = client.get(f"{PAGES}/students/{world.user_id('bob')}")
    assert page.status_code == 200 and 'id="removed"' in page.get_data(as_text=True)
    assert [r["id"] for r in client.get(f"{API}?student=bob@example.org", headers=world.headers("ta")).get_json()] \
        == [three["bob"]]
    assert client.get(f"{PAGES}/students/{world.user_id('carol')}").status_code == 404   # never in c1


def test_similarity_ranks_a_copied_pair_first_and_ignores_the_starters_code(client, world, app):
    copied = SOLUTION.read_text().replace("relu", "rectifier").replace("hidden", "inner").encode()
    own = notebook_bytes([
        "import numpy as np\n\ndef relu(x):\n    out = x.copy()\n    out[out < 0] = 0.0\n    return out\n",
        "def softmax(z):\n    shifted = z - z.max(axis=1, keepdims=True)\n    e = np.exp(shifted)\n"
        "    return e / e.sum(axis=1, keepdims=True)\n",
        "for epoch in range(12):\n    print('epoch', epoch, 'accuracy', 0.5 + epoch / 30)\n"])
    with app.app_context():
        for who in ("dan", "erin"):
            accounts.add_user(f"{who}@example.org", course=accounts.get_course("c1"), role="student",
                              name=who.title(), password=PASSWORD)
            world.tokens[who] = accounts.create_token(accounts.require_user(f"{who}@example.org"))
        db.session.commit()
    ids = {"alice": graded(app, hand_in(client, world, "alice")),
           "bob": graded(app, hand_in(client, world, "bob", copied)),
           "dan": graded(app, hand_in(client, world, "dan", own)),
           "erin": graded(app, hand_in(client, world, "erin", STARTER.read_bytes())),
           "ta": graded(app, hand_in(client, world, "ta", STARTER.read_bytes()))}
    with app.app_context():
        a = catalog.add_module(accounts.get_course("c1"), M02)
        report = similarity.most_similar(a, actor=accounts.require_user(world.emails["ta"]))
    assert report.compared == 5 and not report.skipped
    first = report.pairs[0]
    assert {first.left.submission_id, first.right.submission_id} == {ids["alice"], ids["bob"]}
    assert first.score > 0.9 and "<mark>" in first.left.code
    for p in report.pairs[1:]:
        assert p.score < first.score / 2
    # Two untouched starters are alike only in the starter's code, which is left out.
    assert not any({p.left.submission_id, p.right.submission_id} == {ids["erin"], ids["ta"]}
                   for p in report.pairs)
    world.login(client, "ta")
    html = client.get(f"{PAGES}/similarity/{M02}").get_data(as_text=True)
    assert 'id="pair-1" open' in html and "<mark>" in html and "Alice" in html and "Bob" in html
    with app.app_context():
        with pytest.raises(NotFound):
            similarity.most_similar(a, actor=accounts.require_user(world.emails["alice"]))
