"""subjects of their kind: unassign detections assigned to a subject of another kind (a face to a dog, a cat
to a person), which the app now refuses

Revision ID: a3b4c5d6e7f8
Revises: 6f7a8b9c0d1e
Create Date: 2026-12-01 13:40:00

"""
from alembic import op


revision = 'a3b4c5d6e7f8'
down_revision = '6f7a8b9c0d1e'
branch_labels = None
depends_on = None

# models.SubjectKind.detection_kind as it is at this revision
DETECTION_KIND_OF_SUBJECT = "CASE subject.kind WHEN 'person' THEN 'human' ELSE subject.kind END"


def upgrade():
    op.execute(f"UPDATE detection SET subject_id = NULL WHERE subject_id IS NOT NULL AND kind <> "
               f"(SELECT {DETECTION_KIND_OF_SUBJECT} FROM subject WHERE subject.id = detection.subject_id)")


def downgrade():
    pass  # the wrong assignments are not worth restoring
