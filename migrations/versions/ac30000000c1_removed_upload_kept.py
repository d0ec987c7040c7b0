"""removed_upload kept once told: the removed upload's old id (its address then says what became of it) and whether
its owner was told

Revision ID: ac30000000c1
Revises: ab29000000b1
Create Date: 2026-12-04 14:00:00

"""
from alembic import op
import sqlalchemy as sa


revision = 'ac30000000c1'
down_revision = 'ab29000000b1'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('removed_upload') as batch_op:
        batch_op.add_column(sa.Column('analysis_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('told', sa.Boolean(), server_default=sa.false(), nullable=False))


def downgrade():
    op.execute(sa.text("DELETE FROM removed_upload WHERE told"))  # the schema before kept only the untold
    with op.batch_alter_table('removed_upload') as batch_op:
        batch_op.drop_column('told')
        batch_op.drop_column('analysis_id')
