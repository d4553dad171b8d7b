"""The course repository as the platform sees it: modules, their problems, and broken specs."""

from __future__ import annotations

import io

from builders import TOY_TOML, make_toy_module
from server import create_app
from server.extensions import db
from server.services import accounts, catalog, seed
from webtools import make_settings


def _app(tmp_path, database_url, root):
    app = create_app(make_settings(tmp_path, database_url, course_root=root))
    with app.app_context():
        db.create_all()
    return app


def test_a_points_typo_stops_a_release(tmp_path, database_url):
    root = tmp_path / "course"
    make_toy_module(root, toml=TOY_TOML + '\n[points]\n"test_dubble" = 3\n')
    app = _app(tmp_path, database_url, root)
    with app.app_context():
        assert catalog.module_names() == ["toy"]
        problems = catalog.release_problems("toy")
        assert problems == ["[points] names tests that do not exist: 'test_dubble'"]
        db.engine.dispose()


def _break(root):
    spec_file = root / "assignments" / "toy" / "assignment.toml"
    spec_file.write_text(spec_file.read_text().replace('scale = "a-f"', 'scale = "a-z"'))


def test_a_module_that_breaks_later_answers_503_not_a_traceback(tmp_path, database_url):
    root = tmp_path / "course"
    make_toy_module(root)
    app = _app(tmp_path, database_url, root)
    with app.app_context():
        made = seed.seed_demo()
        assert [a.module for a in accounts.get_course("demo").assignments] == ["toy"]
        token = accounts.create_token(accounts.require_user(made[2][1]))
        db.session.commit()
    _break(root)
    client = app.test_client()
    headers = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/v1/courses/demo/assignments", headers=headers).status_code == 200
    r = client.post("/api/v1/courses/demo/assignments/toy/submissions", headers=headers,
                    data={"file": (io.BytesIO(b"{}"), "x.ipynb")}, content_type="multipart/form-data")
    assert r.status_code == 503 and "configuration has a problem" in r.get_json()["error"]
    with app.app_context():
        db.engine.dispose()


def test_a_broken_module_is_left_out_of_the_demo_course(tmp_path, database_url):
    root = tmp_path / "course"
    make_toy_module(root)
    _break(root)
    app = _app(tmp_path, database_url, root)
    warnings: list[str] = []
    with app.app_context():
        made = seed.seed_demo(warn=warnings.append)
        assert len(made) == 5 and accounts.get_course("demo").assignments == []
        db.engine.dispose()
    assert len(warnings) == 1 and "module toy left out" in warnings[0] and "grading.scale" in warnings[0]


def test_new_modules_appear_unreleased_in_every_course(tmp_path, database_url):
    root = tmp_path / "course"
    make_toy_module(root)
    app = _app(tmp_path, database_url, root)
    with app.app_context():
        course = accounts.ensure_course("ml")
        assert catalog.sync_modules(course) == ["toy"]
        assert catalog.sync_modules(course) == []
        db.session.commit()
        a = accounts.get_course("ml").assignments
        assert [(x.module, x.released) for x in a] == [("toy", False)]
        db.engine.dispose()


def test_the_teacher_cannot_release_a_module_with_a_points_typo(tmp_path, database_url):
    from webtools import PASSWORD
    root = tmp_path / "course"
    make_toy_module(root, toml=TOY_TOML + '\n[points]\n"test_dubble" = 3\n')
    app = _app(tmp_path, database_url, root)
    with app.app_context():
        course = accounts.ensure_course("ml")
        accounts.add_user("t@example.org", course=course, role="teacher", password=PASSWORD)
        db.session.commit()
    client = app.test_client()
    client.post("/login", data={"email": "t@example.org", "password": PASSWORD})
    assert b"toy" in client.get("/courses/ml/teach/").data          # the dashboard adds the new module
    r = client.post("/courses/ml/teach/assignments/toy/release", follow_redirects=True)
    assert b"cannot be released" in r.data and b"test_dubble" in r.data
    with app.app_context():
        assert accounts.get_course("ml").assignments[0].released is False
        db.engine.dispose()
