"""meeting responses and action points

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23 10:41:13.571541
"""
import sqlalchemy as sa
from alembic import op

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table('action_points',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('student_id', sa.Integer(), nullable=False),
    sa.Column('meeting_message_id', sa.Integer(), nullable=True),
    sa.Column('owner', sa.String(length=16), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('due_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('staff_id', sa.Integer(), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('done_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['meeting_message_id'], ['messages.id'], name=op.f('fk_action_points_meeting_message_id_messages')),
    sa.ForeignKeyConstraint(['staff_id'], ['staff.id'], name=op.f('fk_action_points_staff_id_staff')),
    sa.ForeignKeyConstraint(['student_id'], ['students.id'], name=op.f('fk_action_points_student_id_students')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_action_points'))
    )
    with op.batch_alter_table('action_points', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_action_points_due_at'), ['due_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_action_points_student_id'), ['student_id'], unique=False)

    op.create_table('meeting_responses',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('message_id', sa.Integer(), nullable=False),
    sa.Column('guardian_id', sa.Integer(), nullable=False),
    sa.Column('inbound_id', sa.Integer(), nullable=True),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('slot', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['guardian_id'], ['guardians.id'], name=op.f('fk_meeting_responses_guardian_id_guardians')),
    sa.ForeignKeyConstraint(['inbound_id'], ['inbound_messages.id'], name=op.f('fk_meeting_responses_inbound_id_inbound_messages')),
    sa.ForeignKeyConstraint(['message_id'], ['messages.id'], name=op.f('fk_meeting_responses_message_id_messages')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_meeting_responses'))
    )
    with op.batch_alter_table('meeting_responses', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_meeting_responses_guardian_id'), ['guardian_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_meeting_responses_message_id'), ['message_id'], unique=False)




def downgrade() -> None:

    with op.batch_alter_table('meeting_responses', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_meeting_responses_message_id'))
        batch_op.drop_index(batch_op.f('ix_meeting_responses_guardian_id'))

    op.drop_table('meeting_responses')
    with op.batch_alter_table('action_points', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_action_points_student_id'))
        batch_op.drop_index(batch_op.f('ix_action_points_due_at'))

    op.drop_table('action_points')

