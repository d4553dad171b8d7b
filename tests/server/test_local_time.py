"""Times on pages are written in UTC and each reader also gets their own local time."""

from __future__ import annotations

import datetime as dt

from builders import REPO
from flask import render_template_string

from server import create_app
from webtools import make_settings

DUE = dt.datetime(2027, 2, 5, 22, 59, tzinfo=dt.timezone.utc)


def _markup(tmp_path) -> str:
    app = create_app(make_settings(tmp_path, f"sqlite:///{tmp_path / 'h.sqlite'}"))
    with app.test_request_context():
        return render_template_string("<p id='due'>Deadline: {{ due|utc }}</p><p id='at'>{{ due|utc(seconds=True) }}</p>",
                                      due=DUE)


def test_a_time_is_written_in_utc_with_its_moment_marked_up(tmp_path):
    html = _markup(tmp_path)
    assert '<time datetime="2027-02-05T22:59:00+00:00">2027-02-05 22:59 UTC</time>' in html
    assert ">2027-02-05 22:59:00 UTC</time>" in html


def _shown(browser, html: str, zone: str) -> tuple[str, str]:
    script = (REPO / "server" / "static" / "handin.js").read_text()
    context = browser.new_context(timezone_id=zone)
    try:
        page = context.new_page()
        page.set_content(f"<html><body>{html}<script>{script}</script></body></html>")
        page.wait_for_load_state("domcontentloaded")
        return page.inner_text("#due"), page.inner_text("#at")
    finally:
        context.close()


def test_a_reader_in_stockholm_also_sees_stockholm_time_and_one_in_utc_sees_it_once(browser, tmp_path):
    html = _markup(tmp_path)
    due, _ = _shown(browser, html, "Europe/Stockholm")
    assert due == "Deadline: 2027-02-05 22:59 UTC (2027-02-05 23:59 your time)"
    due, _ = _shown(browser, html, "America/New_York")
    assert due == "Deadline: 2027-02-05 22:59 UTC (2027-02-05 17:59 your time)"
    due, at = _shown(browser, html, "UTC")
    assert (due, at) == ("Deadline: 2027-02-05 22:59 UTC", "2027-02-05 22:59:00 UTC")
