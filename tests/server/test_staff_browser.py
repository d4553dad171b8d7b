"""In headless Chromium against a real ``handin serve``: a TA finds a student's hand-in, reads it, downloads it.

The server starts as in tests/server/test_roster_browser.py (demo course, no grading workers: the
hand-in stays queued, which is all a TA needs to read it); Chromium is the ``page`` fixture of
tests/services.py. Screenshots go to <artifacts>/screenshots and /tmp/shots.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from webtools import M02, SOLUTION, demo_server, hand_in_page, shot, sign_in

pytestmark = pytest.mark.slow
COURSE = "demo"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with demo_server(tmp_path_factory.mktemp("instance"), "staff-serve") as (url, accounts):
        yield url, accounts


def test_a_ta_opens_the_list_a_students_page_and_their_notebook_and_downloads_it(page, server, tmp_path):
    url, accounts = server
    sign_in(page, url, accounts["student2"])
    sub_id = hand_in_page(page, url, COURSE)
    page.click("header button.link")                                   # sign out

    sign_in(page, url, accounts["ta"])
    page.goto(f"{url}/courses/{COURSE}/")
    page.click("#submissions")
    row = page.locator(f"#sub-{sub_id}")
    expect(row).to_contain_text("Student Two")
    expect(row).to_contain_text("queued")
    page.fill("input[name=q]", "student1")                              # search: nobody else's
    page.click("#filter")
    expect(page.locator(f"#sub-{sub_id}")).to_have_count(0)
    page.fill("input[name=q]", "two")
    page.select_option("select[name=module]", M02)
    page.click("#filter")
    expect(page.locator("#submissions tbody tr")).to_have_count(1)
    shot(page, "staff-submissions")

    page.locator(f"#sub-{sub_id} [data-field=student]").click()
    expect(page.locator("#student-name")).to_have_text("Student Two")
    expect(page.locator(f"#attempt-{sub_id}")).to_contain_text("queued")
    shot(page, "staff-student")

    page.locator(f"#attempt-{sub_id} .read-notebook").click()
    notebook = page.frame_locator("#notebook")
    # the first render in a fresh server imports nbconvert: seconds on a busy machine
    expect(notebook.get_by_text("Part 1 — the network in numpy")).to_be_visible(timeout=30_000)
    expect(notebook.locator(".input_area").first).to_be_visible()
    shot(page, "staff-notebook")

    with page.expect_download() as download:
        page.click("#download")
    saved = tmp_path / download.value.suggested_filename
    download.value.save_as(saved)
    assert saved.name == SOLUTION.name and saved.read_bytes() == SOLUTION.read_bytes()
