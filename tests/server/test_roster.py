"""The roster: CSV import (all or nothing, idempotent, invitations), members, roles, removal, links.

Through the API (SQLite and PostgreSQL), the teacher's People page, the set-password page and
the command line.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import os
import re
import subprocess
import sys
from urllib.parse import urlsplit

import pytest
from sqlalchemy import select

from builders import REPO
from server.extensions import db
from server.models import AuditEntry, Enrollment, OneTimeToken, Submission, User
from server.services import accounts, roster
from webtools import PASSWORD, csrf_token, upload

ROSTER = "/api/v1/courses/c1/roster"
MEMBERS = "/api/v1/courses/c1/members"
PEOPLE = "/courses/c1/teach/people"
GOOD = ("email,name,role,group\n"
        "dan@example.org,Dan Dahl,student,g1\n"
        "Eve@Example.org,Eve Ek,student,g1\n"
        "fay@example.org,Fay Fu,ta,\n"
        "alice@example.org,Alice Liddell,student,g2\n")   # alice is already in c1: updated, not invited


def post_csv(client, world, body: str | bytes, who: str = "teacher"):
    data = body.encode() if isinstance(body, str) else body
    return client.post(ROSTER, data=data, headers={**world.headers(who), "Content-Type": "text/csv"})


def members(client, world, who: str = "teacher", **params) -> dict[str, dict]:
    r = client.get(MEMBERS, headers=world.headers(who), query_string=params)
    assert r.status_code == 200, r.get_json()
    return {m["email"]: m for m in r.get_json()}


def counts(app) -> tuple[int, int, int]:
    with app.app_context():
        return (db.session.query(User).count(), db.session.query(Enrollment).count(),
                db.session.query(OneTimeToken).count())


def token_of(link: str) -> str:
    return urlsplit(link).path.rsplit("/", 1)[1]


# --- import through the API -------------------------------------------------------------------

def test_import_adds_members_and_invites_only_new_accounts(client, world, app):
    r = post_csv(client, world, GOOD)
    assert r.status_code == 200, r.get_json()
    body = r.get_json()
    assert (body["added"], body["updated"]) == (3, 1)
    assert sorted(i["email"] for i in body["invitations"]) == ["dan@example.org", "eve@example.org", "fay@example.org"]
    for i in body["invitations"]:
        assert i["link"].startswith("http://localhost/auth/set-password/")
    got = members(client, world)
    assert got["eve@example.org"] == {"email": "eve@example.org", "name": "Eve Ek", "role": "student", "group": "g1"}
    assert got["fay@example.org"]["group"] is None and got["fay@example.org"]["role"] == "ta"
    assert got["alice@example.org"]["name"] == "Alice Liddell" and got["alice@example.org"]["group"] == "g2"
    assert got["teacher@example.org"]["group"] is None
    with app.app_context():   # links are stored hashed; an invited account has no password yet
        hashes = set(db.session.scalars(select(OneTimeToken.token_hash)))
        for i in body["invitations"]:
            assert token_of(i["link"]) not in hashes
            assert hashlib.sha256(token_of(i["link"]).encode()).hexdigest() in hashes
        assert accounts.authenticate("dan@example.org", "") is None
        [entry] = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "roster.import")).all()
        assert entry.actor.email == "teacher@example.org" and entry.detail["added"] == 3


def test_import_again_updates_and_never_duplicates(client, world, app):
    assert post_csv(client, world, GOOD).status_code == 200
    before = counts(app)
    r = post_csv(client, world, GOOD)
    assert r.get_json() == {"added": 0, "updated": 0, "unchanged": 4, "invitations": []}
    assert counts(app) == before
    changed = GOOD.replace("Dan Dahl,student,g1", "Daniel Dahl,ta,g3")
    r = post_csv(client, world, changed)
    assert (r.get_json()["added"], r.get_json()["updated"], r.get_json()["unchanged"]) == (0, 1, 3)
    assert members(client, world)["dan@example.org"] == {"email": "dan@example.org", "name": "Daniel Dahl",
                                                         "role": "ta", "group": "g3"}
    assert counts(app) == before
    r = post_csv(client, world, "email,name,role\nalice@example.org,Alice Liddell,student\n")   # no group column
    assert r.get_json()["unchanged"] == 1 and members(client, world)["alice@example.org"]["group"] == "g2"
    r = post_csv(client, world, "email,name,role,group\nalice@example.org,Alice Liddell,student,\n")
    assert r.get_json()["updated"] == 1 and members(client, world)["alice@example.org"]["group"] is None


def test_an_account_from_another_course_is_added_without_invitation(client, world):
    r = post_csv(client, world, "name,email,role\nCarol C,carol@example.org,student\n")   # any column order
    assert r.get_json()["added"] == 1 and r.get_json()["invitations"] == []
    assert "carol@example.org" in members(client, world)


@pytest.mark.parametrize("body,rows", [
    ("email,name,role\nnot-an-email,X,student\nok@example.org,Ok,student\n", [(2, "not an email")]),
    ("email,name,role\nx@example.org,X,professor\n", [(2, "role 'professor' is not one of student, ta, teacher")]),
    ("email,name,role\nx@example.org,,student\n,Y,ta\n", [(2, "name is missing"), (3, "email is missing")]),
    ("email,name,role\nx@example.org,X,student\ny@example.org,Y,ta\nX@example.org,X2,ta\n",
     [(4, "x@example.org is already on line 2")]),
    ("email,name,role\nx@example.org,X\n", [(2, "2 fields, the header has 3")]),
    ("email,name\nx@example.org,X\n", [(1, "no 'role' column")]),
    ("mail,name,role\n", [(1, "unknown column 'mail'")]),
    ("email,name,role\n\n", [(2, "no rows")]),
    ("", [(1, "no header")]),
    ('email,name,role\nx@example.org,"X\n\nmore,student\n', [(2, "unexpected end of data")]),
])
def test_any_bad_row_rejects_the_file_naming_every_bad_line(client, world, app, body, rows):
    before = counts(app)
    r = post_csv(client, world, body)
    assert r.status_code == 422, r.get_json()
    got = r.get_json()
    assert got["error"] and [row["line"] for row in got["rows"]] == [line for line, _ in rows]
    for row, (_, needle) in zip(got["rows"], rows):
        assert needle in row["error"], row
    assert counts(app) == before


def test_not_utf8_and_too_many_rows_are_refused(client, world, app):
    before = counts(app)
    latin1 = "email,name,role\nx@example.org,Jos\u00e9,student\n".encode("latin-1")
    r = post_csv(client, world, latin1)
    assert r.status_code == 422 and "UTF-8" in r.get_json()["error"] and r.get_json()["rows"][0]["line"] == 2
    many = "email,name,role\n" + "".join(f"s{i}@example.org,S {i},student\n" for i in range(roster.MAX_ROWS + 1))
    r = post_csv(client, world, many)
    assert r.status_code == 422 and "too many rows" in r.get_json()["error"]
    over = roster.MAX_ROWS + 1
    assert r.get_json()["rows"] == [{"line": over + 1, "error": f"row {over}: over the limit"}]
    assert counts(app) == before
    bom = "\ufeffemail,name,role\r\nx@example.org,Jos\u00e9,student\r\n".encode()   # Excel's CSV UTF-8
    assert post_csv(client, world, bom).get_json()["added"] == 1


def test_a_teacher_cannot_change_their_own_role_by_import(client, world, app):
    before = counts(app)
    r = post_csv(client, world, "email,name,role\nnew@example.org,N,student\nteacher@example.org,T,student\n")
    assert r.status_code == 422 and r.get_json()["rows"] == [{"line": 3, "error": "you cannot change your own role"}]
    assert counts(app) == before


def test_roster_as_a_multipart_file_and_who_may_import(client, world):
    files = {"file": (io.BytesIO(GOOD.encode()), "roster.csv")}
    r = client.post(ROSTER, data=files, headers=world.headers("teacher"), content_type="multipart/form-data")
    assert r.status_code == 200 and r.get_json()["added"] == 3
    for who in ("ta", "alice", "carol"):
        assert post_csv(client, world, GOOD, who).status_code == 404
    r = client.post(ROSTER, data="email,name,role\n", headers={**world.headers("teacher"),
                                                               "Content-Type": "application/json"})
    assert r.status_code == 400 and "text/csv" in r.get_json()["error"]
    assert client.post(ROSTER, data=GOOD, headers={"Content-Type": "text/csv"}).status_code == 401


# --- members through the API ------------------------------------------------------------------

def test_members_for_staff_with_search_and_role_filter(client, world):
    got = members(client, world, "ta")
    assert list(got) == ["teacher@example.org", "ta@example.org", "alice@example.org", "bob@example.org"]
    assert got["alice@example.org"] == {"email": "alice@example.org", "name": "Alice", "role": "student",
                                        "group": None}
    assert list(members(client, world, q="ALI")) == ["alice@example.org"]
    assert list(members(client, world, q="Bo")) == ["bob@example.org"]
    assert list(members(client, world, q="%")) == []                     # no SQL wildcards
    assert list(members(client, world, role="ta")) == ["ta@example.org"]
    assert client.get(MEMBERS, headers=world.headers("teacher"), query_string={"role": "dean"}).status_code == 400
    for who in ("alice", "carol"):
        assert client.get(MEMBERS, headers=world.headers(who)).status_code == 404
    assert client.get("/api/v1/courses/c2/members", headers=world.headers("teacher")).status_code == 404


# --- the set-password page -------------------------------------------------------------------

def invite(client, world, email: str = "dan@example.org") -> str:
    r = post_csv(client, world, f"email,name,role\n{email},Dan,student\n")
    return urlsplit(r.get_json()["invitations"][0]["link"]).path


def test_an_invited_user_sets_a_password_once_and_signs_in(client, world, app):
    path = invite(client, world)
    page = client.get(path)
    assert page.status_code == 200 and b"dan@example.org" in page.data
    with app.app_context():   # looking at the page uses nothing up
        assert db.session.scalar(select(OneTimeToken.used_at)) is None
    r = client.post(path, data={"password": "short", "confirm": "short"})
    assert r.status_code == 400 and b"at least 10 characters" in r.data
    r = client.post(path, data={"password": "long enough pass", "confirm": "long enough pasS"})
    assert r.status_code == 400 and b"the two passwords differ" in r.data
    r = client.post(path, data={"password": "long enough pass", "confirm": "long enough pass"})
    assert r.status_code == 303 and r.headers["Location"].endswith("/login")
    r = client.post("/login", data={"email": "dan@example.org", "password": "long enough pass"})
    assert r.status_code == 302
    assert client.get("/courses/c1/").status_code == 200
    for method in (client.get, client.post):   # used up
        r = method(path, data={"password": "another password", "confirm": "another password"})
        assert r.status_code == 404 and b"unknown, used or expired" in r.data
    with app.app_context():
        assert accounts.authenticate("dan@example.org", "another password") is None


def test_unknown_and_expired_links_are_404(client, world, app):
    assert client.get("/auth/set-password/nonsense").status_code == 404
    path = invite(client, world)
    with app.app_context():
        row = db.session.scalars(select(OneTimeToken)).one()
        row.expires_at = dt.datetime.now(dt.timezone.utc) - dt.timedelta(seconds=1)
        db.session.commit()
    r = client.post(path, data={"password": "long enough pass", "confirm": "long enough pass"})
    assert r.status_code == 404 and b"unknown, used or expired" in r.data
    with app.app_context():
        assert accounts.authenticate("dan@example.org", "long enough pass") is None


def test_a_new_reset_link_replaces_older_ones(client, world, app):
    with app.app_context():
        first = accounts.reset_link("alice@example.org")
        second = accounts.reset_link("alice@example.org")
        db.session.commit()
    assert client.get(urlsplit(first).path).status_code == 404
    r = client.post(urlsplit(second).path, data={"password": "a brand new one", "confirm": "a brand new one"})
    assert r.status_code == 303
    with app.app_context():
        assert accounts.authenticate("alice@example.org", "a brand new one") is not None
        assert accounts.authenticate("alice@example.org", PASSWORD) is None


# --- the People page --------------------------------------------------------------------------

def test_people_page_lists_searches_and_is_for_teachers(client, world):
    for who in ("ta", "alice"):
        world.login(client, who)
        assert client.get(PEOPLE).status_code == 404
    world.login(client, "teacher")
    html = client.get(PEOPLE).get_data(as_text=True)
    assert all(f"{w}@example.org" in html for w in ("teacher", "ta", "alice", "bob"))
    assert "carol@example.org" not in html
    html = client.get(PEOPLE, query_string={"q": "bob"}).get_data(as_text=True)
    assert "bob@example.org" in html and "alice@example.org" not in html
    html = client.get(PEOPLE, query_string={"role": "ta"}).get_data(as_text=True)
    assert "ta@example.org" in html and "bob@example.org" not in html
    assert 'href="/courses/c1/teach/people"' in client.get("/courses/c1/teach/").get_data(as_text=True)


def test_people_page_imports_shows_links_once_and_names_bad_lines(client, world, app):
    world.login(client, "teacher")
    r = client.post(f"{PEOPLE}/import", data={"roster": (io.BytesIO(GOOD.encode()), "roster.csv")},
                    content_type="multipart/form-data")
    assert r.status_code == 200
    html = r.get_data(as_text=True)
    assert '<span id="added">3</span>' in html and "/auth/set-password/" in html
    assert "fay@example.org" in html
    assert "/auth/set-password/" not in client.get(PEOPLE).get_data(as_text=True)   # shown once
    bad = "email,name,role\nok@example.org,Ok,student\nbad,B,student\nz@example.org,Z,janitor\n"
    r = client.post(f"{PEOPLE}/import", data={"roster": (io.BytesIO(bad.encode()), "bad.csv")},
                    content_type="multipart/form-data")
    assert r.status_code == 422
    html = r.get_data(as_text=True)
    assert "line 3: &#39;bad&#39; is not an email address" in html and "line 4: role &#39;janitor&#39;" in html
    assert "ok@example.org" not in html
    r = client.post(f"{PEOPLE}/import", data={}, content_type="multipart/form-data")
    assert r.status_code == 400 and b"choose a CSV file" in r.data


def test_role_change_and_removal_with_confirmation_are_audited(client, world, app):
    sub_id = upload(client, world, "bob").get_json()["id"]
    bob, teacher = world.user_id("bob"), world.user_id("teacher")
    world.login(client, "teacher")
    r = client.post(f"{PEOPLE}/{bob}/role", data={"role": "ta"})
    assert r.status_code == 303
    assert members(client, world)["bob@example.org"]["role"] == "ta"
    r = client.post(f"{PEOPLE}/{teacher}/role", data={"role": "student"}, follow_redirects=True)
    assert b"cannot change your own role" in r.data
    page = client.get(f"{PEOPLE}/{bob}/remove")             # the confirmation step changes nothing
    assert page.status_code == 200 and b"1 submission stay" in page.data and b"confirm-remove" in page.data
    assert "bob@example.org" in members(client, world)
    r = client.post(f"{PEOPLE}/{bob}/remove", data={}, follow_redirects=True)
    assert b"removed from Course one" in r.data
    assert "bob@example.org" not in members(client, world)
    assert client.get(f"{PEOPLE}/{bob}/remove").status_code == 404
    assert client.post(f"{PEOPLE}/{teacher}/remove", data={}, follow_redirects=True).status_code == 200
    assert "teacher@example.org" in members(client, world)
    with app.app_context():
        assert db.session.get(Submission, sub_id) is not None        # their submissions stay
        entries = {e.action: e for e in db.session.scalars(select(AuditEntry))}
        assert entries["member.role"].detail == {"before": "student", "after": "ta"}
        assert entries["member.remove"].target == "bob@example.org" and entries["member.remove"].detail["role"] == "ta"
    world.login(client, "bob")
    assert client.get("/courses/c1/").status_code == 404


def test_a_new_invitation_link_for_who_has_not_set_a_password(client, world, app):
    old = invite(client, world)
    world.login(client, "teacher")
    with app.app_context():
        dan = accounts.require_user("dan@example.org").id
    html = client.get(PEOPLE).get_data(as_text=True)
    assert f'id="invite-{dan}"' in html and f'id="invite-{world.user_id("alice")}"' not in html
    r = client.post(f"{PEOPLE}/{dan}/invite")
    assert r.status_code == 200
    new = urlsplit(shown_link(r.get_data(as_text=True))).path
    assert new != old and client.get(old).status_code == 404      # the old link stops working
    r = client.post(f"{PEOPLE}/{world.user_id('alice')}/invite", follow_redirects=True)
    assert b"has set a password already" in r.data                 # no taking over a used account
    assert client.post(f"{PEOPLE}/{world.user_id('carol')}/invite").status_code == 404   # not in c1
    r = client.post(new, data={"password": "long enough pass", "confirm": "long enough pass"})
    assert r.status_code == 303
    with app.app_context():
        assert accounts.authenticate("dan@example.org", "long enough pass") is not None
        [entry] = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "member.invite")).all()
        assert entry.target == "dan@example.org"


def shown_link(html: str) -> str:
    [link] = re.findall(r'<code class="link">([^<]+)</code>', html)
    return link


def test_people_forms_carry_csrf_tokens(client, world, app):
    app.config["WTF_CSRF_ENABLED"] = True      # as in production (the fixtures turn it off)
    token = csrf_token(client.get("/login").get_data(as_text=True))
    client.post("/login", data={"email": world.emails["teacher"], "password": PASSWORD, "csrf_token": token})
    html = client.get(PEOPLE).get_data(as_text=True)
    assert html.count('name="csrf_token"') == 5      # sign out, three role forms (not the teacher's own), import
    bob = world.user_id("bob")
    for url in (f"{PEOPLE}/{bob}/remove", f"{PEOPLE}/{bob}/role", f"{PEOPLE}/import"):
        assert client.post(url, data={"role": "ta"}).status_code == 400, url
    assert "bob@example.org" in members(client, world)
    r = client.post(f"{PEOPLE}/{bob}/remove", data={"csrf_token": csrf_token(html)})
    assert r.status_code == 303 and "bob@example.org" not in members(client, world)


# --- the command line ----------------------------------------------------------------------------

def _cli(args, instance, env=None):
    e = dict(os.environ, HANDIN_INSTANCE=str(instance), **(env or {}))
    e.pop("HANDIN_DATABASE_URL", None)
    return subprocess.run([sys.executable, "-m", "handin.cli", *args], capture_output=True, text=True, env=e,
                          cwd=REPO, timeout=120)


def test_cli_imports_a_roster_prints_links_and_resets_a_password(tmp_path):
    inst, csv_file = tmp_path / "inst", tmp_path / "roster.csv"
    csv_file.write_text(GOOD)
    env = {"HANDIN_PUBLIC_URL": "https://handin.example.edu/"}
    r = _cli(["roster", "import", str(csv_file), "--course", "ml1"], inst, env)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0] == "ml1: 4 added, 0 updated, 0 unchanged"
    links = dict(line.split() for line in lines[1:])
    assert sorted(links) == ["alice@example.org", "dan@example.org", "eve@example.org", "fay@example.org"]
    assert all(link.startswith("https://handin.example.edu/auth/set-password/") for link in links.values())
    r = _cli(["roster", "import", str(csv_file), "--course", "ml1"], inst, env)
    assert r.stdout.strip() == "ml1: 0 added, 0 updated, 4 unchanged"
    csv_file.write_text("email,name,role\nx@example.org,X,student\nbad,B,dean\n")
    r = _cli(["roster", "import", str(csv_file), "--course", "ml1"], inst)
    assert r.returncode == 2 and f"{csv_file}:3: " in r.stderr and "role 'dean'" in r.stderr
    assert "Traceback" not in r.stderr
    r = _cli(["user", "reset-password", "eve@example.org"], inst)
    assert r.returncode == 0 and r.stdout.startswith("http://127.0.0.1:8000/auth/set-password/"), r.stderr
    reset = r.stdout.strip()
    assert _cli(["user", "reset-password", "nobody@example.org"], inst).returncode == 2

    from server import create_app
    from server.config import Settings
    app = create_app(Settings.from_env(inst, course_root=REPO))
    client = app.test_client()
    assert client.get(urlsplit(links["eve@example.org"]).path).status_code == 404    # the reset replaced it
    r = client.post(urlsplit(reset).path, data={"password": "eve's own password", "confirm": "eve's own password"})
    assert r.status_code == 400   # CSRF is on in a real instance: the form needs its token
    token = csrf_token(client.get(urlsplit(reset).path).get_data(as_text=True))
    r = client.post(urlsplit(reset).path, data={"password": "eve's own password", "confirm": "eve's own password",
                                                "csrf_token": token})
    assert r.status_code == 303
    with app.app_context():
        assert accounts.authenticate("eve@example.org", "eve's own password") is not None
        dan = select(Enrollment.group_name).join(User).where(User.email == "dan@example.org")
        assert db.session.scalar(dan) == "g1"
        db.engine.dispose()
