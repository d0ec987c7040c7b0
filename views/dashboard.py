"""The user's dashboard: emotion distribution and its trend per day or week."""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import datetime, timedelta

from flask import Blueprint, render_template, request
from flask_login import current_user, login_required

from charts import horizontal_bars, stacked_columns
from extensions import db
from inference.labels import HUMAN_EMOTIONS
from models import Analysis, Detection, utcnow

bp = Blueprint("dashboard", __name__)

PERIODS = {"day": (30, timedelta(days=1)), "week": (12, timedelta(weeks=1))}


def period_start(moment: datetime, period: str) -> datetime:
    day = moment.replace(hour=0, minute=0, second=0, microsecond=0)
    return day - timedelta(days=day.weekday()) if period == "week" else day


def trend(rows: list[tuple[datetime, str]], period: str, now: datetime) -> dict[str, dict[str, int]]:
    """Counts of top emotions per period for the last N periods, oldest first, empty periods included."""
    count, step = PERIODS[period]
    newest = period_start(now, period)
    starts = [newest - step * offset for offset in range(count - 1, -1, -1)]
    counts: dict[datetime, Counter] = defaultdict(Counter)
    for created_at, top in rows:
        start = period_start(created_at, period)
        if start >= starts[0]:
            counts[start][top] += 1
    return {start.strftime("%d %b"): dict(counts[start]) for start in starts}


@bp.route("/dashboard")
@login_required
def index():
    period = request.args.get("period", "day")
    if period not in PERIODS:
        period = "day"
    rows = db.session.execute(
        db.select(Analysis.created_at, Detection.top).join(Detection.analysis)
        .where(Analysis.user_id == current_user.id)
    ).all()
    analysis_count = db.session.scalar(
        db.select(db.func.count(Analysis.id)).where(Analysis.user_id == current_user.id)
    )
    distribution = Counter(top for _, top in rows)
    return render_template(
        "dashboard/index.html",
        analysis_count=analysis_count,
        face_count=len(rows),
        distribution=horizontal_bars({label: distribution.get(label, 0) for label in HUMAN_EMOTIONS},
                                     highlight=distribution.most_common(1)[0][0] if distribution else None),
        columns=stacked_columns(trend(rows, period, utcnow()), HUMAN_EMOTIONS),
        labels=HUMAN_EMOTIONS,
        period=period,
    )
