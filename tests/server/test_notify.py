"""Email notifications against a real SMTP server on loopback (aiosmtpd): who gets what, and when not.

Graded, overridden, a regrade answered and published each deliver to the right addresses; nothing
goes out when no SMTP host is configured; a mail server that is down or never answers holds up
neither grading nor a page.
"""

from __future__ import annotations

import email
import io
import logging
import os
import socket
import subprocess
import sys
import time
from email.message import Message
from email.policy import default as default_policy

import pytest
from aiosmtpd.controller import Controller

from builders import REPO
from server import create_app
from server.config import MailSettings
from server.extensions import db
from server.models import Submission
from server.services import accounts, grades, notify
from services import free_port
from webtools import build_world, make_settings, pair_up, timed_out

SENDER = "handin@course.example.edu"


class Inbox:
    """aiosmtpd's handler: keeps every message with its envelope."""

    def __init__(self):
        self.messages: list[tuple[tuple[str, ...], Message]] = []

    async def handle_DATA(self, server, session, envelope):
        msg = email.message_from_bytes(envelope.original_content or envelope.content, policy=default_policy)
        self.messages.append((tuple(sorted(envelope.rcpt_tos)), msg))
        return "250 OK"

    def wait(self, n: int, timeout: float = 10.0) -> list[tuple[tuple[str, ...], Message]]:
        deadline = time.monotonic() + timeout
        while len(self.messages) < n and time.monotonic() < deadline:
            time.sleep(0.02)
        return self.messages


@pytest.fixture
def inbox():
    box = Inbox()
    controller = Controller(box, hostname="127.0.0.1", port=free_port())
    controller.start()
    box.port = controller.port
    yield box
    controller.stop()


@pytest.fixture
def settings(tmp_path, database_url, inbox):
    return make_settings(tmp_path, database_url, public_url="https://handin.example.edu",
                         mail=MailSettings(host="127.0.0.1", port=inbox.port, sender=SENDER, timeout=5))


def delivered(app, inbox, n: int) -> dict[str, list[Message]]:
    """The messages so far by recipients ("a@x, b@x"), once ``n`` have arrived."""
    with app.app_context():
        assert notify.flush(10)
    got = inbox.wait(n)
    assert len(got) == n, [(to, m["Subject"]) for to, m in got]
    out: dict[str, list[Message]] = {}
    for to, msg in got:
        out.setdefault(", ".join(to), []).append(msg)
    return out


def test_graded_tells_the_student_with_the_score_and_a_link(client, world, app, inbox):
    sub_id = timed_out(client, world, app, "alice")
    (msg,) = delivered(app, inbox, 1)["alice@example.org"]
    assert msg["From"] == SENDER and msg["To"] == "alice@example.org"
    assert msg["Subject"] == "[c1] Feed-forward networks from scratch: attempt 1 graded"
    body = msg.get_content()
    assert "0 of 29 points" in body and f"https://handin.example.edu/submissions/{sub_id}" in body


def test_an_override_and_a_regrade_answer_reach_every_member_of_the_group(client, world, app, inbox):
    sub_id = timed_out(client, world, app, "alice")
    pair_up(app, world, sub_id)
    with app.app_context():
        grades.override(db.session.get(Submission, sub_id), actor=accounts.require_user(world.emails["ta"]),
                        comment="The timeout was the platform's.", points=20)
    (msg,) = delivered(app, inbox, 2)["alice@example.org, bob@example.org"]
    assert "your grade was changed" in msg["Subject"]
    assert "20 of 29 points" in msg.get_content() and "The timeout was the platform's." in msg.get_content()

    req = client.post(f"/api/v1/submissions/{sub_id}/regrade-requests", json={"reason": "more, please"},
                      headers=world.headers("bob")).get_json()
    r = client.post(f"/api/v1/regrade-requests/{req['id']}", headers=world.headers("ta"),
                    json={"decision": "accepted", "comment": "Test 4 was right too.", "points": 22})
    assert r.status_code == 200
    # one message for the accepted request: the decision's, not an override's besides
    (decided,) = delivered(app, inbox, 3)["alice@example.org, bob@example.org"][1:]
    assert decided["Subject"].endswith("regrade request accepted")
    body = decided.get_content()
    assert "Test 4 was right too." in body and "22 of 29 points" in body and "by Ta" in body


def test_publishing_tells_each_student_with_a_counted_submission_their_grade(client, world, app, inbox):
    timed_out(client, world, app, "alice")
    delivered(app, inbox, 1)
    with app.app_context():
        a = db.session.get(Submission, 1).assignment
        grades.set_published(a, True, actor=accounts.require_user(world.emails["teacher"]))
    by_to = delivered(app, inbox, 2)
    assert sorted(by_to) == ["alice@example.org"]            # bob handed nothing in; carol is in c2
    published = by_to["alice@example.org"][1]
    assert published["Subject"].endswith("grades published") and "Yours: 0 of 29 points" in published.get_content()
    with app.app_context():                                  # unpublishing tells no one
        grades.set_published(db.session.get(Submission, 1).assignment, False,
                             actor=accounts.require_user(world.emails["teacher"]))
        assert notify.flush(5)
    assert len(inbox.messages) == 2


