"""detection.reading_changes: how many changes a video track's story tells (flickers merged, as its page lists
them; 0 for a photo's detection), kept with its reading so the video patterns never read a timeline; null for rows
kept before (told from the timeline until `flask maintenance readings` fills them) and without an emotion model

Revision ID: b0c1d2e3f4a6
Revises: f4a5b6c7d8e9
Create Date: 2026-12-04 05:50:00

"""
from alembic import op
import sqlalchemy as sa


revision = 'b0c1d2e3f4a6'
down_revision = 'f4a5b6c7d8e9'
branch_labels = None
depends_on = None


def upgrade():
    # Plain ALTER TABLE: a batch copy of `detection` would cascade-delete its explanations and signatures on SQLite.
    op.add_column('detection', sa.Column('reading_changes', sa.Integer(), nullable=True))


def downgrade():
    op.drop_column('detection', 'reading_changes')
