"""explanation.brightest: where each "Why?" map is brightest (inference/map_regions.py), the heat maps' text
equivalent; none on explanations made before

Revision ID: b440000000d1
Revises: b340000000c1
Create Date: 2026-12-06 01:00:00

"""
from alembic import op
import sqlalchemy as sa


revision = 'b440000000d1'
down_revision = 'b340000000c1'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('explanation') as batch_op:
        batch_op.add_column(sa.Column('brightest', sa.JSON(), nullable=True))


def downgrade():
    with op.batch_alter_table('explanation') as batch_op:
        batch_op.drop_column('brightest')
