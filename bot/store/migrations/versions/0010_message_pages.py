"""private links carry the whole message a short SMS points to (pack_links text)

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02 19:45:00

A short SMS carries what the family needs to act and a private link; the page behind
that link shows the whole message, in the family's language, as it was rendered for
them. Existing links (prep packs) keep working with no stored text.
"""
import sqlalchemy as sa
from alembic import op

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('pack_links') as batch:
        batch.add_column(sa.Column('language', sa.String(length=35), nullable=True))
        batch.add_column(sa.Column('subject', sa.Text(), nullable=True))
        batch.add_column(sa.Column('text', sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('pack_links') as batch:
        batch.drop_column('text')
        batch.drop_column('subject')
        batch.drop_column('language')
