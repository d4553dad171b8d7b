"""The database: typed SQLAlchemy 2 models. Rules live in ``server.services``, not here."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from flask_login import UserMixin
from sqlalchemy import (JSON, Boolean, DateTime, Float, ForeignKey, Integer, String, Text, TypeDecorator,
                        UniqueConstraint, false)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .extensions import db

ROLES = ("student", "ta", "teacher")
SUBMISSION_STATES = ("queued", "running", "graded", "error")
COUNTS = ("last", "best", "chosen")
LINK_PURPOSES = ("invite", "reset")
INVITE_STATES = ("pending", "accepted", "declined", "cancelled")
REQUEST_STATES = ("open", "accepted", "declined")


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


class UTCDateTime(TypeDecorator):
    """Aware UTC datetimes on every database (SQLite keeps no zone: store naive UTC)."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(dt.timezone.utc).replace(tzinfo=None)

    def process_result_value(self, value: dt.datetime | None, dialect) -> dt.datetime | None:
        return None if value is None else value.replace(tzinfo=dt.timezone.utc)


class User(UserMixin, db.Model):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    password_hash: Mapped[str] = mapped_column(String(300))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    enrollments: Mapped[list["Enrollment"]] = relationship(back_populates="user", cascade="all, delete-orphan")

    @property
    def is_active(self) -> bool:  # Flask-Login
        return self.active

    @property
    def display_name(self) -> str:
        return self.name or self.email


class Course(db.Model):
    __tablename__ = "courses"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    title: Mapped[str] = mapped_column(String(200))
    late_days: Mapped[int] = mapped_column(Integer, default=0, server_default="0")   # each student's budget
    course_grades_published: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())

    enrollments: Mapped[list["Enrollment"]] = relationship(back_populates="course", cascade="all, delete-orphan")
    assignments: Mapped[list["Assignment"]] = relationship(back_populates="course", cascade="all, delete-orphan",
                                                           order_by="Assignment.module")


class Enrollment(db.Model):
    __tablename__ = "enrollments"
    __table_args__ = (UniqueConstraint("user_id", "course_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    course_id: Mapped[int] = mapped_column(ForeignKey("courses.id", ondelete="CASCADE"), index=True)
    role: Mapped[str] = mapped_column(String(16))
    group_name: Mapped[str | None] = mapped_column(String(100), nullable=True)   # the roster's `group` column

    user: Mapped[User] = relationship(back_populates="enrollments")
    course: Mapped[Course] = relationship(back_populates="enrollments")


class ApiToken(db.Model):
    __tablename__ = "api_tokens"
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)   # sha256 hex; the token itself is never kept
    prefix: Mapped[str] = mapped_column(String(16))                    # shown in listings to tell tokens apart
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_used_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)

    user: Mapped[User] = relationship()


class OneTimeToken(db.Model):
    """An invitation or password-reset link: usable once, until it expires; only its sha256 is kept."""

    __tablename__ = "one_time_tokens"
    id: Mapped[int] = mapped_column(primary_key=True)
    purpose: Mapped[str] = mapped_column(String(8))                    # invite | reset
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)

    user: Mapped[User] = relationship()


