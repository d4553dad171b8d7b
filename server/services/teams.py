"""Who hands in together: a student alone, or their group for that assignment.

A submission belongs to a *team*, kept in ``Submission.team``: ``u:<user id>`` for a student's
own hand-in, ``g:<group id>`` for a group's. Attempts are numbered, limited and counted per team,
and every member of a group sees its hand-ins, reports and grade. Forming groups (by teachers,
from the roster, by invitation) is :mod:`server.services.groups`; this module only answers
"whose is this?".
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from ..extensions import db
from ..models import Assignment, Group, GroupMember, Submission, User


@dataclass(frozen=True)
class Team:
    key: str                        # the value of Submission.team
    member_ids: tuple[int, ...]     # every student whose grade this team's hand-in is
    group: Group | None = None

    @property
    def group_id(self) -> int | None:
        return self.group.id if self.group is not None else None


def solo_key(user_id: int) -> str:
    return f"u:{user_id}"


def group_key(group_id: int) -> str:
    return f"g:{group_id}"


def group_of(a: Assignment, user_id: int) -> Group | None:
    return db.session.scalar(select(Group).join(GroupMember).where(GroupMember.assignment_id == a.id,
                                                                   GroupMember.user_id == user_id))


def team_of(a: Assignment, user_id: int) -> Team:
    """The team ``user_id`` hands in with now: their group for ``a``, or themselves."""
    g = group_of(a, user_id)
    if g is None:
        return Team(solo_key(user_id), (user_id,))
    return Team(group_key(g.id), tuple(m.user_id for m in g.members), g)


def members_of_key(key: str) -> tuple[int, ...]:
    """The students a team key stands for (a group's current members)."""
    kind, _, ident = key.partition(":")
    if kind == "u":
        return (int(ident),)
    return tuple(db.session.scalars(select(GroupMember.user_id).where(GroupMember.group_id == int(ident))
                                    .order_by(GroupMember.id)))


def team_submissions(a: Assignment, user_id: int) -> list[Submission]:
    """The submissions that count for ``user_id`` on ``a`` (their team's), latest attempt first."""
    key = team_of(a, user_id).key
    return list(db.session.scalars(select(Submission).where(Submission.assignment_id == a.id,
                                                            Submission.team == key)
                                   .order_by(Submission.attempt.desc())))


def may_see(user: User, sub: Submission) -> bool:
    """Whether ``user`` handed in ``sub`` or is in the group it belongs to."""
    if sub.user_id == user.id:
        return True
    if sub.group_id is None:
        return False
    return db.session.scalar(select(GroupMember.id).where(GroupMember.group_id == sub.group_id,
                                                          GroupMember.user_id == user.id)) is not None


def by_team(a: Assignment) -> dict[str, list[Submission]]:
    """Every submission of ``a`` grouped by team, latest attempt first in each."""
    out: dict[str, list[Submission]] = {}
    for sub in db.session.scalars(select(Submission).where(Submission.assignment_id == a.id)
                                  .order_by(Submission.attempt.desc())):
        out.setdefault(sub.team, []).append(sub)
    return out
