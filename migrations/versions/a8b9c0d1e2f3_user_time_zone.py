"""user time zone: the browser's IANA zone, sent with the login and registration forms; NULL counts in UTC

Revision ID: a8b9c0d1e2f3
Revises: f7a8b9c0d1e2
Create Date: 2026-12-03 07:20:00

"""
from alembic import op
import sqlalchemy as sa


revision = 'a8b9c0d1e2f3'
down_revision = 'f7a8b9c0d1e2'
branch_labels = None
depends_on = None


def upgrade():
    # Plain ALTER TABLE: a batch copy of `user` would cascade-delete every analysis on SQLite.
    op.add_column('user', sa.Column('time_zone', sa.String(length=64), nullable=True))


def downgrade():
    op.drop_column('user', 'time_zone')
