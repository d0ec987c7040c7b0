"""detections: what made a face reading unsure (the weak reading, the ensemble's members disagreeing, or both;
null for rows analysed before, and for kinds without the rule)

Revision ID: d5e6f7a8b9c0
Revises: c4d5e6f7a8b9
Create Date: 2026-12-01 18:30:00

"""
from alembic import op
import sqlalchemy as sa


revision = 'd5e6f7a8b9c0'
down_revision = 'c4d5e6f7a8b9'
branch_labels = None
depends_on = None


def upgrade():
    # Plain ALTER TABLE: a batch copy of `detection` would cascade-delete its explanations and signatures on SQLite.
    op.add_column('detection', sa.Column('unsure_signals', sa.JSON(), nullable=True))


def downgrade():
    op.drop_column('detection', 'unsure_signals')