class Assignment(db.Model):
    """One module handed out in one course, with that course's deadline, limits and state."""

    __tablename__ = "assignments"
    __table_args__ = (UniqueConstraint("course_id", "module"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("courses.id", ondelete="CASCADE"), index=True)
    module: Mapped[str] = mapped_column(String(100))
    title: Mapped[str] = mapped_column(String(200))
    released: Mapped[bool] = mapped_column(Boolean, default=False)
    released_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    due: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    late_penalty_per_day: Mapped[float] = mapped_column(Float, default=0.0)
    max_late_days: Mapped[float] = mapped_column(Float, default=0.0)
    max_attempts: Mapped[int | None] = mapped_column(Integer, nullable=True)
    counts: Mapped[str] = mapped_column(String(8), default="last")
    grades_published: Mapped[bool] = mapped_column(Boolean, default=False)
    published_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    group_size: Mapped[int] = mapped_column(Integer, default=1, server_default="1")   # 1: everyone hands in alone
    regrade_days: Mapped[float] = mapped_column(Float, default=7.0, server_default="7")   # 0: no regrade requests

    course: Mapped[Course] = relationship(back_populates="assignments")


class Group(db.Model):
    """Students who hand in one assignment together: a member's hand-in is the group's."""

    __tablename__ = "groups"
    __table_args__ = (UniqueConstraint("assignment_id", "name"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    assignment_id: Mapped[int] = mapped_column(ForeignKey("assignments.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), nullable=True)

    assignment: Mapped[Assignment] = relationship()
    members: Mapped[list["GroupMember"]] = relationship(back_populates="group", cascade="all, delete-orphan",
                                                        order_by="GroupMember.id")


class GroupMember(db.Model):
    """One student in one group; (assignment, user) is unique, so no one is in two groups of a module."""

    __tablename__ = "group_members"
    __table_args__ = (UniqueConstraint("assignment_id", "user_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("groups.id", ondelete="CASCADE"), index=True)
    assignment_id: Mapped[int] = mapped_column(ForeignKey("assignments.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    joined_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    group: Mapped[Group] = relationship(back_populates="members")
    user: Mapped[User] = relationship()


class GroupInvite(db.Model):
    """A student's invitation to another to join their group; the other accepts or declines."""

    __tablename__ = "group_invites"
    id: Mapped[int] = mapped_column(primary_key=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("groups.id", ondelete="CASCADE"), index=True)
    inviter_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), nullable=True)
    invitee_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    state: Mapped[str] = mapped_column(String(10), default="pending")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    decided_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)

    group: Mapped[Group] = relationship()
    inviter: Mapped[User | None] = relationship(foreign_keys=[inviter_id])
    invitee: Mapped[User] = relationship(foreign_keys=[invitee_id])


class Extension(db.Model):
    """A student's own due date for one assignment, set by a teacher (for a group: one per member)."""

    __tablename__ = "extensions"
    __table_args__ = (UniqueConstraint("assignment_id", "user_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    assignment_id: Mapped[int] = mapped_column(ForeignKey("assignments.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    due: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    set_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), nullable=True)
    set_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    assignment: Mapped[Assignment] = relationship()
    user: Mapped[User] = relationship(foreign_keys=[user_id])


class Submission(db.Model):
    __tablename__ = "submissions"
    # Attempts are numbered per team: the student alone ("u:<user id>") or their group ("g:<group id>").
    __table_args__ = (UniqueConstraint("assignment_id", "team", "attempt", name="uq_submissions_team_attempt"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    assignment_id: Mapped[int] = mapped_column(ForeignKey("assignments.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    group_id: Mapped[int | None] = mapped_column(ForeignKey("groups.id", ondelete="SET NULL"), nullable=True,
                                                 index=True)
    team: Mapped[str] = mapped_column(String(24))
    attempt: Mapped[int] = mapped_column(Integer)
    filename: Mapped[str] = mapped_column(String(255))
    sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(Integer)
    submitted_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Lateness is recomputed from the current rules (deadline, extension, late days) whenever they change.
    late: Mapped[bool] = mapped_column(Boolean, default=False)
    days_late: Mapped[int] = mapped_column(Integer, default=0, server_default="0")       # before late days
    late_days_used: Mapped[int] = mapped_column(Integer, default=0, server_default="0")  # spent on this module
    chosen_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)   # the student's pick
    status: Mapped[str] = mapped_column(String(16), default="queued", index=True)
    queue: Mapped[str] = mapped_column(String(16), default="cpu")
    queued_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    started_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    finished_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    lease_token: Mapped[str | None] = mapped_column(String(32), nullable=True)
    lease_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    deliveries: Mapped[int] = mapped_column(Integer, default=0)   # how many times a worker claimed it
    error: Mapped[str | None] = mapped_column(Text, nullable=True)

    assignment: Mapped[Assignment] = relationship()
    user: Mapped[User] = relationship()
    group: Mapped[Group | None] = relationship()
    result: Mapped["Result | None"] = relationship(back_populates="submission", uselist=False,
                                                   cascade="all, delete-orphan")
    grade: Mapped["Grade | None"] = relationship(back_populates="submission", uselist=False,
                                                 cascade="all, delete-orphan")


class Result(db.Model):
    """The last run's results.json for a submission: one row per submission, replaced by a regrade."""

    __tablename__ = "results"
    id: Mapped[int] = mapped_column(primary_key=True)
    submission_id: Mapped[int] = mapped_column(ForeignKey("submissions.id", ondelete="CASCADE"), unique=True)
    run_status: Mapped[str] = mapped_column(String(16))
    score: Mapped[float] = mapped_column(Float)
    max_score: Mapped[float] = mapped_column(Float)
    needs_review: Mapped[bool] = mapped_column(Boolean, default=False)
    data: Mapped[str] = mapped_column(Text)          # results.json as written by handin.grading
    graded_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    runs: Mapped[int] = mapped_column(Integer, default=1)
    report_dir: Mapped[str] = mapped_column(String(500), default="")   # instance-relative folder of the run's files

    submission: Mapped[Submission] = relationship(back_populates="result")

    @property
    def doc(self) -> dict[str, Any]:
        return json.loads(self.data)


class Grade(db.Model):
    """The computed grade of a submission, and a TA's or teacher's override beside it."""

    __tablename__ = "grades"
    id: Mapped[int] = mapped_column(primary_key=True)
    submission_id: Mapped[int] = mapped_column(ForeignKey("submissions.id", ondelete="CASCADE"), unique=True)
    raw_points: Mapped[float | None] = mapped_column(Float, nullable=True)   # before any late penalty
    points: Mapped[float] = mapped_column(Float)                             # after the current late penalty
    max_points: Mapped[float] = mapped_column(Float)
    percent: Mapped[float] = mapped_column(Float)
    label: Mapped[str | None] = mapped_column(String(16), nullable=True)
    passed: Mapped[bool] = mapped_column(Boolean)
    override_points: Mapped[float | None] = mapped_column(Float, nullable=True)
    override_label: Mapped[str | None] = mapped_column(String(16), nullable=True)
    override_passed: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    override_comment: Mapped[str | None] = mapped_column(Text, nullable=True)
    override_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), nullable=True)
    override_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)

    submission: Mapped[Submission] = relationship(back_populates="grade")
    override_by: Mapped[User | None] = relationship()

    @property
    def overridden(self) -> bool:
        return self.override_at is not None

    @property
    def final_points(self) -> float:
        return self.override_points if self.override_points is not None else self.points

    @property
    def final_label(self) -> str | None:
        return self.override_label if self.override_at is not None and self.override_label else self.label

    @property
    def final_passed(self) -> bool:
        return self.override_passed if self.override_passed is not None else self.passed


class RegradeRequest(db.Model):
    """A student's request to look at a grade again (the whole hand-in or one test), and its answer."""

    __tablename__ = "regrade_requests"
    id: Mapped[int] = mapped_column(primary_key=True)
    submission_id: Mapped[int] = mapped_column(ForeignKey("submissions.id", ondelete="CASCADE"), index=True)
    requester_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), nullable=True)
    test: Mapped[str | None] = mapped_column(String(300), nullable=True)
    reason: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    state: Mapped[str] = mapped_column(String(10), default="open", index=True)
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), nullable=True)
    decided_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    comment: Mapped[str | None] = mapped_column(Text, nullable=True)
    points: Mapped[float | None] = mapped_column(Float, nullable=True)

    submission: Mapped[Submission] = relationship()
    requester: Mapped[User | None] = relationship(foreign_keys=[requester_id])
    decided_by: Mapped[User | None] = relationship(foreign_keys=[decided_by_id])


class AuditEntry(db.Model):
    """Every grade change, release and regrade: who, when, what, why."""

    __tablename__ = "audit_log"
    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), nullable=True)
    course_id: Mapped[int | None] = mapped_column(ForeignKey("courses.id", ondelete="CASCADE"), nullable=True,
                                                  index=True)
    action: Mapped[str] = mapped_column(String(40))
    target: Mapped[str] = mapped_column(String(200), default="")
    detail: Mapped[dict] = mapped_column(JSON, default=dict)

    actor: Mapped[User | None] = relationship()


class ComponentGrade(db.Model):
    """A course component's result as staff entered it (an exam grade, project points, attendance).

    Components made of modules or of other components are computed when read, never stored.
    """

    __tablename__ = "component_grades"
    __table_args__ = (UniqueConstraint("course_id", "user_id", "code"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("courses.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    code: Mapped[str] = mapped_column(String(32))                # the component's code in course.toml
    grade: Mapped[str | None] = mapped_column(String(16), nullable=True)
    points: Mapped[float | None] = mapped_column(Float, nullable=True)
    attended: Mapped[int | None] = mapped_column(Integer, nullable=True)
    entered_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), nullable=True)
    entered_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    user: Mapped[User] = relationship(foreign_keys=[user_id])
    entered_by: Mapped[User | None] = relationship(foreign_keys=[entered_by_id])
