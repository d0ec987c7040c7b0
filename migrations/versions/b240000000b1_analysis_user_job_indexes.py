"""analysis indexes on (user_id, status) and (user_id, heartbeat_at): the fair job order counts each waiting user's
running jobs and finds when they were last served by one index look-up each, not by grouping all their analyses

Revision ID: b240000000b1
Revises: b140000000a1
Create Date: 2026-12-05 16:30:00

"""
from alembic import op


revision = 'b240000000b1'
down_revision = 'b140000000a1'
branch_labels = None
depends_on = None


def upgrade():
    op.create_index('ix_analysis_user_id_status', 'analysis', ['user_id', 'status'])
    op.create_index('ix_analysis_user_id_heartbeat_at', 'analysis', ['user_id', 'heartbeat_at'])


def downgrade():
    op.drop_index('ix_analysis_user_id_heartbeat_at', table_name='analysis')
    op.drop_index('ix_analysis_user_id_status', table_name='analysis')
