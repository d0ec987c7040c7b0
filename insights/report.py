"""The weekly report of a subject: the week's emotion mix against the week before, its days, and a PNG of it."""

from __future__ import annotations

import importlib.util
import io
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, timedelta
from enum import StrEnum
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

import numpy as np

from insights.history import History, describe_mix
from insights.profile import MIN_FOR_PROFILE

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure
    from matplotlib.text import Text


def week_start(day: date) -> date:
    return day - timedelta(days=day.weekday())


ISO_WEEK = re.compile(r"([0-9]{4})-W([0-9]{2})")  # "2026-W47"


def iso_week_monday(text: str | None) -> date | None:
    """The Monday of an ISO week written "2026-W47", of the years 1970 to 2999; None for anything else (absent, or
    not such a week: "soon", "2026-W99", a week 53 of a year without one)."""
    match = ISO_WEEK.fullmatch(text or "")
    if match is None:
        return None
    year, week = (int(part) for part in match.groups())
    try:
        return date.fromisocalendar(year, week, 1) if 1970 <= year <= 2999 else None
    except ValueError:
        return None


def first_week(history: History) -> date | None:
    """The Monday of the subject's first appearance; None without any (no earlier report to go back to)."""
    return week_start(history.times[0].date()) if history.times else None


def opening_week(history: History, today: date) -> date:
    """The week a report opens on: this week if it has appearances (or when there are none at all),
    else the newest week that has some."""
    this_week = week_start(today)
    past = [moment.date() for moment in history.times if moment.date() <= today]  # oldest first
    return this_week if not past or past[-1] >= this_week else week_start(past[-1])


def iso_week(monday: date) -> str:
    """A week as the addresses name it (2026-W47): iso_week_monday's inverse."""
    return "{}-W{:02d}".format(*monday.isocalendar()[:2])


def report_week(history: History, asked: date | None, today: date) -> date:
    """The Monday of the week a report shows, for the page and the API alike: the week asked for (its Monday:
    iso_week_monday) unless it is still to come, else the opening week."""
    return asked if asked is not None and asked <= week_start(today) else opening_week(history, today)


def _within(days: np.ndarray, start: date, end: date) -> np.ndarray:
    return (days >= np.datetime64(start)) & (days < np.datetime64(end))


def _mix(history: History, days: np.ndarray, start: date, end: date) -> np.ndarray | None:
    chosen = _within(days, start, end)
    return history.vectors[chosen].mean(0) if chosen.any() else None


def _dates(history: History) -> np.ndarray:
    return np.array([moment.date() for moment in history.times], dtype="datetime64[D]").reshape(-1)


@dataclass(frozen=True)
class DayTops:
    """A day's top emotions, counted once for the report and the calendar: each emotion with how often it was the
    top one, the most first, ties by name (so both agree on any machine)."""

    counts: tuple[tuple[str, int], ...]

    @classmethod
    def of(cls, tops: list[str]) -> DayTops:
        """The day's counts from its top emotions, one per sure reading."""
        return cls(tuple(Counter(sorted(tops)).most_common()))

    @property
    def top(self) -> str | None:
        """The day's most frequent top emotion (a tie broken by name); None without any."""
        return self.counts[0][0] if self.counts else None

    @property
    def tie(self) -> tuple[str, ...]:
        """The emotions the day showed most, each as often, by name (`top` first), when there are more than one;
        else (): pages show each of them, not the one a tie is broken to."""
        most = tuple(emotion for emotion, count in self.counts if count == self.counts[0][1])
        return most if len(most) > 1 else ()


