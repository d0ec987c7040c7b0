"""The limits on password attempts, shared by every view that checks a password (the log-in form, the API's token
exchange, the password change, a new API token, the account's deletion), counted in the limiter's storage so that
every web process counts together.

Counting every attempt against the account name let anyone keep its owner out: ten wrong passwords a minute, from
any address, and the right password was refused too. Now:

- per client address, every attempt (LOGIN_LIMITS): one address guesses slowly, at one account or sprayed over
  many;
- per account and address (LOGIN_LIMITS): one address's guesses never refuse another's right password; a right
  password clears its address's count, so only wrong ones add up;
- per account, wrong passwords from every address together (LOGIN_ACCOUNT_LIMITS): past it the account is under
  attack, and an attempt at it costs its address all of its allowance for the account (the smallest amount of
  LOGIN_LIMITS: one attempt a minute by default; a right one gives it back). Guesses spread over many addresses are
  slowed that much, while the right password from an address without a recent failure is still checked and
  accepted.

Attempts are counted before the password is checked (one atomic increment each), so requests sent at once get no
more guesses than requests sent one after another.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from flask import current_app, g
from flask_limiter.util import get_remote_address
from limits import RateLimitItem, parse_many

from extensions import limiter
from messages import N_
from models import normalize_username

ACCOUNT_ADDRESS_SCOPE = "passwords-per-account-and-address"
ACCOUNT_FAILURES_SCOPE = "failed-passwords-per-account"  # the under-attack counters (LOGIN_ACCOUNT_LIMITS)


def password_checked(right: bool) -> None:
    """Say whether the password this request checked was right: a wrong one counts against the account from every
    address, a right one clears its address's count at the account."""
    g.password_right = right


def _limits(setting: str) -> list[RateLimitItem]:
    return parse_many(current_app.config[setting])


def _login_limit() -> str:
    return current_app.config["LOGIN_LIMITS"]


def _under_attack(account: str) -> bool:
    """Whether the account had LOGIN_ACCOUNT_LIMITS wrong passwords from all addresses together."""
    return not all(limiter.limiter.test(item, ACCOUNT_FAILURES_SCOPE, account)
                   for item in _limits("LOGIN_ACCOUNT_LIMITS"))


def _settle(account: str) -> None:
    """After the password check: count a wrong password against the account, or clear the right one's address
    count at it (skipped, and logged, while the storage is unreachable: the limits then err towards the guesser
    for a moment, never towards refusing the owner)."""
    right = g.get("password_right")
    if right is None or not limiter.enabled:
        return
    try:
        if right:
            for counted in limiter.current_limits:
                if ACCOUNT_ADDRESS_SCOPE in counted.request_args:
                    limiter.limiter.clear(counted.limit, *counted.request_args)
        else:
            for item in _limits("LOGIN_ACCOUNT_LIMITS"):
                limiter.limiter.hit(item, ACCOUNT_FAILURES_SCOPE, account)
    except limiter.limiter.storage.base_exceptions:
        current_app.logger.warning("Rate-limit storage unreachable: a password check went uncounted", exc_info=True)


def login_limits(account_name: Callable[[], str]) -> Callable[[Callable], Callable]:
    """Limit password attempts per client address and per account and address, and slow them at an account under
    attack (see the module's docstring); `account_name` reads the name from the part of the request whose password
    the view checks, and the view tells password_checked() whether it was right."""

    def account() -> str:
        return "account:" + normalize_username(account_name())

    def account_address() -> str:
        return f"{account()}@{get_remote_address()}"

    def attempt_cost() -> int:
        """1, or all of an address's allowance at an account under attack (looked up once per request)."""
        if "password_attempt_cost" not in g:
            g.password_attempt_cost = (min(item.amount for item in _limits("LOGIN_LIMITS"))
                                       if _under_attack(account()) else 1)
        return g.password_attempt_cost

    per_address = limiter.shared_limit(_login_limit, "passwords-per-address", methods=["POST"],
                                       error_message=N_("Too many log-in attempts; wait a minute."))
    per_account = limiter.shared_limit(_login_limit, ACCOUNT_ADDRESS_SCOPE, methods=["POST"],
                                       key_func=account_address, cost=attempt_cost,
                                       error_message=N_("Too many log-in attempts for this account; wait a minute."))

    def limited(view: Callable) -> Callable:
        @wraps(view)
        def settled(*args, **kwargs):
            try:
                return view(*args, **kwargs)
            finally:
                _settle(account())

        return per_address(per_account(settled))

    return limited
