"""analysis.stated_duration: how long a video's header said it lasts, kept when its frames ended well before that (a
file cut short: the analysis covers the frames there were, and its page says so); NULL for every other analysis and
for videos analysed before

Revision ID: b140000000a1
Revises: b037000000a1
Create Date: 2026-12-05 16:00:00

"""
from alembic import op
import sqlalchemy as sa


revision = 'b140000000a1'
down_revision = 'b037000000a1'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('analysis') as batch_op:
        batch_op.add_column(sa.Column('stated_duration', sa.Float(), nullable=True))


def downgrade():
    with op.batch_alter_table('analysis') as batch_op:
        batch_op.drop_column('stated_duration')
