"""Forming groups: teachers make them (from emails or the roster's group column), students invite.

Who hands in with whom is answered by :mod:`server.services.teams`; this module changes it. Every
change is audited, followed by :func:`lateness.refresh` (a group shares extensions and late
days, so joining or leaving can move "late") and committed.

No one is in two groups of one module: ``group_members`` has a unique (assignment, user), so two
requests racing to add the same student end with one membership and a Conflict, never two.

What happens to hand-ins:

* A student who joins a group hands in with it from then on; what they handed in alone stays
  theirs (they still see it) but stops counting: the group's hand-ins count.
* A member removed by the teacher hands in alone again; the group's hand-ins stay the group's.
* A group that has handed in keeps its last member and cannot be dissolved (its hand-ins would
  belong to no one), and students cannot leave it.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from ..extensions import db
from ..models import Assignment, Enrollment, Group, GroupInvite, GroupMember, Submission, User, utcnow
from . import audit, lateness, teams
from .accounts import find_user, membership, normalise_email
from .errors import BadRequest, Conflict, NotFound

MAX_NAME = 100


def groups_of(a: Assignment) -> list[Group]:
    return list(db.session.scalars(select(Group).where(Group.assignment_id == a.id).order_by(Group.name)))


def group_in(a: Assignment, group_id: int) -> Group:
    g = db.session.get(Group, group_id)
    if g is None or g.assignment_id != a.id:
        raise NotFound()
    return g


def handed_in(g: Group) -> int:
    """How many submissions belong to the group."""
    return db.session.scalar(select(func.count()).select_from(Submission).where(
        Submission.assignment_id == g.assignment_id, Submission.team == teams.group_key(g.id))) or 0


def students(a: Assignment) -> list[User]:
    """The course's students, by email (for the pages' pickers)."""
    return list(db.session.scalars(select(User).join(Enrollment).where(
        Enrollment.course_id == a.course_id, Enrollment.role == "student").order_by(User.email)))


# --- teachers -------------------------------------------------------------------------------------

def create(a: Assignment, emails: Iterable[str], actor: User, name: str | None = None) -> Group:
    """A group of the course's students ``emails`` for ``a``; Conflict if one is in a group already.

    The teacher may make a group of any size (``group_size`` limits what students form themselves).
    """
    membership(actor, a.course.code, ("teacher",))
    users = students_named(a, emails)
    if not users:
        raise BadRequest("name at least one student")
    name = _name(a, name)
    with _joining(a, users):
        group = Group(assignment=a, name=name, created_by_id=actor.id)
        db.session.add(group)
        _add(a, group, users, actor, action="group.create")
    return group


def add_member(g: Group, email: str, actor: User) -> None:
    a = g.assignment
    membership(actor, a.course.code, ("teacher",))
    users = students_named(a, [email])
    with _joining(a, users):
        _add(a, g, users, actor, action="group.add")


def from_roster(a: Assignment, actor: User) -> list[Group]:
    """One group per roster group name among students of ``a`` without a group; returns those changed.

    A group of that name made earlier (by an earlier call) takes the newcomers.
    """
    membership(actor, a.course.code, ("teacher",))
    grouped = set(db.session.scalars(select(GroupMember.user_id).where(GroupMember.assignment_id == a.id)))
    by_name: dict[str, list[User]] = {}
    for e in db.session.scalars(select(Enrollment).where(Enrollment.course_id == a.course_id,
                                                         Enrollment.role == "student",
                                                         Enrollment.group_name.is_not(None))
                                .order_by(Enrollment.group_name, Enrollment.id)):
        if e.group_name.strip() and e.user_id not in grouped:
            by_name.setdefault(e.group_name.strip()[:MAX_NAME], []).append(e.user)
    existing = {g.name: g for g in groups_of(a)}
    changed = []
    with _joining(a, [u for users in by_name.values() for u in users]):
        for name, users in by_name.items():
            group = existing.get(name)
            if group is None:
                group = Group(assignment=a, name=name, created_by_id=actor.id)
                db.session.add(group)
            _add(a, group, users, actor, action="group.roster")
            changed.append(group)
    return changed


def remove_member(g: Group, user_id: int, actor: User) -> None:
    """Take a student out of a group; they hand in alone from then on, the group's hand-ins stay its."""
    a = g.assignment
    membership(actor, a.course.code, ("teacher",))
    m = next((m for m in g.members if m.user_id == user_id), None)
    if m is None:
        raise NotFound()
    if len(g.members) == 1 and handed_in(g):
        raise Conflict(f"{m.user.email} is the last member of {g.name}, which has handed in: its hand-ins "
                       "would belong to no one")
    audit.record("group.remove", actor=actor, course=a.course, target=_target(g), member=m.user.email)
    g.members.remove(m)
    if not g.members:
        _delete(g)
    _settle(a)


