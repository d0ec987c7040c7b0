"""Gentle alerts: an owner's rule ("fear in more than 40% of Rex's appearances over the last 7 days")
checked against the history, with the data behind it. Never a diagnosis: a notice and its numbers."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime

from insights.history import History, days_before, instant

MIN_APPEARANCES = 3  # fewer confident readings in the window: too little to say anything
MIN_MATCHING = 2  # fewer readings of the rule's emotion: one photo is an event, not a pattern


@dataclass(frozen=True)
class Rule:
    emotion: str
    share: float  # 0..1
    days: int


def check_rule(history: History, rule: Rule, now: datetime) -> dict:
    """{"fired", "share", "count", "matching", "unsure", "days": [{"date", "count", "matching", "unsure"}], ...} for
    the window of the last `rule.days` days before `now` (on the history's clock); fires when at least
    MIN_APPEARANCES fall in it, at least MIN_MATCHING of them have `rule.emotion` as their top emotion, and their
    share exceeds `rule.share`. Unsure readings (flagged or weak) are left out (an alert must not fire from the
    model's guesses); "unsure" says how many were, in all and on each day listed (every day with a reading in the
    window). "enough" says whether the window has enough readings, "enough_matching" whether it has enough of the
    emotion ("needed" and "needed_matching": how many it takes)."""
    since = days_before(now, rule.days)
    index = history.classes.index(rule.emotion) if rule.emotion in history.classes else None
    in_window = _in_window(history, rule, now)
    window = [(moment, top) for moment, top, inside, unsure in zip(history.times, history.tops, in_window,
                                                                   history.flagged) if inside and not unsure]
    matching = [moment for moment, top in window if top == index]
    per_day, matching_per_day = Counter(m.date() for m, _ in window), Counter(m.date() for m in matching)
    unsure_per_day = Counter(moment.date() for moment, inside, unsure in zip(history.times, in_window, history.flagged)
                             if inside and unsure)
    share = len(matching) / len(window) if window else 0.0
    enough, enough_matching = len(window) >= MIN_APPEARANCES, len(matching) >= MIN_MATCHING
    return {"fired": enough and enough_matching and share > rule.share, "share": round(share, 4),
            "count": len(window), "matching": len(matching), "since": since.date().isoformat(),
            "unsure": sum(inside and unsure for inside, unsure in zip(in_window, history.flagged)),
            "enough": enough, "needed": MIN_APPEARANCES,
            "enough_matching": enough_matching, "needed_matching": MIN_MATCHING,
            "days": [{"date": day.isoformat(), "count": per_day[day], "matching": matching_per_day[day],
                      "unsure": unsure_per_day[day]} for day in sorted(per_day | unsure_per_day)]}


def window_readings(history: History, rule: Rule, now: datetime) -> list[int]:
    """The analysis ids of the readings the rule is checked on now (`check_rule`'s window, sure readings), sorted,
    once per reading (a video can show a subject in several tracks)."""
    return sorted(analysis_id for analysis_id, inside, unsure in zip(history.analysis_ids,
                                                                      _in_window(history, rule, now), history.flagged)
                  if inside and not unsure)


def _in_window(history: History, rule: Rule, now: datetime) -> list[bool]:
    """Per appearance, whether it falls in the rule's window: the last `rule.days` days before `now`."""
    start, end = instant(days_before(now, rule.days)), instant(now)
    return [start < instant(moment) <= end for moment in history.times]
