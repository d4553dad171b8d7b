"""Helpers for the web platform's tests (tests/server/): settings, a small world of people, uploads.

Import them as ``from webtools import ...``; the fixtures that use them are in
tests/server/conftest.py.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass, field
from pathlib import Path

from builders import REPO
from server.config import Settings

M02 = "m02-feedforward"
SOLUTION = REPO / "solutions" / M02 / "solution.ipynb"
STARTER = REPO / "assignments" / M02 / "feedforward.ipynb"
PASSWORD = "correct horse battery"


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
                  lease_margin=30.0, extra={"WTF_CSRF_ENABLED": False})
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


def csrf_token(html: str) -> str:
    m = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html) or \
        re.search(r'value="([^"]+)"[^>]*name="csrf_token"', html)
    assert m, "no CSRF token in the page"
    return m.group(1)