def dissolve(g: Group, actor: User) -> None:
    """Delete a group that has not handed in (its members hand in alone again)."""
    a = g.assignment
    membership(actor, a.course.code, ("teacher",))
    n = handed_in(g)
    if n:
        raise Conflict(f"{g.name} has handed in {n} time{'s' if n != 1 else ''}; its hand-ins would belong "
                       "to no one. Remove members instead: the last one stays")
    audit.record("group.dissolve", actor=actor, course=a.course, target=_target(g),
                 members=[m.user.email for m in g.members])
    _delete(g)
    _settle(a)


# --- students --------------------------------------------------------------------------------------

def invite(a: Assignment, inviter: User, email: str) -> GroupInvite:
    """Invite a classmate into the inviter's group (made now if they have none)."""
    membership(inviter, a.course.code, ("student",))
    if a.group_size <= 1:
        raise Conflict("this assignment is handed in alone")
    invitee = students_named(a, [email])[0]
    if invitee.id == inviter.id:
        raise BadRequest("you cannot invite yourself")
    if teams.group_of(a, invitee.id) is not None:
        raise Conflict(f"{invitee.email} is in a group for this assignment already")
    group = teams.group_of(a, inviter.id)
    pending = _pending(group) if group is not None else []
    if any(i.invitee_id == invitee.id for i in pending):
        raise Conflict(f"{invitee.email} is invited already")
    if group is not None and len(group.members) + len(pending) >= a.group_size:
        raise Conflict(f"groups are at most {a.group_size} (members and open invitations together)")
    with _joining(a, [inviter]):
        if group is None:
            group = Group(assignment=a, name=_name(a, None), created_by_id=inviter.id)
            db.session.add(group)
            _add(a, group, [inviter], inviter, action="group.create")
        inv = GroupInvite(group=group, inviter_id=inviter.id, invitee_id=invitee.id, state="pending")
        db.session.add(inv)
        audit.record("group.invite", actor=inviter, course=a.course, target=_target(group),
                     invitee=invitee.email)
    return inv


def invitations_for(a: Assignment, user: User) -> list[GroupInvite]:
    """Open invitations ``user`` received for ``a``."""
    return list(db.session.scalars(select(GroupInvite).join(Group).where(
        Group.assignment_id == a.id, GroupInvite.invitee_id == user.id, GroupInvite.state == "pending")
        .order_by(GroupInvite.id)))


def invited_anywhere(course, user: User) -> list[GroupInvite]:
    """Open invitations ``user`` received in ``course``, for the course page."""
    return list(db.session.scalars(select(GroupInvite).join(Group).join(Assignment).where(
        Assignment.course_id == course.id, Assignment.released.is_(True), GroupInvite.invitee_id == user.id,
        GroupInvite.state == "pending").order_by(GroupInvite.id)))


def invitations_sent(g: Group | None) -> list[GroupInvite]:
    return [] if g is None else _pending(g)


def accept(invite_id: int, user: User) -> Group:
    """Join the inviting group: only without a group of one's own for the module."""
    inv = _invitation(invite_id, user, invitee=True)
    group = inv.group
    a = group.assignment
    if teams.group_of(a, user.id) is not None:
        raise Conflict("you are in a group for this assignment already; leave it first")
    if len(group.members) >= a.group_size:
        raise Conflict(f"{group.name} is full (at most {a.group_size})")
    inv.state, inv.decided_at = "accepted", utcnow()
    with _joining(a, [user]):
        _add(a, group, [user], user, action="group.accept")   # the other offers lapse
    return group


def decline(invite_id: int, user: User) -> None:
    inv = _invitation(invite_id, user, invitee=True)
    inv.state, inv.decided_at = "declined", utcnow()
    audit.record("group.decline", actor=user, course=inv.group.assignment.course, target=_target(inv.group))
    db.session.commit()


def cancel(invite_id: int, user: User) -> None:
    """Any member of the inviting group takes an open invitation back."""
    inv = _invitation(invite_id, user, invitee=False)
    inv.state, inv.decided_at = "cancelled", utcnow()
    group = inv.group
    audit.record("group.cancel", actor=user, course=group.assignment.course, target=_target(group),
                 invitee=inv.invitee.email)
    if len(group.members) == 1 and not _pending(group) and not handed_in(group):
        _delete(group)   # the inviter's group was only made to invite: they hand in alone again
    _settle(group.assignment)


