"""reanalysis jobs: "Analyse again" re-runs an analysis's stored file through the models loaded now

Revision ID: d2e3f4a5b6c7
Revises: 9009b754e7c0
Create Date: 2026-12-04 12:00:00

"""
from alembic import op
import sqlalchemy as sa


revision = 'd2e3f4a5b6c7'
down_revision = '9009b754e7c0'
branch_labels = None
depends_on = None


# A job's columns (models.JobState), as they stand at this revision: name, type, nullable.
JOB_STATE = (('status', sa.String(length=16), False), ('error', sa.Text(), True), ('progress', sa.Float(), False),
             ('attempts', sa.Integer(), False), ('heartbeat_at', sa.DateTime(), True),
             ('worker', sa.String(length=64), True))


def upgrade():
    op.create_table(
        'reanalysis',
        sa.Column('id', sa.Integer(), primary_key=True),
        sa.Column('analysis_id', sa.Integer(), sa.ForeignKey('analysis.id', ondelete='CASCADE'), nullable=False,
                  unique=True),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        *(sa.Column(name, column_type, nullable=nullable) for name, column_type, nullable in JOB_STATE),
    )
    for column in ('created_at', 'status'):
        op.create_index(op.f(f'ix_reanalysis_{column}'), 'reanalysis', [column])


def downgrade():
    op.drop_table('reanalysis')  # its indexes with it
