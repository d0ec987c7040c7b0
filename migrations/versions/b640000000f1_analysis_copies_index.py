"""An index of user, content hash and status: "is this a later copy of an upload" (services/copies.py `later_copy`)
compares the three, and SQLite, without statistics, took the user-and-status index for it and read every finished
upload of the user for each one (a dashboard of 4,000 uploads: 4 s). The index of user and content hash stays: with
only the new one, "already counted" (`repeated_appearance`) went through a subject's detections instead

Revision ID: b640000000f1
Revises: b540000000e1
Create Date: 2026-12-06 21:30:00

"""
from alembic import op


revision = 'b640000000f1'
down_revision = 'b540000000e1'
branch_labels = None
depends_on = None


def upgrade():
    op.create_index('ix_analysis_user_id_content_hash_status', 'analysis', ['user_id', 'content_hash', 'status'])


def downgrade():
    op.drop_index('ix_analysis_user_id_content_hash_status', table_name='analysis')
