"""detection.kind_read and detection.models_reading: the species the models read a pet as and their reading of it,
kept once its owner set its species by hand (`kind` is then the owner's); NULL for every detection nobody corrected

Revision ID: af36000000f1
Revises: ae35000000e1
Create Date: 2026-12-05 04:00:00

"""
from alembic import op
import sqlalchemy as sa


revision = 'af36000000f1'
down_revision = 'ae35000000e1'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('detection') as batch_op:
        batch_op.add_column(sa.Column('kind_read', sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column('models_reading', sa.JSON(), nullable=True))


def downgrade():
    with op.batch_alter_table('detection') as batch_op:
        batch_op.drop_column('models_reading')
        batch_op.drop_column('kind_read')
