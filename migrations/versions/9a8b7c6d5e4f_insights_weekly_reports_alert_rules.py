"""insights: weekly-report opt-in, alert rules

Revision ID: 9a8b7c6d5e4f
Revises: 7c1d2e3f4a5b
Create Date: 2026-11-25 16:45:00

"""
from alembic import op
import sqlalchemy as sa


revision = '9a8b7c6d5e4f'
down_revision = '7c1d2e3f4a5b'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('user', schema=None) as batch_op:
        batch_op.add_column(sa.Column('weekly_report', sa.Boolean(), server_default=sa.false(), nullable=False))
    op.create_table(
        'alert_rule',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('subject_id', sa.Integer(), nullable=False),
        sa.Column('emotion', sa.String(length=16), nullable=False),
        sa.Column('share', sa.Float(), nullable=False),
        sa.Column('days', sa.Integer(), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(['subject_id'], ['subject.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
    )
    with op.batch_alter_table('alert_rule', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_alert_rule_subject_id'), ['subject_id'], unique=False)


def downgrade():
    with op.batch_alter_table('alert_rule', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_alert_rule_subject_id'))
    op.drop_table('alert_rule')
    with op.batch_alter_table('user', schema=None) as batch_op:
        batch_op.drop_column('weekly_report')
