"""In headless Chromium against a real ``handin serve``: a teacher enters an ID2223 exam grade and the
student's final grade appears on the student's course-grade page.

The server is webtools.demo_server, whose first start seeds the five defined courses; the student's
labs are handed in and graded in its database the way a worker stores grades (webtools.store_grade),
so nothing is run. Screenshots go to <artifacts>/screenshots and /tmp/shots.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

import webtools
from webtools import SOLUTION, demo_server_and_app, sign_in, store_grade

pytestmark = pytest.mark.slow
COURSE = "id2223"
LABS = ("m01-distributed-regression", "m02-feedforward", "m06-rnn")
STUDENT, TEACHER = f"student1@{COURSE}.handin", f"teacher@{COURSE}.handin"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """The URL, every account by email (email → (email, password)) and an app on the same database."""
    with demo_server_and_app(tmp_path_factory, "course-grades-serve") as running:
        yield running


def shot(page, name: str) -> None:
    webtools.shot(page, f"course-grades-{name}")


def pass_the_labs(app, email: str) -> None:
    from server.extensions import db
    from server.services import accounts, submissions

    for module in LABS:
        with app.app_context():
            sub = submissions.submit(accounts.require_user(email), COURSE, module, filename="labs.ipynb",
                                     data=SOLUTION.read_bytes())
            sub_id = sub.id
            db.session.remove()
        store_grade(app, sub_id, 26)


def test_a_teacher_enters_the_exam_grade_and_the_student_sees_the_final_grade(page, server):
    url, accounts, app = server
    pass_the_labs(app, STUDENT)

    sign_in(page, url, accounts[STUDENT])
    page.goto(f"{url}/courses/{COURSE}/")
    page.click("#course-grade-link")
    expect(page.locator("#component-LAB1 [data-field=result]")).to_have_text("P")
    expect(page.locator("#component-TEN1 [data-field=status]")).to_contain_text("TEN1 not yet graded")
    expect(page.locator("#final-grade")).to_have_text("not complete yet")
    shot(page, "student-before")
    page.click("header button.link")

    sign_in(page, url, accounts[TEACHER])
    page.goto(f"{url}/courses/{COURSE}/")
    page.click("#course-grade-link")
    row = page.locator("#class tr", has_text=STUDENT)
    expect(row.locator("[data-component=LAB1]")).to_have_text("P")
    expect(row.locator("[data-field=final]")).to_have_text("waiting for TEN1")
    shot(page, "class-before")
    row.get_by_role("link").click()
    page.select_option("#result-TEN1", "B")
    page.click("#save-TEN1")
    expect(page.locator(".flash.success")).to_contain_text("TEN1")
    expect(page.locator("#final-grade")).to_have_text("B")
    shot(page, "entry")
    page.goto(f"{url}/courses/{COURSE}/course-grades/")
    expect(page.locator("#class tr", has_text=STUDENT).locator("[data-field=final]")).to_have_text("B")
    shot(page, "class-after")
    page.click("header button.link")

    sign_in(page, url, accounts[STUDENT])
    page.goto(f"{url}/courses/{COURSE}/course-grade")
    expect(page.locator("#final-grade")).to_have_text("B")
    expect(page.locator("#provisional")).to_be_visible()
    expect(page.locator("#component-TEN1 [data-field=result]")).to_have_text("B")
    shot(page, "student-after")
