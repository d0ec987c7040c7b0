"""Flask-Admin back office at /admin: users, analyses (each links to its result page, read-only for the admin;
deleted with their files), detections (read-only). Headers, cell values (enum ids, yes/no, times, failure reasons,
a video track's summary, timeline and changes), filter options and the outcome of a bulk action are in the reader's
language; the database keeps its English ids. Deleting asks about what goes by name (an upload and its owner; an
account with its uploads and people and pets counted), and a GET of an address that only takes a form's POST goes
to the list. Every page is framed by templates/admin/page.html."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from functools import partial

from babel.dates import get_day_names, get_month_names
from flask import Flask, abort, flash, g, redirect, request, url_for
from flask.typing import ResponseReturnValue
from flask_admin import Admin, AdminIndexView, BaseView, expose
from flask_admin.theme import Bootstrap4Theme
from flask_admin.menu import MenuLink
from flask_admin.actions import action
from flask_admin.babel import lazy_gettext as admin_words
from flask_admin.contrib.sqla import ModelView
from flask_admin.helpers import get_redirect_target
from flask_admin.contrib.sqla.filters import (DateTimeBetweenFilter, DateTimeEqualFilter, DateTimeGreaterFilter,
                                              DateTimeNotBetweenFilter, DateTimeNotEqualFilter, DateTimeSmallerFilter,
                                              FilterConverter, FilterEmpty, FilterEqual, FilterLike, FilterNotLike)
from flask_admin.model import filters, typefmt
from flask_admin.model.filters import BaseBooleanFilter
from flask_admin.model.template import (BaseListRowAction, DeleteRowAction, EditPopupRowAction, EditRowAction,
                                       ViewPopupRowAction, ViewRowAction)
from flask_babel import format_decimal, get_locale, gettext, lazy_gettext as _l, lazy_pgettext, ngettext, to_utc
from flask_login import current_user
from wtforms import Form
from wtforms.validators import ValidationError
from markupsafe import Markup
from jinja2.runtime import Context
from sqlalchemy import ColumnElement, Unicode, and_, cast as sql_cast, not_, or_
from sqlalchemy.orm import Query, joinedload, selectinload
from sqlalchemy.orm.exc import ObjectDeletedError

import jobs
from extensions import db, limiter
from inference.labels import DetectionKind
from inference.uncertainty import UnsureSignal
from insights.reading import Overall
from jobs import JobKind
from messages import N_, Phrase
from models import (REMOVAL_REASON_LENGTH, Analysis, Detection, Explanation, JobState, JobStatus, Media, TrackReading,
                    User)
from services import accounts, moderation, storage
from services.access import holding, row_id, searched
from services.analyses import MAX_PAGE, delete_analysis
from services.errors import Refused
from web.admin_flashes import note_row, reword_stock_flashes, reworded, said_why_nothing_was_saved
from web import login_limits
from web.forms import USERNAME_FIELD, WebForm
from web.i18n import (EMOTION_NAMES, KIND_NAMES, STATUS_NAMES, emotion, found_by_kind, kind, moment, percent, reason,
                     say, seconds, worded)
from web.redirects import form_page, page_path, same_site_path
from web.flashes import FlashCategory


# Every column header of the lists, detail pages, filters and forms, in the reader's language.
COLUMN_LABELS = {
    "id": _l("ID"), "username": _l("Username"), "is_admin": _l("Administrator"), "active": _l("Active"),
    "uploads": _l("Uploads"), "created_at": _l("Created"), "user": _l("User"), "user.username": _l("User's name"),
    "thumbnail": _l("Preview"), "result_page": _l("Result"), "original_name": _l("File name"), "media": _l("Media"),
    "status": _l("Status"), "error": _l("Error"), "duration": _l("Duration"), "width": _l("Width"),
    "height": _l("Height"), "shown_count": _l("Found"), "top_emotion": _l("Top emotion"), "detector": _l("Detector"),
    "classifier": _l("Classifier"), "worker": _l("Worker"), "analysis": _l("Analysis"), "number": _l("Number"),
    "position": _l("Order on its page"),  # the n of its #face-n anchor and of its /detections/n addresses
    "kind": _l("Kind"), "kind_read": _l("Models read it as (its owner said otherwise)"), "top": _l("Top emotion"),
    "score": _l("Detector score"), "x1": _l("Box left"),
    "y1": _l("Box top"), "x2": _l("Box right"), "y2": _l("Box bottom"), "emotions": _l("Emotions"),
    "uncertainty": _l("Chance of a wrong reading"), "uncertain": _l("Unsure"), "unsure_signals": _l("Unsure because"),
    "track_id": _l("Track"), "timeline": _l("Timeline"), "summary": _l("Summary"),
    "transitions": _l("Changes, frame by frame"),
    "subject": _l("Subject"), "explanation": _l("Explanation"), "signature": _l("Face signature"),
    "crop": _l("As found"), "detections": _l("Faces and animals"), "analysis.user.username": _l("User's name"),
}


# The stored ids of the enum columns in the reader's words, in the cells and as the filters' options.
MEDIA_CHOICES = [(Media.IMAGE, _l("photo")), (Media.VIDEO, _l("video"))]
STATUS_CHOICES = list(STATUS_NAMES.items())
EMOTION_CHOICES = list(EMOTION_NAMES.items())
DETECTION_KIND_CHOICES = [(kind, KIND_NAMES[kind]) for kind in DetectionKind]
SIGNAL_NAMES = {UnsureSignal.WEAK: _l("low top probability"),
                UnsureSignal.MEMBERS_DISAGREE: _l("the networks disagree")}


# The options of every yes/no filter ("administrator", "empty"): Flask-Admin's own Korean calls "no" 없음 ("none").
YES_NO = (("1", _l("Yes")), ("0", _l("No")))
NOT_RATED = _l("not rated (no estimate for this kind, or read before the rule)")
OWN_ACCOUNT = _l("You cannot deactivate, demote or delete your own account: another administrator, or the command "
                 "line, can.")
RIGHTS = ("is_admin", "active")  # the flags that make an administrator who can open this back office


def _yes_no(view, value: bool, name) -> str:
    return gettext("Yes") if value else gettext("No")


def _time(view, value: datetime, name) -> str:
    return moment(value)


def _list_time(view, value: datetime, name) -> str:
    """A time in a list, its date in the short form ("Dec 3, 2026, 2:37 PM"): the lists fit a 1280 px screen."""
    return moment(value, date_length="medium")


def _top_emotion(view, context, model: Analysis, name) -> str:
    """What the analysis's faces show together, worded as its badge in the user's history says it ("probably
    happy", "mixed": templates/analyze/history.html); with people and pets, each kind's own ("1 face: unsure,
    perhaps sad · 1 dog: sad": the people's alone hid a sure dog behind an unsure face); nothing without an
    emotion model."""
    by_kind = model.overall_by_kind()
    if len(by_kind) > 1:
        return " · ".join(f"{words}: {_overall_words(by_kind[kind])}" if kind in by_kind else words
                          for kind, words in found_by_kind([detection.kind for detection in model.detections]))
    overall = model.overall
    return "" if overall is None else _overall_words(overall)


def _overall_words(overall: Overall) -> str:
    return gettext("mixed") if overall.mixed else worded(overall.emotion, overall.certainty)


def _reason(view, context, model, name) -> str:
    return reason(model.error)


def _classifiers_used(view, context, model: Analysis, name) -> str:
    """The emotion model that read each kind found ("person: emotion_fer2013 …; dog: dog_emotion_head …"), not every
    model the pipeline had; "none" when nothing found has one (cats, or nothing); the stored line for analyses made
    before the models were kept by kind."""
    if model.classifiers is None:
        return model.classifier or ""
    kinds = dict.fromkeys(detection.kind for detection in model.detections if detection.top is not None)
    used = [f"{kind(found)}: {model.classifiers[found]}" for found in kinds if found in model.classifiers]
    return "; ".join(used) or gettext("none")


def _mix(shares: dict[str, float]) -> str:
    """"happy 80%, neutral 6%, ...": emotions named in the reader's language, the largest share first."""
    return ", ".join(f"{emotion(label)} {percent(share)}" for label, share in
                     sorted(shares.items(), key=lambda item: item[1], reverse=True))


def _emotions(view, context, model: Detection, name) -> str:
    return _mix(model.emotions or {})


def _signals(view, context, model: Detection, name) -> str:
    """What made the reading unsure, as the user's page says it (a weak pet reading: a low top probability)."""
    because = model.why_unsure if model.top and model.unsure else ()
    return ", ".join(str(SIGNAL_NAMES.get(signal, signal)) for signal in because)


def _score(view, context, model: Detection, name) -> str:
    return format_decimal(model.score, "0.000")


def _chance(view, context, model: Detection, name) -> str:
    """The chance of a wrong reading the user's page gives (Detection.chance_wrong); nothing without an emotion
    model."""
    if model.top is None:
        return ""
    chance = model.chance_wrong
    return str(NOT_RATED) if chance is None else percent(chance)


def _unsure(view, context, model: Detection, name) -> str:
    """Whether the user's page calls the reading unsure: flagged by the rule, or weak (pets have no rule)."""
    return "" if model.top is None else _yes_no(view, model.unsure, name)


def _duration(view, context, model: Analysis, name) -> str:
    """A video's length as its page writes it ("8.2 s"); nothing for a photo."""
    return "" if model.duration is None else seconds(model.duration)


def _detection_top(view, context, model: Detection, name) -> str:
    """The top emotion as the user's card words it ("unsure, perhaps happy", "probably happy"; a video track's as its
    story counts it, which may not be the emotion most of its frames had); nothing without an emotion model."""
    reading = model.reading
    return "" if reading is None else worded(reading.emotion, reading.certainty)


def _subject(view, context, model: Detection, name) -> str:
    return f"{model.subject.name} ({kind(model.subject.kind)})" if model.subject else ""


def _analysis_link(view, context, model: Detection, name) -> Markup:
    """The detection's upload, linked to its own details page (a moderator's way on from a face to its photo)."""
    return Markup('<a href="{}">{}</a>').format(url_for("admin_analyses.details_view", id=model.analysis_id),
                                                str(model.analysis))


def _detections(view, context, model: Analysis, name) -> Markup:
    """The upload's faces and animals, each linked to its own details page, with its reading as its card words it:
    the details page said "Found 4" and named none of them."""
    items = [Markup('<li><a href="{}">{}</a>{}</li>').format(
        url_for("admin_detections.details_view", id=detection.id), say(detection.title),
        f": {reading}" if (reading := _detection_top(view, context, detection, "top")) else "")
        for detection in model.detections]
    return Markup('<ul class="list-unstyled mb-0">{}</ul>').format(Markup("").join(items)) if items else Markup("")


def _crop(view, context, model: Detection, name) -> Markup | str:
    """The face or animal cut out of its photo (a video's poster frame), as its owner's page shows it: what a
    moderator is asked about, beside its box's coordinates; nothing while its video is still analysed."""
    if model.analysis.status != JobStatus.DONE:
        return ""
    source = url_for("analyze.detection_crop", analysis_id=model.analysis_id, position=model.position)
    return Markup('<img src="{}" alt="{}" class="detection-crop">').format(source, say(model.title))


def _kind_read(view, context, model: Detection, name) -> str:
    """The species the models read a pet as, where its owner set another; nothing where nobody did."""
    return "" if model.kind_read is None else kind(model.kind_read)


def _summary(view, context, model: Detection, name) -> Markup | str:
    """A video track's summary: how long it was seen, its share of time in each emotion and the average share of
    each emotion in its readings (worded as the subject's profile words it)."""
    summary = model.summary
    if not summary:
        return ""
    lines = [ngettext("%(num)d frame in %(time)s", "%(num)d frames in %(time)s", summary["frames"],
                      time=seconds(summary["duration"]))]
    if summary["dominant"]:
        seen = {label: share for label, share in summary["share"].items() if share}
        lines += [gettext("Share of time: %(emotions)s", emotions=_mix(seen)),
                  gettext("Average share of each emotion: %(emotions)s", emotions=_mix(summary["mean"]))]
    return Markup("<br>").join(lines)


def _reading(point: dict) -> str:
    """One moment of a timeline: "1.5 s: happy 80%", and "unsure" when that frame's reading was (moments stored
    before the uncertainty rule have no flag)."""
    emotions = point["emotions"]
    top = max(emotions, key=emotions.get)
    text = gettext("%(time)s: %(emotion)s %(share)s", time=seconds(point["t"]), emotion=emotion(top),
                   share=percent(emotions[top]))
    return gettext("%(reading)s (unsure)", reading=text) if point.get("uncertain") else text


def _timeline(view, context, model: Detection, name) -> Markup | str:
    """A video track's timeline: its span, and each moment's top emotion in a list that opens on demand."""
    points = model.timeline
    if not points:
        return ""
    span = ngettext("%(num)d moment from %(start)s to %(end)s", "%(num)d moments from %(start)s to %(end)s",
                    len(points), start=seconds(points[0]["t"]), end=seconds(points[-1]["t"]))
    if not points[0]["emotions"]:  # a kind without an emotion model: only where it was
        return span
    readings = Markup("").join(Markup("<li>{}</li>").format(_reading(point)) for point in points)
    return Markup('{}<details><summary>{}</summary><ol class="moments">{}</ol></details>').format(
        span, gettext("Every moment"), readings)


def _changes(view, context, model: Detection, name) -> Markup | str:
    """A video track's changes of top emotion ("1.5 s: neutral → happy"), or that there was none."""
    if model.transitions is None or not model.top:
        return ""
    if not model.transitions:
        return gettext("No change: the top emotion was %(emotion)s throughout.", emotion=emotion(model.top))
    return Markup("<br>").join(gettext("%(time)s: %(before)s → %(after)s", time=seconds(change["t"]),
                                       before=emotion(change["from"]), after=emotion(change["to"]))
                               for change in model.transitions)


def picker_words() -> dict:
    """The words of Flask-Admin's date pickers in the reader's language (static/admin.js hands them over): buttons,
    weekdays from Sunday, months."""
    days = get_day_names("short", locale=get_locale())
    months = get_month_names("abbreviated", locale=get_locale())
    return {"applyLabel": gettext("Apply"), "cancelLabel": gettext("Cancel"), "fromLabel": gettext("From"),
            "toLabel": gettext("To"), "daysOfWeek": [days[6], *(days[day] for day in range(6))],
            "monthNames": [months[month] for month in range(1, 13)]}


def _is_admin() -> bool:
    return current_user.is_authenticated and current_user.is_admin


ADMINS_ONLY = N_("This page is for administrators only.")


def _refuse() -> ResponseReturnValue:
    """Anonymous visitors go to the log-in page; logged-in non-admins get 403, in plain words."""
    if current_user.is_authenticated:
        abort(403, description=Phrase(ADMINS_ONLY))
    return redirect(url_for("auth.login", next=page_path()))


class AdminForm(WebForm):
    """Flask-WTF's form (a CSRF token on every admin form) keeping the edited row as Flask-Admin's own base
    form does: its Unique validator needs `_obj` to tell the row itself from another with the same name."""

    def __init__(self, *args, obj: db.Model | None = None, **kwargs) -> None:
        self._obj = obj
        super().__init__(*args, obj=obj, **kwargs)


class _OnReadersClock:
    """A date-time filter whose typed times are on the reader's clock, as the lists show times (stored: UTC)."""

    def validate(self, value: str) -> bool:
        """Flask-Admin ignores a filter whose value is not valid; a time clean() cannot convert is not."""
        try:
            return super().validate(value) and self.clean(value) is not None
        except ValueError:
            return False

    def clean(self, value: str) -> datetime | list[datetime]:
        """The typed time(s) in UTC; ValueError also for a time that has no UTC equivalent, at either end of the
        calendar (pytz raises OverflowError there)."""
        typed = super().clean(value)
        try:
            return [to_utc(moment) for moment in typed] if isinstance(typed, list) else to_utc(typed)
        except OverflowError as error:
            raise ValueError(str(error)) from error


class _InItsMinute:
    """"equals" or "not equal" a typed time: any time in its minute. Times are kept to the microsecond and the picker
    types minutes, so "Created equals 21:00" found an upload only at 21:00:00.000000, and none made that minute."""

    def apply(self, query: Query, value: datetime, alias: object = None) -> Query:
        column, start = self.get_column(alias), value.replace(second=0, microsecond=0)
        end = start + timedelta(minutes=1) if start < datetime.max - timedelta(minutes=1) else datetime.max
        inside = and_(column >= start, column < end)  # the calendar's last minute: up to its end
        return query.filter(inside if isinstance(self, FilterEqual) else not_(inside))


def _clock_filter(kind: type) -> type:
    """Flask-Admin's date-time filter `kind` on the reader's clock, an equality within the minute."""
    mixins = (_OnReadersClock, _InItsMinute) if kind in (DateTimeEqualFilter, DateTimeNotEqualFilter) else (
        _OnReadersClock,)
    return type(kind.__name__, (*mixins, kind), {})


class _HoldsAsTyped(FilterLike):
    """"contains", its % and _ matching only themselves."""

    def apply(self, query: Query, value: str, alias: object = None) -> Query:
        return query.filter(holding(self.get_column(alias), value))


class _LacksAsTyped(FilterNotLike):
    """"does not contain", its % and _ matching only themselves."""

    def apply(self, query: Query, value: str, alias: object = None) -> Query:
        return query.filter(~holding(self.get_column(alias), value))


class _AnyCase:
    """A text filter's "equals", "not equal", "in list" or "not in list" in any case, the text as names are kept
    (`searched`): usernames are kept in lower case, so "User's name equals Alice" found none of alice's uploads, while
    "contains" and the search found them."""

    def get_column(self, alias: object) -> ColumnElement:
        return db.func.lower(super().get_column(alias))

    def apply(self, query: Query, value: str | list[str], alias: object = None) -> Query:
        lowered = ([db.func.lower(searched(text)) for text in value] if isinstance(value, list)
                   else db.func.lower(searched(value)))
        return super().apply(query, lowered, alias)


# Flask-Admin's filter operations in the project's words: its Korean wrote "포함되지않은", "빈", "목록에서" and, of
# times, "보다 큰" (greater than) where one says "이후" (after).
FILTER_OPERATIONS = {
    "contains": lazy_pgettext("filter", "contains"), "not contains": lazy_pgettext("filter", "not contains"),
    "equals": lazy_pgettext("filter", "equals"), "not equal": lazy_pgettext("filter", "not equal"),
    "empty": lazy_pgettext("filter", "empty"), "in list": lazy_pgettext("filter", "in list"),
    "not in list": lazy_pgettext("filter", "not in list"), "between": lazy_pgettext("filter", "between"),
    "not between": lazy_pgettext("filter", "not between")}
TIME_OPERATIONS = {"greater than": lazy_pgettext("time filter", "greater than"),
                   "smaller than": lazy_pgettext("time filter", "smaller than")}


def _same(value: object) -> object:
    return value


class ClockFilters(FilterConverter):
    """Flask-Admin's filters, the date-time ones on the reader's clock, the text ones taking the text as typed, in
    any case."""

    datetime_filters = tuple(_clock_filter(kind) for kind in (  # "between" first, as the one a new filter shows
        DateTimeBetweenFilter, DateTimeGreaterFilter, DateTimeSmallerFilter, DateTimeNotBetweenFilter,
        DateTimeEqualFilter, DateTimeNotEqualFilter))  # no "empty": every time listed is kept
    strings = tuple({FilterLike: _HoldsAsTyped, FilterNotLike: _LacksAsTyped}.get(kind) or (
        kind if kind is FilterEmpty else type(kind.__name__, (_AnyCase, kind), {})) for kind in FilterConverter.strings)

    @filters.convert("enumtext")
    def conv_enum_text(self, column: ColumnElement, name: str, **kwargs: object) -> list:
        """A domain enum's column (models.EnumText) filtered as the text it holds."""
        return self.conv_string(column, name, **kwargs)


def _row_numbers(ids: list[str]) -> list[int]:
    """The chosen ids that name rows, as numbers (PostgreSQL compares no integer column with text)."""
    return [number for number in map(row_id, ids) if number]


def _without_own_account(numbers: list[int]) -> list[int]:
    """The chosen user ids but the administrator's own (saying why, when it was among them): an action that takes
    a right away or deletes never applies to the account using the back office."""
    if current_user.id not in numbers:
        return numbers
    flash(str(OWN_ACCOUNT), FlashCategory.ERROR)
    return [number for number in numbers if number != current_user.id]


def _say_none_left(ids: list[str], numbers: list[int]) -> None:
    """The flash of a bulk action that found none of the rows it was to act on (`numbers`: the chosen `ids`, less
    the administrator's own where the action leaves it out): deleted meanwhile, or never were; nothing when the
    administrator's own was the only one chosen (`_without_own_account` said why)."""
    chosen = _row_numbers(ids)
    if chosen and not numbers:
        return
    flash(gettext("None of the other chosen rows is there any more (deleted meanwhile?), so nothing was done.")
          if current_user.id in chosen else
          gettext("None of the chosen rows is there any more (deleted meanwhile?), so nothing was done."),
          FlashCategory.INFO)


ADMIN_SEARCH_WORDS = 10  # words of a back-office list's search that count
ADMIN_SEARCH_LENGTH = 200  # characters of it


class AdminOnly:
    """Admins only; ids and page numbers no database integer can hold name nothing (never a 500)."""

    form_base_class = AdminForm
    page_size = 25
    column_labels = COLUMN_LABELS
    column_type_formatters = {**typefmt.BASE_FORMATTERS, bool: _yes_no, datetime: _list_time}
    column_type_formatters_detail = {**typefmt.DETAIL_FORMATTERS, bool: _yes_no, datetime: _time}
    details_template = "admin/details.html"
    filter_converter = ClockFilters()

    def is_accessible(self) -> bool:
        return _is_admin()

    def scaffold_filters(self, name: str) -> list | None:
        """Flask-Admin's filters of a column, with their operations and the yes/no options in the project's words."""
        filters = super().scaffold_filters(name)
        for flt in filters or ():
            if isinstance(flt, BaseBooleanFilter):
                flt.options = YES_NO
            operation = str(flt.operation())  # English: the views are made before any request
            words = (TIME_OPERATIONS.get(operation) if isinstance(flt, _OnReadersClock) else None) or \
                FILTER_OPERATIONS.get(operation)
            if words is not None:  # lazy: the filters' list is made once, and said in each reader's language
                flt.operation = partial(_same, words)
        return filters

    def _apply_search(self, query: Query, count_query: Query | None, joins: dict, count_joins: dict,
                      search: str) -> tuple[Query, Query | None, dict, dict]:
        """Flask-Admin's search (every word in one of the searchable columns), each word taken as typed (% and _
        match only themselves), of the first ADMIN_SEARCH_WORDS words and ADMIN_SEARCH_LENGTH characters: each word
        is one more LIKE, and a thousand of them (a 2 kB address) went past SQLite's expression depth (a 500)."""
        for word in search[:ADMIN_SEARCH_LENGTH].split()[:ADMIN_SEARCH_WORDS]:
            query, joins = self._held_by_a_column(query, joins, word)
            if count_query is not None:
                count_query, count_joins = self._held_by_a_column(count_query, count_joins, word)
        return query, count_query, joins, count_joins

    def _held_by_a_column(self, query: Query, joins: dict, word: str) -> tuple[Query, dict]:
        """`query` narrowed to rows where one of the searchable columns holds `word`, with the joins that takes."""
        held = []
        for field, path in self._search_fields:
            query, joins, alias = self._apply_path_joins(query, joins, path, inner_join=False)
            held.append(holding(sql_cast(field if alias is None else getattr(alias, field.key), Unicode), word))
        return query.filter(or_(*held)), joins

    def get_one(self, id: str) -> db.Model | None:
        number = row_id(id)  # the number itself: "7_0" or "٧" would reach PostgreSQL as text and fail there
        return super().get_one(str(number)) if number else None  # None: "Record does not exist"

    def get_list(self, page: int | None, *args, **kwargs) -> tuple[int, list]:
        return super().get_list(min(max(page or 0, 0), MAX_PAGE), *args, **kwargs)

    @action("delete", admin_words("Delete"), admin_words("Are you sure you want to delete selected records?"))
    def action_delete(self, ids: list[str]) -> None:
        """Flask-Admin's bulk delete (declared again: an override without its @action drops it from the menu), of
        the ids that name rows."""
        super().action_delete(_row_numbers(ids))

    def validate_form(self, form: Form) -> bool:
        """Flask-Admin's checks, their messages as text: its template leaves out a message that is not a plain
        string, such as the lazily translated ones of web/forms.py."""
        valid = super().validate_form(form)
        for field in form:
            if isinstance(field.errors, (list, tuple)):
                field.errors = [str(error) for error in field.errors]
        return valid

    def handle_view_exception(self, exc: Exception) -> bool:
        """Roll a failed save back before Flask-Admin words its message: the words' language is read from the
        logged-in user's row, which the failed transaction can no longer load (a 500 otherwise)."""
        db.session.rollback()
        return super().handle_view_exception(exc)

    def inaccessible_callback(self, name: str, **kwargs) -> ResponseReturnValue:
        return _refuse()


class HomeView(AdminOnly, AdminIndexView):
    @expose("/")
    def index(self) -> ResponseReturnValue:
        return self.render("admin/index.html", counts={
            "users": db.session.scalar(db.select(db.func.count(User.id))),
            "analyses": db.session.scalar(db.select(db.func.count(Analysis.id))),
            "detections": db.session.scalar(db.select(db.func.count(Detection.id))),
        })


class NamedDeleteRowAction(BaseListRowAction):
    """Flask-Admin's delete button of a list's row, its confirmation asking in the view's words (`question`, of
    the row: "Delete astronaut.png, uploaded by spammer…?") rather than "Are you sure you want to delete this
    record?"."""

    def __init__(self, question: Callable[[object], str], offered: Callable[[object], bool]) -> None:
        super().__init__(title=admin_words("Delete Record"))
        self.question, self.offered = question, offered

    def render(self, context: Context, row_id: str, row: object) -> Markup:
        if not self.offered(row):
            return Markup("")
        macros = context.environment.get_template("admin/delete_row.html").make_module(context.get_all())
        return macros.delete_row(self, row_id, self.question(row))


class RemovalPageRowAction(BaseListRowAction):
    """A list row's delete button that opens a page asking first, with room for a reason its owner is told
    (`AnalysisAdmin.remove_view`); a script's confirmation box has none."""

    def __init__(self) -> None:
        super().__init__(title=admin_words("Delete Record"))

    def render(self, context: Context, row_id: str, row: object) -> Markup:
        url = url_for(".remove_view", id=row_id, url=context.get("return_url") or _list_page())
        return Markup('<a class="icon" href="{}" title="{}"><span class="fa fa-trash glyphicon glyphicon-trash">'
                      '</span></a>').format(url, self.title)


def _list_page() -> str:
    return url_for(".index_view")


class RowNamedAction(BaseListRowAction):
    """A list row's icon (details, edit, delete) titled for its row, which is its accessible name too: "Details of
    the account mina", "Delete beach.jpg, uploaded by mina". Flask-Admin titled every row's icon "View Record", so a
    screen reader's list of links read the same words down the page, and its Korean called a record 레코드 on one
    icon and 기록 on the next."""

    def __init__(self, action: BaseListRowAction, title_of: Callable[[object], str]) -> None:
        super().__init__(title=action.title)
        self.action, self.title_of = action, title_of

    def render(self, context: Context, row_id: str, row: object) -> Markup:
        self.action.title = self.title_of(row)
        return self.action.render(context, row_id, row)


class AdminModelView(AdminOnly, ModelView):
    """A model's pages: Flask-Admin's, the delete button of a list's row asking `delete_question(row)` where the
    view has one, its messages naming the rows saved or deleted (`row_name`: web.admin_flashes), and each of
    Flask-Admin's POST-only addresses (delete, bulk action, a list's inline update) routed for GET too: a GET of one
    (a reloaded page, an address opened or shared) goes to the list, nothing changed (web.redirects.form_page),
    never a 405."""

    delete_question: Callable[[object], str] | None = None
    deletable: Callable[[object], bool] = staticmethod(lambda row: True)  # whether its row offers a delete button

    def details_delete_url(self, row_id: str) -> str | None:
        """Where a row's details page offers to delete it (None: it does not; the list's bin does)."""
        return None
    row_name: Callable[[object], str]  # a row in words ("the account alice"): every view that saves or deletes rows

    def _run_view(self, fn: Callable[..., ResponseReturnValue], *args, **kwargs) -> ResponseReturnValue:
        """The view, once its return address (`url`, where a save or delete goes back to) is a page of this site:
        Flask-Admin's own check let "http:evil.example" through, which Werkzeug sends as "http:///evil.example" and
        browsers open as http://evil.example/."""
        if (back := request.values.get("url")) and same_site_path(back) is None:
            abort(400, description=gettext("That return address is not a page of this site."))
        response = super()._run_view(fn, *args, **kwargs)
        reword_stock_flashes()
        return response

    def page_name(self, row: object | None) -> str:
        """The page's name, for its title and first heading, so that a screen reader says which page and which row
        it is: the list's ("Users"); a row's edit or details page names the row ("Edit the account mina")."""
        if row is None:
            return self.name
        name = self.row_name(row)
        return gettext("Edit %(row)s", row=name) if request.endpoint.endswith(".edit_view") else \
            gettext("Details of %(row)s", row=name)

    def on_model_delete(self, model: object) -> None:
        note_row(self.row_name(model))

    def after_model_change(self, form: Form, model: object, is_created: bool) -> None:
        note_row(self.row_name(model))

    def get_list_row_actions(self) -> list[BaseListRowAction]:
        """Flask-Admin's, each titled for its row (RowNamedAction), the delete button asking in the view's words
        rather than about "this record"."""
        actions = [self.delete_row_action(row_action) if isinstance(row_action, DeleteRowAction) else row_action
                   for row_action in super().get_list_row_actions()]
        return [RowNamedAction(row_action, self._row_title(row_action)) for row_action in actions]

    def delete_row_action(self, stock: DeleteRowAction) -> BaseListRowAction:
        """A row's delete button: asking `delete_question(row)` where the view has one, else Flask-Admin's."""
        return stock if self.delete_question is None else NamedDeleteRowAction(self.delete_question, self.deletable)

    def _row_title(self, row_action: BaseListRowAction) -> Callable[[object], str]:
        """What a row's icon of this kind is called, for that row."""
        if isinstance(row_action, (ViewRowAction, ViewPopupRowAction)):
            return lambda row: gettext("Details of %(row)s", row=self.row_name(row))
        if isinstance(row_action, (EditRowAction, EditPopupRowAction)):
            return lambda row: gettext("Edit %(row)s", row=self.row_name(row))
        return lambda row: gettext("Delete %(row)s", row=self.row_name(row))

    @expose("/delete/", methods=("GET", "POST"))
    @form_page(_list_page)
    def delete_view(self) -> ResponseReturnValue:
        return super().delete_view()

    @expose("/action/", methods=("GET", "POST"))
    @form_page(_list_page)
    def action_view(self) -> ResponseReturnValue:
        return super().action_view()

    @expose("/ajax/update/", methods=("GET", "POST"))
    @form_page(_list_page)
    def ajax_update(self) -> ResponseReturnValue:
        return super().ajax_update()


def _account(user: User) -> str:
    """The account and what goes with it: "alice, with 3 uploads and 1 person or pet"."""
    held = accounts.holdings(user)
    return gettext("%(user)s, with %(uploads)s and %(subjects)s", user=user.username,
                   uploads=ngettext("%(count)s upload", "%(count)s uploads", held.analyses,
                                    count=format_decimal(held.analyses)),
                   subjects=ngettext("%(count)s person or pet", "%(count)s people and pets", held.subjects,
                                     count=format_decimal(held.subjects)))


def _delete_account_question(user: User) -> str:
    return gettext("Delete the account %(account)s? This cannot be undone.", account=_account(user))


# What the account's owner now can or cannot do, once an administrator's edit changed a flag (False, True).
_ACTIVE_CHANGED = (N_("%(name)s can no longer log in: logged out at once, and their API tokens are revoked."),
                   N_("%(name)s can log in again with their password. Their old API tokens stay revoked: they can "
                      "make new ones on their account page."))
_ADMIN_CHANGED = (N_("%(name)s is no longer an administrator."), N_("%(name)s is now an administrator."))


# A user's uploads, counted for the users' list to sort by (the page's own counts come in one query: `get_list`);
# count(*), not of a column: PostgreSQL may then answer from the index on user_id alone (once the table is vacuumed)
_UPLOAD_COUNT = (db.select(db.func.count()).select_from(Analysis).where(Analysis.user_id == User.id)
                 .correlate(User).scalar_subquery().label("uploads"))


class UserAdmin(AdminModelView):
    can_create = False
    edit_template = "admin/edit_user.html"
    delete_question = staticmethod(_delete_account_question)
    deletable = staticmethod(lambda user: user.id != current_user.id)  # one's own account: refused (OWN_ACCOUNT)
    row_name = staticmethod(lambda user: gettext("the account %(name)s", name=user.username))
    column_list = ("username", "active", "is_admin", "uploads", "created_at", "id")  # moderating's first (a phone)
    column_formatters = {"uploads": lambda view, context, user, name: view.uploads_link(user)}
    # the ties (most users have no upload, most are active) broken by id: on PostgreSQL a page of tied rows came
    # in another order for each page, so users were listed twice and others never
    column_sortable_list = ("username", ("active", (User.active, User.id)), ("is_admin", (User.is_admin, User.id)),
                            ("uploads", (_UPLOAD_COUNT, User.id)), "created_at", "id")
    uploads_filter = ""  # the Analyses list's URL argument that keeps one user's uploads (set by init_admin)
    column_searchable_list = ("username",)
    column_filters = ("is_admin", "active", "created_at")
    form_columns = ("username", "is_admin", "active")
    form_args = {"username": USERNAME_FIELD,
                 "active": {"description": _l("Unticked, the user cannot log in: they are logged out at once and "
                                              "their API tokens are revoked (ticked again, they make new ones).")},
                 "is_admin": {"description": _l("Administrators open this back office: every account, upload and "
                                                "result.")}}
    column_default_sort = ("id", False)

    def get_list(self, page: int | None, *args, **kwargs) -> tuple[int, list]:
        """The page's users, and how many uploads each has, counted in one query for the page (`uploads_link`)."""
        total, users = super().get_list(page, *args, **kwargs)
        g.uploads_by_user = dict(db.session.execute(
            db.select(Analysis.user_id, db.func.count(Analysis.id))
            .where(Analysis.user_id.in_([user.id for user in users])).group_by(Analysis.user_id)).all())
        return total, users

    def uploads_link(self, user: User) -> Markup:
        """How many uploads the user has, linked to the Analyses list of them (a moderator's way from an account to
        what it uploaded)."""
        count = g.uploads_by_user.get(user.id, 0)
        if not count:
            return Markup("0")
        return Markup('<a href="{}">{}</a>').format(
            url_for("admin_analyses.index_view", **{self.uploads_filter: user.username}), format_decimal(count))

    def scaffold_form(self) -> type[Form]:
        """Flask-Admin's form with the username checked by the app's rules only: its converter adds the column's
        length (a second "too long" under the field) and an exact-case uniqueness check (validate_form checks in
        any case)."""
        form_class = super().scaffold_form()
        form_class.username.kwargs["validators"] = USERNAME_FIELD["validators"]
        return form_class

    def validate_form(self, form: Form) -> bool:
        """Flask-Admin's checks, and a username that no other user has in any case (usernames are stored
        lower-case: Flask-Admin's own check would let "ROOT" through to the database's unique index)."""
        if not super().validate_form(form):
            return False
        if (username := getattr(form, "username", None)) is None:  # the delete and action forms
            return True
        other = User.named(username.data)
        if other is not None and other is not form._obj:
            username.errors.append(gettext("That username is taken."))
            return False
        return self._keeps_own_rights(form)

    def after_model_change(self, form: Form, model: User, is_created: bool) -> None:
        """The row named as saved, and what a changed flag means for the account, said beside it."""
        super().after_model_change(form, model, is_created)
        for field, told in (("active", _ACTIVE_CHANGED), ("is_admin", _ADMIN_CHANGED)):
            if field in form and form[field].object_data != form[field].data:
                flash(gettext(told[bool(form[field].data)], name=model.username), FlashCategory.SUCCESS)

    @staticmethod
    def _keeps_own_rights(form) -> bool:
        """An administrator's own row keeps its administrator and active flags: unticking either would lock them out
        of the back office (the only way back being another administrator or the command line)."""
        if form._obj is None or form._obj.id != current_user.id:
            return True
        if form.is_admin.data and form.active.data:
            return True
        flash(str(OWN_ACCOUNT), FlashCategory.ERROR)  # Flask-Admin's form shows no message under a check box
        said_why_nothing_was_saved()
        return False

    def update_model(self, form: Form, model: User) -> bool:
        """Flask-Admin's save, the row kept as it was first (`on_model_change` may have to put it back)."""
        g.user_rows_before = accounts.rows_as_they_are([model])
        return super().update_model(form, model)

    def on_model_change(self, form: Form, model: User, is_created: bool) -> None:
        """An edit that takes an active administrator's role or activity away is committed, then the administrators
        left are counted (`accounts.commit_keeping_an_administrator`): with none, the whole edit is undone and
        refused, so that two administrators unticking each other at once cannot both succeed."""
        super().on_model_change(form, model, is_created)
        if not all(form[name].object_data for name in RIGHTS) or all(form[name].data for name in RIGHTS):
            return
        try:
            accounts.commit_keeping_an_administrator(g.user_rows_before)
        except Refused as refused:  # Flask-Admin flashes it and shows the form again
            raise ValidationError(say(refused.args[0])) from refused

    def _set_flag(self, ids: list[str], done: Callable[[int], str], **values: bool) -> None:
        """Set the flags of the chosen users and say how many it changed (`done(count)`). Taking a right away is
        committed, then the active administrators are counted: with none left, it is undone and refused."""
        takes_a_right = False in values.values()
        numbers = _without_own_account(_row_numbers(ids)) if takes_a_right else _row_numbers(ids)
        users = db.session.scalars(db.select(User).where(User.id.in_(numbers))).all()
        changed = [user for user in users if any(getattr(user, name) != value for name, value in values.items())]
        before = accounts.rows_as_they_are(changed) if takes_a_right else []
        for user in changed:
            for name, value in values.items():
                setattr(user, name, value)
        if takes_a_right:  # never the last active administrator's
            try:
                accounts.commit_keeping_an_administrator(before)
            except Refused as refused:
                flash(say(refused.args[0]), FlashCategory.ERROR)
                return
        else:
            db.session.commit()
        if changed:
            flash(done(len(changed)), FlashCategory.SUCCESS)
        elif users:  # ("0 users activated" would read as a failure; none chosen but one's own: refused above)
            flash(gettext("The chosen users already were so: nothing changed."), FlashCategory.INFO)
        else:
            _say_none_left(ids, numbers)

    @action("activate", _l("Activate"))
    def action_activate(self, ids: list[str]) -> None:
        self._set_flag(ids, lambda count: ngettext("%(num)d user activated.", "%(num)d users activated.", count),
                       active=True)

    @action("deactivate", _l("Deactivate (logs them out at once)"),
            _l("Deactivate the chosen users? They are logged out at once, and their API tokens stop working."))
    def action_deactivate(self, ids: list[str]) -> None:
        self._set_flag(ids, lambda count: ngettext("%(num)d user deactivated and logged out.",
                                                   "%(num)d users deactivated and logged out.", count), active=False)

    @action("make_admin", _l("Make admin"), _l("Make the chosen users administrators? They can then open this back "
                                               "office: every account, upload and result."))
    def action_make_admin(self, ids: list[str]) -> None:
        self._set_flag(ids, lambda count: ngettext("%(num)d user is now an administrator.",
                                                   "%(num)d users are now administrators.", count), is_admin=True)

    @action("remove_admin", _l("Remove the administrator role"),
            _l("Take the administrator role from the chosen users? They can no longer open this back office."))
    def action_remove_admin(self, ids: list[str]) -> None:
        self._set_flag(ids, lambda count: ngettext("%(num)d user is no longer an administrator.",
                                                   "%(num)d users are no longer administrators.", count),
                       is_admin=False)

    @action("lift_login_refusal", _l("Let new browsers log in (after wrong passwords)"))
    def action_lift_login_refusal(self, ids: list[str]) -> None:
        """Lift the refusal of an account under attack (too many wrong passwords from clients without its device
        cookie: web/login_limits.py), as its owner asks from a browser that never logged in to it."""
        users = db.session.scalars(db.select(User).where(User.id.in_(_row_numbers(ids)))).all()
        if not users:
            return _say_none_left(ids, _row_numbers(ids))
        try:
            lifted = [user.username for user in users if login_limits.lift_refusal(user)]
        except limiter.storage.base_exceptions:
            flash(gettext("The log-in counters cannot be reached just now; try again in a moment."),
                  FlashCategory.ERROR)
            return
        if not lifted:
            flash(gettext("None of the chosen accounts was refusing new browsers."), FlashCategory.INFO)
            return
        flash(ngettext("%(names)s can log in from any browser again.", "%(num)d accounts can log in from any browser "
                       "again: %(names)s.", len(lifted), names=", ".join(lifted)), FlashCategory.SUCCESS)

    def login_refused_until(self, user: User) -> datetime | None:
        """Until when the account refuses new browsers (its edit page says so); None too while the counters cannot
        be read."""
        try:
            return login_limits.refused_until(user)
        except limiter.storage.base_exceptions:
            return None

    @action("delete", admin_words("Delete"))
    def action_delete(self, ids: list[str]) -> ResponseReturnValue | None:
        """The bulk delete, once the page it shows first has asked about the chosen accounts by name, each with what
        goes with it (Flask-Admin's script can only ask "Are you sure you want to delete selected records?")."""
        if request.form.get("confirmed"):
            return super().action_delete(ids)
        numbers = _without_own_account(_row_numbers(ids))  # left out of the question rather than refused after it
        users = db.session.scalars(db.select(User).where(User.id.in_(numbers)).order_by(User.id)).all()
        if not users:
            _say_none_left(ids, numbers)
            return redirect(_list_page())
        return self.render("admin/delete_users.html", users=users, account=_account, action_form=self.action_form(),
                           return_url=get_redirect_target() or _list_page())

    def delete_model(self, model: User) -> bool:
        """Delete the account as its owner's "Delete my account" does (services.accounts.delete_account): every
        analysis with its files, an upload committed meanwhile too; never the administrator's own account."""
        if model.id == current_user.id:
            flash(str(OWN_ACCOUNT), FlashCategory.ERROR)
            return False
        name = self.row_name(model)
        try:
            accounts.delete_account(model)
        except Refused as refused:  # the last active administrator (another administrator deactivated meanwhile)
            flash(say(refused.args[0]), FlashCategory.ERROR)
            return False
        note_row(name)
        return True


def _thumbnail(view, context, model: Analysis, name):
    """The thumbnail (a queued video has none yet), linked to the analysis's result page."""
    page = url_for("analyze.result", analysis_id=model.id)
    if not model.thumb_name:
        return Markup('<a href="{}">{}</a>').format(page, gettext("Open"))
    source = url_for("analyze.media_file", analysis_id=model.id, variant="thumb")
    return Markup('<a href="{}"><img src="{}" alt="{}" height="48" class="analysis-preview"></a>').format(
        page, source, gettext("Open analysis %(number)d", number=model.id))


def _result_link(view, context, model: Analysis, name):
    return Markup('<a href="{}">{}</a>').format(url_for("analyze.result", analysis_id=model.id),
                                                gettext("Open the result page (read-only)"))


def _delete_question(analysis: Analysis) -> str:
    question = (N_("Delete %(file)s, uploaded by %(user)s? The video and everything found in it go too.")
                if analysis.media == Media.VIDEO else
                N_("Delete %(file)s, uploaded by %(user)s? The photo and everything found in it go too."))
    return gettext(question, file=analysis.original_name, user=analysis.user.username)


class AnalysisAdmin(AdminModelView):
    can_create = False
    can_edit = False
    can_view_details = True
    column_list = ("user", "status", "thumbnail", "original_name", "created_at", "media", "shown_count", "top_emotion",
                   "worker", "id")  # who and whether it worked first: a phone shows the first columns
    column_formatters = {"thumbnail": _thumbnail, "result_page": _result_link, "top_emotion": _top_emotion,
                         "error": _reason, "classifier": _classifiers_used, "duration": _duration,
                         "detections": _detections}
    column_choices = {"media": MEDIA_CHOICES, "status": STATUS_CHOICES, "top_emotion": EMOTION_CHOICES}
    column_details_list = ("id", "result_page", "thumbnail", "user", "created_at", "original_name", "media",
                           "status", "error", "duration", "width", "height", "shown_count", "detections", "top_emotion",
                           "detector", "classifier", "worker")
    column_sortable_list = (("user", "user.username"), "status", "original_name", "created_at", "media", "shown_count",
                            "top_emotion", "worker")  # the model's columns, and the owner by name
    column_searchable_list = ("original_name", User.username)
    column_filters = ("user.username", "created_at", "top_emotion", "media", "status")
    column_default_sort = ("created_at", True)
    row_name = staticmethod(lambda analysis: gettext("%(file)s, uploaded by %(user)s", file=analysis.original_name,
                                                     user=analysis.user.username))

    def owner_filter(self) -> str:
        """The list's URL argument that keeps one user's uploads: its "User's name equals" filter."""
        index, equals = next((index, flt) for index, flt in enumerate(self._filters)
                             if isinstance(flt, FilterEqual) and flt.column.key == "username")
        return f"flt0_{self.get_filter_arg(index, equals)}"

    def get_query(self) -> Query:
        """The analyses with their detections, loaded at once: each row says whether its top reading was unsure."""
        return super().get_query().options(selectinload(Analysis.detections))

    @action("delete", admin_words("Delete"),
            _l("Delete the selected uploads? Their owners are told on their next page, without a reason (to give one, "
               "delete an upload with its own bin)."))
    def action_delete(self, ids: list[str]) -> None:
        """The bulk delete, its question saying what the owners are told."""
        super().action_delete(ids)

    def delete_row_action(self, stock: DeleteRowAction) -> BaseListRowAction:
        """A row's delete button opening `remove_view` (which asks, with room for a reason)."""
        return RemovalPageRowAction()

    def details_delete_url(self, row_id: str) -> str | None:
        """An upload's details page leads to the page that asks before removing it, as its list row's bin does."""
        return url_for(".remove_view", id=row_id, url=url_for(".index_view"))

    @expose("/remove/")
    def remove_view(self) -> ResponseReturnValue:
        """Asks before deleting an upload, naming it and its owner, with a box for the reason the owner is told (none
        for one's own upload: nobody is told)."""
        return_url = get_redirect_target() or _list_page()
        analysis = self.get_one(request.args.get("id", ""))
        if analysis is None:
            flash(gettext("That upload is no longer there."), FlashCategory.ERROR)
            return redirect(return_url)
        return self.render("admin/remove_analysis.html", analysis=analysis, question=_delete_question(analysis),
                           tells_owner=analysis.user_id != current_user.id, delete_form=self.delete_form(),
                           return_url=return_url, reason_length=REMOVAL_REASON_LENGTH)

    def delete_model(self, model: Analysis) -> bool:
        """Delete the upload as its owner's "Delete" does (services.analyses.delete_analysis: its jobs stopped, the
        writers' lock order, the files once the rows are gone), its owner told on their next page
        (services/moderation.py) unless it is the administrator's own. One a bulk delete's earlier commit left
        expired and someone else deleted meanwhile is gone as asked."""
        try:
            name, theirs = self.row_name(model), model.user_id != current_user.id
        except ObjectDeletedError:
            return True
        try:
            storage.check_deletable()
        except Refused as refused:
            flash(say(refused.args[0]), FlashCategory.ERROR)
            return False
        if theirs:
            moderation.note_removed_upload(model, request.form.get("reason"))
        delete_analysis(model)
        note_row(name)
        return True


class DetectionAdmin(AdminModelView):
    can_create = False
    can_edit = False
    can_delete = False
    can_view_details = True
    column_list = ("id", "analysis", "analysis.user.username", "kind", "number", "position", "top", "score", "x1", "y1",
                   "x2", "y2")
    # the reading kept for the pages that count many (Detection.reading): a copy of what its page reads, not shown
    column_details_exclude_list = ("reading_emotion", "reading_certainty", "reading_mix", "reading_changes",
                                   "reading_confidence",
                                   "models_reading",  # the models' reading a species set by hand put aside
                                   "landmarks")  # the points a face was aligned by: for "Why?", not a moderator
    column_filters = ("analysis.user.username", "top", "kind")  # whose first: a moderator follows one account
    column_formatters = {"top": _detection_top, "emotions": _emotions, "unsure_signals": _signals, "score": _score,
                         "uncertainty": _chance, "uncertain": _unsure, "subject": _subject, "summary": _summary,
                         "timeline": _timeline, "transitions": _changes, "kind_read": _kind_read,
                         "analysis": _analysis_link, "crop": _crop}
    column_choices = {"kind": DETECTION_KIND_CHOICES, "top": EMOTION_CHOICES}
    column_default_sort = ("id", True)

    def get_details_columns(self) -> list[tuple[str, object]]:
        """Its columns, the crop second (after its upload): the face or animal itself, not only its box's numbers;
        its label lazy, as the others' (asked once, as the app starts: each page says it in its reader's language)."""
        columns = super().get_details_columns()
        return columns[:1] + [("crop", COLUMN_LABELS["crop"])] + columns[1:]

    @staticmethod
    def row_name(detection: Detection) -> str:
        """A detection in words: "Face 1 in beach.jpg"."""
        return gettext("%(title)s in %(file)s", title=say(detection.title), file=detection.analysis.original_name)

    def get_query(self) -> Query:
        """The detections with their analyses' detections and owners, loaded at once: each row's number is counted
        among them (Detection.number), and its owner named."""
        analysis = joinedload(Detection.analysis)
        return super().get_query().options(analysis.selectinload(Analysis.detections),
                                           analysis.joinedload(Analysis.user))


JOB_KIND_NAMES = {JobKind.ANALYSIS: _l("Video analysis"), JobKind.EXPLANATION: _l("“Why?” explanation"),
                  JobKind.REANALYSIS: _l("Analysis run again"),
                  JobKind.TRACK_READING: _l("Video track read as its owner’s species"),
                  JobKind.SIGNATURES: _l("Face signatures")}
JOBS_SHOWN = 50  # the newest unfinished (queued, running, failed) jobs listed


def job_counts() -> dict[JobKind, dict[str, int]]:
    """How many jobs of each kind are in each status (photo analyses are never jobs: only videos count)."""
    counts = {}
    for job_kind, row in jobs.ROWS.items():
        query = db.select(row.status, db.func.count()).group_by(row.status)
        counts[job_kind] = dict(db.session.execute(query.where(Analysis.media == Media.VIDEO) if row is Analysis
                                               else query).all())
    return counts


def unfinished_jobs(limit: int) -> list[tuple[JobKind, JobState]]:
    """The newest jobs of every kind that are not done, newest first, each with the analysis and user the page
    names (`job_analysis`), loaded with it."""
    found = [(job_kind, job) for job_kind, row in jobs.ROWS.items() for job in db.session.scalars(
        db.select(row).where(row.status != JobStatus.DONE).order_by(row.created_at.desc()).limit(limit)
        .options(*_with_analysis(row)))]
    return sorted(found, key=lambda pair: pair[1].created_at, reverse=True)[:limit]


def _with_analysis(row: type[JobState]) -> tuple:
    """The loader options that bring a job row's analysis (`job_analysis`), its user and its detections along."""
    if row is Analysis:
        return joinedload(Analysis.user), selectinload(Analysis.detections)
    analysis = joinedload(row.detection).joinedload(Detection.analysis) if row in (Explanation, TrackReading) \
        else joinedload(row.analysis)
    return (analysis.options(joinedload(Analysis.user), selectinload(Analysis.detections)),)


def job_analysis(job: JobState) -> Analysis:
    """The analysis a job works on (a video's own row, an explanation's or track reading's detection's, a signature
    or re-analysis job's)."""
    if isinstance(job, Analysis):
        return job
    return job.detection.analysis if isinstance(job, Explanation | TrackReading) else job.analysis


class JobsView(AdminOnly, BaseView):
    """The background jobs: how many are in each state, the unfinished ones with their errors, "Retry" for a
    failed one (queued again from its first attempt)."""

    @expose("/")
    def index(self) -> ResponseReturnValue:
        return self.render("admin/jobs.html", counts=job_counts(), jobs=unfinished_jobs(JOBS_SHOWN),
                           kind_names=JOB_KIND_NAMES, analysis_of=job_analysis)

    @expose("/retry", methods=["GET", "POST"])
    @form_page(lambda: url_for(".index"))
    def retry(self) -> ResponseReturnValue:
        kind, job_id = request.form.get("kind"), row_id(request.form.get("id", ""))
        if kind not in set(JobKind) or job_id is None:
            abort(400)
        if jobs.retry(JobKind(kind), job_id):
            flash(gettext("The job was queued again."), FlashCategory.SUCCESS)
        elif db.session.get(jobs.ROWS[JobKind(kind)], job_id) is None:
            flash(gettext("That job is no longer there (deleted with its upload or account), so nothing was done."),
                  FlashCategory.ERROR)
        else:
            flash(gettext("That job has not failed (it may have been retried already), so nothing was done."),
                  FlashCategory.ERROR)
        return redirect(url_for(".index"))


def init_admin(app: Flask) -> Admin:
    admin = Admin(app, name=_l("Moodlens admin"), url="/admin", index_view=HomeView(url="/admin"),
                  theme=Bootstrap4Theme(base_template="admin/page.html", fluid=True))  # lists use a wide screen
    users, analyses = (UserAdmin(User, db, endpoint="admin_users", name=_l("Users")),
                       AnalysisAdmin(Analysis, db, endpoint="admin_analyses", name=_l("Analyses")))
    users.uploads_filter = analyses.owner_filter()
    admin.add_view(users)
    admin.add_view(analyses)
    admin.add_view(DetectionAdmin(Detection, db, endpoint="admin_detections", name=_l("Detections")))
    admin.add_view(JobsView(name=_l("Background jobs"), endpoint="admin_jobs", url="/admin/jobs"))
    admin.add_link(MenuLink(name=_l("Back to Moodlens"), url="/"))
    app.add_template_filter(reworded, "flashed")
    app.add_template_global(picker_words)
    return admin
