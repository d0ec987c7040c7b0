"""explanation.requested_by_id: who asked for a "Why?" (the owner, or an administrator moderating), so that the cap
on explanations under way counts the asker's requests, not the photo owner's

Revision ID: b340000000c1
Revises: b240000000b1
Create Date: 2026-12-05 21:45:00

"""
from alembic import op
import sqlalchemy as sa


revision = 'b340000000c1'
down_revision = 'b240000000b1'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('explanation') as batch_op:
        batch_op.add_column(sa.Column('requested_by_id', sa.Integer(), nullable=True))
        batch_op.create_index('ix_explanation_requested_by_id', ['requested_by_id'])
        batch_op.create_foreign_key('fk_explanation_requested_by_id_user', 'user', ['requested_by_id'], ['id'],
                                    ondelete='SET NULL')


def downgrade():
    with op.batch_alter_table('explanation') as batch_op:
        batch_op.drop_constraint('fk_explanation_requested_by_id_user', type_='foreignkey')
        batch_op.drop_index('ix_explanation_requested_by_id')
        batch_op.drop_column('requested_by_id')
