"""saved lists: named groups of students a message to groups can go to

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-03 06:30:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'saved_lists',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('school_id', sa.Integer(), nullable=False),
        sa.Column('name', sa.String(length=100), nullable=False),
        sa.Column('created_by_id', sa.Integer(), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['created_by_id'], ['staff.id'],
                                name=op.f('fk_saved_lists_created_by_id_staff')),
        sa.ForeignKeyConstraint(['school_id'], ['schools.id'],
                                name=op.f('fk_saved_lists_school_id_schools')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_saved_lists')),
        sa.UniqueConstraint('school_id', 'name', name=op.f('uq_saved_lists_school_id')),
    )
    op.create_index(op.f('ix_saved_lists_school_id'), 'saved_lists', ['school_id'])
    op.create_table(
        'saved_list_members',
        sa.Column('list_id', sa.Integer(), nullable=False),
        sa.Column('student_id', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['list_id'], ['saved_lists.id'],
                                name=op.f('fk_saved_list_members_list_id_saved_lists')),
        sa.ForeignKeyConstraint(['student_id'], ['students.id'],
                                name=op.f('fk_saved_list_members_student_id_students')),
        sa.PrimaryKeyConstraint('list_id', 'student_id', name=op.f('pk_saved_list_members')),
    )
    op.create_index(op.f('ix_saved_list_members_student_id'), 'saved_list_members',
                    ['student_id'])


def downgrade() -> None:
    op.drop_index(op.f('ix_saved_list_members_student_id'), table_name='saved_list_members')
    op.drop_table('saved_list_members')
    op.drop_index(op.f('ix_saved_lists_school_id'), table_name='saved_lists')
    op.drop_table('saved_lists')
