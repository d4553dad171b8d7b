"""The instance commands: user add, token create, db upgrade, and the first start's demo seed."""

from __future__ import annotations

import os
import re
import stat
import subprocess
import sys

import pytest

from builders import REPO

HANDIN = [sys.executable, "-m", "handin.cli"]


def _run(args, instance, stdin=None, env=None):
    e = dict(os.environ, HANDIN_INSTANCE=str(instance), **(env or {}))
    e.pop("HANDIN_DATABASE_URL", None)
    return subprocess.run(HANDIN + args, input=stdin, capture_output=True, text=True, env=e, cwd=REPO, timeout=120)


def test_user_add_token_create_and_api_use(tmp_path):
    inst = tmp_path / "inst"
    r = _run(["db", "upgrade"], inst)
    assert r.returncode == 0 and "up to date" in r.stdout, r.stderr
    r = _run(["user", "add", "Ann@Example.org", "--course", "ml1", "--role", "teacher", "--name", "Ann"], inst)
    assert r.returncode == 0, r.stderr
    assert "ann@example.org: teacher in ml1" in r.stdout and "password:" not in r.stdout
    link = re.search(r"invitation link: (\S+/auth/set-password/(\S+))", r.stdout)
    assert link, r.stdout      # no mail configured: the one-time link is printed instead
    r = _run(["user", "add", "ben@example.org", "--course", "ml1", "--role", "student", "--password-stdin"], inst,
             stdin="a long enough password\n")
    assert r.returncode == 0 and "password:" not in r.stdout
    r = _run(["user", "add", "cat@example.org", "--course", "ml1", "--role", "student", "--password-stdin"], inst,
             stdin="short\n")
    assert r.returncode == 2 and "at least 10 characters" in r.stderr and "Traceback" not in r.stderr
    r = _run(["user", "add", "not-an-email", "--course", "ml1", "--role", "student"], inst)
    assert r.returncode == 2 and "not an email" in r.stderr
    token = _run(["token", "create", "ben@example.org"], inst).stdout.strip()
    assert token.startswith("hdn_") and len(token) > 40
    r = _run(["token", "create", "nobody@example.org"], inst)
    assert r.returncode == 2 and "no user" in r.stderr

    from server import create_app
    from server.config import Settings
    app = create_app(Settings.from_env(inst, course_root=REPO))
    client = app.test_client()
    r = client.get("/api/v1/courses", headers={"Authorization": f"Bearer {token}"})
    assert r.get_json() == [{"code": "ml1", "title": "ml1", "role": "student"}]
    with app.app_context():   # the token is stored hashed, never in the clear
        from server.extensions import db
        from server.models import ApiToken
        assert token not in [t.token_hash for t in db.session.query(ApiToken)]
        db.engine.dispose()
    with app.app_context():   # Ann chooses her password with the link, once
        from server.services import accounts
        from server.services.errors import ServiceError
        assert accounts.set_password_with_link(link.group(2), "ann's own passphrase").email == "ann@example.org"
        db.session.commit()
        assert accounts.authenticate("ann@example.org", "ann's own passphrase") is not None
        assert accounts.require_user("ann@example.org").password_hash.startswith("scrypt:")   # the default
        with pytest.raises(ServiceError):
            accounts.set_password_with_link(link.group(2), "another passphrase")
        db.session.rollback()
        db.engine.dispose()
    assert _run(["token", "revoke", "ben@example.org"], inst).returncode == 0
    assert client.get("/api/v1/courses", headers={"Authorization": f"Bearer {token}"}).status_code == 401


def test_first_start_seeds_the_demo_course_once(tmp_path):
    """And the five courses of courses/, their modules released, a teacher, a TA and three students each."""
    from handin.course import load_courses
    from server.cli import make_app, seed_if_new, upgrade
    from server.extensions import db
    from server.models import Assignment, Course, Enrollment

    lines: list[str] = []
    app = make_app(tmp_path / "inst", course_root=REPO)
    upgrade(app)
    seed_if_new(app, lines.append)
    accounts_file = tmp_path / "inst" / "demo-accounts.txt"
    assert stat.S_IMODE(accounts_file.stat().st_mode) == 0o600
    rows = [line.split() for line in accounts_file.read_text().splitlines() if not line.startswith("#")]
    assert [r[0] for r in rows] == ["teacher", "ta", "student", "student", "student"] * 6
    defined = load_courses(REPO)[0]
    assert {r[1] for r in rows[5:]} == {f"{who}@{c.code}.handin" for c in defined
                                        for who in ("teacher", "ta", "student1", "student2", "student3")}
    assert all(len(r[2]) >= 12 for r in rows)
    assert any(rows[0][2] in line for line in lines)            # printed once, at first start
    key = tmp_path / "inst" / "secret_key"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600 and len(key.read_text().strip()) == 64
    with app.app_context():
        modules = {a.module for a in db.session.query(Assignment).join(Course).where(Course.code == "demo")}
        assert modules == {p.name for p in (REPO / "assignments").iterdir() if (p / "assignment.toml").exists()}
        assert all(a.released for a in db.session.query(Assignment))
        for c in defined:
            course = db.session.query(Course).filter_by(code=c.code).one()
            assert tuple(a.module for a in sorted(course.assignments, key=lambda a: c.modules.index(a.module))) \
                == c.modules
            assert {a.group_size for a in course.assignments} == {c.group_size}
        assert db.session.query(Enrollment).count() == 30
    lines.clear()
    seed_if_new(app, lines.append)                               # a second start seeds nothing
    assert lines == []
    with app.app_context():
        assert db.session.query(Enrollment).count() == 30
        from server.services import accounts
        assert accounts.authenticate(rows[2][1], rows[2][2]) is not None
        assert accounts.authenticate(rows[-1][1], rows[-1][2]) is not None
        db.engine.dispose()


def test_processes_starting_at_once_agree_on_one_secret_key(tmp_path):
    import concurrent.futures as cf
    inst = tmp_path / "fresh"
    code = f"from server.config import secret_key; from pathlib import Path; print(secret_key(Path({str(inst)!r})))"
    with cf.ThreadPoolExecutor(8) as pool:
        runs = list(pool.map(lambda _: subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                                                      cwd=REPO, timeout=60), range(8)))
    keys = {r.stdout.strip() for r in runs}
    assert all(r.returncode == 0 for r in runs), [r.stderr for r in runs]
    assert len(keys) == 1 and len(keys.pop()) == 64
    assert [p.name for p in inst.iterdir()] == ["secret_key"]     # no temporary files left behind
    assert stat.S_IMODE((inst / "secret_key").stat().st_mode) == 0o600
