"""Domain errors to HTTP, in one place; error pages (HTML, or JSON for the API and bearer tokens); security headers."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import suppress
from functools import wraps

from flask import (Flask, Response, abort, current_app, flash, g, jsonify, make_response, redirect, render_template,
                   request, session, url_for)
from flask.globals import request_ctx
from flask.typing import ResponseReturnValue
from flask_babel import gettext
from flask_login import current_user, logout_user
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm.exc import ObjectDeletedError, StaleDataError
from werkzeug.exceptions import (HTTPException, InternalServerError, MethodNotAllowed, NotFound as HTTPNotFound,
                                 RequestEntityTooLarge)

from extensions import DATABASE_OUTAGES, database_outage, db
from inference.errors import MediaError, MediaTooLarge, UnsupportedMediaType
from messages import N_, Phrase
from models import User
from services.accounts import account_exists
from services.errors import CannotDelete, Conflict, NotFound, Refused, ServerBusy, StorageFailure, TooMany
from web.flashes import FlashCategory

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
)


def http_status_for(error: MediaError) -> int:
    """415 for an unsupported type, 413 for too large, 507 when it cannot be stored, 429 when every analysis slot
    stayed busy (a flood of uploads is the client's doing, never a 5xx), else 400."""
    if isinstance(error, StorageFailure):
        return 507
    if isinstance(error, ServerBusy):
        return 429
    if isinstance(error, UnsupportedMediaType):
        return 415
    if isinstance(error, MediaTooLarge):
        return 413
    return 400


def wants_json() -> bool:
    """The API and bearer-token clients get errors as JSON (a client that sent a bearer token, valid or not)."""
    scheme = request.headers.get("Authorization", "").partition(" ")[0]
    return request.path.startswith("/api/") or "api_token" in g or scheme.lower() == "bearer"


def error_response(description: str, status: int, error: HTTPException | None = None) -> ResponseReturnValue:
    """The error as JSON for the API and bearer-token clients, else as the error page."""
    if wants_json():
        return jsonify(error=description), status
    if request_ctx.url_adapter is None:  # a Host header Werkzeug refused: no URL can be built, so no page
        return Response(f"{status} {description}", status, mimetype="text/plain")
    return render_template("error.html", error=error or _described(status, description)), status


def _described(status: int, description: str) -> HTTPException:
    error = HTTPException(description)
    error.code = status
    return error


def too_large_reason() -> str:
    """Why werkzeug refused the request with 413: the body over MAX_CONTENT_LENGTH (or a body of unknown length
    that ran past it), else the form parser's limits (MAX_FORM_PARTS parts, MAX_FORM_MEMORY_SIZE per field or
    part header)."""
    limit = request.max_content_length or current_app.config["MAX_CONTENT_LENGTH"]  # a view's own limit, if it set one
    if request.content_length is None or request.content_length > limit:
        return Phrase(N_("The file is larger than the %(mb).3g MB limit."), mb=limit / 1048576)
    return Phrase(N_("The form has more than %(parts)s parts, or a field or part header larger than %(kb)s KB."),
                  parts=f"{current_app.config['MAX_FORM_PARTS']:,}",
                  kb=f"{current_app.config['MAX_FORM_MEMORY_SIZE'] // 1000:,}")


# Werkzeug's words for these statuses speak of URLs, spelling and files "read-protected or not readable by the
# server"; these say what happened in the app's terms (a page that gives its own reason keeps it).
PLAIN_WORDS = {
    403: N_("You don't have access to this page."),
    404: N_("Nothing is here: the address is wrong, or what was here has been deleted (perhaps in another tab)."),
    405: N_("This address only takes a form sent from its page: go back to that page and send the form again."),
}
# A script calling the API is told which methods the address takes (they are in the Allow header too), and that an
# address with nothing at it is told so plainly (not that something was "perhaps deleted in another tab").
API_METHOD_NOT_ALLOWED = N_("This address does not take %(method)s; it takes %(allowed)s.")
API_NO_SUCH_ADDRESS = N_("Nothing is at this address.")


def _plain_words(error: HTTPException) -> str:
    """The description of Werkzeug's own errors in the app's words (see PLAIN_WORDS)."""
    if isinstance(error, MethodNotAllowed) and error.valid_methods and wants_json():
        return Phrase(API_METHOD_NOT_ALLOWED, method=request.method, allowed=", ".join(sorted(error.valid_methods)))
    if error.code == 404 and wants_json():
        return Phrase(API_NO_SUCH_ADDRESS)
    return Phrase(PLAIN_WORDS[error.code])


def _http_error(error: HTTPException):
    if error.code >= 500:  # a failed write may have left the session unusable; the page reads the user again
        db.session.rollback()
    if isinstance(error, RequestEntityTooLarge) and error.description == RequestEntityTooLarge.description:
        error.description = too_large_reason()  # Werkzeug's words; a view's own (a JSON body's limit) stays
    elif error.code in PLAIN_WORDS and error.description == type(error).description:  # Werkzeug's own words
        error.description = _plain_words(error)
    response = make_response(error_response(error.description, error.code, error))
    response.headers.extend(_extra_headers(error))
    return response


def _extra_headers(error: HTTPException) -> list[tuple[str, str]]:
    """What the error says in headers besides its body: Allow (405), WWW-Authenticate (401), Retry-After (429)."""
    return [(name, value) for name, value in error.get_headers() if name.lower() != "content-type"]


STALE_FORM = N_("This page was out of date (opened before you logged in or out, or long ago), so nothing was done. "
                 "Go back, reload the page and try again.")


NO_REFERRER = N_("Your browser sent this form without saying which page of this site it came from (the Referer "
                  "header), which this site needs over HTTPS, so nothing was done. Allow it for this site and try "
                  "again.")


def referrer_missing(error: CSRFError) -> bool:
    """Whether Flask-WTF refused the request for sending no Referer (over HTTPS one naming this site is needed:
    WTF_CSRF_SSL_STRICT), not for its token: a browser or an extension that sends no referrers, or a script. (A
    Referer naming another host, a proxy that does not pass the Host header, keeps the general message.)"""
    return str(error.description) == "The referrer header is missing."


def _stale_form(error: CSRFError):
    """A form whose CSRF token no longer holds: a log-in or registration form sent by someone already logged in
    (a second tab, the back button) goes where a log-in would; any other gets plain words, not Flask-WTF's (a form
    refused for its missing Referer says that, not "out of date": reloading would not help)."""
    if current_user.is_authenticated and request.endpoint in ("auth.login", "auth.register"):
        return redirect(url_for("analyze.upload"))
    error.description = Phrase(NO_REFERRER if referrer_missing(error) else STALE_FORM)
    return error_response(error.description, error.code, error)


def _not_found(error: NotFound):
    """A script is told what was not found ("No analysis 7.", the same whether it never was or is another user's);
    a page says it in the app's translated words."""
    if wants_json() and error.args:
        return error_response(str(error.args[0]), 404)
    return _http_error(HTTPNotFound())


def _media_error(error: MediaError):
    response, status = error_response(error.args[0], http_status_for(error))  # a Phrase: the page translates it
    if isinstance(error, ServerBusy):
        return response, status, {"Retry-After": "60"}
    return response, status


def _refused(error: Refused):
    if isinstance(error, CannotDelete):  # the server's trouble, for a while
        response, status = error_response(error.args[0], 503)
        return response, status, {"Retry-After": "60"}
    return error_response(error.args[0], 409 if isinstance(error, Conflict) else 429 if isinstance(error, TooMany)
                          else 400)


ACCOUNT_GONE = N_("Your account was deleted meanwhile (in another tab, or by an administrator), so nothing of what "
                  "you just sent was kept.")
CHANGED_MEANWHILE = N_("What you were working on was deleted or changed meanwhile (in another tab, or by an "
                       "administrator), so this was not done. Reload the page to see where things stand.")


def _changed_meanwhile(error: SQLAlchemyError):
    """A request that met a deletion made meanwhile by another request (its own rows, or the account itself, deleted
    in another tab or by an administrator): a row it had read could not be read again or written (ObjectDeletedError,
    StaleDataError), or a row it added names one that is gone (IntegrityError). The session is rolled back; a user
    whose account went is logged out (services that store files have removed them already)."""
    db.session.rollback()
    current_app.logger.warning("%s %s met a change made meanwhile: %s", request.method, request.path,
                               str(error).splitlines()[0])
    user = g.get("api_user") or current_user._get_current_object()
    if isinstance(user, User) and not account_exists(user):
        return _account_gone()
    return error_response(Phrase(CHANGED_MEANWHILE), 409)


def _account_gone() -> ResponseReturnValue:
    """The request's account was deleted while it ran: the API says so (410); a browser is logged out and sent to the
    log-in page, which says why."""
    logout_user()
    if wants_json():
        return jsonify(error=ACCOUNT_GONE), 410
    flash(gettext(ACCOUNT_GONE), FlashCategory.ERROR)
    return redirect(url_for("auth.login"), code=303)


DATABASE_UNREACHABLE = N_("The database cannot be reached just now, so this could not be done. Try again in a minute.")
DATABASE_RETRY_SECONDS = 30


def _database_unreachable(error: SQLAlchemyError) -> ResponseReturnValue:
    """The database is down, restarting, locked or out of connections (a server's trouble, not the client's): 503
    with Retry-After, and the page drawn for no one, since reading the user needs the database (the session cookie
    is kept: the user is still logged in once it is back). Nothing is half-saved: the session is rolled back. Any
    other error of the same classes is a 500, logged with its traceback."""
    with suppress(SQLAlchemyError):
        db.session.rollback()
    if not database_outage(error):
        current_app.logger.error("%s %s failed", request.method, request.path, exc_info=error)
        return _http_error(InternalServerError())
    current_app.logger.error("%s %s: the database could not be reached: %s", request.method, request.path,
                             str(error).splitlines()[0])
    current_app.login_manager._update_request_context_with_user()  # anonymous for this response only
    response = make_response(error_response(Phrase(DATABASE_UNREACHABLE), 503))
    response.headers["Retry-After"] = str(DATABASE_RETRY_SECONDS)
    return response


def _outage_safe(handler: Callable) -> Callable:
    """The error handler, but a database outage it meets (its page reads the user, a CSRF refusal asks whether
    someone is logged in) answers 503 as the outage itself would, not 500."""
    @wraps(handler)
    def safe(error: Exception) -> ResponseReturnValue:
        try:
            return handler(error)
        except DATABASE_OUTAGES as outage:
            return _database_unreachable(outage)
    return safe


def _security_headers(response):
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    response.headers.setdefault("X-Frame-Options", "DENY")
    if current_app.config["PRODUCTION"]:
        response.headers.setdefault("Strict-Transport-Security", "max-age=31536000")
    if not request.path.startswith("/admin"):  # Flask-Admin's own pages use inline scripts
        response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    if _private():
        response.headers.setdefault("Cache-Control", "no-store")
    return response


def _private() -> bool:
    """Whether the response is one account's, kept out of the browser's disk cache (a shared computer's next user
    would find it there): whatever a signed-in user is sent, any answer of the API; not the static files. (An
    upload's images say how long they keep: web/analyze.py.)"""
    signed_in = "_user_id" in session  # Flask-Login's key: no database read (the answer may be a database outage's)
    return request.endpoint != "static" and (request.path.startswith("/api/") or signed_in)


# Werkzeug's names and descriptions of the errors a user can meet, marked for translation (web/i18n.py
# `error_title`, `error_description`); any other text is shown as it is.
ERROR_WORDS = (
    N_("Bad Request"), N_("Unauthorized"), N_("Forbidden"), N_("Not Found"), N_("Method Not Allowed"),
    N_("Request Entity Too Large"), N_("Unsupported Media Type"), N_("Too Many Requests"),
    N_("Internal Server Error"), N_("Insufficient Storage"), N_("Conflict"), N_("Service Unavailable"),
    N_("The browser (or proxy) sent a request that this server could not understand."),
    N_("The server could not verify that you are authorized to access the URL requested. You either supplied the "
       "wrong credentials (e.g. a bad password), or your browser doesn't understand how to supply the credentials "
       "required."),
    N_("The server encountered an internal error and was unable to complete your request. Either the server is "
       "overloaded or there is an error in the application."),
)


NUL_REFUSED = N_("An address cannot hold the NUL character (character code 0): remove it and try again.")


def _refuse_nul_characters() -> None:
    """A 400 for a NUL character in the query, in a name or a value: PostgreSQL's text cannot hold one, so a search
    or a back-office filter with it failed there (a 500), where SQLite ran it. (Forms check their text fields
    themselves: a subject's or token's name is refused, a removal reason cleaned.)"""
    if any("\x00" in text for pair in request.args.items(multi=True) for text in pair):
        abort(400, description=gettext(NUL_REFUSED))


def init_app(app: Flask) -> None:
    app.before_request(_refuse_nul_characters)
    handlers = [(HTTPException, _http_error), (NotFound, _not_found), (CSRFError, _stale_form),
                (MediaError, _media_error), (Refused, _refused)]
    handlers += [(race, _changed_meanwhile) for race in (ObjectDeletedError, StaleDataError, IntegrityError)]
    handlers += [(outage, _database_unreachable) for outage in DATABASE_OUTAGES]
    for error, handler in handlers:
        app.register_error_handler(error, _outage_safe(handler))
    app.after_request(_security_headers)
