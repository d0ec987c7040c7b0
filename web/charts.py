"""Geometry for the server-rendered SVG charts (no JavaScript, no CDN, CSP-safe).

Plots on a 0-100% scale (templates/_macros.html `percent_plot`) are drawn in a box 100 units high that CSS
stretches to the plot's size; their labels are HTML text, so they keep their size on a phone."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import date, timedelta

from inference.tracking import steps_away
from insights.report import DayTops
from web.i18n import skeleton


@dataclass(frozen=True)
class Bar:
    label: str
    value: float
    width: float  # 0..100, share of the chart's width
    highlight: bool


def horizontal_bars(values: dict[str, float], highlight: str | None = None,
                    full_scale: float | None = None) -> list[Bar]:
    """One bar per label; full_scale spans the chart's width (default: the largest value)."""
    scale = full_scale or max(values.values(), default=0) or 1
    return [Bar(label, value, 100.0 * value / scale, label == highlight) for label, value in values.items()]


@dataclass(frozen=True)
class Segment:
    label: str
    count: int
    y: float       # top of the segment, 0..100 (percent of the column height)
    height: float  # 0..100


@dataclass(frozen=True)
class Column:
    period: str
    total: int
    counts: dict[str, int]
    segments: list[Segment]


def stacked_columns(counts_by_period: dict[str, dict[str, int]], labels: tuple[str, ...]) -> list[Column]:
    """Per period, each label's share of that period's detections, stacked bottom-up to 100%."""
    columns = []
    for period, counts in counts_by_period.items():
        total = sum(counts.values())
        segments, top = [], 100.0
        for label in labels:
            share = 100.0 * counts.get(label, 0) / total if total else 0.0
            if share:
                top -= share
                segments.append(Segment(label, counts[label], top, share))
        columns.append(Column(period, total, counts, segments))
    return columns


def axis_labels(labels: list[str]) -> list[str]:
    """The labels with all but the first, the middle and the last blanked: an axis with room for three."""
    shown = {0, len(labels) // 2, len(labels) - 1}
    return [label if index in shown else "" for index, label in enumerate(labels)]


TAG_MARGIN_EM, TAG_MIN_EM = 0.8, 1.6  # a box's tag on a photo: its text's margins; a square for one digit


ZERO_WIDTH = ("Mn", "Me", "Cf")  # accents, enclosing marks, format characters (joiners, isolates)


def tag_width(text: str) -> float:
    """How wide (in em) the rectangle behind a box's tag on a photo is: about the bold text's width (a wide,
    CJK character one em, an accent, a joiner or a name's isolates nothing, another about 0.62), its margins, and at
    least a square ("3", "Cat 1", "고양이 1", "Rex")."""
    drawn = sum(0.0 if unicodedata.category(char) in ZERO_WIDTH else
                1.0 if unicodedata.east_asian_width(char) in "WF" else 0.62 for char in text)
    return round(max(TAG_MIN_EM, drawn + TAG_MARGIN_EM), 2)


@dataclass(frozen=True)
class Line:
    label: str
    path: str  # SVG path data in a PLOT_SIZE x PLOT_SIZE box: a line through the points, lifted where it was unseen


PLOT_SIZE = 100
LONE_DASH = " h0.8"  # a point with no neighbour on its line (after a break) is drawn as a dash this wide


def timeline_lines(timeline: list[dict], duration: float) -> list[Line]:
    """One line per emotion: x is the share of the duration, y the probability (1 at the top), both in percent
    of the plot; broken where a joined pet was out of view (`steps_away`: no line is drawn across that time), a
    lone point after such a break drawn as a short dash."""
    if not timeline:
        return []
    span = duration or max(point["t"] for point in timeline) or 1.0
    labels = list(timeline[0]["emotions"])
    starts = [True, *steps_away([point["t"] for point in timeline])]
    lone = [start and (index + 1 == len(starts) or starts[index + 1]) for index, start in enumerate(starts)]

    def drawn(label: str) -> str:
        return " ".join(f"{'M' if start else 'L'}{PLOT_SIZE * point['t'] / span:.2f},"
                        f"{PLOT_SIZE * (1 - point['emotions'][label]):.2f}{LONE_DASH if alone else ''}"
                        for point, start, alone in zip(timeline, starts, lone))
    return [Line(label, drawn(label)) for label in labels]


@dataclass(frozen=True)
class CalendarCell:
    day: str
    week: int     # column, 0 = oldest week
    weekday: int  # row, 0 = Monday
    top: str | None
    counts: tuple[tuple[str, int], ...]  # each top emotion of its sure readings, with how often: the most first
    unsure: int = 0  # readings that day left out as unsure (a day of only those is not "nothing analysed")
    tie: tuple[str, ...] = ()  # the emotions it showed most, each as often (DayTops.tie): its square shows each


def calendar_cells(tops_by_day: dict[date, list[str]], today: date, weeks: int = 12,
                   unsure_by_day: dict[date, int] | None = None) -> list[CalendarCell]:
    """A weeks x 7 grid ending with today's week; each day shows its most frequent top emotion, and how many
    unsure readings it had (not counted in its colour)."""
    first = today - timedelta(days=today.weekday() + 7 * (weeks - 1))
    unsure_by_day = unsure_by_day or {}
    cells = []
    for offset in range((today - first).days + 1):
        day = first + timedelta(days=offset)
        counted = DayTops.of(tops_by_day.get(day, []))
        cells.append(CalendarCell(day.isoformat(), offset // 7, offset % 7, counted.top, counted.counts,
                                  unsure_by_day.get(day, 0), counted.tie))
    return cells


@dataclass(frozen=True)
class MonthLabel:
    week: int  # the calendar column it stands over
    name: str


def calendar_months(cells: list[CalendarCell], min_gap: int = 3) -> list[MonthLabel]:
    """A month's name over the week in which it starts; the first week names its own month unless the next
    month starts within `min_gap` weeks (the two names would overlap)."""
    starts = [MonthLabel(cell.week, skeleton(date.fromisoformat(cell.day), "MMM"))
              for cell in cells if cell.day.endswith("-01")]
    if cells and (not starts or starts[0].week >= min_gap):
        starts.insert(0, MonthLabel(0, skeleton(date.fromisoformat(cells[0].day), "MMM")))
    return starts
