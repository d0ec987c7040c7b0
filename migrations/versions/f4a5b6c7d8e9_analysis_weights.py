"""analysis.weights: the fingerprints of the trained weights of the emotion models that made it, by kind
("human:3f2a... + dog:9b1c..."), so that a model trained again under the same name still makes its results out of
date ("Analyse again"); NULL for analyses made before (judged by the models' names alone)

Revision ID: f4a5b6c7d8e9
Revises: e3f4a5b6c7d8
Create Date: 2026-12-04 04:00:00

"""
from alembic import op
import sqlalchemy as sa


revision = 'f4a5b6c7d8e9'
down_revision = 'e3f4a5b6c7d8'
branch_labels = None
depends_on = None


def upgrade():
    # Plain ALTER TABLE: a batch copy would drop the table's AUTOINCREMENT on SQLite (c0d1e2f3a4b5).
    op.add_column('analysis', sa.Column('weights', sa.String(length=256), nullable=True))


def downgrade():
    op.drop_column('analysis', 'weights')
