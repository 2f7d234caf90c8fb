"""call-back tasks: the family's CALL a task answers, and when it went to cover

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-03 06:40:00

A family who texts CALL was promised a phone call: the staff task that holds that
promise names the reply it answers (the number is read from the family's record on the
authenticated page, never stored in the task) and when it was escalated to cover.
"""
import sqlalchemy as sa
from alembic import op

revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('staff_tasks') as batch:
        batch.add_column(sa.Column('inbound_id', sa.Integer(), nullable=True))
        batch.add_column(sa.Column('escalated_at', sa.DateTime(timezone=True), nullable=True))
        batch.create_index('ix_staff_tasks_inbound_id', ['inbound_id'])
        batch.create_foreign_key('fk_staff_tasks_inbound_id_inbound_messages',
                                 'inbound_messages', ['inbound_id'], ['id'])


def downgrade() -> None:
    with op.batch_alter_table('staff_tasks') as batch:
        batch.drop_constraint('fk_staff_tasks_inbound_id_inbound_messages',
                              type_='foreignkey')
        batch.drop_index('ix_staff_tasks_inbound_id')
        batch.drop_column('escalated_at')
        batch.drop_column('inbound_id')
