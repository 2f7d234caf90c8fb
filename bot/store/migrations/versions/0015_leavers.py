"""leavers: the day a child left, and when a family's personal data was erased

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-03 07:00:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('students') as batch:
        batch.add_column(sa.Column('left_on', sa.Date(), nullable=True))
        batch.add_column(sa.Column('erased_at', sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table('guardians') as batch:
        batch.add_column(sa.Column('erased_at', sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('guardians') as batch:
        batch.drop_column('erased_at')
    with op.batch_alter_table('students') as batch:
        batch.drop_column('erased_at')
        batch.drop_column('left_on')
