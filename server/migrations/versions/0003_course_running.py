"""course running: groups, extensions, late days, chosen attempts, regrade requests

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-07 23:30:25.460580

"""
import json

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('extensions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('assignment_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('due', sa.DateTime(), nullable=False),
    sa.Column('set_by_id', sa.Integer(), nullable=True),
    sa.Column('set_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['assignment_id'], ['assignments.id'], name=op.f('fk_extensions_assignment_id_assignments'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['set_by_id'], ['users.id'], name=op.f('fk_extensions_set_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_extensions_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_extensions')),
    sa.UniqueConstraint('assignment_id', 'user_id', name=op.f('uq_extensions_assignment_id'))
    )
    with op.batch_alter_table('extensions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_extensions_assignment_id'), ['assignment_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_extensions_user_id'), ['user_id'], unique=False)

    op.create_table('groups',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('assignment_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['assignment_id'], ['assignments.id'], name=op.f('fk_groups_assignment_id_assignments'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_groups_created_by_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_groups')),
    sa.UniqueConstraint('assignment_id', 'name', name=op.f('uq_groups_assignment_id'))
    )
    with op.batch_alter_table('groups', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_groups_assignment_id'), ['assignment_id'], unique=False)

    op.create_table('group_invites',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('group_id', sa.Integer(), nullable=False),
    sa.Column('inviter_id', sa.Integer(), nullable=True),
    sa.Column('invitee_id', sa.Integer(), nullable=False),
    sa.Column('state', sa.String(length=10), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('decided_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['group_id'], ['groups.id'], name=op.f('fk_group_invites_group_id_groups'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['invitee_id'], ['users.id'], name=op.f('fk_group_invites_invitee_id_users'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['inviter_id'], ['users.id'], name=op.f('fk_group_invites_inviter_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_group_invites'))
    )
    with op.batch_alter_table('group_invites', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_group_invites_group_id'), ['group_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_group_invites_invitee_id'), ['invitee_id'], unique=False)

    op.create_table('group_members',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('group_id', sa.Integer(), nullable=False),
    sa.Column('assignment_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('joined_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['assignment_id'], ['assignments.id'], name=op.f('fk_group_members_assignment_id_assignments'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['group_id'], ['groups.id'], name=op.f('fk_group_members_group_id_groups'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_group_members_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_group_members')),
    sa.UniqueConstraint('assignment_id', 'user_id', name=op.f('uq_group_members_assignment_id'))
    )
    with op.batch_alter_table('group_members', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_group_members_group_id'), ['group_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_group_members_user_id'), ['user_id'], unique=False)

    op.create_table('regrade_requests',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('submission_id', sa.Integer(), nullable=False),
    sa.Column('requester_id', sa.Integer(), nullable=True),
    sa.Column('test', sa.String(length=300), nullable=True),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('state', sa.String(length=10), nullable=False),
    sa.Column('decided_by_id', sa.Integer(), nullable=True),
    sa.Column('decided_at', sa.DateTime(), nullable=True),
    sa.Column('comment', sa.Text(), nullable=True),
    sa.Column('points', sa.Float(), nullable=True),
    sa.ForeignKeyConstraint(['decided_by_id'], ['users.id'], name=op.f('fk_regrade_requests_decided_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['requester_id'], ['users.id'], name=op.f('fk_regrade_requests_requester_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['submission_id'], ['submissions.id'], name=op.f('fk_regrade_requests_submission_id_submissions'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_regrade_requests'))
    )
    with op.batch_alter_table('regrade_requests', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_regrade_requests_state'), ['state'], unique=False)
        batch_op.create_index(batch_op.f('ix_regrade_requests_submission_id'), ['submission_id'], unique=False)

    with op.batch_alter_table('assignments', schema=None) as batch_op:
        batch_op.add_column(sa.Column('group_size', sa.Integer(), server_default='1', nullable=False))
        batch_op.add_column(sa.Column('regrade_days', sa.Float(), server_default='7', nullable=False))

    with op.batch_alter_table('courses', schema=None) as batch_op:
        batch_op.add_column(sa.Column('late_days', sa.Integer(), server_default='0', nullable=False))

    with op.batch_alter_table('grades', schema=None) as batch_op:
        batch_op.add_column(sa.Column('raw_points', sa.Float(), nullable=True))

    with op.batch_alter_table('submissions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('group_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('days_late', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('late_days_used', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('chosen_at', sa.DateTime(), nullable=True))
        batch_op.create_index(batch_op.f('ix_submissions_group_id'), ['group_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_submissions_group_id_groups'), 'groups', ['group_id'], ['id'], ondelete='SET NULL')
        batch_op.add_column(sa.Column('team', sa.String(length=24), server_default='', nullable=False))
    # Every hand-in so far was a student's own: its team is that student.
    op.execute("update submissions set team = 'u:' || cast(user_id as varchar(20))")
    with op.batch_alter_table('submissions', schema=None) as batch_op:
        batch_op.alter_column('team', server_default=None)
        batch_op.drop_constraint('uq_submissions_assignment_id', type_='unique')
        batch_op.create_unique_constraint('uq_submissions_team_attempt', ['assignment_id', 'team', 'attempt'])

    # The points before any late penalty: what the run scored, plus what an earlier grading deducted.
    conn = op.get_bind()
    rows = conn.execute(sa.text("select g.id, g.points, r.data from grades g left join results r"
                                " on r.submission_id = g.submission_id")).fetchall()
    for grade_id, points, data in rows:
        try:
            late = (json.loads(data or "{}").get("late") or {})
            deducted = float(late.get("points_deducted") or 0.0)
        except (ValueError, TypeError, AttributeError):
            deducted = 0.0
        conn.execute(sa.text("update grades set raw_points = :raw where id = :id"),
                     dict(raw=points + deducted, id=grade_id))



def downgrade():
    with op.batch_alter_table('submissions', schema=None) as batch_op:
        batch_op.drop_constraint('uq_submissions_team_attempt', type_='unique')
        batch_op.create_unique_constraint('uq_submissions_assignment_id', ['assignment_id', 'user_id', 'attempt'])
        batch_op.drop_column('team')
        batch_op.drop_constraint(batch_op.f('fk_submissions_group_id_groups'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_submissions_group_id'))
        batch_op.drop_column('chosen_at')
        batch_op.drop_column('late_days_used')
        batch_op.drop_column('days_late')
        batch_op.drop_column('group_id')

    with op.batch_alter_table('grades', schema=None) as batch_op:
        batch_op.drop_column('raw_points')

    with op.batch_alter_table('courses', schema=None) as batch_op:
        batch_op.drop_column('late_days')

    with op.batch_alter_table('assignments', schema=None) as batch_op:
        batch_op.drop_column('regrade_days')
        batch_op.drop_column('group_size')

    with op.batch_alter_table('regrade_requests', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_regrade_requests_submission_id'))
        batch_op.drop_index(batch_op.f('ix_regrade_requests_state'))

    op.drop_table('regrade_requests')
    with op.batch_alter_table('group_members', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_group_members_user_id'))
        batch_op.drop_index(batch_op.f('ix_group_members_group_id'))

    op.drop_table('group_members')
    with op.batch_alter_table('group_invites', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_group_invites_invitee_id'))
        batch_op.drop_index(batch_op.f('ix_group_invites_group_id'))

    op.drop_table('group_invites')
    with op.batch_alter_table('groups', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_groups_assignment_id'))

    op.drop_table('groups')
    with op.batch_alter_table('extensions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_extensions_user_id'))
        batch_op.drop_index(batch_op.f('ix_extensions_assignment_id'))

    op.drop_table('extensions')
