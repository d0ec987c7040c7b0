"""detections: how unsure the face reading is (the uncertainty score and the "unsure" flag; null for rows
analysed before, and for kinds without the rule)

Revision ID: c4d5e6f7a8b9
Revises: 8b9c0d1e2f3a
Create Date: 2026-12-01 15:30:00

"""
from alembic import op
import sqlalchemy as sa


revision = 'c4d5e6f7a8b9'
down_revision = '8b9c0d1e2f3a'
branch_labels = None
depends_on = None


def upgrade():
    # Plain ALTER TABLE: a batch copy of `detection` would cascade-delete its explanations and signatures on SQLite.
    op.add_column('detection', sa.Column('uncertainty', sa.Float(), nullable=True))
    op.add_column('detection', sa.Column('uncertain', sa.Boolean(), nullable=True))


def downgrade():
    op.drop_column('detection', 'uncertain')
    op.drop_column('detection', 'uncertainty')
