"""deliveries carry their own random email Message-ID and the thread headers of an answer

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02 19:50:00

Deliveries not sent yet get a random Message-ID now; ones already sent keep none (their old
Message-IDs were counters anyone could guess, so they no longer attribute a reply).
"""
import secrets

import sqlalchemy as sa
from alembic import op

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None

UNSENT = ('translating', 'queued', 'sending', 'held')


def upgrade() -> None:
    with op.batch_alter_table('deliveries') as batch:
        batch.add_column(sa.Column('email_message_id', sa.String(length=40), nullable=True))
        batch.add_column(sa.Column('reply_headers', sa.JSON(), nullable=True))
        batch.create_unique_constraint('uq_deliveries_email_message_id', ['email_message_id'])
    deliveries = sa.table('deliveries', sa.column('id', sa.Integer),
                          sa.column('status', sa.String),
                          sa.column('email_message_id', sa.String))
    bind = op.get_bind()
    ids = bind.execute(sa.select(deliveries.c.id)
                       .where(deliveries.c.status.in_(UNSENT))).scalars().all()
    for delivery_id in ids:
        bind.execute(deliveries.update().where(deliveries.c.id == delivery_id)
                     .values(email_message_id=secrets.token_urlsafe(18)))


def downgrade() -> None:
    with op.batch_alter_table('deliveries') as batch:
        batch.drop_constraint('uq_deliveries_email_message_id', type_='unique')
        batch.drop_column('reply_headers')
        batch.drop_column('email_message_id')
