"""An index of user and upload time: the history lists a user's uploads newest first, and SQLite, with only the user's
other indexes, sorted every upload of theirs for each page (20,000 uploads: about 100 ms a page)

Revision ID: b840000000b1
Revises: b740000000a1
Create Date: 2026-12-07 12:50:00

"""
from alembic import op


revision = 'b840000000b1'
down_revision = 'b740000000a1'
branch_labels = None
depends_on = None


def upgrade():
    op.create_index('ix_analysis_user_id_created_at', 'analysis', ['user_id', 'created_at'])


def downgrade():
    op.drop_index('ix_analysis_user_id_created_at', table_name='analysis')
