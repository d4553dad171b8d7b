"""Helpers for the web platform's tests (tests/server/): settings, a small world of people, uploads.

Import them as ``from webtools import ...``; the fixtures that use them are in
tests/server/conftest.py.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from builders import REPO
from server.config import Settings

M02 = "m02-feedforward"
SOLUTION = REPO / "solutions" / M02 / "solution.ipynb"
STARTER = REPO / "assignments" / M02 / "feedforward.ipynb"
PASSWORD = "correct horse battery"
STUDENT_LOG = "epoch 1: loss 0.693, printed by the notebook"


def reset_postgres(url: str) -> str:
    """Empty the database's public schema (each test starts on a fresh one); returns ``url``."""
    from sqlalchemy import create_engine, text
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()
    return url


def make_settings(tmp_path: Path, database_url: str, **overrides) -> Settings:
    values = dict(instance=tmp_path / "instance", database_url=database_url, broker_url="memory://",
                  course_root=REPO, dispatch="none", sandbox="local", rate_limits=False, testing=True,
                  lease_margin=30.0,
                  # a cheap password hash: the suite makes thousands of accounts (the default, scrypt, is
                  # tested in test_commands)
                  extra={"WTF_CSRF_ENABLED": False, "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000"})
    values.update(overrides)
    return Settings(**values)


@dataclass
class World:
    """Two courses: c1 (m02 released, m09 not) with a teacher, a TA and two students; c2 with one student."""

    app: object
    emails: dict[str, str] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)

    def headers(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[who]}"}

    def login(self, client, who: str) -> None:
        r = client.post("/login", data={"email": self.emails[who], "password": PASSWORD})
        assert r.status_code == 302, r.data[:500]

    def user_id(self, who: str) -> int:
        from server.services import accounts
        with self.app.app_context():
            return accounts.require_user(self.emails[who]).id


def build_world(app) -> World:
    from server.extensions import db
    from server.services import accounts, catalog

    w = World(app)
    people = {"teacher": ("c1", "teacher"), "ta": ("c1", "ta"), "alice": ("c1", "student"),
              "bob": ("c1", "student"), "carol": ("c2", "student")}
    with app.app_context():
        c1 = accounts.ensure_course("c1", "Course one")
        c2 = accounts.ensure_course("c2", "Course two")
        catalog.add_module(c1, M02, released=True)
        catalog.add_module(c1, "m09-data-parallel", released=False)
        catalog.add_module(c2, M02, released=True)
        for who, (code, role) in people.items():
            email = f"{who}@example.org"
            user, _ = accounts.add_user(email, course=c1 if code == "c1" else c2, role=role, name=who.title(),
                                        password=PASSWORD)
            w.emails[who] = email
            w.tokens[who] = accounts.create_token(user)
        db.session.commit()
    return w


def upload(client, world: World, who: str, path: Path = SOLUTION, *, course: str = "c1", module: str = M02,
           filename: str | None = None, data: bytes | None = None):
    """POST a notebook through the API as ``who``."""
    payload = data if data is not None else path.read_bytes()
    return client.post(f"/api/v1/courses/{course}/assignments/{module}/submissions",
                       data={"file": (io.BytesIO(payload), filename or path.name)},
                       headers=world.headers(who), content_type="multipart/form-data")


def timed_out(client, world, app, who: str = "alice") -> int:
    """Upload as ``who``; record the run as stopped at the wall-clock limit, reports written as a worker does."""
    sub_id = upload(client, world, who, SOLUTION).get_json()["id"]
    store_timeout(app, sub_id)
    return sub_id


def store_timeout(app, sub_id: int) -> None:
    """Grade the queued ``sub_id`` as a run of SOLUTION stopped at its wall-clock limit (no sandbox)."""
    from handin.grading import write_submission
    from handin.notebook import read_notebook_file
    from handin.results import build_results
    from handin.sandboxing import RunOutcome
    from server.extensions import db
    from server.models import Submission
    from server.services import catalog, jobs

    with app.app_context():
        sub = db.session.get(Submission, sub_id)
        spec = catalog.spec_for(sub.assignment)
        token = jobs.claim(sub_id)
        notebook = read_notebook_file(SOLUTION, max_bytes=spec.intake.max_notebook_size,
                                      max_cells=spec.intake.max_cells)
        outcome = RunOutcome(raw=None, wall_seconds=spec.resources.wall_time, timed_out=True,
                             student_log=STUDENT_LOG, judge_log="judge: waiting for the student process",
                             environment={"limits": {"wall_seconds": spec.resources.wall_time}})
        results = build_results(spec, submission={"id": token, "filename": sub.filename, "sha256": sub.sha256,
                                                  "size": sub.size}, outcome=outcome, notebook=notebook)
        report_dir = f"reports/{sub_id}/{token}"
        write_submission(app.extensions["handin"].instance / report_dir, results, student_log=outcome.student_log,
                         judge_log=outcome.judge_log)
        assert jobs.store_result(sub_id, token, results, report_dir=report_dir) == "graded"


