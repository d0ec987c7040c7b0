"""analysis.worker: which process ran the job (scale-out workers)

Revision ID: 5e6f7a8b9c0d
Revises: 9a8b7c6d5e4f
Create Date: 2026-11-25 18:40:00

"""
from alembic import op
import sqlalchemy as sa


revision = '5e6f7a8b9c0d'
down_revision = '9a8b7c6d5e4f'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('analysis', schema=None) as batch_op:
        batch_op.add_column(sa.Column('worker', sa.String(length=64), nullable=True))


def downgrade():
    with op.batch_alter_table('analysis', schema=None) as batch_op:
        batch_op.drop_column('worker')
