"""user.time_zone_kept: a time zone saved from the account page stays at later log-ins (a log-in from a browser in
another zone switched every account to the browser's, a work computer's or a trip's, each time)

Revision ID: b740000000a1
Revises: b640000000f1
Create Date: 2026-12-07 09:40:00

"""
from alembic import op
import sqlalchemy as sa


revision = 'b740000000a1'
down_revision = 'b640000000f1'
branch_labels = None
depends_on = None


def upgrade():
    # Plain ALTER TABLE: a batch copy of `user` would cascade-delete every analysis on SQLite.
    op.add_column('user', sa.Column('time_zone_kept', sa.Boolean(), server_default=sa.false(), nullable=False))


def downgrade():
    op.drop_column('user', 'time_zone_kept')