def store_grade(app, sub_id: int, points: float) -> None:
    """Store a graded result of ``points`` of 29 (as a worker would, without running anything)."""
    from server.services import jobs

    with app.app_context():
        token = jobs.claim(sub_id)
        percent = 100.0 * points / 29
        label = next(lbl for lbl, low in (("A", 90), ("B", 80), ("C", 70), ("D", 60), ("E", 50), ("FX", 40),
                                          ("F", 0)) if percent >= low)
        results = {"status": "ok", "score": points, "max_score": 29.0, "percent": percent,
                   "grade": {"scale": "a-f", "label": label, "passed": label in "ABCDE"}, "tests": [],
                   "output": f"Score {points:g}/29. Status: ok (all cells ran)."}
        assert jobs.store_result(sub_id, token, results, report_dir="") == "graded"


def pair_up(app, world: World, sub_id: int, members: tuple[str, ...] = ("alice", "bob")) -> None:
    """Make ``sub_id`` the hand-in of a group of ``members`` (its student among them)."""
    from server.extensions import db
    from server.models import Group, GroupMember, Submission
    from server.services import teams

    with app.app_context():
        sub = db.session.get(Submission, sub_id)
        group = Group(assignment=sub.assignment, name="pair-1")
        db.session.add(group)
        db.session.flush()
        for who in members:
            db.session.add(GroupMember(group=group, assignment_id=sub.assignment_id, user_id=world.user_id(who)))
        sub.group_id, sub.team = group.id, teams.group_key(group.id)
        db.session.commit()


def csrf_token(html: str) -> str:
    m = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html) or \
        re.search(r'value="([^"]+)"[^>]*name="csrf_token"', html)
    assert m, "no CSRF token in the page"
    return m.group(1)


def sign_in(page, url: str, account: tuple[str, str]) -> None:
    """Sign in through the login page (Playwright) as ``account`` = (email, password)."""
    from playwright.sync_api import expect

    page.goto(f"{url}/login")
    page.fill("#email", account[0])
    page.fill("#password", account[1])
    page.click("#sign-in")
    expect(page.locator("header .who")).to_be_visible()


def hand_in_page(page, url: str, course: str, notebook: Path = SOLUTION, module: str = M02) -> int:
    """Upload ``notebook`` through the assignment page's form (Playwright); the new submission's id."""
    from playwright.sync_api import expect

    page.goto(f"{url}/courses/{course}/assignments/{module}/")
    page.set_input_files("input[name=notebook]", str(notebook))
    page.click("#upload")
    expect(page).to_have_url(re.compile(r"/submissions/\d+$"))
    return int(page.url.rsplit("/", 1)[1])


def shot(page, name: str) -> None:
    """A full-page screenshot ``name``.png in $HANDIN_SHOTS (default /tmp/shots) and <artifacts>/screenshots."""
    import os

    from services import artifacts_dir

    page.wait_for_load_state("load")
    shots = Path(os.environ.get("HANDIN_SHOTS", "/tmp/shots"))
    shots.mkdir(parents=True, exist_ok=True)
    for folder in (shots, artifacts_dir("screenshots")):
        page.screenshot(path=str(folder / f"{name}.png"), full_page=True)


@contextmanager
def demo_server(instance: Path, log: str, *, worker: bool = False) -> Iterator[tuple[str, dict[str, tuple[str, str]]]]:
    """A real ``handin serve`` on a fresh ``instance`` (its first start seeds the demo course).

    Yields its URL and the demo course's accounts, by role (teacher, ta) or student name (student1…) →
    (email, password), and every account (the defined courses' too) by its email. Without ``worker``
    nothing is graded: hand-ins stay queued.
    """
    import os
    import sys

    from services import Process, free_port, log_path

    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("HANDIN_")}
    env["HANDIN_SANDBOX"] = "local"
    argv = [Path(sys.executable).parent / "handin", "serve", "--port", port, "--instance", instance,
            *(() if worker else ("--no-worker",))]
    with Process(argv, log=log_path(log), env=env, cwd=REPO, name="handin serve") as web:
        web.wait_for_port(port, timeout=90)
        accounts = {}
        for line in (instance / "demo-accounts.txt").read_text().splitlines():
            if line.strip() and not line.startswith("#"):
                role, email, password = line.split()
                accounts[email] = (email, password)
                accounts.setdefault(email.split("@")[0] if role == "student" else role, (email, password))
        yield f"http://127.0.0.1:{port}", accounts


@contextmanager
def demo_server_and_app(tmp_path_factory, log: str):
    """:func:`demo_server` without workers, and an app on its database (to store grades as a worker does)."""
    from server import create_app

    instance = tmp_path_factory.mktemp("instance")
    with demo_server(instance, log) as (url, accounts):
        app = create_app(make_settings(tmp_path_factory.mktemp("side"), f"sqlite:///{instance / 'handin.sqlite'}"))
        yield url, accounts, app
