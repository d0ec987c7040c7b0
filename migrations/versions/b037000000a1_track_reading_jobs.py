"""track reading jobs: a video track whose species its owner set is read again from its frames by that species' model

Revision ID: b037000000a1
Revises: af36000000f1
Create Date: 2026-12-05 06:30:00

"""
from alembic import op
import sqlalchemy as sa


revision = 'b037000000a1'
down_revision = 'af36000000f1'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'track_reading',
        sa.Column('id', sa.Integer(), primary_key=True),
        sa.Column('detection_id', sa.Integer(), sa.ForeignKey('detection.id', ondelete='CASCADE'), nullable=False,
                  unique=True),
        sa.Column('created_at', sa.DateTime(), nullable=False, index=True),
        # a job's columns (models.JobState) as they stand at this revision
        sa.Column('status', sa.String(length=16), nullable=False, index=True),
        sa.Column('error', sa.Text()),
        sa.Column('progress', sa.Float(), nullable=False),
        sa.Column('attempts', sa.Integer(), nullable=False),
        sa.Column('heartbeat_at', sa.DateTime()),
        sa.Column('worker', sa.String(length=64)),
    )


def downgrade():
    op.drop_table('track_reading')  # its indexes with it
