"""detection.landmarks: the five points a photo's face was aligned by, so that "Why?" explains the very crop that was
read (it found the face again near its box, and a search of the crop could settle on another face or other points).
NULL for pets, video tracks and the faces stored before: those are found again, as before.

Revision ID: bc42000000f2
Revises: bb41000000e1
Create Date: 2026-12-08 04:40:00

"""
from alembic import op
import sqlalchemy as sa


revision = 'bc42000000f2'
down_revision = 'bb41000000e1'
branch_labels = None
depends_on = None


def upgrade():
    # Plain ALTER TABLE: a batch copy of `detection` would cascade-delete on SQLite.
    op.add_column('detection', sa.Column('landmarks', sa.JSON(), nullable=True))


def downgrade():
    op.drop_column('detection', 'landmarks')
