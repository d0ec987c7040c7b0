"""Registration, log-in, log-out, password change and the account page (its data exported, the account deleted);
who a request acts for (browser session or API bearer token). The limits on password attempts: web/login_limits.py."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from flask import (Blueprint, Response, abort, current_app, flash, g, redirect, render_template, request, session,
                   url_for)
from flask.typing import ResponseReturnValue
from flask_babel import format_decimal, gettext, ngettext
from flask_babel import refresh as babel_refresh
from flask_login import current_user, login_required, login_user, logout_user
from flask_login.config import COOKIE_NAME
from werkzeug.datastructures import Authorization, WWWAuthenticate

from extensions import db, limiter, login_manager
from messages import N_, Phrase
from models import Analysis, ApiToken, User, normalize_username
from services import accounts, tokens
from services.access import viewable_analysis
from services.clock import known_zone, same_clock, today_on, zone_of
from services.errors import Conflict, Refused
from web import known_devices
from web.deleted import Deleted, deleted_goes_back, remember_deleted
from web.downloads import streamed_download
from web.i18n import switched_language, zone_choices, zone_with_city
from web.login_limits import give_back, login_limits, password_checked
from web.forms import (ConfirmForm, DeleteAccountForm, LoginForm, PasswordChangeForm, RegisterForm, TokenForm,
                       confirm_page)
from web.notices import deactivated_message
from web.redirects import back_to_form_next, form_page, page_path, same_site_path, start_page
from web.flashes import FlashCategory

bp = Blueprint("auth", __name__)
ACCOUNT_KEY = "account_id"  # the session's user, kept to tell them why the session ended (tokens rotate)
bp.add_app_template_global(page_path)  # the header's switches come back to the page they were on


@login_manager.user_loader
def load_user(session_token: str) -> User | None:
    """The user whose current session token the cookie carries: a rotated token (log-out, password change,
    deactivation) ends every session and remember-me cookie made with the old one."""
    user = User.by_session_token(session_token)
    return user if user is not None and user.active else None


def start_session(user: User, remember: bool = False) -> None:
    """Log in on a fresh session: nothing from before the log-in carries over; from here on this request speaks the
    account's language and keeps its clock (Flask-Babel keeps the first it read: a notice flashed after a log-in was
    worded in the browser's language, then shown on a page in the account's)."""
    session.clear()
    login_user(user, remember=remember)
    babel_refresh()
    if not remember and _has_remember_cookie():  # left by a remembered session ended elsewhere: not this one's
        session["_remember"] = "clear"  # Flask-Login deletes it with this answer
    session[ACCOUNT_KEY] = user.id


def end_session() -> None:
    """Log out on a cleared session: nothing of the account stays in this browser's cookie (its filters, what it
    deleted, its forms sent) but the CSRF secret, no one's (a form of another tab, sent after, still goes to the
    log-in page and back to its page, not to "This page was out of date")."""
    csrf_key = current_app.config.get("WTF_CSRF_FIELD_NAME", "csrf_token")
    csrf_secret = session.get(csrf_key)
    session.clear()
    if csrf_secret is not None:
        session[csrf_key] = csrf_secret
    logout_user()  # after the clear: it asks Flask-Login to delete the remember-me cookie


def bearer_challenge(error: str | None = None, description: str | None = None) -> WWWAuthenticate:
    """The WWW-Authenticate header of a 401 that wants a bearer token (RFC 6750; `error` names what was wrong with
    the one sent, `description` says it in English words)."""
    said = {"error": error, "error_description": description}
    return WWWAuthenticate("Bearer", {"realm": "moodlens", **{key: value for key, value in said.items() if value}})


TOKEN_UNKNOWN = N_("The token is not one this server knows: mistyped or cut short, its account deleted, or ended over "
                   "a month ago.")
TOKEN_REVOKED = N_("The token was revoked (by its owner, by a password change, or when an administrator deactivated "
                   "the account): make a new one.")
TOKEN_EXPIRED = N_("The token expired: make a new one.")


def _token_refusal(token: ApiToken | None) -> tuple[str, str]:
    """Why a token sent does not work (none has it, its account is deactivated, it was revoked, or it expired): the
    answer's message, and its English words for the WWW-Authenticate header."""
    if token is not None and not token.user.active:
        return deactivated_message(), "The account is deactivated."
    refusal = TOKEN_UNKNOWN if token is None else TOKEN_REVOKED if token.revoked else TOKEN_EXPIRED
    return gettext(refusal), refusal


