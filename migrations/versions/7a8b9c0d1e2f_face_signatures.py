"""face signatures: the opt-in flag, signature jobs of the durable queue, and the signatures themselves

Revision ID: 7a8b9c0d1e2f
Revises: a3b4c5d6e7f8
Create Date: 2026-12-01 14:00:00

"""
from alembic import op
import sqlalchemy as sa


revision = '7a8b9c0d1e2f'
down_revision = 'a3b4c5d6e7f8'
branch_labels = None
depends_on = None


def upgrade():
    # Plain ALTER TABLE (as in downgrade): a batch copy of `user` would cascade-delete every analysis on SQLite.
    op.add_column('user', sa.Column('recognize_faces', sa.Boolean(), server_default=sa.false(), nullable=False))
    op.create_table(
        'signature_job',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('analysis_id', sa.Integer(), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('error', sa.Text(), nullable=True),
        sa.Column('progress', sa.Float(), nullable=False),
        sa.Column('attempts', sa.Integer(), nullable=False),
        sa.Column('heartbeat_at', sa.DateTime(), nullable=True),
        sa.Column('worker', sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(['analysis_id'], ['analysis.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('analysis_id'),
    )
    with op.batch_alter_table('signature_job', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_signature_job_created_at'), ['created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_signature_job_status'), ['status'], unique=False)
    op.create_table(
        'face_signature',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('detection_id', sa.Integer(), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('vector', sa.LargeBinary(), nullable=False),
        sa.Column('dismissed_subject_id', sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(['detection_id'], ['detection.id'], ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['user_id'], ['user.id'], ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['dismissed_subject_id'], ['subject.id'], ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('detection_id'),
    )
    with op.batch_alter_table('face_signature', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_face_signature_user_id'), ['user_id'], unique=False)


def downgrade():
    with op.batch_alter_table('face_signature', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_face_signature_user_id'))
    op.drop_table('face_signature')
    with op.batch_alter_table('signature_job', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_signature_job_status'))
        batch_op.drop_index(batch_op.f('ix_signature_job_created_at'))
    op.drop_table('signature_job')
    op.drop_column('user', 'recognize_faces')
