"""Flashed messages' categories: how each looks and how a screen reader is told of it, and the categories that
tie a message to one face's card (an assignment's "Saved" is shown by that face's "Who is this?" form)."""

from __future__ import annotations

from enum import StrEnum

from models import Detection


class FlashCategory(StrEnum):
    """A flashed message's kind, and its CSS class (`flash-error`, ...)."""

    ERROR = "error"
    INFO = "info"
    SUCCESS = "success"


ASSIGNED = "assigned-"  # the category of an assignment's "Saved" (or a "No" to a suggestion), before a detection id
REFUSED = "-refused"  # after the detection id: a name or choice on that face's card was refused


def assigned_category(detection: Detection, refused: bool = False) -> str:
    """The flash category of "Saved" (or of "Noted" after "No" to a suggestion; of a refused name when `refused`)
    for this detection: its page shows the message by its "Who is this?" form, where the owner is looking (on a
    phone the top of the page is far away), not at the top."""
    return f"{ASSIGNED}{detection.id}{REFUSED if refused else ''}"


def assigned_detection(category: str) -> int | None:
    """The detection a flashed message of `category` belongs by (an assignment's "Saved", a suggestion's "Noted");
    None for the others."""
    if not category.startswith(ASSIGNED):
        return None
    return int(category.removeprefix(ASSIGNED).removesuffix(REFUSED))


def flash_style(category: str) -> str:
    """How a flashed message looks: an assignment's "Saved" as a success, a refused name on a face's card as an
    error, the others by their category."""
    if assigned_detection(category) is None:
        return category
    return FlashCategory.ERROR if category.endswith(REFUSED) else FlashCategory.SUCCESS


FLASK_ADMIN_FAILURE = "danger"  # the category of Flask-Admin's own "Failed to save record."


def flash_role(category: str) -> str:
    """The ARIA role a flashed message is shown with: an error (a refused name on a face's card, a back-office form
    that failed, too) interrupts a screen reader ("alert"), the others wait their turn ("status")."""
    return "alert" if flash_style(category) in (FlashCategory.ERROR, FLASK_ADMIN_FAILURE) else "status"
