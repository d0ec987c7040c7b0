"""pets: a detection's top emotion may be empty (cats have no emotion model yet)

Revision ID: 7c1d2e3f4a5b
Revises: 014a31e9ea7e
Create Date: 2026-11-25 13:50:00

"""
from alembic import op
import sqlalchemy as sa


revision = '7c1d2e3f4a5b'
down_revision = '014a31e9ea7e'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('detection', schema=None) as batch_op:
        batch_op.alter_column('top', existing_type=sa.String(length=16), nullable=True)


def downgrade():
    op.execute("DELETE FROM detection WHERE top IS NULL")
    with op.batch_alter_table('detection', schema=None) as batch_op:
        batch_op.alter_column('top', existing_type=sa.String(length=16), nullable=False)
