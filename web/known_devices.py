"""The device cookie (OWASP's "device cookies", against lockouts): a browser that proved it knows an account's password
(a log-in, the registration, the API's token exchange, a password change) gets a signed cookie vouching for that
account, so that while the account is under attack (web/login_limits.py) its owner still logs in from that browser.

The cookie holds a random id of the browser and, newest first, a mark for each of the last ACCOUNTS_KEPT accounts it
proved: a keyed digest of the account's id and password hash, so it names no account to whoever reads it, and a new
password (the owner's change, an administrator's reset) voids every mark made before it: cookies gathered by someone
who once knew the old password vouch for nothing. It is signed with the app's
SECRET_KEY (a salt of its own), HttpOnly, SameSite=Lax and Secure in production, and it is not a session: logging
out leaves it, and it proves nothing but a past log-in.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

from flask import Response, after_this_request, current_app, g, request
from itsdangerous import BadSignature, Signer, URLSafeTimedSerializer

from models import User

COOKIE = "moodlens_device"
COOKIE_SECONDS = 365 * 24 * 3600
ACCOUNTS_KEPT = 5
MARK_LENGTH = 16  # characters of an account's mark (URL-safe base64 of HMAC-SHA256: 96 bits)


@dataclass(frozen=True)
class KnownDevice:
    """What a valid device cookie says: the browser's id, and the marks of the accounts it proved, newest first."""

    id: str
    accounts: tuple[str, ...]


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.secret_key, salt="moodlens-device-cookie")


def _account_mark(user: User) -> str:
    """A keyed digest of the account's id and its password hash: a new password (or an admin's reset) makes every
    mark made before it vouch for nothing."""
    signer = Signer(current_app.secret_key, salt="moodlens-device-account", digest_method=hashlib.sha256)
    return signer.get_signature(f"{user.id}:{user.password_hash}").decode()[:MARK_LENGTH]


def _this_device() -> KnownDevice | None:
    """The device the request's cookie names; None without a valid one (none, altered, signed with another key, or
    older than COOKIE_SECONDS)."""
    sent = request.cookies.get(COOKIE)
    if not sent:
        return None
    try:
        said = _serializer().loads(sent, max_age=COOKIE_SECONDS)
    except BadSignature:
        return None
    return KnownDevice(said["device"], tuple(said["accounts"]))


def device_vouching_for(user: User | None) -> str | None:
    """This browser's id when its cookie vouches for the account (it proved the password before), else None (the
    cookie is read whether or not there is an account, so that the time taken does not tell)."""
    device = _this_device()
    if device is None or user is None:
        return None
    return device.id if _account_mark(user) in device.accounts else None


def vouch_for(user: User) -> None:
    """Have this request's answer, whatever it is, give the browser a cookie vouching for the account (first, ahead
    of the others it keeps), with the browser's id kept or a new one. The mark is made now, while the user is read;
    a view that then changes the password calls this again, and the answer vouches for the new one (one cookie)."""
    cookie_due = "device_mark" in g  # an earlier call set the answer's cookie going: it reads the newest mark
    g.device_mark = _account_mark(user)
    if cookie_due:
        return
    device = _this_device()
    device_id = device.id if device is not None else secrets.token_urlsafe(12)

    @after_this_request
    def set_cookie(response: Response) -> Response:
        mark = g.device_mark
        kept = [mark, *(other for other in (device.accounts if device else ()) if other != mark)][:ACCOUNTS_KEPT]
        response.set_cookie(COOKIE, _serializer().dumps({"device": device_id, "accounts": kept}),
                            max_age=COOKIE_SECONDS, httponly=True, samesite="Lax",
                            secure=current_app.config["PRODUCTION"])
        return response