def bearer_user() -> User | None:
    """The user of the request's "Authorization: Bearer" token (kept in g.api_token); None without one;
    401 for a token that is invalid, expired or revoked (a deactivated account's: saying so)."""
    scheme, _, plain = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not plain:
        return None
    token = ApiToken.find(plain.strip())
    if token is None or not token.valid:
        refusal, said = _token_refusal(token)
        abort(401, description=refusal, www_authenticate=bearer_challenge("invalid_token", said))
    g.api_token = token
    tokens.note_use(token)
    return token.user


def api_viewable(analysis_id: int) -> Analysis:
    """The analysis g.api_user may read: their own, or anyone's for an administrator in a browser session (the
    back office's thumbnails, a result page read as an admin). An API token reads only its owner's uploads, an
    administrator's too: a token leaked from a script must not open every user's photos."""
    return viewable_analysis(g.api_user, analysis_id, as_admin="api_token" not in g)


def session_or_token(view: Callable[..., ResponseReturnValue]) -> Callable[..., ResponseReturnValue]:
    """For the files that pages show and the API links to (read-only GETs): the browser session, or a bearer
    token; the user is g.api_user. An anonymous browser is sent to log in."""

    @wraps(view)
    def wrapper(*args, **kwargs):
        user = bearer_user()
        if user is None and not current_user.is_authenticated:
            return login_manager.unauthorized()
        g.api_user = user or current_user._get_current_object()
        return view(*args, **kwargs)

    return wrapper


@login_manager.unauthorized_handler
def log_in_first() -> ResponseReturnValue:
    """Flask-Login's redirect to the log-in page, its `next` the page the user was on (web.redirects.page_path):
    a form posted after the session ended goes back to its page, not to its POST-only address (a 405)."""
    flash(_why_log_in(), login_manager.login_message_category)
    return redirect(url_for(login_manager.login_view, next=page_path()))


ACCOUNT_DELETED = N_("This account was deleted (in another browser, or by an administrator).")
SESSION_ENDED = N_("Your session here was ended: you logged out in another browser, or your password was changed "
                   "(by you or an administrator). Log in again.")


def _why_log_in() -> str:
    """Why a browser that was logged in must log in again: "This account has been deactivated." when an
    administrator's deactivation ended its session (its session token rotated, so Flask-Login only sees an anonymous
    user), "deleted" when the account is gone, SESSION_ENDED when a log-out or a password change elsewhere ended it;
    else (a stranger, an expired session) the usual "Please log in"."""
    account_id = session.pop(ACCOUNT_KEY, None)
    if not isinstance(account_id, int):
        return login_manager.localize_callback(login_manager.login_message)
    account = db.session.get(User, account_id)
    if account is None:
        return gettext(ACCOUNT_DELETED)
    return deactivated_message() if not account.active else gettext(SESSION_ENDED)


def _safe_next(target: str | None) -> str:
    """Only same-site relative paths are followed after log-in."""
    return same_site_path(target) or url_for("analyze.upload")


NEW_ACCOUNTS = "new-accounts"  # the scope of REGISTER_LIMITS' counter


@bp.after_request
def _count_accounts_made(response: Response) -> Response:
    """REGISTER_LIMITS counts accounts made, not forms sent back to correct: each sign-up is counted before the view
    (forms sent at once get no more accounts than the limit: counted after a 302, six at once made six), and one
    that made no account (`g.account_made` unset: sent back, or refused by another limit) gives its count back."""
    if request.endpoint == "auth.register" and request.method == "POST" and not g.get("account_made"):
        give_back(NEW_ACCOUNTS)
    return response


@bp.route("/register", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config["REGISTER_ATTEMPT_LIMITS"], methods=["POST"],
               error_message=N_("Too many sign-up forms from this address; try again later."))
@limiter.shared_limit(lambda: current_app.config["REGISTER_LIMITS"], NEW_ACCOUNTS, methods=["POST"],
                      error_message=N_("Too many new accounts from this address; try again later."))
def register() -> ResponseReturnValue:
    if current_user.is_authenticated:
        return redirect(url_for("analyze.upload"))
    form = RegisterForm()
    if form.validate_on_submit():
        if (user := accounts.register(form.username.data, form.password.data, known_zone(form.time_zone.data),
                                      switched_language())) is None:
            form.username.errors.append(gettext("That username is taken."))
        else:
            g.account_made = True
            start_session(user)
            known_devices.vouch_for(user)  # the browser that chose the password knows it, as after a log-in
            flash(gettext("Welcome to Moodlens! Upload a photo to get started."), FlashCategory.SUCCESS)
            return redirect(url_for("analyze.upload"))
    return render_template("auth/register.html", form=form), 400 if form.errors else 200


