"""removed_upload: the uploads an administrator deleted from a user's account, kept until that user is told on
their next page (file name and upload time; the row goes once told)

Revision ID: ab29000000b1
Revises: aa28000000a1
Create Date: 2026-12-04 11:45:00

"""
from alembic import op
import sqlalchemy as sa


revision = 'ab29000000b1'
down_revision = 'aa28000000a1'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'removed_upload',
        sa.Column('id', sa.Integer(), primary_key=True),
        sa.Column('user_id', sa.Integer(), sa.ForeignKey('user.id', ondelete='CASCADE'), nullable=False),
        sa.Column('original_name', sa.String(length=255), nullable=False),
        sa.Column('uploaded_at', sa.DateTime(), nullable=False),
        sa.Column('removed_at', sa.DateTime(), nullable=False),
    )
    op.create_index(op.f('ix_removed_upload_user_id'), 'removed_upload', ['user_id'])


def downgrade():
    op.drop_table('removed_upload')  # its index with it
