"""In headless Chromium against a real ``handin serve``: a pair hands in and both see the grade; an
extension clears "late" at once on the student's page and the teacher's list.

The server is webtools.demo_server (demo course, no grading workers);
a grade is stored in its database the way a worker stores one (webtools.store_grade), so nothing
is run. Screenshots go to <artifacts>/screenshots and /tmp/shots.
"""

from __future__ import annotations

import datetime as dt
import re

import pytest
from playwright.sync_api import expect

import webtools
from webtools import M02, demo_server_and_app, hand_in_page, sign_in, store_grade

pytestmark = pytest.mark.slow
COURSE = "demo"
ALONE = "m03-cnn"     # the extension test's module: the pair test's grade stays on time


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """The URL, the demo accounts (role or student name → (email, password)) and an app on the same database."""
    with demo_server_and_app(tmp_path_factory, "course-serve") as running:
        yield running


def sign_out(page) -> None:
    page.click("header button.link")


def shot(page, name: str) -> None:
    webtools.shot(page, f"course-{name}")


def hand_in(page, url: str, module: str) -> int:
    return hand_in_page(page, url, COURSE, module=module)


def test_a_pair_made_by_the_teacher_hands_in_once_and_both_see_the_grade(page, server):
    url, accounts, app = server
    sign_in(page, url, accounts["teacher"])
    page.goto(f"{url}/courses/{COURSE}/teach/assignments/{M02}/")
    page.click("#groups-link")
    page.fill("textarea[name=members]", f"{accounts['student1'][0]}\n{accounts['student2'][0]}")
    page.fill("input[name=name]", "pair-1")
    page.click("#create-group")
    expect(page.locator(".flash.success")).to_contain_text("pair-1")
    row = page.locator("#groups tr", has_text="pair-1")
    expect(row).to_contain_text("Student One")
    expect(row).to_contain_text("Student Two")
    expect(page.locator("#alone")).to_contain_text("student3@demo.handin")
    shot(page, "teacher-groups")
    page.goto(f"{url}/courses/{COURSE}/teach/")
    expect(page.locator("input[name=late_days]")).to_have_value("0")
    shot(page, "teacher-dashboard")
    page.goto(f"{url}/courses/{COURSE}/teach/assignments/{M02}/")
    expect(page.locator("input[name=due]")).to_have_value(re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d$"))
    shot(page, "teacher-settings")
    sign_out(page)

    sign_in(page, url, accounts["student1"])
    page.goto(f"{url}/courses/{COURSE}/assignments/{M02}/")
    expect(page.locator("#group h2")).to_have_text("Your group: pair-1")
    expect(page.locator("#group")).to_contain_text("A hand-in by any member is the whole group's")
    shot(page, "student1-group")
    sub_id = hand_in(page, url, M02)
    sign_out(page)

    store_grade(app, sub_id, 26)

    sign_in(page, url, accounts["student2"])
    page.goto(f"{url}/courses/{COURSE}/")
    expect(page.locator("tr", has_text="Feedforward").first).to_contain_text("pair-1")
    page.goto(f"{url}/courses/{COURSE}/assignments/{M02}/")
    attempt = page.locator(f"#attempt-{sub_id}")
    expect(attempt).to_contain_text("by Student One")
    expect(attempt.locator("[data-field=score]")).to_have_text("26 / 29")
    expect(attempt.locator("[data-field=grade]")).to_have_text("B")
    expect(attempt.locator("[data-field=counts]")).to_be_visible()
    expect(page.locator("#leave-group")).to_have_count(0)      # the group has handed in
    shot(page, "student2-sees-the-pairs-grade")
    attempt.get_by_role("link", name="#1").click()
    expect(page.locator("#score")).to_have_text("26 / 29")
    expect(page.locator("#grade")).to_have_text("B")
    shot(page, "student2-submission")


def test_an_extension_clears_late_at_once_for_the_student_and_the_teacher(page, server):
    url, accounts, app = server
    from server.extensions import db
    from server.models import Assignment, Course
    from server.services import lateness

    with app.app_context():
        a = db.session.query(Assignment).join(Course).filter(Course.code == COURSE, Assignment.module == ALONE).one()
        a.due = dt.datetime.now(dt.timezone.utc) - dt.timedelta(hours=30)
        a.late_penalty_per_day, a.max_late_days = 10.0, 5.0
        lateness.refresh(a.course)
        db.session.commit()

    sign_in(page, url, accounts["student3"])
    sub_id = hand_in(page, url, ALONE)
    page.goto(f"{url}/courses/{COURSE}/assignments/{ALONE}/")
    expect(page.locator(f"#attempt-{sub_id} [data-field=late]")).to_be_visible()
    shot(page, "student3-late")
    sign_out(page)

    sign_in(page, url, accounts["teacher"])
    page.goto(f"{url}/courses/{COURSE}/teach/assignments/{ALONE}/")
    expect(page.locator("#submissions tr", has_text="student3").locator(".badge.fail")).to_have_text("late")
    page.click("#extensions-link")
    page.select_option("select[name=team]", label="Student Three <student3@demo.handin>")
    new_due = (dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=2)).strftime("%Y-%m-%d %H:%M")
    page.fill("input[name=due]", new_due)
    shot(page, "teacher-extension-form")
    page.click("#set-extension")
    expect(page.locator(".flash.success")).to_contain_text("student3@demo.handin")
    expect(page.locator("#extensions tr", has_text="student3@demo.handin")).to_contain_text(f"{new_due} UTC")
    shot(page, "teacher-extensions")
    page.goto(f"{url}/courses/{COURSE}/teach/assignments/{ALONE}/")
    expect(page.locator("#submissions tr", has_text="student3")).not_to_contain_text("late")
    shot(page, "teacher-list-not-late")
    sign_out(page)

    sign_in(page, url, accounts["student3"])
    page.goto(f"{url}/courses/{COURSE}/assignments/{ALONE}/")
    expect(page.locator(f"#attempt-{sub_id}")).to_be_visible()
    expect(page.locator(f"#attempt-{sub_id} [data-field=late]")).to_have_count(0)
    expect(page.locator("#extension")).to_be_visible()
    expect(page.locator("#due")).to_have_text(f"{new_due} UTC")
    shot(page, "student3-extended")
