"""Dashboards (emotion distribution, trend per day or week, mood calendar), for all of a user's
analyses or for one subject; subjects themselves (create, delete, export their history)."""

from __future__ import annotations

import re
import unicodedata
from collections import Counter, defaultdict
from datetime import date, datetime, timedelta
from enum import StrEnum
from functools import cache
from pathlib import Path

from flask import (Blueprint, Response, abort, current_app, flash, g, redirect, render_template, request,
                   url_for)
from flask.typing import ResponseReturnValue
from flask_babel import format_percent, gettext, ngettext
from flask_login import current_user, login_required
from wtforms import SelectChoice

from extensions import db
from insights.report import ChartWords, Layout, drawable, first_week, iso_week, week_start
from messages import N_
from models import AlertRule, Analysis, Detection, Subject, SubjectKind
from services import accounts, copies
from services import subjects as subject_service
from services.access import owned, owned_detection
from services.clock import now_in, on_clock, today_on, zone_of
from services.documents import csv_encoded, encoded, readings_csv, subject_export_json, subject_readings
from services.errors import Conflict, NotFound, Refused
from services.identity import unnamed_faces
from services.insights import (READING_COLUMNS, alert_results, asked_week, dismiss_alert, report_chart, report_of,
                               remove_alert, stored_reading, subject_insights)
from services.insights import add_alert as new_alert  # this module's add_alert is the view
from web.analyze import assignment_saved
from web.auth import session_or_token
from web.charts import axis_labels, calendar_cells, calendar_months, horizontal_bars, stacked_columns
from web.deleted import Deleted, deleted_goes_back, remember_deleted
from web.downloads import download_names, streamed_download
from web.errors import wants_json
from web.forms import AlertRuleForm, ConfirmForm, SubjectForm, SubjectNameForm, WeeklyReportForm, confirm_page
from web.i18n import EMOTION_NAMES, adjective, day, days_span, emotion, say, set_apart, skeleton
from web.identity import name_group_form
from web.redirects import back_to_form_next, came_from_path, form_page, place_on
from web.flashes import FlashCategory, assigned_category
from web.ids import whole_number

bp = Blueprint("dashboard", __name__)


class Period(StrEnum):
    """What a column of the trend counts: a day (the last 30 shown) or a week (the last 12)."""

    DAY = "day"
    WEEK = "week"


PERIODS = {Period.DAY: (30, timedelta(days=1)), Period.WEEK: (12, timedelta(weeks=1))}  # columns shown, each's span
APPEARANCES_SHOWN = 48  # on the dashboard of a subject without an emotion model; the export has them all
RECENT_APPEARANCES = 12  # under the charts of a subject with one: which photos count, to check an assignment
LONE_FACES_SHOWN = 24  # unnamed faces in no group, on /subjects: those said "No" to first, then the newest


def period_start(moment: datetime, period: Period) -> datetime:
    day = moment.replace(hour=0, minute=0, second=0, microsecond=0)
    return day - timedelta(days=day.weekday()) if period == Period.WEEK else day


def trend(rows: list[tuple[datetime, str]], period: Period, now: datetime) -> dict[str, dict[str, int]]:
    """Counts of top emotions per period for the last N periods, oldest first, empty periods included."""
    count, step = PERIODS[period]
    newest = period_start(now, period)
    starts = [newest - step * offset for offset in range(count - 1, -1, -1)]
    counts: dict[datetime, Counter] = defaultdict(Counter)
    for created_at, top in rows:
        if created_at >= starts[0]:  # cheap test first: most of a long history is older than the window
            counts[period_start(created_at, period)][top] += 1
    return {skeleton(start, "MMMd"): dict(counts[start]) for start in starts}


def owned_subject_or_404(subject_id: int) -> Subject:
    return owned(Subject, subject_id, current_user)


def _detections_query(subject: Subject | None):
    """Every face and animal found (cats too: their top is None, no emotion model yet), with what its reading is
    read from (`stored_reading`); each file once (services/copies.py)."""
    query = db.select(Analysis.id.label("analysis_id"), Analysis.created_at, Detection.kind, *READING_COLUMNS) \
        .join(Detection.analysis) \
        .where(Analysis.user_id == current_user.id)
    if subject:
        return query.where(Detection.subject_id == subject.id, ~copies.repeated_appearance())
    return query.where(~copies.later_copy())


