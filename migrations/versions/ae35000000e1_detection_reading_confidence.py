"""detection.reading_confidence: the probability a kept reading's certainty words (a video track's: its story's), so
that a dog track's chance of a wrong reading is the page's without reading the timeline; NULL until `flask maintenance
readings` keeps the readings again (the set-up runs it)

Revision ID: ae35000000e1
Revises: ad34000000d1
Create Date: 2026-12-05 02:00:00

"""
from alembic import op
import sqlalchemy as sa


revision = 'ae35000000e1'
down_revision = 'ad34000000d1'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('detection') as batch_op:
        batch_op.add_column(sa.Column('reading_confidence', sa.Float(), nullable=True))


def downgrade():
    with op.batch_alter_table('detection') as batch_op:
        batch_op.drop_column('reading_confidence')
