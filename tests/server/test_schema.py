"""The migrations build exactly the schema the models describe, on SQLite and PostgreSQL."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from server import create_app
from server.cli import upgrade
from server.extensions import db
from webtools import make_settings


def test_migrations_match_the_models(tmp_path, database_url):
    app = create_app(make_settings(tmp_path, database_url))
    upgrade(app)
    upgrade(app)   # idempotent: a second start changes nothing
    with app.app_context():
        with db.engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), db.metadata)
        db.engine.dispose()
    assert diff == [], diff
