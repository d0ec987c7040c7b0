"""Flask-Admin's stock messages ("Record was successfully deleted.", "Record does not exist.") said in the app's
words, naming the rows: a view notes what it saved or deleted (`note_row`); once the view has run,
`reword_stock_flashes` replaces the stock messages it left in the session for the next page (after a redirect), and
the admin pages show a message through `reworded` (one the view flashed and showed at once: a form's failure)."""

from __future__ import annotations

from flask import g, session
from flask_admin.babel import gettext as admin_gettext, ngettext as admin_ngettext
from flask_babel import gettext, ngettext

from web.i18n import named_at_most


def note_row(name: str) -> None:
    """Note that this request saved or deleted the row named `name` ("the account alice")."""
    g.setdefault("admin_rows", []).append(name)


def said_why_nothing_was_saved() -> None:
    """Note that this request's form was refused with a message of its own, for no field: Flask-Admin's "Failed to
    save record." then says only that nothing was saved, not to correct what is marked (nothing is)."""
    g.admin_said_why = True


def _ours() -> dict[str, str]:
    """Each stock message this request can have left, in Flask-Admin's translation, with the app's words for it."""
    rows = g.get("admin_rows", [])
    count = len(rows)
    ours = {admin_gettext("Record does not exist."): gettext("That row no longer exists: it may have been deleted "
                                                            "meanwhile."),
            admin_gettext("Failed to save record."): gettext("Nothing was saved.") if g.get("admin_said_why") else
            gettext("Nothing was saved: correct what is marked below.")}
    if rows:
        ours[admin_ngettext("Record was successfully deleted.", "%(count)s records were successfully deleted.",
                            count, count=count)] = ngettext("Deleted: %(names)s.", "Deleted %(num)d: %(names)s.",
                                                            count, names=named_at_most(rows))
        ours[admin_gettext("Record was successfully saved.")] = gettext("Saved the changes to %(name)s.",
                                                                       name=named_at_most(rows))
    return ours


def reworded(message: str) -> str:
    """`message` in the app's words if it is one of Flask-Admin's stock messages (templates/admin/page.html)."""
    return _ours().get(message, message)


def reword_stock_flashes() -> None:
    """Replace the stock messages among the ones waiting to be shown with the app's words."""
    waiting = session.get("_flashes")
    if not waiting:
        return
    ours = _ours()
    if any(message in ours for _, message in waiting):
        session["_flashes"] = [(category, ours.get(message, message)) for category, message in waiting]