@bp.route("/dashboard")
@login_required
@deleted_goes_back(Deleted.SUBJECT, "subject")
def index() -> ResponseReturnValue:
    asked = request.args.get("period", "")
    period = Period(asked) if asked in PERIODS else Period.DAY
    subject_id = request.args.get("subject", type=whole_number)
    subject = owned_subject_or_404(subject_id) if subject_id else None
    return dashboard_page(subject, period, alert_form(subject) if subject else None)


def dashboard_page(subject: Subject | None, period: Period, rule_form: AlertRuleForm | None) -> str:
    """The dashboard of everything or of one subject, its alert form as given (a refused one shows its errors)."""
    found = db.session.execute(_detections_query(subject)).all()
    analysis_count = len({row.analysis_id for row in found}) if subject else db.session.scalar(
        db.select(db.func.count(Analysis.id)).where(Analysis.user_id == current_user.id, ~copies.later_copy()))
    return render_template(
        "dashboard/index.html",
        subject=subject,
        subjects=current_user.subjects_by_name,
        analysis_count=analysis_count,
        found_kinds=[row.kind for row in found],
        period=period,
        **_charts(found, subject, period),
        **_subject_parts(subject),
        alerts=[(rule, result)  # a subject's page: only its own rules; everyone's: what fired, in name order
                for rule, result in alert_results([subject] if subject else current_user.subjects_by_name)
                if subject or result["fired"]],
        alert_form=rule_form,
        report_form=WeeklyReportForm(weekly_report=current_user.weekly_report),
        weekday_labels=weekday_labels(),
    )


def _charts(found: list, subject: Subject | None, period: Period) -> dict:
    """The charts' parts: the confident readings' distribution, trend and mood calendar (days on the reader's
    clock), each read as its page reads it, and how many readings were left out as unsure."""
    read = [(row.created_at, reading) for row in found if (reading := stored_reading(row))]
    zone = zone_of(current_user)
    rows = [(on_clock(created_at, zone), reading.emotion) for created_at, reading in read if not reading.unsure]
    distribution = Counter(top for _, top in rows)
    tops_by_day: dict = defaultdict(list)
    for created_at, top in rows:
        tops_by_day[created_at.date()].append(top)
    labels = subject_service.labels_read(current_user, subject)
    columns = stacked_columns(trend(rows, period, now_in(zone).replace(tzinfo=None)), labels)
    calendar = calendar_cells(tops_by_day, today_on(zone), unsure_by_day=Counter(
        on_clock(created_at, zone).date() for created_at, reading in read if reading.unsure))
    return {"has_readings": bool(read), "unsure_count": len(read) - len(rows), "sure_count": len(rows),
            "labels": labels,
            "distribution": horizontal_bars({label: distribution.get(label, 0) for label in labels},
                                            highlight=distribution.most_common(1)[0][0] if distribution else None),
            "columns": columns, "trend_labels": axis_labels([column.period for column in columns]),
            "calendar": calendar, "months": calendar_months(calendar)}


def _subject_parts(subject: Subject | None) -> dict:
    """A subject's insights (none for a kind without an emotion model, cats) and its newest appearances (more of
    them without a model: they are all its page shows) with their count; nothing for everyone's dashboard."""
    if subject is None:
        return {"no_model": False, "insights": None, "appearances": [], "appearance_count": 0}
    no_model = subject.kind.emotion_classes is None
    return {"no_model": no_model, "insights": None if no_model else subject_insights(subject),
            "appearances": subject_service.newest_appearances(subject,
                                                              APPEARANCES_SHOWN if no_model else RECENT_APPEARANCES),
            "appearance_count": subject_service.appearance_count(subject)}


def weekday_labels() -> list[str]:
    """The mood calendar's row labels, Monday first: every other day named, in the reader's language."""
    monday = date(2024, 1, 1)
    return [skeleton(monday + timedelta(days=offset), "EEE") if offset % 2 == 0 else "" for offset in range(7)]


def alert_form(subject: Subject) -> AlertRuleForm | None:
    """The form to add an alert on a subject with an emotion model (None for cats)."""
    classes = subject.kind.emotion_classes
    if classes is None:
        return None
    form = AlertRuleForm()
    form.emotion.choices = [SelectChoice(label, emotion(label)) for label in classes]
    return form


def subject_dashboard(subject_id: int) -> str:
    """The dashboard of one of the user's subjects (404 for anyone else's)."""
    return url_for("dashboard.index", subject=owned_subject_or_404(subject_id).id)


