"""set-up in the browser: absence dates, one-time password links, saved messages

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-03 06:30:00

A key worker's absence gets a start and an end (cover applies between them); an admin
makes a one-time link for a member of staff to set a new password (only the token's
hash is stored); a school keeps messages to start from.
"""
import sqlalchemy as sa
from alembic import op

revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('staff') as batch:
        batch.add_column(sa.Column('away_from', sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column('away_until', sa.DateTime(timezone=True), nullable=True))
    op.create_table('password_links',
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('staff_id', sa.Integer(), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('used_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['created_by_id'], ['staff.id'],
                            name=op.f('fk_password_links_created_by_id_staff')),
    sa.ForeignKeyConstraint(['staff_id'], ['staff.id'],
                            name=op.f('fk_password_links_staff_id_staff')),
    sa.PrimaryKeyConstraint('token_hash', name=op.f('pk_password_links'))
    )
    op.create_index(op.f('ix_password_links_staff_id'), 'password_links', ['staff_id'],
                    unique=False)
    op.create_table('saved_messages',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('school_id', sa.Integer(), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=True),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['created_by_id'], ['staff.id'],
                            name=op.f('fk_saved_messages_created_by_id_staff')),
    sa.ForeignKeyConstraint(['school_id'], ['schools.id'],
                            name=op.f('fk_saved_messages_school_id_schools')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_saved_messages'))
    )
    op.create_index(op.f('ix_saved_messages_school_id'), 'saved_messages', ['school_id'],
                    unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_saved_messages_school_id'), table_name='saved_messages')
    op.drop_table('saved_messages')
    op.drop_index(op.f('ix_password_links_staff_id'), table_name='password_links')
    op.drop_table('password_links')
    with op.batch_alter_table('staff') as batch:
        batch.drop_column('away_until')
        batch.drop_column('away_from')
