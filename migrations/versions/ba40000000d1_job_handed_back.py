"""handed_back on every job's row: how many times a process told to stop handed the job back to the queue. The first
FREE_HAND_BACKS (jobs.py) do not count as attempts, so deploys and restarts do not fail a long job; later ones do, so
a job whose server is restarted at every run (a health check it starves) is still given up after JOBS_MAX_ATTEMPTS.

Revision ID: ba40000000d1
Revises: b940000000c1
Create Date: 2026-12-07 22:45:00

"""
from alembic import op
import sqlalchemy as sa


revision = 'ba40000000d1'
down_revision = 'b940000000c1'
branch_labels = None
depends_on = None

JOB_TABLES = ('analysis', 'explanation', 'reanalysis', 'track_reading', 'signature_job')


def upgrade():
    for table in JOB_TABLES:  # plain ALTER TABLE: a batch copy of `analysis` would cascade-delete on SQLite
        op.add_column(table, sa.Column('handed_back', sa.Integer(), server_default='0', nullable=False))


def downgrade():
    for table in JOB_TABLES:
        op.drop_column(table, 'handed_back')
