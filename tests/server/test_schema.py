"""The migrations build exactly the schema the models describe, on SQLite and PostgreSQL, and keep the data."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from werkzeug.security import generate_password_hash

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


def test_upgrading_an_instance_with_data_from_0001_keeps_it(tmp_path, database_url):
    """An instance made at 0001 (a course, people, a graded submission) upgraded to head loses nothing."""
    from flask_migrate import upgrade as alembic_upgrade
    from sqlalchemy import select, text

    from server import MIGRATIONS
    from server.models import Enrollment, Grade, Submission
    from server.services import accounts, roster
    from webtools import PASSWORD

    app = create_app(make_settings(tmp_path, database_url))
    hashed = generate_password_hash(PASSWORD)
    at = "2026-12-01 10:00:00"
    with app.app_context():
        alembic_upgrade(directory=str(MIGRATIONS), revision="0001")
        with db.engine.begin() as conn:
            assert conn.execute(text("select version_num from alembic_version")).scalar() == "0001"
            conn.execute(text("insert into courses (id, code, title) values (1, 'ml1', 'ML one')"))
            for uid, email, role in ((1, "tea@example.org", "teacher"), (2, "stu@example.org", "student")):
                conn.execute(text("insert into users (id, email, name, password_hash, active, created_at) "
                                  "values (:id, :email, :name, :h, :t, :at)"),
                             dict(id=uid, email=email, name=email[:3], h=hashed, t=True, at=at))
                conn.execute(text("insert into enrollments (id, user_id, course_id, role) values (:id, :id, 1, :role)"),
                             dict(id=uid, role=role))
            conn.execute(text(
                "insert into assignments (id, course_id, module, title, released, late_penalty_per_day, max_late_days,"
                " counts, grades_published) values (1, 1, 'm02-feedforward', 'Feedforward', :t, 0, 0, 'last', :f)"),
                dict(t=True, f=False))
            conn.execute(text(
                "insert into submissions (id, assignment_id, user_id, attempt, filename, sha256, size, submitted_at,"
                " late, status, queue, queued_at, deliveries) values (1, 1, 2, 1, 'nb.ipynb', :sha, 10, :at, :f,"
                " 'graded', 'cpu', :at, 1)"), dict(sha="a" * 64, at=at, f=False))
            conn.execute(text("insert into grades (id, submission_id, points, max_points, percent, label, passed)"
                              " values (1, 1, 23, 29, 79.3, 'C', :t)"), dict(t=True))
            conn.execute(text("insert into results (id, submission_id, run_status, score, max_score, needs_review,"
                              " data, graded_at, runs, report_dir) values (1, 1, 'ok', 23, 29, :f, :data, :at, 1, '')"),
                         dict(f=False, at=at, data='{"score": 23, "late": {"days_late": 1, "points_deducted": 2}}'))
        db.engine.dispose()
    upgrade(app)
    with app.app_context():
        with db.engine.connect() as conn:
            assert conn.execute(text("select version_num from alembic_version")).scalar() == "0004"
        members = {m.email: (m.role, m.group) for m in roster.members(accounts.get_course("ml1"))}
        assert members == {"tea@example.org": ("teacher", None), "stu@example.org": ("student", None)}
        sub = db.session.get(Submission, 1)
        assert (sub.user.email, sub.assignment.module, sub.status) == ("stu@example.org", "m02-feedforward", "graded")
        assert db.session.scalar(select(Grade.label).where(Grade.submission_id == 1)) == "C"
        # 0003: the points before the late penalty the old grading took off; nothing else moved
        assert db.session.scalar(select(Grade.raw_points).where(Grade.submission_id == 1)) == 25
        assert sub.result is not None and sub.result.doc["score"] == 23
        assert (sub.team, sub.group_id, sub.chosen_at, sub.assignment.group_size, sub.assignment.course.late_days) == \
            ("u:2", None, None, 1, 0)
        assert sub.assignment.course.course_grades_published is False   # 0004: course grades start provisional
        assert accounts.authenticate("stu@example.org", PASSWORD) is not None
        # The new parts work on the upgraded data: a re-import updates in place, a link can be issued.
        csv = b"email,name,role,group\nstu@example.org,Stu,student,g1\n"
        report = roster.import_csv(accounts.get_course("ml1"), csv, actor=None)
        assert (report.added, report.updated, report.invitations) == (0, 1, [])
        assert db.session.scalar(select(Enrollment.group_name).where(Enrollment.user_id == 2)) == "g1"
        assert accounts.reset_link("stu@example.org")
        db.session.commit()
        db.engine.dispose()
