"""In headless Chromium against a real ``handin serve``: hand in and watch the grading, teach, review.

One server per module (its first start seeds the ``demo`` course and writes the accounts to
``demo-accounts.txt``); its embedded workers grade for real in the local sandbox.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from builders import REPO
from server.services.catalog import module_names
from services import artifacts_dir
from webtools import M02, SOLUTION, STARTER, demo_server

pytestmark = pytest.mark.slow
COURSE = "demo"
GRADED_WITHIN_MS = 150_000   # a real grading on a busy 2-core machine, queue included


@dataclass(frozen=True)
class Server:
    url: str
    passwords: dict[str, str]    # email → password
    emails: dict[str, str]       # teacher, ta, student1..3 → email


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Server:
    with demo_server(tmp_path_factory.mktemp("instance"), "browser-serve", worker=True) as (url, accounts):
        # the demo course's people by role or student name (the seed lists the defined courses' too)
        yield Server(url, dict(accounts.values()), {key: email for key, (email, _) in accounts.items()
                                                    if "@" not in key})


def shot(page: Page, name: str) -> None:
    page.wait_for_load_state("load")   # images and framed reports included
    page.screenshot(path=str(artifacts_dir("screenshots") / f"browser-{name}.png"), full_page=True)


def sign_in(page: Page, server: Server, who: str) -> None:
    email = server.emails[who]
    page.goto(f"{server.url}/login")
    page.fill("#email", email)
    page.fill("#password", server.passwords[email])
    page.click("#sign-in")
    expect(page.locator("header .who")).to_be_visible()


def hand_in(page: Page, server: Server, notebook: Path) -> int:
    """Upload through the assignment page's form; waits on the submission page until it is graded."""
    polls = []
    page.on("request", lambda r: polls.append(r.url) if r.url.endswith("/status.json") else None)
    page.goto(f"{server.url}/courses/{COURSE}/assignments/{M02}/")
    page.set_input_files("input[name=notebook]", str(notebook))
    page.click("#upload")
    expect(page).to_have_url(re.compile(r"/submissions/\d+$"))
    expect(page.locator(".flash.success")).to_contain_text("queued for grading")
    expect(page.locator("#status")).to_have_text("graded", timeout=GRADED_WITHIN_MS)
    assert polls, "the page never asked status.json"
    return int(page.url.rsplit("/", 1)[1])


def test_a_student_hands_in_watches_it_graded_and_reads_the_report(page, server):
    sign_in(page, server, "student1")
    page.goto(f"{server.url}/courses/{COURSE}/assignments/{M02}/")
    shot(page, "student-assignment")
    hand_in(page, server, SOLUTION)
    expect(page.locator("#score")).to_have_text("29 / 29")
    expect(page.locator("#grade")).to_have_text("A")
    report = page.frame_locator("#report")
    expect(report.get_by_text("29 / 29").first).to_be_visible()
    shot(page, "student-graded")


def test_a_teacher_unreleases_and_releases_a_module_and_exports_the_gradebook(page, server):
    module = "m10-model-parallel"
    sign_in(page, server, "teacher")
    page.goto(f"{server.url}/courses/{COURSE}/teach/")
    row = page.locator(f"#row-{module}")
    expect(row.locator("[data-field=released]")).to_have_text("released")
    page.click(f"#unrelease-{module}")
    expect(page.locator("h1")).to_contain_text("Hide")      # it asks first
    page.click("#confirm")
    expect(page.locator(".flash.success")).to_contain_text("hidden from students")
    expect(row.locator("[data-field=released]")).to_have_text("hidden")
    shot(page, "teacher-unreleased")
    page.click(f"#release-{module}")
    expect(row.locator("[data-field=released]")).to_have_text("released")
    with page.expect_download() as download:
        page.click("#gradebook")
    assert download.value.suggested_filename == f"{COURSE}-gradebook.csv"
    rows = list(csv.DictReader(io.StringIO(Path(download.value.path()).read_text())))
    assert {r["student_email"] for r in rows} == {server.emails[f"student{i}"] for i in (1, 2, 3)}
    assert {r["assignment"] for r in rows} == set(module_names(REPO))   # the demo course releases every module
    page.goto(f"{server.url}/courses/{COURSE}/teach/assignments/{M02}/")
    shot(page, "teacher-assignment")


def test_a_ta_overrides_with_a_comment_and_the_student_reads_it(page, server):
    sign_in(page, server, "student2")
    sub_id = hand_in(page, server, STARTER)
    expect(page.locator("#score")).to_have_text("0 / 29")
    sign_in(page, server, "ta")
    page.goto(f"{server.url}/courses/{COURSE}/review/submissions/{sub_id}")
    expect(page.frame_locator("#report").get_by_role("heading", name="Logs", exact=True)).to_be_visible()
    comment = "Your layers are right; the shape bug in the last cell cost every test. Half marks by hand."
    page.fill("#points", "15")
    page.fill("#comment", comment)
    page.click("#save-override")
    expect(page.locator(".flash.success")).to_contain_text("Override saved")
    expect(page.locator("#history")).to_contain_text(comment)
    page.locator("#report").scroll_into_view_if_needed()   # a frame below the fold is not painted in a shot
    expect(page.frame_locator("#report").get_by_role("heading", name="Logs", exact=True)).to_be_visible()
    shot(page, "ta-override")
    sign_in(page, server, "student2")
    page.goto(f"{server.url}/submissions/{sub_id}")
    expect(page.locator("#override")).to_contain_text(comment)
    expect(page.locator("#score")).to_have_text("15 / 29")
    page.goto(f"{server.url}/courses/{COURSE}/grades")
    expect(page.locator("#grades")).to_contain_text(comment)
    shot(page, "student-sees-override")
