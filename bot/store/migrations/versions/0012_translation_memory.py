"""translation memory per school: machine drafts and reviewed translations of segments

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-03 06:40:00

Outbound translation now goes through `translation_memory` (one school's sentences and
phrases, masked, placeholders numbered within each segment, a machine draft and a
person's review). `translation_cache` stays as the cache for families' replies, which
no translator is shown. Its outbound rows are not copied: they are whole texts keyed
by backend, not segments, so each sentence is translated once more after the upgrade.
"""
import sqlalchemy as sa
from alembic import op

revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'translation_memory',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('school_id', sa.Integer(), nullable=False),
        sa.Column('source_language', sa.String(length=16), nullable=False),
        sa.Column('target_language', sa.String(length=16), nullable=False),
        sa.Column('source_hash', sa.String(length=64), nullable=False),
        sa.Column('normal_hash', sa.String(length=64), nullable=False),
        sa.Column('source_text', sa.Text(), nullable=False),
        sa.Column('context', sa.String(length=64), nullable=False),
        sa.Column('machine_text', sa.Text(), nullable=True),
        sa.Column('machine_backend', sa.String(length=32), nullable=True),
        sa.Column('machine_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('reviewed_text', sa.Text(), nullable=True),
        sa.Column('reviewed_by_id', sa.Integer(), nullable=True),
        sa.Column('reviewed_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('wanted_until', sa.DateTime(timezone=True), nullable=True),
        sa.Column('uses', sa.Integer(), server_default='0', nullable=False),
        sa.Column('used_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['school_id'], ['schools.id'],
                                name=op.f('fk_translation_memory_school_id_schools')),
        sa.ForeignKeyConstraint(['reviewed_by_id'], ['staff.id'],
                                name=op.f('fk_translation_memory_reviewed_by_id_staff')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_translation_memory')),
        sa.UniqueConstraint('school_id', 'source_language', 'target_language', 'source_hash',
                            name=op.f('uq_translation_memory_school_id')),
    )
    op.create_index('ix_translation_memory_normal', 'translation_memory',
                    ['school_id', 'source_language', 'target_language', 'normal_hash'])


def downgrade() -> None:
    op.drop_index('ix_translation_memory_normal', table_name='translation_memory')
    op.drop_table('translation_memory')
