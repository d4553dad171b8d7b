"""Email: a grade computed, overridden or published, a regrade request answered, account links.

Off unless an SMTP host is configured (``HANDIN_SMTP_HOST``; see :class:`server.config.MailSettings`).
The event functions are called after the change they report is committed; they compose the
messages in the caller's thread (they read the database) and hand them to one background thread
per process, which sends them with the configured timeout. A slow or dead mail server never holds
up grading or a page, and nothing here raises: a failure is logged and the caller goes on.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import logging
import os
import smtplib
import threading
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Callable, Iterable, Iterator

from flask import current_app
from sqlalchemy import select

from ..config import MailSettings
from ..extensions import db
from ..models import Assignment, Enrollment, RegradeRequest, Submission, User
from . import teams
from .accounts import LINK_LIFETIME, absolute_url

log = logging.getLogger("handin.notify")
_held: contextvars.ContextVar[frozenset[str]] = contextvars.ContextVar("handin_notify_held", default=frozenset())


@dataclass(frozen=True)
class Message:
    to: tuple[str, ...]
    subject: str
    body: str


def settings() -> MailSettings:
    return current_app.extensions["handin"].settings.mail


def enabled() -> bool:
    return settings().enabled


def send(to: Iterable[str], subject: str, body: str) -> None:
    """Queue one message for the background sender; nothing happens when mail is off."""
    _queue([Message(tuple(to), subject, body)])


def flush(timeout: float = 30.0) -> bool:
    """Wait until what was queued is sent (or has failed); False if ``timeout`` ran out first."""
    box = current_app.extensions.get("handin.outbox")
    return box.flush(timeout) if box is not None and box.pid == os.getpid() else True


def deliver(messages: list[Message], mail: MailSettings) -> None:
    """Send ``messages`` over one SMTP connection, now; raises what smtplib raises."""
    with _connect(mail) as smtp:
        for m in messages:
            smtp.send_message(_email(m, mail.sender))


@contextlib.contextmanager
def _connect(mail: MailSettings) -> Iterator[smtplib.SMTP]:
    with smtplib.SMTP(mail.host, mail.port, timeout=mail.timeout) as smtp:
        if mail.starttls:
            smtp.starttls()
        if mail.user:
            smtp.login(mail.user, mail.password)
        yield smtp


@contextlib.contextmanager
def held(*events: str) -> Iterator[None]:
    """Send none of ``events`` inside the block: its caller sends one message that says more."""
    token = _held.set(_held.get() | frozenset(events))
    try:
        yield
    finally:
        _held.reset(token)


def _event(fn: Callable[..., list[Message]]) -> Callable[..., None]:
    """An event: composed only when mail is on and the event is not held; never raises."""
    @functools.wraps(fn)
    def wrapped(*args) -> None:
        try:
            if enabled() and fn.__name__ not in _held.get():
                _queue(fn(*args))
        except Exception:
            log.exception("notification %s not sent", fn.__name__)
    return wrapped


@_event
def graded(sub: Submission) -> list[Message]:
    g, a = sub.grade, sub.assignment
    if g is None:
        return []
    lines = [f"Your hand-in of {a.title} (attempt {sub.attempt}) is graded: {_grade_text(sub)}."]
    if sub.result is not None and sub.result.needs_review:
        lines.append("Part of it is held for a TA to look at; the points may still change.")
    lines.append(f"The feedback report: {absolute_url(f'/submissions/{sub.id}')}")
    return [Message(_team(sub), f"[{a.course.code}] {a.title}: attempt {sub.attempt} graded", "\n\n".join(lines))]


@_event
def overridden(sub: Submission) -> list[Message]:
    g, a = sub.grade, sub.assignment
    who = g.override_by.display_name if g.override_by else "the course staff"
    body = (f"{who} changed the grade of your hand-in of {a.title} (attempt {sub.attempt}): "
            f"{_grade_text(sub)}.\n\n{g.override_comment or ''}\n\n{absolute_url(f'/submissions/{sub.id}')}")
    return [Message(_team(sub), f"[{a.course.code}] {a.title}: your grade was changed", body)]


@_event
def regrade_decided(req: RegradeRequest) -> list[Message]:
    sub = req.submission
    a = sub.assignment
    on = f"the test {req.test}" if req.test else f"attempt {sub.attempt}"
    lines = [f"Your regrade request on {on} of {a.title} was {req.state}"
             + (f" by {req.decided_by.display_name}." if req.decided_by else "."),
             req.comment or ""]
    if sub.grade is not None:
        lines.append(f"Your grade now: {_grade_text(sub)}.")
    lines.append(absolute_url(f"/submissions/{sub.id}"))
    return [Message(_team(sub), f"[{a.course.code}] {a.title}: regrade request {req.state}", "\n\n".join(lines))]


@_event
def published(a: Assignment) -> list[Message]:
    """One message per student with a counted submission, with that student's grade."""
    if not a.grades_published:
        return []
    from .grades import counted     # grades calls this module: import at call time

    students = db.session.scalars(select(User).join(Enrollment).where(
        Enrollment.course_id == a.course_id, Enrollment.role == "student").order_by(User.email))
    out = []
    for user in students:
        sub = counted(a, user.id)
        if sub is None or sub.grade is None:
            continue
        out.append(Message((user.email,), f"[{a.course.code}] {a.title}: grades published",
                           f"The grades of {a.title} are published. Yours: {_grade_text(sub)}.\n\n"
                           f"{absolute_url(f'/submissions/{sub.id}')}"))
    return out


