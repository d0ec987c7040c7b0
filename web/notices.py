"""What the pages tell a user of an administrator's action on their account (a deactivation, a removed upload), and
how to reach the administrators about it (the ADMIN_CONTACT setting)."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from flask import current_app, render_template
from flask.typing import ResponseReturnValue
from flask_babel import gettext
from flask_login import current_user

from services import moderation
from services.errors import NotFound


def ask_administrators() -> str:
    """Where to ask about an administrator's action: the ADMIN_CONTACT setting, else whoever runs the server."""
    contact = str(current_app.config.get("ADMIN_CONTACT") or "").strip()
    if contact:
        return gettext("To ask about it, contact %(contact)s.", contact=contact)
    return gettext("To ask about it, contact whoever runs this Moodlens server.")


def deactivated_message() -> str:
    """Why a deactivated account cannot log in, what became of its data, and whom to ask."""
    return " ".join([gettext("This account has been deactivated: it cannot log in, and its uploads and results are "
                             "kept as they were."), ask_administrators()])


View = Callable[..., ResponseReturnValue]


def removed_says_so(view: View) -> View:
    """For the result page of upload `analysis_id`: when it is gone because an administrator removed it from the
    user's account, a 410 page that says so (by its name and upload time) instead of the bare 404."""

    @wraps(view)
    def wrapper(*args, **kwargs):
        try:
            return view(*args, **kwargs)
        except NotFound:
            removal = moderation.removed_upload(current_user.id, kwargs["analysis_id"])
            if removal is None:
                raise
            return render_template("analyze/removed.html", removal=removal, ask=ask_administrators()), 410

    return wrapper
