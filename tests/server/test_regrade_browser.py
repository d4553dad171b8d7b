"""In headless Chromium against a real ``handin serve``: a regrade request from the ask to the answer.

A student hands in through the page; the run is stored as a worker stores it (the solution stopped
at its wall-clock limit: 0 of 29, no sandbox needed); the student asks for a regrade on one test,
a TA accepts it with new points and a comment, and the student reads the answer and the new grade.
CSRF is on, as in any real instance. Screenshots go to <artifacts>/screenshots and /tmp/shots.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

from builders import REPO
from server import create_app
from server.config import Settings
from server.extensions import db
from webtools import demo_server, hand_in_page, shot, sign_in, store_timeout

pytestmark = pytest.mark.slow
COURSE = "demo"
TEST = "test_public.py::test_relu_small_example"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    instance = tmp_path_factory.mktemp("instance")
    with demo_server(instance, "regrade-serve") as (url, accounts):
        yield url, accounts, instance


def grade_as_a_worker_would(instance: Path, sub_id: int) -> None:
    app = create_app(Settings(instance=instance, database_url=f"sqlite:///{instance / 'handin.sqlite'}",
                              broker_url="memory://", course_root=REPO, dispatch="none", sandbox="local"))
    store_timeout(app, sub_id)
    with app.app_context():
        db.engine.dispose()


def test_a_student_asks_a_ta_accepts_and_the_student_sees_the_new_grade(page, server):
    url, accounts, instance = server
    sign_in(page, url, accounts["student1"])
    sub_id = hand_in_page(page, url, COURSE)
    expect(page.locator("#regrade-form")).to_have_count(0)             # nothing to ask about while queued
    grade_as_a_worker_would(instance, sub_id)
    page.reload()
    expect(page.locator("#score")).to_have_text("0 / 29")
    page.select_option("#regrade-test", TEST)
    page.fill("#regrade-reason", "My relu returns 0 at 0, as the test asks; the run timed out on the platform.")
    page.click("#ask-regrade")
    expect(page.locator(".flash.success")).to_contain_text("is with the course staff")
    request = page.locator(".regrade-request")
    expect(request.locator("[data-field=state]")).to_have_text("open")
    expect(request).to_contain_text(TEST)
    shot(page, "regrade-asked")
    page.click("header button.link")                                   # sign out

    sign_in(page, url, accounts["ta"])
    page.goto(f"{url}/courses/{COURSE}/")
    expect(page.locator("#regrades-link")).to_contain_text("1 open")
    page.click("#regrades-link")
    row = page.locator("#regrades tbody[data-state=open]")
    expect(row).to_have_count(1)
    expect(row).to_contain_text("as the test asks")
    expect(row.locator("a.report-link")).to_have_attribute("href", re.compile(rf"/submissions/{sub_id}/ta\.html$"))
    row.locator("input[value=accepted]").check()
    row.locator("input[name=points]").fill("25")
    row.locator("button[type=submit]").click()                           # no comment yet: the browser refuses
    expect(page.locator("#regrades tbody[data-state=open]")).to_have_count(1)
    row.locator("textarea[name=comment]").fill("Right: the timeout was the platform's; 25 points.")
    shot(page, "regrade-deciding")
    row.locator("button[type=submit]").click()
    expect(page.locator(".flash.success")).to_contain_text("accepted")
    done = page.locator("#regrades tbody[data-state=accepted]")
    expect(done).to_contain_text("25 points")
    expect(page.locator("#regrades form.decision")).to_have_count(0)
    shot(page, "regrade-decided")
    page.click("header button.link")

    sign_in(page, url, accounts["student1"])
    page.goto(f"{url}/submissions/{sub_id}")
    expect(page.locator("#score")).to_have_text("25 / 29")
    answer = page.locator(".regrade-request")
    expect(answer.locator("[data-field=state]")).to_have_text("accepted")
    expect(answer.locator("[data-field=comment]")).to_have_text("Right: the timeout was the platform's; 25 points.")
    expect(page.locator("#override")).to_contain_text("25 / 29")
    expect(page.frame_locator("#report").locator("body")).to_contain_text("25")
    shot(page, "regrade-answered")
