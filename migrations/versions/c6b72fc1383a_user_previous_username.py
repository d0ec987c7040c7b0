"""user.previous_username: the name before an administrator's last rename, so that a log-in with it (and the right
password) is told the new name rather than refused as a wrong one

Revision ID: c6b72fc1383a
Revises: c0d1e2f3a4b5
Create Date: 2026-12-04 03:00:00

"""
from alembic import op
import sqlalchemy as sa


revision = 'c6b72fc1383a'
down_revision = 'c0d1e2f3a4b5'
branch_labels = None
depends_on = None


def upgrade():
    # Plain ALTER TABLE: a batch copy of `user` would cascade-delete every analysis on SQLite.
    op.add_column('user', sa.Column('previous_username', sa.String(length=32), nullable=True))
    op.create_index('ix_user_previous_username', 'user', ['previous_username'])


def downgrade():
    op.drop_index('ix_user_previous_username', table_name='user')
    op.drop_column('user', 'previous_username')
