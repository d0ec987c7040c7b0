"""What the user deleted lately, remembered in their own session: a page of it opened again (the browser's Back to
its confirm page, an old tab, a bookmark, the delete button of a second tab) goes to the list it was deleted from,
saying so, instead of the 404 page. Only the deletions recorded in this session count, so an id that never existed
and another user's id still look alike (a 404): the record tells nobody anything they did not do themselves."""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum
from functools import wraps

from flask import flash, redirect, request, session
from flask_babel import gettext
from flask_login import current_user

from messages import N_
from services.errors import NotFound
from web.redirects import View, same_site_path
from web.flashes import FlashCategory
from web.ids import whole_number


class Deleted(StrEnum):
    """The kinds of things a user deletes from the pages."""

    ANALYSIS = "analysis"
    SUBJECT = "subject"
    ALERT = "alert"
    TOKEN = "token"  # revoked, not deleted: the account page no longer lists it


ALREADY_DELETED = {
    Deleted.ANALYSIS: N_("You already deleted that photo or video."),
    Deleted.SUBJECT: N_("You already deleted that person or pet."),
    Deleted.ALERT: N_("You already removed that alert."),
    Deleted.TOKEN: N_("You already revoked that token."),
}
SESSION_KEY = "deleted"
REMEMBERED = 12  # the newest deletions kept: enough for Back through a few, small in the session's cookie
LONGEST_BACK = 300  # characters of the address kept with each; a longer one (a crafted `next`) loses its query


def remember_deleted(kind: Deleted, row_id: int, back: str) -> None:
    """Note that the user deleted `kind` `row_id` and went to `back` (a same-site path) after it."""
    record = [current_user.id, kind.value, row_id]
    back = back if len(back) <= LONGEST_BACK else back.partition("?")[0][:LONGEST_BACK]
    kept = [entry for entry in session.get(SESSION_KEY, []) if entry[:3] != record]
    session[SESSION_KEY] = (kept + [record + [back]])[-REMEMBERED:]


def back_after_deletion(kind: Deleted, row_id: int | None) -> str | None:
    """Where the page went after the user deleted `kind` `row_id` in this session; None if they did not."""
    for user_id, deleted_kind, deleted_id, back in session.get(SESSION_KEY, []):
        if (user_id, deleted_kind, deleted_id) == (current_user.id, kind.value, row_id):
            return same_site_path(back)
    return None


def deleted_goes_back(kind: Deleted, id_arg: str) -> Callable[[View], View]:
    """For a page of one `kind` (its id the view's `id_arg`, or the query's): when it raises NotFound for one the
    user deleted in this session, a 303 to where that deletion went, with "You already deleted that …"."""

    def decorate(view: View) -> View:
        @wraps(view)
        def wrapper(*args, **kwargs):
            try:
                return view(*args, **kwargs)
            except NotFound:
                row_id = kwargs[id_arg] if id_arg in kwargs else request.args.get(id_arg, type=whole_number)
                back = back_after_deletion(kind, row_id)
                if back is None:
                    raise
                flash(gettext(ALREADY_DELETED[kind]), FlashCategory.INFO)
                return redirect(back, code=303)

        return wrapper

    return decorate


# For a form on a result page's card that posts to its detection's address, with ?analysis=ID: the photo or video
# deleted in another tab since (its detections gone with it) goes where that deletion went, not to a bare 404.
card_of_a_deleted_analysis = deleted_goes_back(Deleted.ANALYSIS, "analysis")