def form_username() -> str:
    return request.form.get("username", "")


def basic_credentials() -> Authorization | None:
    """The request's HTTP Basic (or other) credentials; None when there are none or Werkzeug cannot decode them
    (base64 with characters outside ASCII raises ValueError there)."""
    try:
        return request.authorization
    except ValueError:
        return None


def basic_auth_username() -> str:
    credentials = basic_credentials()
    return (credentials.username or "") if credentials is not None else ""


def _current_username() -> str:
    return getattr(current_user, "username", "")


@bp.route("/login", methods=["GET", "POST"])
@login_limits(form_username)
def login() -> ResponseReturnValue:
    if current_user.is_authenticated:
        return redirect(url_for("analyze.upload"))
    form = LoginForm()
    if form.validate_on_submit():
        user = User.with_password(form.username.data, form.password.data)
        password_checked(user)
        if user is None:
            flash(gettext("Wrong username or password."), FlashCategory.ERROR)
        elif user.username != normalize_username(form.username.data):  # an administrator renamed the account
            flash(gettext("Your username was changed to %(name)s by an administrator: log in with it.",
                          name=user.username), FlashCategory.ERROR)
            form.username.data = user.username
        elif not user.active:
            flash(deactivated_message(), FlashCategory.ERROR)
        else:
            before = known_zone(user.time_zone)
            if before is None or not user.time_zone_kept:  # a zone saved on the account page stays while this
                # machine knows it (the page offers this browser's)
                accounts.save_settings(user, time_zone=known_zone(form.time_zone.data) or user.time_zone,
                                       time_zone_kept=False)
            start_session(user, remember=form.remember.data)
            _tell_of_another_clock(before, known_zone(user.time_zone))
            return redirect(_safe_next(request.args.get("next")))
        return render_template("auth/login.html", form=form), 401
    return render_template("auth/login.html", form=form), 400 if form.errors else 200


def _tell_of_another_clock(before: str | None, zone: str | None) -> None:
    """Say so when a log-in moved the user's times to the clock of the browser they logged in from (a traveller's
    weekly days and alert windows move with it)."""
    if before is not None and zone is not None and before != zone and not same_clock(before, zone):
        flash(gettext("Times are now shown in %(zone)s, this browser's time zone (before: %(before)s). Your account "
                      "page can set another.", zone=zone_with_city(zone), before=zone_with_city(before)),
              FlashCategory.INFO)


@bp.route("/time-zone", methods=["GET", "POST"])
@login_required
@form_page(start_page)
def set_time_zone() -> ResponseReturnValue:
    """Count and show times on the time zone of form field `time_zone`: this device's (offered by
    static/time-zone.js when it differs from the account's), which later log-ins move with the browser, or one chosen
    on the account page (form field `keep`), which they keep; back to the same-site `next`."""
    zone = known_zone(request.form.get("time_zone"))
    if zone is None:  # a zone newer than this server's, or none the browser could name
        flash(gettext("This server does not know this device's time zone; times stay as they were."),
              FlashCategory.ERROR)
    else:
        accounts.save_settings(current_user, time_zone=zone, time_zone_kept=request.form.get("keep") == "1")
        flash(gettext("Times are now shown in %(zone)s.", zone=zone_with_city(zone)), FlashCategory.SUCCESS)
    return back_to_form_next()


@bp.route("/logout", methods=["GET", "POST"])
@login_required
def logout() -> ResponseReturnValue:
    """The header's log-out button posts here; the address opened (typed, bookmarked) asks first, since a GET
    logs nobody out."""
    if request.method != "POST":
        logged_in_as = gettext("You are logged in as %(name)s.", name=current_user.username)
        return confirm_page(gettext("Log out?"), [logged_in_as], action=url_for("auth.logout"),
                            confirm_label=gettext("Log out"), cancel_url=start_page(),
                            cancel_label=gettext("Stay logged in"))
    if ConfirmForm().validate_on_submit():
        accounts.end_sessions(current_user)  # the remember-me cookie and any copy of the session cookie end too
        end_session()
        flash(gettext("You are logged out."), FlashCategory.INFO)
    return redirect(url_for("auth.login"))


def _has_remember_cookie() -> bool:
    return current_app.config.get("REMEMBER_COOKIE_NAME", COOKIE_NAME) in request.cookies


