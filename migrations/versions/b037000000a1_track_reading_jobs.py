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


# A job's columns (models.JobState), as they stand at this revision: name, type, nullable.
JOB_STATE = (('status', sa.String(length=16), False), ('error', sa.Text(), True), ('progress', sa.Float(), False),
             ('attempts', sa.Integer(), False), ('heartbeat_at', sa.DateTime(), True),
             ('worker', sa.String(length=64), True))


def upgrade():
    op.create_table(
        'track_reading',
        sa.Column('id', sa.Integer(), primary_key=True),
        sa.Column('detection_id', sa.Integer(), sa.ForeignKey('detection.id', ondelete='CASCADE'), nullable=False,
                  unique=True),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        *(sa.Column(name, column_type, nullable=nullable) for name, column_type, nullable in JOB_STATE),
    )
    for column in ('created_at', 'status'):
        op.create_index(op.f(f'ix_track_reading_{column}'), 'track_reading', [column])


def downgrade():
    op.drop_table('track_reading')  # its indexes with it
