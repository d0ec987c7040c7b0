"""analysis.found_count: how many faces and animals a photo has where more than are read (the largest 100,
inference.pipeline.MOST_READ_PER_PHOTO); NULL otherwise, and on analyses made before

Revision ID: b540000000e1
Revises: b440000000d1
Create Date: 2026-12-06 15:30:00

"""
from alembic import op
import sqlalchemy as sa


revision = 'b540000000e1'
down_revision = 'b440000000d1'
branch_labels = None
depends_on = None


def upgrade():
    # Plain ALTER TABLE: a batch copy of `analysis` would cascade-delete its detections on SQLite.
    op.add_column('analysis', sa.Column('found_count', sa.Integer(), nullable=True))


def downgrade():
    op.drop_column('analysis', 'found_count')
