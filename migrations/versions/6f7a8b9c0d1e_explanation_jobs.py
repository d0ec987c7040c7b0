"""explanation: "Why?" requests become jobs of the durable queue (status and progress in the database)

Revision ID: 6f7a8b9c0d1e
Revises: e2f3a4b5c6d7
Create Date: 2026-12-01 13:30:00

"""
from alembic import op
import sqlalchemy as sa


revision = '6f7a8b9c0d1e'
down_revision = 'e2f3a4b5c6d7'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'explanation',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('detection_id', sa.Integer(), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('error', sa.Text(), nullable=True),
        sa.Column('progress', sa.Float(), nullable=False),
        sa.Column('attempts', sa.Integer(), nullable=False),
        sa.Column('heartbeat_at', sa.DateTime(), nullable=True),
        sa.Column('worker', sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(['detection_id'], ['detection.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('detection_id'),
    )
    with op.batch_alter_table('explanation', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_explanation_created_at'), ['created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_explanation_status'), ['status'], unique=False)


def downgrade():
    with op.batch_alter_table('explanation', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_explanation_status'))
        batch_op.drop_index(batch_op.f('ix_explanation_created_at'))
    op.drop_table('explanation')