def leave(a: Assignment, user: User) -> None:
    """Leave one's group, only while it has not handed in."""
    membership(user, a.course.code, ("student",))
    group = teams.group_of(a, user.id)
    if group is None:
        raise NotFound()
    if handed_in(group):
        raise Conflict(f"{group.name} has handed in: ask your teacher to change the group")
    m = next(m for m in group.members if m.user_id == user.id)
    audit.record("group.leave", actor=user, course=a.course, target=_target(group))
    group.members.remove(m)
    if not group.members:
        _delete(group)
    _settle(a)


# --- the parts -------------------------------------------------------------------------------------

def students_named(a: Assignment, emails: Iterable[str]) -> list[User]:
    """The users of ``emails``, each a student of ``a``'s course; BadRequest naming those who are not."""
    users, missing = [], []
    for raw in emails:
        email = normalise_email(raw)
        user = find_user(email)
        role = db.session.scalar(select(Enrollment.role).where(Enrollment.course_id == a.course_id,
                                                               Enrollment.user_id == user.id)) if user else None
        if role != "student":
            missing.append(email)
        elif user not in users:
            users.append(user)
    if missing:
        raise BadRequest(f"not students of {a.course.code}: {', '.join(missing)}")
    return users


def _name(a: Assignment, name: str | None) -> str:
    taken = {g.name for g in groups_of(a)}
    if name is not None:
        name = name.strip()
        if not name or len(name) > MAX_NAME:
            raise BadRequest(f"a group's name is 1 to {MAX_NAME} characters")
        if name in taken:
            raise Conflict(f"{a.module} has a group named {name!r} already")
        return name
    n = len(taken) + 1
    while f"group-{n}" in taken:
        n += 1
    return f"group-{n}"


def _add(a: Assignment, group: Group, users: list[User], actor: User, *, action: str) -> None:
    """Add ``users`` (no commit); Conflict naming those already grouped for ``a``."""
    ids = [u.id for u in users]
    taken = list(db.session.scalars(select(User.email).join(GroupMember, GroupMember.user_id == User.id).where(
        GroupMember.assignment_id == a.id, GroupMember.user_id.in_(ids))))
    if taken:
        db.session.rollback()
        raise Conflict(f"already in a group for {a.module}: {', '.join(sorted(taken))}")
    for u in users:
        group.members.append(GroupMember(assignment_id=a.id, user_id=u.id))
        for inv in invitations_for(a, u):   # invited elsewhere: those offers lapse
            inv.state, inv.decided_at = "cancelled", utcnow()
    db.session.flush()
    audit.record(action, actor=actor, course=a.course, target=_target(group), members=[u.email for u in users])


@contextmanager
def _joining(a: Assignment, users: list[User]) -> Iterator[None]:
    """Changes that add ``users`` to groups, then settled and committed.

    A concurrent join of the same student (or a group of the same name made at the same moment)
    fails on the database's unique constraints: rolled back and answered with a Conflict.
    """
    ids = [u.id for u in users]
    try:
        yield
        _settle(a)
    except IntegrityError:
        db.session.rollback()
        taken = list(db.session.scalars(select(User.email).join(GroupMember, GroupMember.user_id == User.id)
                                        .where(GroupMember.assignment_id == a.id, GroupMember.user_id.in_(ids))))
        if taken:
            raise Conflict(f"already in a group for {a.module}: {', '.join(sorted(taken))}") from None
        raise Conflict("another group was changed at the same moment; try again") from None


def _settle(a: Assignment) -> None:
    db.session.flush()
    lateness.refresh(a.course)   # a group shares extensions and late days: "late" may move
    db.session.commit()


def _delete(g: Group) -> None:
    for inv in db.session.scalars(select(GroupInvite).where(GroupInvite.group_id == g.id)):
        db.session.delete(inv)
    db.session.delete(g)


def _pending(g: Group) -> list[GroupInvite]:
    return list(db.session.scalars(select(GroupInvite).where(GroupInvite.group_id == g.id,
                                                             GroupInvite.state == "pending")
                                   .order_by(GroupInvite.id)))


def _invitation(invite_id: int, user: User, *, invitee: bool) -> GroupInvite:
    """An open invitation ``user`` received (``invitee``) or whose group they are in; NotFound otherwise."""
    inv = db.session.get(GroupInvite, invite_id)
    if inv is None:
        raise NotFound()
    membership(user, inv.group.assignment.course.code, ("student",))
    mine = inv.invitee_id == user.id if invitee else \
        any(m.user_id == user.id for m in inv.group.members)
    if not mine:
        raise NotFound()
    if inv.state != "pending":
        raise Conflict(f"this invitation was {inv.state} already")
    return inv


def _target(g: Group) -> str:
    return f"{g.assignment.module}:group:{g.name}"
