"""api_token.name (what its owner called it, optional) and api_token.last_used_at (when it last let a request in,
kept to the minute), for the account page's list of tokens; NULL for tokens made before

Revision ID: aa28000000a1
Revises: b0c1d2e3f4a6
Create Date: 2026-12-04 05:40:00

"""
from alembic import op
import sqlalchemy as sa


revision = 'aa28000000a1'
down_revision = "b0c1d2e3f4a6"
branch_labels = None
depends_on = None


def upgrade():
    # Plain ALTER TABLE: a batch copy would drop the table's AUTOINCREMENT on SQLite (c0d1e2f3a4b5).
    op.add_column('api_token', sa.Column('name', sa.String(length=40), nullable=True))
    op.add_column('api_token', sa.Column('last_used_at', sa.DateTime(), nullable=True))


def downgrade():
    op.drop_column('api_token', 'last_used_at')
    op.drop_column('api_token', 'name')
