"""user locale: the interface language a user chose (en, ko); NULL follows the browser

Revision ID: 8b9c0d1e2f3a
Revises: 7a8b9c0d1e2f
Create Date: 2026-12-01 15:30:00

"""
from alembic import op
import sqlalchemy as sa


revision = '8b9c0d1e2f3a'
down_revision = '7a8b9c0d1e2f'
branch_labels = None
depends_on = None


def upgrade():
    # Plain ALTER TABLE: a batch copy of `user` would cascade-delete every analysis on SQLite.
    op.add_column('user', sa.Column('locale', sa.String(length=8), nullable=True))


def downgrade():
    op.drop_column('user', 'locale')