def weekly_report(history: History, monday: date, today: date) -> dict:
    """The week from `monday`, seen on the owner's day `today`: appearances (all, and how many were unsure), and,
    from the sure readings only, the mean mix in words, the change per emotion against the previous week (named by
    its own dates, `previous_start` to `previous_end`: the week before the one shown, whenever that was), and each
    day's top emotion (None on a day whose readings were all unsure; a day after `today` is `to_come`: nothing yet,
    rather than nothing) with how many of its sure readings showed each emotion (`emotions`). A week with fewer
    sure readings than a profile needs (MIN_FOR_PROFILE) has no mix, no change and no description: one photo is no
    pattern; nor is a change against a week before with too few of them."""
    end, previous = monday + timedelta(days=7), monday - timedelta(days=7)
    every_date = _dates(history)
    count, before_count = int(_within(every_date, monday, end).sum()), int(_within(every_date, previous, monday).sum())
    sure = history.sure()
    dates = _dates(sure)
    sure_count = int(_within(dates, monday, end).sum())
    mix = _mix(sure, dates, monday, end) if sure_count >= MIN_FOR_PROFILE else None
    before_sure_count = int(_within(dates, previous, monday).sum())
    before = _mix(sure, dates, previous, monday) if before_sure_count >= MIN_FOR_PROFILE else None
    days = []
    for offset in range(7):
        day = monday + timedelta(days=offset)
        tops = [sure.classes[top] for top in sure.tops[dates == np.datetime64(day)]]
        counted = DayTops.of(tops)
        counts = dict(counted.counts)
        days.append({"date": day.isoformat(), "weekday": day.strftime("%a"),
                     "count": int((every_date == np.datetime64(day)).sum()), "sure": len(tops),
                     "top": counted.top, "tie": list(counted.tie), "to_come": day > today,
                     "emotions": {label: counts[label] for label in history.classes if label in counts}})
    return {"week": iso_week(monday), "start": monday.isoformat(),
            "end": (end - timedelta(days=1)).isoformat(), "count": count, "previous_count": before_count,
            "previous_start": previous.isoformat(), "previous_end": (monday - timedelta(days=1)).isoformat(),
            "unsure": count - sure_count, "sure": sure_count, "needed": MIN_FOR_PROFILE,
            "description": describe_mix(history.classes, mix) if mix is not None else None,
            "mix": {label: round(float(p), 4) for label, p in zip(history.classes, mix)} if mix is not None else {},
            "change": ({label: round(float(a - b), 4) for label, a, b in zip(history.classes, mix, before)}
                       if mix is not None and before is not None else {}),
            "days": days}


NO_EMOTION_COLOUR = "#c8c8d4"
FONT_FAMILIES = ["DejaVu Sans", "NanumGothic"]  # Latin from matplotlib's own font, Hangul from NanumGothic


@dataclass(frozen=True)
class ChartWords:
    """The PNG's words in the reader's language (the web layer translates them); English by default."""

    title: str
    mix_title: str = "Average share this week"
    days_title: str = "Appearances per day, by emotion"
    week_before: str = "week before"  # the dashed outlines: the week before the one shown (never "last week")
    no_mix: str = "Too few confident readings this week"  # in place of the mix when there are too few to sum up
    nothing: str = "Nothing this week"  # on both charts of a week without an appearance
    unsure: str = "unsure"  # the grey part of a day's bar: its unsure readings
    emotions: dict[str, str] = field(default_factory=dict)  # emotion id: its name (default: the id)
    weekdays: list[str] = field(default_factory=list)  # Monday first (default: the report's "Mon", ...)


@cache
def _register_korean_font() -> None:
    """Register NanumGothic, shipped inside the koreanize-matplotlib wheel, with matplotlib: found without
    importing that package (its import changes matplotlib's settings) and never downloaded."""
    from matplotlib import font_manager

    spec = importlib.util.find_spec("koreanize_matplotlib")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("koreanize-matplotlib is not installed: pip install -r requirements.lock")
    font_manager.fontManager.addfont(str(Path(next(iter(spec.submodule_search_locations))) / "fonts" /
                                         "NanumGothic.ttf"))


@cache
def _drawable_characters() -> frozenset[int]:
    """The code points FONT_FAMILIES' fonts draw (matplotlib would draw any other as an empty box)."""
    from matplotlib import font_manager
    from matplotlib.ft2font import FT2Font

    _register_korean_font()
    paths = {font_manager.findfont(font_manager.FontProperties(family=family), fallback_to_default=False)
             for family in FONT_FAMILIES}
    return frozenset(point for path in paths for point in FT2Font(path).get_charmap())


def drawable(name: str) -> str:
    """A subject's name as the PNG can draw it: without the characters no font of it has ("Rex 🐶" is drawn "Rex",
    not "Rex □"), each run of white space left one space; the name as it is when nothing would be left."""
    characters = _drawable_characters()
    return " ".join("".join(c for c in name if ord(c) in characters or c.isspace()).split()) or name


class Layout(StrEnum):
    """How the PNG's two charts sit: side by side (a wide screen, the download) or one above the other (a phone)."""

    WIDE = "wide"
    NARROW = "narrow"