@bp.route("/subjects/<int:subject_id>/alerts", methods=["GET", "POST"])
@login_required
@deleted_goes_back(Deleted.SUBJECT, "subject_id")
@form_page(subject_dashboard)
def add_alert(subject_id: int) -> ResponseReturnValue:
    """POST adds an alert, or shows the dashboard again with the form's errors at this address (a GET of it: the
    dashboard the form lives on)."""
    subject = owned_subject_or_404(subject_id)
    form = alert_form(subject)
    if form is None:
        abort(404)
    added = form.validate_on_submit()
    if added:
        try:
            new_alert(subject, form.emotion.data, form.percent.data / 100, form.days.data)
        except Conflict as refusal:  # one it has already, or as many as it may
            form.emotion.errors.append(say(refusal.args[0]))
            added = False
    if not added:  # the page again, each reason beside its field (focus.js goes there)
        return dashboard_page(subject, Period.DAY, form), 422
    flash(ngettext("Alert added: you will see a notice when %(name)s looks %(adjective)s in more than %(percent)d%% "
                   "of appearances over %(days)d day.",
                   "Alert added: you will see a notice when %(name)s looks %(adjective)s in more than %(percent)d%% "
                   "of appearances over %(days)d days.", form.days.data, name=set_apart(subject.name),
                   adjective=adjective(form.emotion.data), percent=form.percent.data, days=form.days.data),
          FlashCategory.SUCCESS)
    return redirect(url_for("dashboard.index", subject=subject.id))


def owned_rule_or_404(rule_id: int) -> AlertRule:
    return owned(AlertRule, rule_id, current_user, lambda rule: rule.subject.user_id)


def rule_dashboard(rule_id: int) -> str:
    """The dashboard of the subject of one of the user's alert rules (404 for anyone else's)."""
    return url_for("dashboard.index", subject=owned_rule_or_404(rule_id).subject_id)


@bp.route("/alerts/<int:rule_id>/dismiss", methods=["GET", "POST"])
@login_required
@form_page(rule_dashboard)
def dismiss_notice(rule_id: int) -> ResponseReturnValue:
    """POST hides the notice of a fired alert until it fires with a reading added since; back to the dashboard it
    was on (the form's `next`)."""
    rule = owned_rule_or_404(rule_id)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    if dismiss_alert(rule):
        flash(gettext("Notice dismissed. It comes back if new photos or videos of %(name)s set the alert off again.",
                      name=set_apart(rule.subject.name)), FlashCategory.SUCCESS)
    else:
        flash(gettext("The %(emotion)s alert on %(name)s is quiet now: there is no notice to dismiss.",
                      emotion=emotion(rule.emotion), name=set_apart(rule.subject.name)), FlashCategory.INFO)
    return back_to_form_next()


@bp.route("/alerts/<int:rule_id>/delete", methods=["GET", "POST"])
@login_required
@deleted_goes_back(Deleted.ALERT, "rule_id")
def delete_alert(rule_id: int) -> ResponseReturnValue:
    """GET asks first; POST deletes. ?next=PATH (same-site only; the form sends it on) is the page the user came from:
    "Keep it" goes back there, and removing goes back to it when it is a dashboard (its period kept), else to the
    subject's dashboard."""
    rule = owned_rule_or_404(rule_id)
    came_from = came_from_path()
    if request.method != "POST":  # GET, and HEAD with it
        name = set_apart(rule.subject.name)
        return confirm_page(
            gettext("Remove the %(emotion)s alert on %(name)s?", emotion=emotion(rule.emotion), name=name),
            [ngettext("You will no longer see a notice when %(name)s looks %(adjective)s in more than %(percent)s of "
                      "appearances over %(days)d day.",
                      "You will no longer see a notice when %(name)s looks %(adjective)s in more than %(percent)s of "
                      "appearances over %(days)d days.", rule.days, name=name,
                      adjective=adjective(rule.emotion), percent=format_percent(rule.share), days=rule.days),
             gettext("%(name)s's appearances, dashboard and other alerts stay.", name=name)],
            url_for("dashboard.delete_alert", rule_id=rule.id), gettext("Remove this alert"),
            came_from or url_for("dashboard.index", subject=rule.subject_id), came_from)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    back = place_on(came_from, url_for("dashboard.index", subject=rule.subject_id))  # never this page: no loop
    remove_alert(rule)
    remember_deleted(Deleted.ALERT, rule_id, back)
    flash(gettext("Alert removed."), FlashCategory.SUCCESS)
    return redirect(back)


