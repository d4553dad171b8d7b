"""course grades: entered component results, course grades published

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-07 23:53:39.014364

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('component_grades',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('course_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=32), nullable=False),
    sa.Column('grade', sa.String(length=16), nullable=True),
    sa.Column('points', sa.Float(), nullable=True),
    sa.Column('attended', sa.Integer(), nullable=True),
    sa.Column('entered_by_id', sa.Integer(), nullable=True),
    sa.Column('entered_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['course_id'], ['courses.id'], name=op.f('fk_component_grades_course_id_courses'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['entered_by_id'], ['users.id'], name=op.f('fk_component_grades_entered_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_component_grades_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_component_grades')),
    sa.UniqueConstraint('course_id', 'user_id', 'code', name=op.f('uq_component_grades_course_id'))
    )
    with op.batch_alter_table('component_grades', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_component_grades_course_id'), ['course_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_component_grades_user_id'), ['user_id'], unique=False)

    with op.batch_alter_table('courses', schema=None) as batch_op:
        batch_op.add_column(sa.Column('course_grades_published', sa.Boolean(), server_default=sa.false(), nullable=False))



def downgrade():
    with op.batch_alter_table('courses', schema=None) as batch_op:
        batch_op.drop_column('course_grades_published')

    with op.batch_alter_table('component_grades', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_component_grades_user_id'))
        batch_op.drop_index(batch_op.f('ix_component_grades_course_id'))

    op.drop_table('component_grades')
