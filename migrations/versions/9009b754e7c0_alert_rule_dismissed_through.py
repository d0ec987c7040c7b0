"""alert_rule.dismissed_through: the newest reading (its analysis id) of the firing whose notice the owner
dismissed; the notice stays hidden until the rule fires with a reading added since. NULL: nothing dismissed

Revision ID: 9009b754e7c0
Revises: c6b72fc1383a
Create Date: 2026-12-04 03:10:00

"""
from alembic import op
import sqlalchemy as sa


revision = '9009b754e7c0'
down_revision = 'c6b72fc1383a'
branch_labels = None
depends_on = None


def upgrade():
    # Plain ALTER TABLE: a batch copy would drop the table's AUTOINCREMENT on SQLite (c0d1e2f3a4b5).
    op.add_column('alert_rule', sa.Column('dismissed_through', sa.Integer(), nullable=True))


def downgrade():
    op.drop_column('alert_rule', 'dismissed_through')
