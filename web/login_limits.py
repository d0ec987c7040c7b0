"""The limits on password attempts, shared by every view that checks a password (the log-in form, the API's token
exchange, the password change, a new API token, the account's deletion), counted in the limiter's storage so that
every web process counts together.

A client address is an IPv4 address, or an IPv6 one's /64 (extensions.client_network); an account is the one the
name resolves to, by its current name or by the one it had before an administrator renamed it (as a log-in resolves
it), else the name as typed. The limits:

- per client address, every attempt (LOGIN_LIMITS): one address guesses slowly, at one account or sprayed over many;
- per account and client (LOGIN_LIMITS): one client's guesses never refuse another's right password; a right
  password clears its count, so only wrong ones add up. The client is its address, or, for a browser whose device
  cookie vouches for the account (web/known_devices.py: it proved the password before, and the password has not
  changed since), that cookie, so that a stolen cookie gets no more guesses from many addresses than from one;
- per account, attempts from clients without its device cookie (LOGIN_ACCOUNT_LIMITS), from every address together,
  an attempt that was not a wrong password giving its count back (the limiter's fixed windows), so that they count
  wrong passwords. Past it the account is under attack: until the window ends,
  every attempt at it without the cookie is refused outright, the right password too, whatever the number of
  addresses, while its owner, on a browser that logged in to it (or registered it) before, logs in as usual (OWASP's
  "device cookies"). A session's cookie is no device cookie: copied, it gets no more guesses than a stranger.

Before the device cookie, wrong passwords from anywhere either refused the owner's right one too (a lockout anyone
could cause) or, once the account was under attack, still gave every address a guess a minute (120 IPv6
addresses of one /64 made 145 guesses in a minute). The trade-off now: during an attack, the owner on a browser
(or a script) that never logged in to the account waits until the window ends, as with any lockout.

Attempts are counted before the password is checked (one atomic increment each), so requests sent at once get no
more guesses than requests sent one after another.

An administrator sees on the account's page until when it refuses new clients, and can lift that (the owner asked,
from a new phone): `refused_until`, `lift_refusal`.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import wraps

from flask import current_app, g, request
from flask_limiter import RequestLimit
from limits import RateLimitItem, parse_many
from limits.strategies import STRATEGIES, RateLimiter

from extensions import client_network, limiter
from messages import N_
from models import User, normalize_username
from web import known_devices

ACCOUNT_CLIENT_SCOPE = "passwords-per-account-and-client"
UNKNOWN_CLIENTS_SCOPE = "passwords-per-account-from-unknown-clients"  # LOGIN_ACCOUNT_LIMITS: the account's cap


@dataclass(frozen=True)
class Attempt:
    """Who a password attempt is at and from, as the limits count it."""

    account: str  # the account's id, or the name as typed when no account has it ("user:7", "name:bob")
    client: str  # "device:ID" when this browser's device cookie vouches for the account, else its client network

    @property
    def known_client(self) -> bool:
        return self.client.startswith("device:")

    @property
    def account_and_client(self) -> str:
        return f"{self.account}@{self.client}"


def password_checked(user: User | None) -> None:
    """Say whose password this request proved (None: the password was wrong). A right one clears its client's
    count at the account, gives back its attempt at the account's cap, and has the answer vouch for the account in
    this browser's device cookie."""
    g.password_right = user is not None
    if user is not None:
        known_devices.vouch_for(user)


def _name_digest(name: str) -> str:
    """A name no account has, as its counters' keys hold it: a digest, since the field is not validated yet (up to
    500 kB)."""
    return hashlib.sha256(normalize_username(name).encode("utf-8", "surrogatepass")).hexdigest()[:32]


def _account_key(user: User) -> str:
    return f"user:{user.id}"


def _attempt(account_name: Callable[[], str]) -> Attempt:
    """This request's attempt (looked up once per request: one query, whether or not the name is an account's)."""
    if "password_attempt" not in g:
        name = account_name()
        user = User.known_as(name)
        device = known_devices.device_vouching_for(user)
        g.password_attempt = Attempt(_account_key(user) if user is not None else f"name:{_name_digest(name)}",
                                     f"device:{device}" if device is not None else client_network())
    return g.password_attempt


def _account_cap(user: User) -> list[tuple[RateLimitItem, tuple[str, ...]]]:
    """Each limit of the account's cap (LOGIN_ACCOUNT_LIMITS) with the identifiers its counter is kept under, as
    Flask-Limiter keys a shared limit: the key prefix if any, the key, the scope. A limit of 0 is left out: it
    refuses always, and nothing lifts it."""
    prefix = current_app.config.get("RATELIMIT_KEY_PREFIX") or ""
    identifiers = (*([prefix] if prefix else []), _account_key(user), UNKNOWN_CLIENTS_SCOPE)
    return [(item, identifiers) for item in parse_many(current_app.config["LOGIN_ACCOUNT_LIMITS"]) if item.amount > 0]


def _counters() -> RateLimiter:
    """The limits' counters in their storage itself, never Flask-Limiter's in-memory stand-in for a storage it found
    unreachable (an answer from that would say no account is refused, and a lift would clear nothing)."""
    return STRATEGIES[current_app.config["RATELIMIT_STRATEGY"]](limiter.storage)


