"""deliveries record when their own provider call started (handed_at)

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02 19:40:00

A row claimed but never handed to the provider can be released after a stop or a crash;
one handed over is settled by asking the provider. Rows already 'sending' when this runs
were claimed by the old worker, which marked no hand-over: they count as handed over
(the old rule), so they are settled by asking, never released blind.
"""
import sqlalchemy as sa
from alembic import op

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('deliveries') as batch:
        batch.add_column(sa.Column('handed_at', sa.DateTime(timezone=True), nullable=True))
    deliveries = sa.table('deliveries', sa.column('status', sa.String),
                          sa.column('claimed_at', sa.DateTime(timezone=True)),
                          sa.column('handed_at', sa.DateTime(timezone=True)))
    op.get_bind().execute(deliveries.update().where(deliveries.c.status == 'sending')
                          .values(handed_at=deliveries.c.claimed_at))


def downgrade() -> None:
    with op.batch_alter_table('deliveries') as batch:
        batch.drop_column('handed_at')