@bp.route("/account/password", methods=["GET", "POST"])
@login_limits(_current_username)
@login_required
def change_password() -> ResponseReturnValue:
    """A new password, given the current one; the user's other sessions end, this one goes on."""
    form = PasswordChangeForm()
    user = current_user._get_current_object()
    if form.validate_on_submit() and form.password_is(user):
        if form.password.data == form.current_password.data:
            form.password.errors.append(gettext("That is your current password; choose a new one."))
        else:
            accounts.change_password(user, form.password.data)
            known_devices.vouch_for(user)  # for the new password: cookies made with the old one vouch for nothing
            start_session(user, remember=_has_remember_cookie())
            flash(gettext("Your password is changed; your other sessions are logged out and your API tokens revoked."),
                  FlashCategory.SUCCESS)
            return redirect(url_for("auth.account"))
    return render_template("auth/password.html", form=form), 400 if form.errors else 200


@bp.route("/account")
@login_required
def account() -> ResponseReturnValue:
    """The user's name, age and holdings; their data to download; their API tokens; the way to delete the
    account."""
    return _account_page(TokenForm(formdata=None))


def _account_page(token_form: TokenForm) -> str:
    return render_template("auth/account.html", holdings=accounts.holdings(current_user), token_form=token_form,
                           tokens=tokens.live_tokens(current_user), token_name_length=tokens.NAME_LENGTH,
                           max_tokens=tokens.MAX_LIVE_TOKENS,
                           zone_choices=zone_choices(), account_zone=known_zone(current_user.time_zone) or "UTC")


def _account_tokens() -> str:
    return url_for("auth.account", _anchor="api-access")


@bp.route("/account/tokens", methods=["GET", "POST"])
@login_limits(_current_username)
@login_required
@form_page(_account_tokens)
def create_token() -> ResponseReturnValue:
    """A new API token, given the current password, shown once on a page of its own (never cached); a refused
    form: the account page with its errors."""
    form = TokenForm()
    user = current_user._get_current_object()
    if form.validate_on_submit() and form.password_is(user):
        try:
            name = tokens.token_name(form.name.data)
            tokens.room_for_another(user)  # before the form counts as sent: refused, it can be sent again
            if not _first_sending(form.form_id.data):
                flash(gettext("That form was sent again, so no second token was made. A token is shown only once: "
                              "if you did not copy it, revoke it and create another."), FlashCategory.INFO)
                return redirect(_account_tokens())
            token, plain = tokens.issue(user, name)
        except (Refused, Conflict) as refusal:  # an unreadable name; as many working tokens as an account may hold
            form.name.errors.append(refusal.args[0])
        else:
            page = render_template("auth/token_created.html", token=token, plain=plain)
            return page, 201, {"Cache-Control": "no-store"}
    return _account_page(form), 400


SENT_TOKEN_FORMS = "sent_token_forms"  # the session's last token forms that made a token, by their form_id


def _first_sending(form_id: str | None) -> bool:
    """Whether this token form makes a token: not when the session already made one from it (the browser sends a
    form again when its answer, the page showing the token, is reloaded). A form without an id (a script) always
    does."""
    if not form_id:
        return True
    sent = session.get(SENT_TOKEN_FORMS, [])
    if form_id in sent:
        return False
    session[SENT_TOKEN_FORMS] = [*sent, form_id][-8:]
    return True


@bp.route("/account/tokens/<int:token_id>/revoke", methods=["GET", "POST"])
@login_required
@deleted_goes_back(Deleted.TOKEN, "token_id")
def revoke_token(token_id: int) -> ResponseReturnValue:
    """GET asks first (what stops working, a way back); POST revokes one of the user's working tokens (404 for any
    other id)."""
    token = tokens.live_token(current_user, token_id)
    if request.method != "POST":  # named as the list names it (not by its number, which the list never shows)
        return confirm_page(gettext("Revoke the token “%(name)s”?", name=token.name) if token.name
                            else gettext("Revoke the unnamed token?"),
                            [gettext("The scripts and devices that use it can no longer reach your account through the "
                                     "API. This cannot be undone, but you can always create a new token.")],
                            url_for("auth.revoke_token", token_id=token.id), gettext("Revoke the token"),
                            _account_tokens())
    if not ConfirmForm().validate_on_submit():
        abort(400)
    tokens.revoke(token)
    remember_deleted(Deleted.TOKEN, token.id, _account_tokens())  # Back to its question: the account page, saying so
    flash(gettext("The token “%(name)s” was revoked: it no longer works.", name=token.name) if token.name
          else gettext("The unnamed token was revoked: it no longer works."), FlashCategory.SUCCESS)
    return redirect(_account_tokens())


