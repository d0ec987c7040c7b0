"""What an administrator removed from a user's account, kept until that user is told: a deleted upload would
otherwise vanish from their history without a word."""

from __future__ import annotations

from extensions import db
from models import Analysis, RemovedUpload


def note_removed_upload(analysis: Analysis) -> None:
    """Keep, in the deletion's transaction, that `analysis` was removed from its owner's account."""
    db.session.add(RemovedUpload(user_id=analysis.user_id, original_name=analysis.original_name,
                                 uploaded_at=analysis.created_at))


def take_removed_uploads(user_id: int) -> list[RemovedUpload]:
    """The removals not yet told to the user, oldest first; they are forgotten once taken."""
    removed = db.session.scalars(db.select(RemovedUpload).filter_by(user_id=user_id).order_by(RemovedUpload.id)).all()
    for row in removed:
        db.session.delete(row)
    if removed:
        db.session.commit()
    return list(removed)
