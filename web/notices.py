"""What the pages tell a user of an administrator's action on their account (a deactivation, a removed upload), and
how to reach the administrators about it (the ADMIN_CONTACT setting)."""

from __future__ import annotations

import logging
from functools import wraps

from flask import Flask, Response, current_app, g, jsonify, render_template, request
from flask_babel import gettext
from flask_login import current_user
from sqlalchemy.exc import SQLAlchemyError

from extensions import db
from services import moderation
from services.errors import NotFound
from services.moderation import Removal
from web.errors import wants_json
from web.i18n import moment, named_at_most
from web.redirects import View
from web.ids import whole_number

log = logging.getLogger(__name__)


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


def removed_sentence(removal: Removal) -> str:
    """What a removed upload's old address says (a page, or the API's JSON error): which upload went, and why."""
    return with_reason(gettext("An administrator removed your upload %(file)s (uploaded %(when)s) from your account, "
                               "with its result.", file=removal.original_name, when=moment(removal.uploaded_at)),
                       removal)


def removed_upload_notices() -> list[str]:
    """What the page being rendered (base.html) tells the user of the uploads an administrator removed from their
    account: noted as told once the page goes out as one the browser shows (`_note_told`), not when an image's or a
    missing icon's 410 or 404 page, which nobody reads, is rendered; never on the 410 page of the removed upload
    (its old page, or a form sent from it), which says so itself (`removed_says_so`). Told in the page, not flashed
    through a redirect: a bulk removal's notices ran past the session cookie's 4 KB, and the browser dropped it."""
    if not current_user.is_authenticated:
        return []
    opened = g.get("removed_page_of")
    untold = moderation.untold_removals(current_user.id)
    g.removals_shown = [row_id for row_id, _ in untold]
    return removal_notices([removal for _, removal in untold
                            if removal.analysis_id is None or removal.analysis_id != opened])


def _note_told(response: Response) -> Response:
    """After a page that showed the removals' notices: noted as told when the browser shows it: a GET or a form sent
    for a document (not an image, not a prefetch, not a script's fetch), answered with a page (200), or with a removed
    upload's 410 page as its old page or a form sent from it (not as one of its files: an <img> asks without saying
    so in older browsers), where the notice was told again on the next page."""
    shown = g.pop("removals_shown", None)
    document = (request.method in ("GET", "POST") and request.headers.get("Sec-Fetch-Dest", "document") == "document"
                and "prefetch" not in request.headers.get("Sec-Purpose", "") + request.headers.get("Purpose", ""))
    page = (response.status_code == 200 and response.mimetype == "text/html") or (
        "removed_page_of" in g and (request.endpoint == "analyze.result" or request.method == "POST"))
    if shown and document and page:
        try:
            moderation.mark_told(shown)
        except SQLAlchemyError:  # the database busy or gone: the page goes out all the same, and tells them again
            db.session.rollback()
            log.warning("could not note %d removals as told", len(shown), exc_info=True)
    return response


def init_app(app: Flask) -> None:
    """The notices' template globals, and the hook that notes removals told: registered before the other hooks of
    the answer, it runs after them (Flask runs them last first), so its commit expires nothing they read."""
    app.add_template_global(removed_upload_notices)
    app.add_template_global(ask_administrators)
    app.after_request(_note_told)


def removal_notices(removals: list[Removal]) -> list[str]:
    """What a page tells a user of removals not yet told: one notice per reason the administrator gave (a bulk
    removal of 180 uploads is one notice, not 180 screens of them on a phone), whom to ask once, at the end."""
    by_reason: dict[str | None, list[Removal]] = {}
    for removal in removals:
        by_reason.setdefault(removal.reason, []).append(removal)
    notices = [with_reason(_removed_files(group), group[0]) for group in by_reason.values()]
    return [*notices[:-1], " ".join([notices[-1], ask_administrators()])] if notices else []


def _removed_files(group: list[Removal]) -> str:
    """A group of removals of one reason, without it: the upload named with its time, or the uploads counted and
    named."""
    if len(group) == 1:
        return gettext("An administrator removed your upload %(file)s (uploaded %(when)s).",
                       file=group[0].original_name, when=moment(group[0].uploaded_at))
    return gettext("An administrator removed %(num)d of your uploads: %(files)s.", num=len(group),
                   files=named_at_most([removal.original_name for removal in group]))


SENTENCE_ENDS = tuple(".!?…。！？")  # a reason that ends with one is a sentence already


def with_reason(sentence: str, removal: Removal) -> str:
    """`sentence` about a removal, followed by the reason the administrator gave, when they gave one, ended as a
    sentence ("Their reason: “duplicate”." before the next one)."""
    if removal.reason is None:
        return sentence
    reason = gettext("Their reason: “%(reason)s”", reason=removal.reason)
    return " ".join([sentence, reason if removal.reason.rstrip().endswith(SENTENCE_ENDS) else reason + "."])


def removed_says_so(view: View) -> View:
    """For an address of upload `analysis_id` (its result page, the API's analysis, its files), or a form on one of
    its cards (a detection's address with ?analysis=ID): when it is gone because an administrator removed it from the
    reader's account, a 410 that says so, by the upload's name and time (a page, or JSON for the API and bearer-token
    clients), instead of the bare 404."""

    @wraps(view)
    def wrapper(*args, **kwargs):
        try:
            return view(*args, **kwargs)
        except NotFound:
            reader = g.get("api_user") or current_user
            analysis_id = kwargs.get("analysis_id", request.args.get("analysis", type=whole_number))
            removal = None if analysis_id is None else moderation.removed_upload(reader.id, analysis_id)
            if removal is None:
                raise
            if wants_json():
                return jsonify(error=" ".join([removed_sentence(removal), ask_administrators()])), 410
            g.removed_page_of = analysis_id  # its notice is this page: not told again above it, nor on the next
            return render_template("analyze/removed.html", removed=removed_sentence(removal),
                                   ask=ask_administrators()), 410

    return wrapper