@bp.route("/account/tokens/revoke-all", methods=["GET", "POST"])
@login_required
def revoke_all_tokens() -> ResponseReturnValue:
    """GET asks first, counting the working tokens; POST revokes them all."""
    if request.method != "POST":
        count = len(tokens.live_tokens(current_user))
        if not count:  # nothing to revoke (an old tab): the account's tokens say so
            return redirect(_account_tokens())
        return confirm_page(ngettext("Revoke your %(num)d working token?", "Revoke all %(num)d of your working tokens?",
                                     count),
                            [ngettext("The scripts and devices that use your token can no longer reach your account "
                                      "through the API. This cannot be undone, but you can always create a new one.",
                                      "The scripts and devices that use them can no longer reach your account "
                                      "through the API. This cannot be undone, but you can always create new tokens.",
                                      count)],
                            url_for("auth.revoke_all_tokens"),
                            gettext("Revoke all my tokens"), _account_tokens())
    if not ConfirmForm().validate_on_submit():
        abort(400)
    count = tokens.revoke_all(current_user)
    flash(ngettext("%(num)d token was revoked: it no longer works.",
                   "%(num)d tokens were revoked: they no longer work.", count), FlashCategory.SUCCESS)
    return redirect(_account_tokens())


EXPORTS = {"json": (accounts.export_json, "application/json"), "csv": (accounts.export_csv, "text/csv"),
           "zip": (accounts.export_media, "application/zip")}


@bp.route("/account/export.<any(json, csv, zip):fmt>")
@session_or_token
def export_account(fmt: str) -> ResponseReturnValue:
    """Everything the user stored, as a download named after them and today (on their clock), written while it is
    sent (services/accounts.py reads the history a page at a time); an API client fetches it with its bearer token."""
    user = g.api_user
    export, mimetype = EXPORTS[fmt]
    return streamed_download(export(user.id), mimetype,
                             f"moodlens-{user.username}-{today_on(zone_of(user)).isoformat()}.{fmt}")


def deletion_consequences() -> list[str]:
    """What goes with the account, counted."""
    holdings = accounts.holdings(current_user)
    return [
        *([ngettext("Your %(count)s analysis, with its photo or video, thumbnails and heat maps.",
                    "Your %(count)s analyses, with their photos and videos, thumbnails and heat maps.",
                    holdings.analyses, count=format_decimal(holdings.analyses))] if holdings.analyses else []),
        *([ngettext("Your %(num)d person or pet, with their dashboard and alerts.",
                    "Your %(num)d people and pets, with their dashboards and alerts.", holdings.subjects)]
          if holdings.subjects else []),
        *([ngettext("Your %(count)s face signature (face recognition).",
                    "Your %(count)s face signatures (face recognition).", holdings.face_signatures,
                    count=format_decimal(holdings.face_signatures))]
          if holdings.face_signatures else []),
        *([ngettext("Your %(num)d API token: a script that uses it is refused at once.",
                    "Your %(num)d API tokens: a script that uses one is refused at once.", working_tokens)]
          if (working_tokens := tokens.working_count(current_user)) else []),
        gettext("The account itself: its username is free again."),
    ]


@bp.route("/account/delete", methods=["GET", "POST"])
@login_limits(_current_username)
@login_required
def delete_account() -> ResponseReturnValue:
    """GET asks for the current password (and says what goes); POST with it deletes the account and everything
    in it, logs out and says so on the home page. The last active administrator is refused (no form)."""
    user = current_user._get_current_object()
    form = DeleteAccountForm()
    refusal = Phrase(accounts.LAST_ADMIN) if accounts.is_last_admin(user) else None
    if refusal is None and form.validate_on_submit() and form.password_is(user):
        accounts.delete_account(user)
        end_session()
        flash(gettext("Your account and everything in it were deleted."), FlashCategory.SUCCESS)
        return redirect(url_for("analyze.index"))
    refused = refusal is not None and request.method == "POST"
    page = render_template("auth/delete_account.html", form=form, refusal=refusal, consequences=deletion_consequences(),
                           question=gettext("Delete your account?"), action=url_for("auth.delete_account"),
                           confirm_label=gettext("Delete my account"), cancel_url=url_for("auth.account"))
    return page, 400 if form.errors or refused else 200
