"""TA pages: the review queue, the full report in a sandboxed frame, overrides with a required comment.

Runs are built by the core without a sandbox (a run stopped at its wall-clock limit, with its
logs) and stored with their report files as a worker stores them; a platform failure is a real
one (the stored notebook vanished before grading).
"""

from __future__ import annotations

import pytest
from flask import url_for
from sqlalchemy import select

from server.extensions import db
from server.models import AuditEntry, Submission
from server.services import accounts, grades, jobs, regrades
from webtools import M02, PASSWORD, STARTER, STUDENT_LOG, timed_out, upload

REVIEW = "/courses/c1/review"
TA_CSP = ("default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; "
          "form-action 'none'; frame-ancestors 'self'")


def broken(client, world, app, who: str, course: str = "c1") -> int:
    """A submission the platform failed to grade: its stored notebook is gone when the job runs."""
    sub_id = upload(client, world, who, STARTER, course=course).get_json()["id"]
    with app.app_context():
        sub = db.session.get(Submission, sub_id)
        app.extensions["handin"].uploads.path(sub.sha256).unlink()
        assert jobs.run_job(sub_id) == "error"
    return sub_id


def staff_of_c2(world, app) -> None:
    """Dora teaches c2: staff, but of another course."""
    with app.app_context():
        accounts.add_user("dora@example.org", course=accounts.get_course("c2"), role="teacher", password=PASSWORD)
        db.session.commit()
    world.emails["dora"] = "dora@example.org"


def test_review_queue_lists_timeouts_and_platform_failures_of_this_course(client, world, app):
    slow = timed_out(client, world, app, "alice")
    error = broken(client, world, app, "bob")
    elsewhere = broken(client, world, app, "carol", course="c2")
    world.login(client, "ta")
    html = client.get(f"{REVIEW}/").get_data(as_text=True)
    rows = {line.split('">#')[1].split("<")[0]: line for line in html.split("<tr>")[2:]}
    assert set(rows) == {str(slow), str(error)} and str(elsewhere) not in rows
    assert "timed out" in rows[str(slow)] and "0 / 29" in rows[str(slow)] and "Alice" in rows[str(slow)]
    assert "the platform failed to grade it" in rows[str(error)] and "status-error" in rows[str(error)]


def test_review_queue_lists_only_the_attempt_that_stands(client, world, app):
    first, second = timed_out(client, world, app, "alice"), timed_out(client, world, app, "alice")
    error = broken(client, world, app, "bob")
    world.login(client, "ta")
    html = client.get(f"{REVIEW}/").get_data(as_text=True)
    assert f'">#{second}<' in html and f'">#{error}<' in html
    assert f'">#{first}<' not in html          # superseded: the second attempt counts


def test_review_page_shows_the_ta_report_framed_and_the_platform_error(client, world, app):
    slow = timed_out(client, world, app)
    error = broken(client, world, app, "bob")
    world.login(client, "ta")
    html = client.get(f"{REVIEW}/submissions/{slow}").get_data(as_text=True)
    report_url = f"{REVIEW}/submissions/{slow}/ta.html"
    assert f'<iframe class="report" id="report" sandbox="allow-same-origin" src="{report_url}"' in html
    assert "0 / 29" in html and "timeout" in html and 'id="override-form"' in html
    assert "graded: 0 / 29 (timeout), run 1" in html                      # the history
    assert 'id="regrade"' not in html                                       # regrading is the teacher's
    r = client.get(report_url)
    assert r.status_code == 200 and r.mimetype == "text/html"
    assert r.headers["Content-Security-Policy"] == TA_CSP
    report = r.get_data(as_text=True)
    assert STUDENT_LOG in report and "waiting for the student process" in report   # both logs
    html = client.get(f"{REVIEW}/submissions/{error}").get_data(as_text=True)
    assert 'id="platform-error"' in html and "FileNotFoundError" in html and 'id="override-form"' not in html
    assert client.get(f"{REVIEW}/submissions/{error}/ta.html").status_code == 404   # no run, no report
    world.login(client, "teacher")
    assert 'id="regrade"' in client.get(f"{REVIEW}/submissions/{error}").get_data(as_text=True)


@pytest.mark.parametrize("form,message", [
    ({"points": "20", "comment": ""}, "say why"),
    ({"points": "20", "comment": "   "}, "say why"),
    ({"comment": "no change given"}, "give points, a grade, or both"),
    ({"points": "40", "comment": "too many"}, "points must be between 0 and 29"),
    ({"label": "Z", "comment": "not on the scale"}, "Not a valid choice"),
])
def test_an_override_needs_a_comment_and_a_valid_grade(client, world, app, form, message):
    sub_id = timed_out(client, world, app)
    world.login(client, "ta")
    r = client.post(f"{REVIEW}/submissions/{sub_id}/override", data=form)
    assert r.status_code == 400 and message in r.get_data(as_text=True)
    with app.app_context():
        assert not db.session.get(Submission, sub_id).grade.overridden
        assert not db.session.scalars(select(AuditEntry).where(AuditEntry.action == "grade.override")).all()


