"""A user's API bearer tokens, for the API and the account page alike: issued (with an optional name), listed
while they work, revoked one at a time or all together, and their last use kept."""

from __future__ import annotations

from datetime import timedelta

from flask import current_app

from extensions import db
from messages import N_, Phrase
from models import ApiToken, User, utcnow
from services.access import LARGEST_ID, account_held
from services.errors import Conflict, NotFound, Refused
from services.subjects import normal_name, readable

NAME_LENGTH = ApiToken.name.type.length


def token_name(name: object) -> str | None:
    """A token's name as a client sent it, checked: None for none (absent or blank); raises Refused for one that
    is not text, too long or unreadable."""
    if name is None:
        return None
    if not isinstance(name, str):
        raise Refused(Phrase(N_("A token's name is text.")))
    name = normal_name(name)
    if not name:
        return None
    if len(name) > NAME_LENGTH:
        raise Refused(Phrase(N_("Give a token name of at most %(max)d characters."), max=NAME_LENGTH))
    if not readable(name):
        raise Refused(Phrase(N_("Give a name with letters one can see, and no control characters.")))
    return name


MAX_LIVE_TOKENS = 50  # working tokens one account may hold (a script making one a run would pile them up)
KEPT_AFTER_EXPIRY = timedelta(days=30)  # an expired token's row, kept to say "expired" (or "revoked") when used


def working_count(user: User) -> int:
    """How many working tokens (neither revoked nor expired) the user holds."""
    return db.session.scalar(db.select(db.func.count(ApiToken.id)).where(*_working(user)))


def room_for_another(user: User) -> None:
    """Raises Conflict when the user holds MAX_LIVE_TOKENS working tokens."""
    if working_count(user) >= MAX_LIVE_TOKENS:
        raise Conflict(Phrase(N_("You have %(count)d working API tokens, the most an account may hold: revoke one "
                                 "you no longer use first (on your account page, or DELETE /api/v1/tokens/ID)."),
                              count=MAX_LIVE_TOKENS))


def issue(user: User, name: str | None) -> tuple[ApiToken, str]:
    """A new token of the user's, stored (its hash only), lasting API_TOKEN_DAYS; with its plain text, shown once.
    Raises Conflict when there is no room for it (`room_for_another`), counted with the account held, so that two
    requests at once cannot both take the last place. The rows of the user's tokens expired over KEPT_AFTER_EXPIRY
    ago go."""
    with account_held(user.id):
        room_for_another(user)
    newest = db.select(db.func.max(ApiToken.id)).scalar_subquery()  # kept: SQLite gives a new row the highest id + 1
    db.session.execute(db.delete(ApiToken).where(ApiToken.user_id == user.id, ApiToken.id < newest,
                                                 ApiToken.expires_at < utcnow() - KEPT_AFTER_EXPIRY))
    token, plain = ApiToken.issue(user, timedelta(days=current_app.config["API_TOKEN_DAYS"]), name)
    db.session.add(token)
    db.session.commit()
    return token, plain


def live_tokens(user: User) -> list[ApiToken]:
    """The user's tokens that still work (neither revoked nor expired), newest first."""
    return db.session.scalars(db.select(ApiToken).where(*_working(user)).order_by(ApiToken.id.desc())).all()


def _working(user: User) -> tuple:
    return ApiToken.user_id == user.id, ApiToken.revoked.is_(False), ApiToken.expires_at > utcnow()


def live_token(user: User, token_id: int) -> ApiToken:
    """The user's working token of this id; raises NotFound for another user's, a revoked or expired one, or none
    (the same answer for each)."""
    token = db.session.get(ApiToken, token_id) if 0 < token_id <= LARGEST_ID else None
    if token is None or token.user_id != user.id or not token.live:
        raise NotFound(f"No token {token_id}.")
    return token


def revoke(token: ApiToken) -> None:
    token.revoked = True
    db.session.commit()


def revoke_all(user: User) -> int:
    """Revoke every working token of the user; how many there were."""
    tokens = live_tokens(user)
    user.revoke_tokens()
    db.session.commit()
    return len(tokens)


def note_use(token: ApiToken) -> None:
    """Keep that the token let a request in (at most one write a minute per token: ApiToken.note_use)."""
    if token.note_use():
        db.session.commit()
