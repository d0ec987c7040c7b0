"""removed_upload.reason: what the administrator who removed the upload wrote for its owner (optional, told with the
removal); NULL when none was given or for removals kept before

Revision ID: ad34000000d1
Revises: ac30000000c1
Create Date: 2026-12-04 23:00:00

"""
from alembic import op
import sqlalchemy as sa


revision = 'ad34000000d1'
down_revision = 'ac30000000c1'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('removed_upload') as batch_op:
        batch_op.add_column(sa.Column('reason', sa.String(length=500), nullable=True))


def downgrade():
    with op.batch_alter_table('removed_upload') as batch_op:
        batch_op.drop_column('reason')
