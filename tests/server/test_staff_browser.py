"""In headless Chromium against a real ``handin serve``: a TA finds a student's hand-in, reads it, downloads it.

The server starts as in tests/server/test_roster_browser.py (demo course, no grading workers: the
hand-in stays queued, which is all a TA needs to read it); Chromium is the ``page`` fixture of
tests/services.py. Screenshots go to <artifacts>/screenshots and /tmp/shots.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

from services import artifacts_dir
from webtools import M02, SOLUTION, demo_server

pytestmark = pytest.mark.slow
COURSE = "demo"
SHOTS = Path(os.environ.get("HANDIN_SHOTS", "/tmp/shots"))


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with demo_server(tmp_path_factory.mktemp("instance"), "staff-serve") as (url, accounts):
        yield url, accounts


def sign_in(page, url: str, account: tuple[str, str]) -> None:
    page.goto(f"{url}/login")
    page.fill("#email", account[0])
    page.fill("#password", account[1])
    page.click("#sign-in")
    expect(page.locator("header .who")).to_be_visible()


def shot(page, name: str) -> None:
    page.wait_for_load_state("load")
    SHOTS.mkdir(parents=True, exist_ok=True)
    for folder in (SHOTS, artifacts_dir("screenshots")):
        page.screenshot(path=str(folder / f"staff-{name}.png"), full_page=True)


def test_a_ta_opens_the_list_a_students_page_and_their_notebook_and_downloads_it(page, server, tmp_path):
    url, accounts = server
    sign_in(page, url, accounts["student2"])
    page.goto(f"{url}/courses/{COURSE}/assignments/{M02}/")
    page.set_input_files("input[name=notebook]", str(SOLUTION))
    page.click("#upload")
    expect(page).to_have_url(re.compile(r"/submissions/\d+$"))
    sub_id = int(page.url.rsplit("/", 1)[1])
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
    shot(page, "submissions")

    page.locator(f"#sub-{sub_id} [data-field=student]").click()
    expect(page.locator("#student-name")).to_have_text("Student Two")
    expect(page.locator(f"#attempt-{sub_id}")).to_contain_text("queued")
    shot(page, "student")

    page.locator(f"#attempt-{sub_id} .read-notebook").click()
    notebook = page.frame_locator("#notebook")
    # the first render in a fresh server imports nbconvert: seconds on a busy machine
    expect(notebook.get_by_text("Part 1 — the network in numpy")).to_be_visible(timeout=30_000)
    expect(notebook.locator(".input_area").first).to_be_visible()
    shot(page, "notebook")

    with page.expect_download() as download:
        page.click("#download")
    saved = tmp_path / download.value.suggested_filename
    download.value.save_as(saved)
    assert saved.name == SOLUTION.name and saved.read_bytes() == SOLUTION.read_bytes()