# Per layout: the figure's size in inches (at DPI), its grid of charts, and the title's line length in columns.
FIGURE_SIZES = {Layout.WIDE: ((9, 3.4), (1, 2), 120), Layout.NARROW: ((3.6, 6.4), (2, 1), 36)}
DPI = 110
# Device pixels per page pixel: a phone's screen has two or three, and the narrow PNG (shown 396 page pixels wide)
# drawn at one looked soft there.
SHARPNESS = {Layout.WIDE: 1, Layout.NARROW: 2}
UPRIGHT_COLUMNS = 6  # a day's top emotion is written level above its bar when every name is this short (편안함)


def report_png(report: dict, words: ChartWords, colours: dict[str, str], layout: Layout = Layout.WIDE) -> bytes:
    """The report's charts as one PNG: the week's mix (with the week before's as outlines) and appearances per day,
    each bar in its emotion's colour (`colours`: the pages' colour per emotion); `layout` NARROW stacks them for
    a phone's width."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    _register_korean_font()
    with plt.rc_context({"font.family": FONT_FAMILIES}):
        figure = _draw(plt, report, words, colours, layout)
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png", dpi=DPI * SHARPNESS[layout])
        plt.close(figure)
    return buffer.getvalue()


def _columns(text: str) -> int:
    """How wide `text` is drawn, in columns: a wide character (Hangul, CJK) takes two."""
    return sum(2 if unicodedata.east_asian_width(character) in "WF" else 1 for character in text)


def _pieces(word: str, columns: int) -> list[str]:
    """`word` cut into pieces of at most `columns` (a longer word would run off the picture): after its hyphens
    where it has them ("Fluffington-" / "Whiskerbottom"), else anywhere."""
    pieces = [""]
    for part in re.split(r"(?<=-)", word):
        for unit in (part if _columns(part) > columns else [part]):  # a part too long alone: character by character
            if pieces[-1] and _columns(pieces[-1] + unit) > columns:
                pieces.append("")
            pieces[-1] += unit
    return pieces


def _wrapped(text: str, columns: int) -> str:
    """`text` broken between words into lines of at most `columns` (a longer word is cut)."""
    lines: list[str] = []
    for word in (piece for whole in text.split() for piece in _pieces(whole, columns)):
        if lines and _columns(lines[-1] + " " + word) <= columns:
            lines[-1] += " " + word
        else:
            lines.append(word)
    return "\n".join(lines)


def _draw(plt: ModuleType, report: dict, words: ChartWords, colours: dict[str, str],
          layout: Layout = Layout.WIDE) -> Figure:
    """The report's figure: the week's mix beside its readings per day, under the title."""
    size, grid, columns = FIGURE_SIZES[layout]
    figure, (mix_axes, day_axes) = plt.subplots(*grid, figsize=size)
    _draw_mix(mix_axes, report, words, colours)
    _draw_days(day_axes, report, words, colours)
    # a subject's name is text, never TeX ("$...$"; matplotlib's wrap=True parses maths whatever parse_math says)
    _fit_title(figure, figure.suptitle(_wrapped(words.title, columns), fontsize=11, parse_math=False), words.title,
               columns)
    figure.tight_layout()
    _fit_labels(day_axes)
    return figure


def _fit_title(figure: Figure, title: Text, text: str, columns: int) -> None:
    """Wrap the title shorter until it fits the picture as drawn: columns count characters, and a name of wide
    letters ("WWWW...") ran off both edges."""
    renderer = figure.canvas.get_renderer()
    while columns > 8 and title.get_window_extent(renderer).width > 0.96 * figure.bbox.width:
        columns = columns * 3 // 4
        title.set_text(_wrapped(text, columns))


def _fit_labels(axes: Axes) -> None:
    """Raise the days chart's top until every label over a bar ends inside it, as drawn (a tie's turned
    "happy/neutral/sad" is longer than the room left for one emotion's name): a label of height h over a bar of
    height c fits when the top is at least c * H / (H - h), H the chart's height."""
    renderer = axes.figure.canvas.get_renderer()
    height = axes.get_window_extent(renderer).height
    needed = [text.get_position()[1] * height / max(1.0, height - 1.1 * text.get_window_extent(renderer).height)
              for text in axes.texts]
    bottom, top = axes.get_ylim()
    if needed and max(needed) > top:
        axes.set_ylim(bottom, max(needed))


