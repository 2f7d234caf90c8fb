"""an index of inbound messages waiting to be routed

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23 14:40:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None

WAITING = sa.text("status = 'received'")


def upgrade() -> None:
    op.create_index('ix_inbound_messages_waiting', 'inbound_messages', ['channel', 'id'],
                    sqlite_where=WAITING, postgresql_where=WAITING)


def downgrade() -> None:
    op.drop_index('ix_inbound_messages_waiting', table_name='inbound_messages')