def refused_until(user: User) -> datetime | None:
    """Until when (naive UTC) the account refuses every client without its device cookie, having met its cap of wrong
    passwords; None when it does not (or the limits are off). Raises the storage's errors while it is unreachable."""
    if not limiter.enabled:
        return None
    counters = _counters()
    resets = [stats.reset_time for item, identifiers in _account_cap(user)
              if (stats := counters.get_window_stats(item, *identifiers)).remaining <= 0]
    return datetime.fromtimestamp(max(resets), UTC).replace(tzinfo=None) if resets else None


def lift_refusal(user: User) -> bool:
    """Clear the account's cap, so that every client may try its password again at once (a fresh cap of guesses);
    whether it was refusing. Raises the storage's errors while it is unreachable."""
    if not limiter.enabled:
        return False
    refusing = refused_until(user) is not None
    counters = _counters()
    for item, identifiers in _account_cap(user):
        counters.clear(item, *identifiers)
    return refusing


def _settle() -> None:
    """After the password check: a right password clears its client's count at the account, and whatever was not a
    wrong password gives its attempt at the account's cap back (skipped, and logged, while the storage is
    unreachable: the limits then err towards the guesser for a moment, never towards refusing the owner)."""
    if not limiter.enabled:
        return
    right = g.get("password_right")
    try:
        for counted in limiter.current_limits:
            if right and ACCOUNT_CLIENT_SCOPE in counted.request_args:
                limiter.limiter.clear(counted.limit, *counted.request_args)
            elif right is not False and UNKNOWN_CLIENTS_SCOPE in counted.request_args:
                _hand_back(counted)
        _headers_say_the_tightest()
    except limiter.limiter.storage.base_exceptions:
        current_app.logger.warning("Rate-limit storage unreachable: a password check went uncounted", exc_info=True)


def give_back(scope: str) -> None:
    """Give this request's count back to the limits of `scope` it was counted against (an attempt that, once the view
    ran, proves not to be what the limit counts); skipped, and logged, while the storage is unreachable."""
    if not limiter.enabled:
        return
    try:
        for counted in limiter.current_limits:
            if scope in counted.request_args and not counted.breached:
                _hand_back(counted)
    except limiter.limiter.storage.base_exceptions:
        current_app.logger.warning("Rate-limit storage unreachable: a count was not given back", exc_info=True)


GIVE_BACK_MARGIN = 1.0  # seconds a window must still run for a count to be given back to it (not two steps at once)


def _hand_back(counted: RequestLimit) -> None:
    """One attempt given back to a limit this request was counted against, while its window holds any (given back
    after the window ended, a storage opens a new one at -1: one attempt more than the limit; the database storage
    refuses that itself, Redis's does not)."""
    window = limiter.limiter.get_window_stats(counted.limit, *counted.request_args)
    if window.remaining < counted.limit.amount and window.reset_time - time.time() > GIVE_BACK_MARGIN:
        limiter.limiter.hit(counted.limit, *counted.request_args, cost=-1)


def _headers_say_the_tightest() -> None:
    """Have the X-RateLimit-* headers count the limit with the fewest attempts left once the attempt is settled:
    Flask-Limiter names the first of several shared limits, here the account-and-client one, which a right password
    clears, so three tokens made in a row each said 10 left while the address's limit had 7 (and a script pacing
    itself by the header met a 429 it was not warned of). Set in Flask-Limiter's per-request context, which its
    after-request hook reads for the headers: marked private there, so the version is pinned and
    tests/test_api_conventions.py checks the headers."""
    counted = [limit for limit in limiter.current_limits if not limit.breached]
    if counted and len(counted) == len(limiter.current_limits):
        limiter.context.view_rate_limit = min(counted, key=lambda limit: limit.remaining)


def login_limits(account_name: Callable[[], str]) -> Callable[[Callable], Callable]:
    """Limit password attempts per client address, per account and client, and per account from clients without
    its device cookie (see the module's docstring); `account_name` reads the name from the part of the request whose
    password the view checks, and the view tells password_checked() whose password it proved."""

    def setting(name: str) -> Callable[[], str]:
        return lambda: current_app.config[name]

    def from_known_client() -> bool:
        """Whether this browser's device cookie vouches for the account (asked of POSTs only, the attempts)."""
        return request.method == "POST" and _attempt(account_name).known_client

    per_address = limiter.shared_limit(setting("LOGIN_LIMITS"), "passwords-per-address", methods=["POST"],
                                       key_func=client_network,
                                       error_message=N_("Too many log-in attempts; wait a minute."))
    per_account_and_client = limiter.shared_limit(
        setting("LOGIN_LIMITS"), ACCOUNT_CLIENT_SCOPE, methods=["POST"],
        key_func=lambda: _attempt(account_name).account_and_client,
        error_message=N_("Too many log-in attempts for this account; wait a minute."))
    per_account = limiter.shared_limit(
        setting("LOGIN_ACCOUNT_LIMITS"), UNKNOWN_CLIENTS_SCOPE, methods=["POST"],
        key_func=lambda: _attempt(account_name).account, exempt_when=from_known_client,
        error_message=N_("Too many log-in attempts for this account; try again later, or log in from a browser you "
                         "have logged in with before."))

    def limited(view: Callable) -> Callable:
        @wraps(view)
        def settled(*args, **kwargs):
            try:
                return view(*args, **kwargs)
            finally:
                _settle()

        return per_address(per_account_and_client(per_account(settled)))

    return limited
