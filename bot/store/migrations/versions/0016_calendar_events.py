"""calendar events: one random UID per family and meeting, with its sequence

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-03 07:00:00

Every calendar file about one meeting sent to one guardian carries the same random UID,
so the time they chose replaces the one they added (METHOD:REQUEST, SEQUENCE one
higher) and a cancellation removes it (METHOD:CANCEL).
"""
import sqlalchemy as sa
from alembic import op

revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'calendar_events',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('message_id', sa.Integer(), nullable=False),
        sa.Column('guardian_id', sa.Integer(), nullable=False),
        sa.Column('uid', sa.String(length=80), nullable=False),
        sa.Column('sequence', sa.Integer(), nullable=False),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('starts_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['guardian_id'], ['guardians.id'],
                                name=op.f('fk_calendar_events_guardian_id_guardians')),
        sa.ForeignKeyConstraint(['message_id'], ['messages.id'],
                                name=op.f('fk_calendar_events_message_id_messages')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_calendar_events')),
        sa.UniqueConstraint('message_id', 'guardian_id',
                            name=op.f('uq_calendar_events_message_id')),
        sa.UniqueConstraint('uid', name=op.f('uq_calendar_events_uid')),
    )
    op.create_index(op.f('ix_calendar_events_guardian_id'), 'calendar_events',
                    ['guardian_id'])


def downgrade() -> None:
    op.drop_index(op.f('ix_calendar_events_guardian_id'), table_name='calendar_events')
    op.drop_table('calendar_events')