@bp.route("/dashboard/weekly-report", methods=["GET", "POST"])
@login_required
@form_page(lambda: url_for("dashboard.index"))
def weekly_report_setting() -> ResponseReturnValue:
    """POST saves the setting (a GET of this address, a refused form's page reloaded: the dashboard)."""
    form = WeeklyReportForm()
    if not form.validate_on_submit():
        abort(400)
    accounts.save_settings(current_user, weekly_report=form.weekly_report.data)
    flash(reports_linked() if form.weekly_report.data
          else gettext("Your dashboard no longer links to the weekly reports."), FlashCategory.SUCCESS)
    return redirect(url_for("dashboard.index"))


def reports_linked() -> str:
    """What turning the weekly reports on does: a link for each subject whose kind has an emotion model."""
    if SubjectKind.CAT.emotion_classes is None:
        return gettext("Your dashboard now links to each person’s and dog’s weekly report (a cat has none: no "
                       "emotion model reads cats yet).")
    return gettext("Your dashboard now links to each person’s and pet’s weekly report.")


NO_CAT_REPORT = N_("Cats have no weekly report yet: there is no emotion model for cats, so there is nothing to chart.")


def no_report(subject: Subject) -> str:
    """Why a cat has no weekly report, with the way to its dashboard."""
    return render_template("dashboard/no_report.html", subject=subject, why=gettext(NO_CAT_REPORT))


@bp.route("/subjects/<int:subject_id>/report")
@login_required
@deleted_goes_back(Deleted.SUBJECT, "subject_id")
def report(subject_id: int) -> ResponseReturnValue:
    """The week's report, with links to the subject's dashboard and to the weeks before (from the subject's first
    appearance on) and after (up to this week); for a cat, why there is none."""
    subject = owned_subject_or_404(subject_id)
    asked = asked_week(request.args.get("week"))  # a week that is not one (?week=soon): a 400 on its error page
    found = report_of(subject, asked)
    if found is None:
        return no_report(subject)
    history, week = found
    monday = date.fromisoformat(week["start"])
    if asked is not None and asked != monday:  # still to come: the address says the week the page shows
        flash(gettext("The week of %(day)s is still to come, so here is the week of %(shown)s.", day=day(asked),
                      shown=day(monday)), FlashCategory.INFO)
        return redirect(url_for("dashboard.report", subject_id=subject.id, week=iso_week(monday)))
    earlier, later = monday - timedelta(days=7), monday + timedelta(days=7)
    first = first_week(history)
    return render_template("dashboard/report.html", subject=subject, report=week, insights=subject_insights(subject),
                           prev_week=iso_week(earlier) if first is not None and earlier >= first else None,
                           next_week=iso_week(later) if later <= week_start(today_on(zone_of(current_user)))
                           else None)


@cache
def emotion_colours() -> dict[str, str]:
    """Each emotion's colour as the pages draw it (the .emo-* classes of static/style.css, the one place they
    are set), for the report's PNG."""
    css = (Path(current_app.static_folder) / "style.css").read_text(encoding="utf-8")
    return dict(re.findall(r"\.emo-(\w+)\s*\{\s*--emo:\s*(#[0-9a-fA-F]{6})", css))


def chart_words(subject: Subject, week: dict) -> ChartWords:
    """The weekly report PNG's title, axis titles, legends, emotion and weekday names in the reader's language; the
    dashed outlines' legend names the week they show by its dates (an old week's is not "last week")."""
    return ChartWords(
        title=gettext("%(name)s, %(start)s to %(end)s", name=drawable(subject.name), start=day(week["start"]),
                      end=day(week["end"])),
        mix_title=gettext("Average share this week"), days_title=gettext("Appearances per day, by emotion"),
        week_before=gettext("week before (%(dates)s)", dates=days_span(week["previous_start"], week["previous_end"])),
        no_mix=gettext("Too few confident readings this week"), nothing=gettext("Nothing this week"),
        unsure=gettext("unsure"),
        emotions={label: str(name) for label, name in EMOTION_NAMES.items()},
        weekdays=[skeleton(date.fromisoformat(entry["date"]), "EEE") for entry in week["days"]])