def test_nothing_is_sent_without_an_smtp_host(tmp_path, database_url, inbox):
    app = create_app(make_settings(tmp_path, database_url))
    with app.app_context():
        db.create_all()
    world = build_world(app)
    client = app.test_client()
    timed_out(client, world, app, "alice")
    with app.app_context():
        assert not notify.enabled()
        grades.override(db.session.get(Submission, 1), actor=accounts.require_user(world.emails["ta"]),
                        comment="ok", points=3)
        assert notify.flush(1)
    assert "handin.outbox" not in app.extensions and inbox.messages == []
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.mark.parametrize("server", ["down", "silent"])
def test_a_mail_server_that_is_down_or_silent_holds_up_nothing(tmp_path, database_url, server, caplog):
    """Nothing listens on the port, or something accepts and never says a word: grading goes on."""
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen()
    port = silent.getsockname()[1] if server == "silent" else free_port()
    app = create_app(make_settings(tmp_path, database_url, mail=MailSettings(host="127.0.0.1", port=port,
                                                                              timeout=1.0)))
    with app.app_context():
        db.create_all()
    world = build_world(app)
    client = app.test_client()
    caplog.set_level(logging.WARNING, logger="handin.notify")
    started = time.monotonic()
    sub_id = timed_out(client, world, app, "alice")
    with app.app_context():
        grades.override(db.session.get(Submission, sub_id), actor=accounts.require_user(world.emails["ta"]),
                        comment="ok", points=3)
    assert time.monotonic() - started < 5          # no wait on the mail server (the upload and run included)
    with app.app_context():
        assert db.session.get(Submission, sub_id).grade.final_points == 3
        assert notify.flush(10)                    # each batch gave up after its timeout
    assert sum("notification(s) not sent" in r.getMessage() for r in caplog.records) == 2
    silent.close()
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def cli(tmp_path, *args: str, **env: str) -> subprocess.CompletedProcess:
    """``handin`` on the instance in ``tmp_path``, with only the HANDIN_* variables given."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith("HANDIN_")}
    environ.update(HANDIN_INSTANCE=str(tmp_path / "inst"), **env)
    return subprocess.run([sys.executable, "-m", "handin.cli", *args], capture_output=True, text=True,
                          env=environ, cwd=REPO, timeout=120)


def test_the_command_line_mails_invitations_and_reset_links(tmp_path, inbox):
    csv_file = tmp_path / "roster.csv"
    csv_file.write_text("email,name,role\nnina@example.org,Nina,student\nomar@example.org,Omar,ta\n")
    mail = dict(HANDIN_SMTP_HOST="127.0.0.1", HANDIN_SMTP_PORT=str(inbox.port), HANDIN_SMTP_FROM=SENDER,
                HANDIN_PUBLIC_URL="https://handin.example.edu")
    r = cli(tmp_path, "roster", "import", str(csv_file), "--course", "ml1", **mail)
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines()[1:] == ["nina@example.org mailed", "omar@example.org mailed"]
    assert "works once, for 14 days" in inbox.wait(2)[0][1].get_content()
    r = cli(tmp_path, "user", "reset-password", "omar@example.org", **mail)
    assert r.returncode == 0 and r.stdout.strip() == "mailed to omar@example.org", r.stderr
    got = {(to, m["Subject"]): m.get_content() for to, m in inbox.wait(3)}
    assert sorted(got) == [(("nina@example.org",), "Your handin account"),
                           (("omar@example.org",), "Reset your handin password"),
                           (("omar@example.org",), "Your handin account")]
    assert all("https://handin.example.edu/auth/set-password/" in body for body in got.values())


def test_the_command_line_prints_the_links_when_the_mail_server_is_down(tmp_path):
    csv_file = tmp_path / "roster.csv"
    csv_file.write_text("email,name,role\nnina@example.org,Nina,student\n")
    r = cli(tmp_path, "roster", "import", str(csv_file), "--course", "ml1", HANDIN_SMTP_HOST="127.0.0.1",
            HANDIN_SMTP_PORT=str(free_port()))
    assert r.returncode == 0, r.stderr
    email, link = r.stdout.splitlines()[1].split()
    assert email == "nina@example.org" and "/auth/set-password/" in link


def test_the_people_page_mails_the_invitations_of_an_import(client, world, app, inbox):
    world.login(client, "teacher")
    csv_bytes = b"email,name,role\nnina@example.org,Nina,student\n"
    r = client.post("/courses/c1/teach/people/import",
                    data={"roster": (io.BytesIO(csv_bytes), "roster.csv")}, content_type="multipart/form-data")
    page = r.get_data(as_text=True)
    assert r.status_code == 200 and 'id="mailed"' in page and "nina@example.org" in page
    assert "/auth/set-password/" not in page            # mailed, so not shown
    (to, msg), = inbox.wait(1)
    assert to == ("nina@example.org",) and msg["Subject"] == "Your handin account"
    assert "https://handin.example.edu/auth/set-password/" in msg.get_content()


def test_a_regrade_mails_only_when_the_grade_changes(client, world, app, inbox):
    from server.services import teaching
    from webtools import STARTER, store_grade, upload

    sub_id = upload(client, world, "alice", STARTER).get_json()["id"]
    store_grade(app, sub_id, 20)
    assert len(delivered(app, inbox, 1)["alice@example.org"]) == 1

    def regrade_to(points):
        with app.app_context():
            teaching.regrade_one(db.session.get(Submission, sub_id),
                                 actor=accounts.require_user(world.emails["teacher"]))
        store_grade(app, sub_id, points)

    regrade_to(20)                         # the same grade again: no news
    assert len(delivered(app, inbox, 1)["alice@example.org"]) == 1
    regrade_to(24)
    mails = delivered(app, inbox, 2)["alice@example.org"]
    assert "24 of 29 points" in mails[1].get_content()