def test_an_override_is_audited_and_the_student_reads_its_comment(client, world, app):
    sub_id = timed_out(client, world, app)
    comment = "The run hit the limit while the machine was overloaded; graded by hand from the notebook."
    world.login(client, "ta")
    r = client.post(f"{REVIEW}/submissions/{sub_id}/override", data={"points": "26", "comment": comment})
    assert r.status_code == 303 and r.headers["Location"] == f"{REVIEW}/submissions/{sub_id}"
    with app.app_context():
        g = db.session.get(Submission, sub_id).grade
        assert (g.points, g.final_points, g.final_label, g.final_passed) == (0, 26, "B", True)
        (entry,) = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "grade.override")).all()
        assert entry.actor.email == world.emails["ta"] and entry.target == f"submission:{sub_id}"
        assert entry.detail["before"]["points"] == 0 and entry.detail["after"]["label"] == "B"
    page = client.get(f"{REVIEW}/submissions/{sub_id}").get_data(as_text=True)
    assert "override: 0 → 26 points" in page and comment in page and 'value="26"' in page
    assert f'">#{sub_id}<' not in client.get(f"{REVIEW}/").get_data(as_text=True)   # reviewed: out of the queue
    # A grade of the scale over the points, with its own comment.
    assert client.post(f"{REVIEW}/submissions/{sub_id}/override",
                       data={"label": "E", "comment": "late-day agreement"}).status_code == 303
    world.login(client, "alice")
    mine = client.get(f"/submissions/{sub_id}").get_data(as_text=True)
    assert 'id="override"' in mine and "late-day agreement" in mine and "Grade: E" in mine
    grades = client.get("/courses/c1/grades").get_data(as_text=True)
    assert "changed by staff: late-day agreement" in grades


def test_ta_routes_are_404_for_students_and_other_courses(client, world, app):
    sub_id = timed_out(client, world, app)
    staff_of_c2(world, app)
    with app.app_context():
        alice = accounts.require_user(world.emails["alice"])
        request_id = regrades.ask(alice, sub_id, reason="please look again").id
        known = {"course": "c1", "submission_id": sub_id, "request_id": request_id, "user_id": alice.id,
                 "module": M02}
    urls = []
    with app.test_request_context():
        for rule in app.url_map.iter_rules():
            if rule.endpoint.startswith("ta."):
                values = {k: v for k, v in known.items() if k in rule.arguments}
                urls.append(("POST" if "POST" in rule.methods else "GET", url_for(rule.endpoint, **values)))
    assert len(urls) >= 6     # the queue, a review, its report, an override, regrade requests, an answer, ...
    override = {"points": "29", "comment": "should not land"}
    for who in ("alice", "carol", "dora"):
        world.login(client, who)
        for method, url in urls:
            assert client.open(url, method=method, data=override).status_code == 404, (who, url)
    world.login(client, "teacher")
    for method, url in urls:
        if method == "GET":
            assert client.get(url).status_code == 200, url
    with app.app_context():
        assert not db.session.get(Submission, sub_id).grade.overridden


def test_a_submission_is_only_reached_through_its_own_course(client, world, app):
    sub_id = timed_out(client, world, app)
    staff_of_c2(world, app)
    world.login(client, "dora")
    for method, url in (("GET", f"/courses/c2/review/submissions/{sub_id}"),
                        ("GET", f"/courses/c2/review/submissions/{sub_id}/ta.html"),
                        ("POST", f"/courses/c2/review/submissions/{sub_id}/override"),
                        ("POST", f"/courses/c2/teach/submissions/{sub_id}/regrade")):
        assert client.open(url, method=method, data={"points": "29", "comment": "x"}).status_code == 404, url
    assert client.get("/courses/c2/review/").status_code == 200
    with app.app_context():
        sub = db.session.get(Submission, sub_id)
        assert sub.status == "graded" and not sub.grade.overridden


def test_after_an_override_both_reports_show_the_grade_that_stands(client, world, app):
    sub_id = timed_out(client, world, app)
    world.login(client, "ta")
    before = client.get(f"{REVIEW}/submissions/{sub_id}/ta.html").get_data(as_text=True)
    assert "0 / 29" in before and "Grade changed" not in before
    comment = "graded by hand from the notebook"
    assert client.post(f"{REVIEW}/submissions/{sub_id}/override",
                       data={"points": "24", "comment": comment}).status_code == 303
    with app.app_context():
        a = db.session.get(Submission, sub_id).assignment
        grades.set_published(a, True, actor=accounts.require_user(world.emails["teacher"]))
    ta = client.get(f"{REVIEW}/submissions/{sub_id}/ta.html")
    assert ta.headers["Content-Security-Policy"] == TA_CSP
    world.login(client, "alice")
    mine = client.get(f"/submissions/{sub_id}/report").get_data(as_text=True)
    for report in (ta.get_data(as_text=True), mine):
        cards = report.split('id="override"')[0]
        assert "24 / 29" in cards and "82.8%" in cards and ">B<" in cards and "0 / 29" not in cards
        notice = report.split('id="override"')[1]
        assert "computed 0 / 29, grade F" in notice and comment in notice
    assert STUDENT_LOG in ta.get_data(as_text=True)                   # the logs are still there