@bp.route("/subjects/<int:subject_id>/report.png")
@session_or_token
def report_image(subject_id: int) -> ResponseReturnValue:
    """The week's charts as the report page shows them; an API client fetches them with its bearer token."""
    subject = owned(Subject, subject_id, g.api_user)
    found = report_of(subject, asked_week(request.args.get("week")))
    if found is None:  # no chart to draw: the page says why (a script is told in JSON, as by the other files)
        if wants_json():
            abort(404, description=NO_CAT_REPORT)
        return no_report(subject), 404
    week = found[1]
    layout = Layout.NARROW if request.args.get("layout") == Layout.NARROW else Layout.WIDE  # anything else: wide
    body = report_chart(subject, week, chart_words(subject, week), emotion_colours(), layout)
    response = Response(body, mimetype="image/png")
    # saved as the page words it: the subject and the week's Monday ("moodlens-지우-2026-11-30.png")
    response.headers.set("Content-Disposition", "inline",
                         **download_names(f"moodlens-{file_name_part(subject)}-{week['start']}.png"))
    return response


@bp.route("/subjects", methods=["GET", "POST"])
@login_required
def subjects() -> ResponseReturnValue:
    """List and add subjects; ?next=PATH (same-site only) is where adding one goes back to, e.g. a result page,
    ?kind=dog (from a dog's "Add a person or pet") the kind the form starts with, and ?face=ID the detection whose
    card it came from: the new subject is who that face (or animal) is, when it is of the subject's kind."""
    asked_kind = request.args.get("kind")
    form = SubjectForm(kind=asked_kind if asked_kind in set(SubjectKind) else SubjectKind.PERSON.value)
    back = came_from_path()
    face = _own_detection(request.values.get("face", type=whole_number))
    existing = None
    if form.validate_on_submit():
        try:
            subject = subject_service.create_subject(current_user, form.name.data, form.kind.data)
        except Refused as refused:
            form.name.errors.append(say(refused.args[0]))
            existing = _taken_by_one_who_fits(form.name.data, face)
        else:
            _flash_added(subject, face if back else None, back)
            return redirect(back or url_for("dashboard.subjects"))
    counts = subject_service.appearance_counts(current_user)
    unnamed = unnamed_faces(current_user, LONE_FACES_SHOWN)
    groups = [(group, name_group_form(group)) for group in unnamed.groups]
    return render_template("dashboard/subjects.html", form=form, subjects=current_user.subjects_by_name, counts=counts,
                           back=back, face=face, groups=groups, lone_faces=unnamed.lone[:LONE_FACES_SHOWN],
                           lone_suggestions=unnamed.lone_suggestions,
                           lone_count=len(unnamed.lone), existing=existing), 400 if form.errors else 200


def _taken_by_one_who_fits(name: str, face: Detection | None) -> Subject | None:
    """The user's subject already called `name`, when the face the form came from may be them: the page offers to
    say so (a name typed again was a dead end, back to the result page to choose them there)."""
    if face is None:
        return None
    subject = subject_service.subject_named(current_user, name)
    return subject if subject is not None and subject_service.fits(subject, face) else None


def _own_detection(detection_id: int | None) -> Detection | None:
    """The current user's detection with this id, else None (someone else's or a missing one: ignored)."""
    try:
        return owned_detection(detection_id, current_user) if detection_id else None
    except NotFound:
        return None


def _flash_added(subject: Subject, face: Detection | None, back: str | None) -> None:
    """Say the subject was added; when it came from a face's card, that face is now the subject (if of its kind)."""
    if face is not None and subject_service.fits(subject, face):
        flash(assignment_saved(face, subject_service.assign(face, subject.id)), assigned_category(face))
        return
    name = set_apart(subject.name)
    flash(gettext("%(name)s was added: choose them under “Who is this?”.", name=name) if back else
          gettext("%(name)s was added. Assign them from any result page.", name=name), FlashCategory.SUCCESS)


@bp.route("/subjects/<int:subject_id>/rename", methods=["GET", "POST"])
@login_required
@deleted_goes_back(Deleted.SUBJECT, "subject_id")
def rename_subject(subject_id: int) -> ResponseReturnValue:
    """GET: the form, holding the subject's name; POST renames (its history, dashboard and alerts stay) and goes back
    to ?next=PATH (same-site only; the form sends it on), else to the list of subjects."""
    subject = owned_subject_or_404(subject_id)
    old_name, back = subject.name, came_from_path()
    form = SubjectNameForm(name=subject.name)
    if form.validate_on_submit():
        try:
            subject_service.rename_subject(subject, form.name.data)
        except Refused as refused:
            form.name.errors.append(say(refused.args[0]))
        else:
            flash(gettext("%(old)s is now called %(new)s.", old=set_apart(old_name), new=set_apart(subject.name))
                  if subject.name != old_name else gettext("%(name)s keeps the name: it is the same.",
                                                           name=set_apart(subject.name)), FlashCategory.SUCCESS)
            return redirect(back or url_for("dashboard.subjects"))
    return render_template("dashboard/rename.html", form=form, subject=subject, old_name=old_name,
                           back=back), 400 if form.errors else 200


