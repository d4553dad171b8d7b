"""The audit log: every grade change, release, publication and regrade, with who and why."""

from __future__ import annotations

from typing import Any

from ..extensions import db
from ..models import AuditEntry, Course, User


def record(action: str, *, actor: User | None, course: Course | None, target: str = "",
           **detail: Any) -> AuditEntry:
    """Add an entry to the current transaction (committed with the change it describes)."""
    entry = AuditEntry(action=action, actor=actor, course_id=course.id if course else None, target=target,
                       detail=detail)
    db.session.add(entry)
    return entry
