"""In headless Chromium against a real ``handin serve``: a teacher imports the roster, an invitee signs in.

The server is started the way tests/server/test_browser.py starts it (no grading workers: nothing
is graded here); Chromium is the ``page`` fixture of tests/services.py.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from services import artifacts_dir
from webtools import demo_server

pytestmark = pytest.mark.slow
COURSE = "demo"
ROSTER = ("email,name,role,group\n"
          "nina@example.org,Nina Nilsson,student,pair-1\n"
          "omar@example.org,Omar Olsen,student,pair-1\n"
          "pia@example.org,Pia Persson,ta,\n")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """A fresh instance's URL and its demo teacher's (email, password)."""
    with demo_server(tmp_path_factory.mktemp("instance"), "roster-serve") as (url, accounts):
        yield url, accounts["teacher"]


def sign_in(page, url: str, email: str, password: str) -> None:
    page.goto(f"{url}/login")
    page.fill("#email", email)
    page.fill("#password", password)
    page.click("#sign-in")
    expect(page.locator("header .who")).to_be_visible()


def test_a_teacher_imports_the_roster_and_an_invitee_sets_a_password_and_signs_in(page, server, tmp_path):
    url, (email, password) = server
    roster = tmp_path / "roster.csv"
    roster.write_text(ROSTER)
    sign_in(page, url, email, password)
    page.goto(f"{url}/courses/{COURSE}/teach/")
    page.click("#people")
    page.set_input_files("input[name=roster]", str(roster))
    page.click("#import")
    expect(page.locator("#added")).to_have_text("3")
    members = page.locator("#members")
    for who in ("nina@example.org", "omar@example.org", "pia@example.org"):
        expect(members).to_contain_text(who)
    expect(members.locator("tr", has_text="omar@example.org").locator("[data-field=group]")).to_have_text("pair-1")
    link = page.locator("#invitations tr", has_text="nina@example.org").locator("code").inner_text()
    page.screenshot(path=str(artifacts_dir("screenshots") / "browser-roster-imported.png"), full_page=True)

    page.goto(f"{url}/courses/{COURSE}/teach/people?q=nina")   # links are shown once: not on a later visit
    expect(page.locator("#members tbody tr")).to_have_count(1)
    expect(page.locator("#invitations")).to_have_count(0)
    page.click("header button.link")                          # sign out

    page.goto(link)
    expect(page.locator("#link-email")).to_have_text("nina@example.org")
    page.fill("#password", "nina's long password")
    page.fill("#confirm", "nina's long password")
    page.click("#set-password")
    expect(page.locator(".flash.success")).to_contain_text("Your password is set")
    sign_in(page, url, "nina@example.org", "nina's long password")
    expect(page.locator("header .who")).to_have_text("Nina Nilsson")
    expect(page.get_by_role("link", name="handin demo course")).to_be_visible()
    page.goto(link)                                           # used up
    expect(page.locator("h1")).to_have_text("404")
    expect(page.locator(".error-message")).to_contain_text("unknown, used or expired")
