"""Who may see what: a user sees their own rows; admins may view any analysis (moderation)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from extensions import db
from models import Analysis, Detection, User
from services.errors import NotFound

Row = TypeVar("Row")
LARGEST_ID = 2**63 - 1  # the database's integer keys; a larger id in a URL names nothing


def row_id(text: str | int) -> int | None:
    """`text` as the id of a row (1 to LARGEST_ID), else None: a client's id that names nothing."""
    try:
        number = int(text)
    except (TypeError, ValueError):
        return None
    return number if 0 < number <= LARGEST_ID else None


def owned(model: type[Row], row_id: int, user: User, owner_id: Callable[[Row], int] | None = None) -> Row:
    """The row of `model` with this id if `user` owns it (owner_id(row), default row.user_id); raises NotFound
    for another user's row, a missing one, or an id no row can have."""
    row = db.session.get(model, row_id) if 0 < row_id <= LARGEST_ID else None
    if row is None or (owner_id(row) if owner_id else row.user_id) != user.id:
        raise NotFound(f"No {model.__name__.lower()} {row_id}.")
    return row


def owned_detection(detection_id: int, user: User) -> Detection:
    """The detection if `user` owns its analysis; else NotFound."""
    return owned(Detection, detection_id, user, lambda detection: detection.analysis.user_id)


def viewable_analysis(user: User, analysis_id: int) -> Analysis:
    """The analysis if `user` owns it or is an admin; else NotFound."""
    if user.is_admin and 0 < analysis_id <= LARGEST_ID and (analysis := db.session.get(Analysis, analysis_id)):
        return analysis
    return owned(Analysis, analysis_id, user)


def detection_at(analysis: Analysis, position: int) -> Detection:
    """Detection `position` of the analysis (a video's track number); else NotFound."""
    detection = next((d for d in analysis.detections if d.position == position), None)
    if detection is None:
        raise NotFound(f"Analysis {analysis.id} has no detection {position}.")
    return detection
