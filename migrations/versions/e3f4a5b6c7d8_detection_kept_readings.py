"""detections: each one's reading as its card words it (emotion, certainty and mix), kept when the analysis is
stored, so pages that count many never read a video track's timeline; null for rows stored before (read from the
timeline until `flask maintenance readings` fills them) and without an emotion model

Revision ID: e3f4a5b6c7d8
Revises: d2e3f4a5b6c7
Create Date: 2026-12-04 03:40:00

"""
from alembic import op
import sqlalchemy as sa


revision = 'e3f4a5b6c7d8'
down_revision = 'd2e3f4a5b6c7'
branch_labels = None
depends_on = None

COLUMNS = (('reading_emotion', sa.String(length=16)), ('reading_certainty', sa.String(length=16)),
           ('reading_mix', sa.JSON()))


def upgrade():
    # Plain ALTER TABLE: a batch copy of `detection` would cascade-delete its explanations and signatures on SQLite.
    for name, type_ in COLUMNS:
        op.add_column('detection', sa.Column(name, type_, nullable=True))


def downgrade():
    for name, _ in reversed(COLUMNS):
        op.drop_column('detection', name)