def account_links(links: Iterable[tuple[str, str, str]]) -> set[str]:
    """Mail each ``(email, link, purpose)`` now (purpose: invite or reset); the addresses it reached.

    For the command line, which then prints the links it could not mail. Empty when mail is off.
    """
    mail = settings()
    if not mail.enabled:
        return set()
    sent: set[str] = set()
    try:
        with _connect(mail) as smtp:       # one connection; a server that is down costs one timeout, not one each
            for email, link, purpose in links:
                subject, intro = LINK_MAIL[purpose]
                days = LINK_LIFETIME[purpose].days
                body = f"{intro} (the link works once, for {days} day{'s' * (days != 1)}):\n\n{link}\n"
                try:
                    smtp.send_message(_email(Message((email,), subject, body), mail.sender))
                except smtplib.SMTPRecipientsRefused as exc:
                    log.warning("could not mail %s's link: %s", email, exc)
                else:
                    sent.add(email)
    except (OSError, smtplib.SMTPException) as exc:
        log.warning("mail server %s:%s: %s: %s", mail.host, mail.port, type(exc).__name__, exc)
    return sent


LINK_MAIL = {"invite": ("Your handin account", "You have an account on handin; choose your password here"),
             "reset": ("Reset your handin password", "Choose a new handin password here")}


def _grade_text(sub: Submission) -> str:
    g = sub.grade
    label = g.final_label or ("passed" if g.final_passed else "not passed")
    return f"{g.final_points:g} of {g.max_points:g} points, {label}"


def _team(sub: Submission) -> tuple[str, ...]:
    """Who handed ``sub`` in: its student, and every member of its group."""
    ids = teams.members_of_key(sub.team)
    emails = db.session.scalars(select(User.email).where(User.id.in_(ids)).order_by(User.email))
    return tuple(dict.fromkeys([sub.user.email, *emails]))


def _email(m: Message, sender: str) -> EmailMessage:
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = sender, ", ".join(m.to), m.subject
    msg["Date"], msg["Message-ID"] = formatdate(localtime=False), make_msgid(domain="handin")
    msg.set_content(m.body)
    return msg


def _queue(messages: list[Message]) -> None:
    messages = [m for m in messages if m.to]
    mail = settings()
    if not messages or not mail.enabled:
        return
    box = current_app.extensions.get("handin.outbox")
    if box is None or box.pid != os.getpid():       # a forked worker starts its own sender
        box = current_app.extensions["handin.outbox"] = _Outbox(mail)
    box.put(messages)


class _Outbox:
    """One sender thread per app and process; a batch goes out over one connection."""

    def __init__(self, mail: MailSettings):
        self.mail, self.pid = mail, os.getpid()
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="handin-mail")
        self._pending: set[Future] = set()
        self._lock = threading.Lock()

    def put(self, messages: list[Message]) -> None:
        future = self._pool.submit(self._send, messages)
        with self._lock:
            self._pending.add(future)
        future.add_done_callback(self._done)

    def flush(self, timeout: float) -> bool:
        with self._lock:
            pending = list(self._pending)
        return not wait(pending, timeout).not_done

    def _done(self, future: Future) -> None:
        with self._lock:
            self._pending.discard(future)

    def _send(self, messages: list[Message]) -> None:
        try:
            deliver(messages, self.mail)
        except Exception as exc:   # a mail server's trouble is the mail's, never the caller's
            log.warning("%d notification(s) not sent: %s: %s", len(messages), type(exc).__name__, exc)
