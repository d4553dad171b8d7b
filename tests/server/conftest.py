"""Fixtures for the web platform: a fresh database per test, on SQLite and on PostgreSQL.

Every test that takes ``app`` runs twice: once on a SQLite file and once on the session's real
PostgreSQL cluster (``postgres_url`` from tests/services.py), each time on an empty schema.
Grading is not dispatched (``dispatch="none"``): a test that wants a submission graded calls
``server.services.jobs.run_job`` itself, which grades it for real in the local sandbox.
Helpers (``upload``, ``World``, paths) are in tests/webtools.py.
"""

from __future__ import annotations

import pytest

from server import create_app
from server.extensions import db
from webtools import World, build_world, make_settings, reset_postgres


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request, tmp_path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'handin.sqlite'}"
    url = request.getfixturevalue("postgres_url")
    return reset_postgres(url)


@pytest.fixture
def settings(tmp_path, database_url):
    return make_settings(tmp_path, database_url)


@pytest.fixture
def app(settings):
    app = create_app(settings)
    with app.app_context():
        db.create_all()
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def world(app) -> World:
    return build_world(app)
