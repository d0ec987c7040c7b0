"""A user's API bearer tokens, for the API and the account page alike: issued (with an optional name), listed
while they work, revoked one at a time or all together, and their last use kept."""

from __future__ import annotations

from datetime import timedelta

from flask import current_app

from extensions import db
from messages import N_, Phrase
from models import ApiToken, User
from services.access import LARGEST_ID
from services.errors import NotFound, Refused
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


def issue(user: User, name: str | None) -> tuple[ApiToken, str]:
    """A new token of the user's, stored (its hash only), lasting API_TOKEN_DAYS; with its plain text, shown once."""
    token, plain = ApiToken.issue(user, timedelta(days=current_app.config["API_TOKEN_DAYS"]), name)
    db.session.add(token)
    db.session.commit()
    return token, plain


def live_tokens(user: User) -> list[ApiToken]:
    """The user's tokens that still work (neither revoked nor expired), newest first."""
    return sorted((token for token in user.tokens if token.live), key=lambda token: token.id, reverse=True)


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
