"""subjects of their kind: unassign detections assigned to a subject of another kind (a face to a dog, a cat
to a person), which the app now refuses; each logged as a warning, so that the operator can tell their owners

Revision ID: a3b4c5d6e7f8
Revises: 6f7a8b9c0d1e
Create Date: 2026-12-01 13:40:00

"""
import logging

from alembic import op
import sqlalchemy as sa


revision = 'a3b4c5d6e7f8'
down_revision = '6f7a8b9c0d1e'
branch_labels = None
depends_on = None

# models.SubjectKind.detection_kind as it is at this revision
DETECTION_KIND_OF_SUBJECT = "CASE subject.kind WHEN 'person' THEN 'human' ELSE subject.kind END"
OF_ANOTHER_KIND = (f"detection.subject_id IS NOT NULL AND detection.kind <> "
                   f"(SELECT {DETECTION_KIND_OF_SUBJECT} FROM subject WHERE subject.id = detection.subject_id)")
log = logging.getLogger("alembic.runtime.migration")


def upgrade():
    connection = op.get_bind()
    unassigned = connection.execute(sa.text(
        "SELECT detection.id, detection.kind, subject.id, subject.kind, subject.user_id FROM detection "
        f"JOIN subject ON subject.id = detection.subject_id WHERE {OF_ANOTHER_KIND} ORDER BY detection.id")).all()
    for detection_id, kind, subject_id, subject_kind, user_id in unassigned:
        log.warning("detection %d (%s) taken from subject %d (%s) of user %d: not of its kind", detection_id, kind,
                    subject_id, subject_kind, user_id)
    op.execute(f"UPDATE detection SET subject_id = NULL WHERE {OF_ANOTHER_KIND}")


def downgrade():
    pass  # the wrong assignments are not worth restoring
