"""analysis.metadata_left_out: which uploads are known to be stored without their metadata (location, camera, times)
and private (0600). NULL for every upload stored before: `flask maintenance metadata`, which scripts/setup.sh now runs
at each start, sees to those once each (an upgrade left old uploads' GPS in place unless the operator found the
command in the docs); new uploads are stored so, and say True.

Revision ID: b940000000c1
Revises: b840000000b1
Create Date: 2026-12-07 22:30:00

"""
from alembic import op
import sqlalchemy as sa


revision = 'b940000000c1'
down_revision = 'b840000000b1'
branch_labels = None
depends_on = None


def upgrade():
    op.add_column('analysis', sa.Column('metadata_left_out', sa.Boolean(), nullable=True))


def downgrade():
    op.drop_column('analysis', 'metadata_left_out')