def _draw_mix(axes: Axes, report: dict, words: ChartWords, colours: dict[str, str]) -> None:
    """The week's mix of confident readings, largest on top, the week before dashed where there is one."""
    from matplotlib.ticker import PercentFormatter

    labels = sorted(report["mix"], key=report["mix"].get)  # the largest on top, as the page's table lists them
    values = [report["mix"][label] for label in labels]
    names = [words.emotions.get(label, label) for label in labels]
    axes.barh(names, values, color=[colours.get(label, NO_EMOTION_COLOUR) for label in labels])
    if report["change"]:
        axes.barh(names, [v - report["change"][label] for label, v in zip(labels, values)], fill=False,
                  edgecolor="#1d1d28", linestyle="--", label=words.week_before)
        axes.legend(loc="lower right", fontsize=8)
    if not labels:  # too few confident readings, or none at all: the words alone, no empty percent axis
        axes.set_yticks([])
        axes.set_xticks([])
        seen = any(day["count"] for day in report["days"])
        axes.text(0.5, 0.5, words.no_mix if seen else words.nothing, ha="center", va="center", fontsize=9,
                  transform=axes.transAxes)
    axes.set_xlim(0, 1)
    if labels:
        axes.xaxis.set_major_formatter(PercentFormatter(xmax=1, decimals=0))  # "40%", as the page writes it
    axes.set_title(words.mix_title, fontsize=10)


def _draw_days(axes: Axes, report: dict, words: ChartWords, colours: dict[str, str]) -> None:
    """Readings per day, stacked by emotion (a day of two sad and one happy reading shows both), the day's top
    emotion named above it, the unsure ones grey on top."""
    from matplotlib.ticker import MaxNLocator

    counts = [day["count"] for day in report["days"]]
    sure_counts = [day["sure"] for day in report["days"]]
    weekdays = words.weekdays or [day["weekday"] for day in report["days"]]
    positions = np.arange(len(weekdays))  # numbers, labelled below: day names as x were parsed as dates (a log line)
    stacked = np.zeros(len(weekdays))
    for label in dict.fromkeys(label for day in report["days"] for label in day["emotions"]):
        heights = np.array([day["emotions"].get(label, 0) for day in report["days"]])
        axes.bar(positions, heights, bottom=stacked, color=colours.get(label, NO_EMOTION_COLOUR), edgecolor="#ffffff",
                 label=words.emotions.get(label, label))
        stacked += heights
    if sum(counts) > sum(sure_counts):  # the unsure readings on top of each day's sure ones, in grey
        axes.bar(positions, [all_ - sure for all_, sure in zip(counts, sure_counts)], bottom=sure_counts,
                 color=NO_EMOTION_COLOUR, hatch="//", edgecolor="#ffffff", label=words.unsure)
    axes.set_xticks(positions, weekdays)  # the days, even when none has a bar
    axes.set_xlim(-0.6, len(weekdays) - 0.4)
    if not any(counts):
        axes.text(0.5, 0.5, words.nothing, ha="center", va="center", fontsize=9, transform=axes.transAxes)
    keyed = len(axes.get_legend_handles_labels()[1])
    if keyed:  # which colour is which emotion, under the days (above them it would hide the tallest day's label)
        axes.legend(loc="upper center", bbox_to_anchor=(0.5, -0.12), ncol=min(keyed, 4), fontsize=8, frameon=False,
                    handlelength=1, columnspacing=1)
    tops = {index: "/".join(words.emotions.get(top, top) for top in day.get("tie") or [day["top"]])
            for index, day in enumerate(report["days"]) if day["top"]}
    upright = all(_columns(name) <= UPRIGHT_COLUMNS for name in tops.values())  # short names (Korean) read level
    # room above the tallest bar for its label: a line when level, the name's length when turned
    axes.set_ylim(0, max(counts, default=0) * (1.25 if upright else 1.7) + 1)
    axes.yaxis.set_major_locator(MaxNLocator(integer=True))
    for index, name in tops.items():
        axes.text(index, report["days"][index]["count"], name if upright else " " + name, ha="center",
                  va="bottom", fontsize=8, rotation=0 if upright else 90)
    axes.set_title(words.days_title, fontsize=10)
