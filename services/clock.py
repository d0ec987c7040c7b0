"""The owner's clock. Times are stored as naive UTC; days, weeks and times of day are counted, and times shown, on
the user's own clock: the IANA time zone their browser reports with the login and registration forms, or when they
switch to it from a page (a browser in another zone than the account's offers it: static/time-zone.js, POST
/time-zone). UTC until one is known, or when a name is one this machine does not know."""

from __future__ import annotations

import functools
from datetime import UTC, date, datetime
from importlib import resources
from zoneinfo import ZoneInfo, available_timezones

from babel.core import get_global
from pytz import all_timezones_set

from models import User, utcnow


# An old name of a place's zone and its name now (CLDR, through Babel); "UTC" stays "UTC" (not "Etc/UTC")
ZONE_ALIASES = {old: new for old, new in get_global("zone_aliases").items()
                if "/" in old and not new.startswith("Etc/")}


def known_zone(name: str | None) -> str | None:
    """`name` when it is a time zone this machine knows ("Asia/Seoul"), under its name now ("Asia/Calcutta", which
    Chromium still reports, as "Asia/Kolkata": the account page listed the old name apart from its city), else
    None."""
    if not name or len(name) > 64:
        return None
    name = ZONE_ALIASES.get(name, name)
    return name if name in _zone_names() else None


@functools.cache
def _zone_names() -> frozenset[str]:
    """The zones that both the insights' clock (zoneinfo) and the pages' (Flask-Babel, on pytz) know: not
    "localtime" (the server's own) nor "Factory"."""
    return frozenset(available_timezones()) & all_timezones_set


@functools.cache
def zones_by_country() -> dict[str, tuple[str, ...]]:
    """The zones a person chooses from, by country (ISO 3166 code): those of the tz database's zone.tab (one per
    clock that a country's region keeps, no aliases such as "US/Eastern" or "Etc/GMT+5") that this machine knows."""
    table = resources.files("tzdata").joinpath("zoneinfo", "zone.tab").read_text(encoding="utf-8")
    zones: dict[str, list[str]] = {}
    for line in table.splitlines():
        if line and not line.startswith("#"):
            country, _, zone = line.split("\t")[:3]
            if known_zone(zone):
                zones.setdefault(country, []).append(zone)
    return {country: tuple(names) for country, names in zones.items()}


def same_clock(first: str, second: str) -> bool:
    """Whether two zones this machine knows (`known_zone`) show the same time on the 1st and 15th of every month of
    this year (Europe/Paris and Europe/Berlin; zones whose clocks change on different days differ on one of them, or
    differ for a few days only)."""
    year = utcnow().year
    days = [datetime(year, month, day, 12, tzinfo=UTC) for month in range(1, 13) for day in (1, 15)]
    return all(day.astimezone(ZoneInfo(first)).utcoffset() == day.astimezone(ZoneInfo(second)).utcoffset()
               for day in days)


def zone_of(user: User | None) -> ZoneInfo:
    """The user's time zone (UTC when none is known; the zones come from the pinned tzdata package)."""
    return ZoneInfo(known_zone(getattr(user, "time_zone", None)) or "UTC")


def in_zone(moment: datetime, zone: ZoneInfo) -> datetime:
    """A stored (naive UTC) time on the clock of `zone`, aware (it still tells the two hours a fall-back repeats
    apart)."""
    return moment.replace(tzinfo=UTC).astimezone(zone)


def on_clock(moment: datetime, zone: ZoneInfo) -> datetime:
    """A stored (naive UTC) time as the wall clock of `zone` reads it, naive: for counting days and hours."""
    return in_zone(moment, zone).replace(tzinfo=None)


def stored_time(day: date, zone: ZoneInfo) -> datetime:
    """The start of `day` on the clock of `zone`, as times are stored (naive UTC): where a day's rows begin."""
    return datetime(day.year, day.month, day.day, tzinfo=zone).astimezone(UTC).replace(tzinfo=None)


def now_in(zone: ZoneInfo) -> datetime:
    """Now, on the clock of `zone`, aware."""
    return in_zone(utcnow(), zone)


def today_on(zone: ZoneInfo) -> date:
    return now_in(zone).date()