@bp.route("/subjects/<int:subject_id>/delete", methods=["GET", "POST"])
@login_required
@deleted_goes_back(Deleted.SUBJECT, "subject_id")
def delete_subject(subject_id: int) -> ResponseReturnValue:
    """GET asks first, saying what happens to the subject's faces (they stay, unassigned); POST deletes. ?next=PATH
    (same-site only; the form sends it on) is the page the user came from: "Keep it" goes back there (the subject's
    dashboard, say), and deleting goes back to it when it is the list of subjects, else to that list."""
    subject = owned_subject_or_404(subject_id)
    came_from = came_from_path()
    if request.method != "POST":  # GET, and HEAD with it
        appearances = subject_service.appearance_count(subject)
        rules = len(subject.alert_rules)
        name = set_apart(subject.name)
        return confirm_page(
            gettext("Delete %(name)s?", name=name),
            [
                ngettext("%(name)s's %(num)d appearance stays in your history, unassigned: the photos and videos are "
                         "not deleted, and you can assign them to someone again.",
                         "%(name)s's %(num)d appearances stay in your history, unassigned: the photos and videos are "
                         "not deleted, and you can assign them to someone again.", appearances, name=name)
                if appearances else gettext("Nothing in your history is assigned to %(name)s.", name=name),
                _what_goes(subject, rules),
            ],
            url_for("dashboard.delete_subject", subject_id=subject.id), gettext("Delete %(name)s", name=name),
            came_from or url_for("dashboard.subjects"), came_from)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    rule_ids = [rule.id for rule in subject.alert_rules]  # they go with it
    had_appearances = subject_service.appearance_count(subject) > 0
    subject_service.delete_subject(subject)
    back = place_on(came_from, url_for("dashboard.subjects"))
    remember_deleted(Deleted.SUBJECT, subject_id, back)
    for rule_id in rule_ids:
        remember_deleted(Deleted.ALERT, rule_id, back)
    name = set_apart(subject.name)
    flash(gettext("%(name)s was deleted; their analyses are kept, unassigned.", name=name) if had_appearances
          else gettext("%(name)s was deleted.", name=name), FlashCategory.SUCCESS)
    return redirect(back)


def _what_goes(subject: Subject, rules: int) -> str:
    """What deleting the subject takes with it: its dashboard, and its insights, weekly reports and alerts where its
    kind has an emotion model (a cat has none of them)."""
    if subject.kind.emotion_classes is None:
        return gettext("%(name)s's dashboard goes.", name=set_apart(subject.name))
    if rules:
        return ngettext("%(name)s's dashboard, insights and weekly reports go, with %(num)d alert.",
                        "%(name)s's dashboard, insights and weekly reports go, with %(num)d alerts.", rules,
                        name=set_apart(subject.name))
    return gettext("%(name)s's dashboard, insights and weekly reports go.", name=set_apart(subject.name))


def file_name_part(subject: Subject) -> str:
    """The subject's name in a download's name: its letters, their marks (Hebrew points, Devanagari vowel signs:
    "שָׁלוֹם" became "ש-לו-ם") and digits in any script, other runs a "-" (its id when nothing is left)."""
    kept = "".join(char if char in "-_" or unicodedata.category(char)[0] in "LMN" else " " for char in subject.name)
    return "-".join(kept.split()).strip("-") or str(subject.id)


@bp.route("/subjects/<int:subject_id>/export.<any(csv, json):fmt>")
@session_or_token
def export_subject(subject_id: int, fmt: str) -> ResponseReturnValue:
    """The subject's history as a download named after them, written while it is sent (a reading at a time); an
    API client fetches it with its bearer token. A deleted subject's download is a 404, even in the session that
    deleted it: a script saving the link must not get a page in its place."""
    subject = owned(Subject, subject_id, g.api_user)
    body = (encoded(subject_export_json(subject.id)) if fmt == "json"
            else csv_encoded(readings_csv(subject_readings(subject.id, timelines=False))))
    return streamed_download(body, "application/json" if fmt == "json" else "text/csv",
                             f"moodlens-{file_name_part(subject)}-history.{fmt}")
