"""Flask-Admin back office at /admin: users, analyses (each links to its result page, read-only for the admin;
deleted with their files), detections (read-only). Headers, cell values (enum ids, yes/no, times, failure reasons)
and filter options are in the reader's language; the database keeps its English ids."""

from __future__ import annotations

from datetime import datetime

from flask import Flask, abort, g, redirect, request, url_for
from flask_admin import Admin, AdminIndexView, expose
from flask_admin.theme import Bootstrap4Theme
from flask_admin.menu import MenuLink
from flask_admin.actions import action
from flask_admin.contrib.sqla import ModelView
from flask_admin.model import typefmt
from flask_babel import gettext, lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from markupsafe import Markup

from extensions import db
from inference.labels import DetectionKind
from inference.uncertainty import UnsureSignal
from models import Analysis, Detection, Media, User
from services.access import row_id
from services.analyses import MAX_PAGE, analysis_files
from services.storage import remove_files
from web.i18n import EMOTION_NAMES, KIND_NAMES, STATUS_NAMES, emotion, moment, percent, reason


# Every column header of the lists, detail pages, filters and forms, in the reader's language.
COLUMN_LABELS = {
    "id": _l("ID"), "username": _l("Username"), "is_admin": _l("Administrator"), "active": _l("Active"),
    "created_at": _l("Created"), "user": _l("User"), "user.username": _l("User's name"),
    "thumbnail": _l("Open"), "result_page": _l("Result"), "original_name": _l("File name"), "media": _l("Media"),
    "status": _l("Status"), "error": _l("Error"), "duration": _l("Duration (s)"), "width": _l("Width"),
    "height": _l("Height"), "face_count": _l("Found"), "top_emotion": _l("Top emotion"), "detector": _l("Detector"),
    "classifier": _l("Classifier"), "worker": _l("Worker"), "analysis": _l("Analysis"), "position": _l("Number"),
    "kind": _l("Kind"), "top": _l("Top emotion"), "score": _l("Detector score"), "x1": _l("Left"),
    "y1": _l("Top"), "x2": _l("Right"), "y2": _l("Bottom"), "emotions": _l("Emotions"),
    "uncertainty": _l("Chance of a wrong reading"), "uncertain": _l("Unsure"), "unsure_signals": _l("Unsure because"),
    "track_id": _l("Track"), "timeline": _l("Timeline"), "summary": _l("Summary"), "transitions": _l("Changes"),
    "subject": _l("Subject"), "explanation": _l("Explanation"), "signature": _l("Face signature"),
}


# The stored ids of the enum columns in the reader's words, in the cells and as the filters' options.
MEDIA_CHOICES = [(Media.IMAGE, _l("photo")), (Media.VIDEO, _l("video"))]
STATUS_CHOICES = list(STATUS_NAMES.items())
EMOTION_CHOICES = list(EMOTION_NAMES.items())
DETECTION_KIND_CHOICES = [(kind, KIND_NAMES[kind]) for kind in DetectionKind]
SIGNAL_NAMES = {UnsureSignal.WEAK: _l("no emotion stands out"),
                UnsureSignal.MEMBERS_DISAGREE: _l("the networks disagree")}


def _yes_no(view, value: bool, name) -> str:
    return gettext("Yes") if value else gettext("No")


def _time(view, value: datetime, name) -> str:
    return moment(value)


def _stored(view, context, model, name):
    """The stored id for column_choices to name, or nothing (Flask-Admin prints a None it cannot name as "None")."""
    return getattr(model, name) or ""


def _reason(view, context, model, name) -> str:
    return reason(model.error)


def _emotions(view, context, model: Detection, name) -> str:
    return ", ".join(f"{emotion(label)} {percent(share)}" for label, share in (model.emotions or {}).items())


def _signals(view, context, model: Detection, name) -> str:
    return ", ".join(str(SIGNAL_NAMES.get(signal, signal)) for signal in model.unsure_signals or ())


def _is_admin() -> bool:
    return current_user.is_authenticated and current_user.is_admin


def _refuse():
    """Anonymous visitors go to the log-in page; logged-in non-admins get 403."""
    if current_user.is_authenticated:
        abort(403)
    return redirect(url_for("auth.login", next=request.full_path))


class AdminForm(FlaskForm):
    """Flask-WTF's form (a CSRF token on every admin form) keeping the edited row as Flask-Admin's own base
    form does: its Unique validator needs `_obj` to tell the row itself from another with the same name."""

    def __init__(self, *args, obj=None, **kwargs):
        self._obj = obj
        super().__init__(*args, obj=obj, **kwargs)


class AdminOnly:
    """Admins only; ids and page numbers no database integer can hold name nothing (never a 500)."""

    form_base_class = AdminForm
    page_size = 25
    column_labels = COLUMN_LABELS
    column_type_formatters = {**typefmt.BASE_FORMATTERS, bool: _yes_no, datetime: _time}
    column_type_formatters_detail = {**typefmt.DETAIL_FORMATTERS, bool: _yes_no, datetime: _time}

    def is_accessible(self) -> bool:
        return _is_admin()

    def get_one(self, id: str):
        return super().get_one(id) if row_id(id) else None  # None: "Record does not exist"

    def get_list(self, page: int | None, *args, **kwargs):
        return super().get_list(min(max(page or 0, 0), MAX_PAGE), *args, **kwargs)

    def action_delete(self, ids: list[str]) -> None:
        super().action_delete([i for i in ids if row_id(i)])

    def inaccessible_callback(self, name, **kwargs):
        return _refuse()


class HomeView(AdminOnly, AdminIndexView):
    @expose("/")
    def index(self):
        return self.render("admin/index.html", counts={
            "users": db.session.scalar(db.select(db.func.count(User.id))),
            "analyses": db.session.scalar(db.select(db.func.count(Analysis.id))),
            "detections": db.session.scalar(db.select(db.func.count(Detection.id))),
        })


class UserAdmin(AdminOnly, ModelView):
    can_create = False
    column_list = ("id", "username", "is_admin", "active", "created_at")
    column_searchable_list = ("username",)
    column_filters = ("is_admin", "active", "created_at")
    form_columns = ("username", "is_admin", "active")
    column_default_sort = ("id", False)

    def _set_flag(self, ids: list[str], **values: bool) -> None:
        numbers = [number for number in map(row_id, ids) if number]
        for user in db.session.scalars(db.select(User).where(User.id.in_(numbers))):
            for name, value in values.items():
                setattr(user, name, value)
        db.session.commit()

    @action("activate", _l("Activate"))
    def action_activate(self, ids):
        self._set_flag(ids, active=True)

    @action("deactivate", _l("Deactivate (logs them out at once)"))
    def action_deactivate(self, ids):
        self._set_flag(ids, active=False)

    @action("make_admin", _l("Make admin"))
    def action_make_admin(self, ids):
        self._set_flag(ids, is_admin=True)

    def on_model_delete(self, model: User) -> None:
        g.orphaned_files = [path for analysis in model.analyses for path in analysis_files(analysis)]

    def after_model_delete(self, model: User) -> None:
        remove_files(g.pop("orphaned_files", []))


def _thumbnail(view, context, model: Analysis, name):
    """The thumbnail (a queued video has none yet), linked to the analysis's result page."""
    page = url_for("analyze.result", analysis_id=model.id)
    if not model.thumb_name:
        return Markup('<a href="{}">{}</a>').format(page, gettext("Open"))
    source = url_for("analyze.media_file", analysis_id=model.id, variant="thumb")
    return Markup('<a href="{}"><img src="{}" alt="{}" height="48"></a>').format(
        page, source, gettext("Open analysis %(number)d", number=model.id))


def _result_link(view, context, model: Analysis, name):
    return Markup('<a href="{}">{}</a>').format(url_for("analyze.result", analysis_id=model.id),
                                                gettext("Open the result page (read-only)"))


class AnalysisAdmin(AdminOnly, ModelView):
    can_create = False
    can_edit = False
    can_view_details = True
    column_list = ("id", "thumbnail", "user", "created_at", "original_name", "media", "status", "face_count",
                   "top_emotion", "worker")
    column_formatters = {"thumbnail": _thumbnail, "result_page": _result_link, "top_emotion": _stored,
                         "error": _reason}
    column_choices = {"media": MEDIA_CHOICES, "status": STATUS_CHOICES, "top_emotion": EMOTION_CHOICES}
    column_details_list = ("id", "result_page", "thumbnail", "user", "created_at", "original_name", "media",
                           "status", "error", "duration", "width", "height", "face_count", "top_emotion", "detector",
                           "classifier", "worker")
    column_searchable_list = ("original_name", User.username)
    column_filters = ("user.username", "created_at", "top_emotion", "media", "status")
    column_default_sort = ("created_at", True)

    def on_model_delete(self, model: Analysis) -> None:
        g.orphaned_files = analysis_files(model)

    def after_model_delete(self, model: Analysis) -> None:
        remove_files(g.pop("orphaned_files", []))


class DetectionAdmin(AdminOnly, ModelView):
    can_create = False
    can_edit = False
    can_delete = False
    can_view_details = True
    column_list = ("id", "analysis", "position", "kind", "top", "score", "x1", "y1", "x2", "y2")
    column_filters = ("top", "kind")
    column_formatters = {"top": _stored, "emotions": _emotions, "unsure_signals": _signals}
    column_choices = {"kind": DETECTION_KIND_CHOICES, "top": EMOTION_CHOICES}
    column_default_sort = ("id", True)


def init_admin(app: Flask) -> Admin:
    admin = Admin(app, name=_l("Moodlens admin"), url="/admin", index_view=HomeView(url="/admin"),
                  theme=Bootstrap4Theme(fluid=True))  # the lists use a wide screen's width
    admin.add_view(UserAdmin(User, db, endpoint="admin_users", name=_l("Users")))
    admin.add_view(AnalysisAdmin(Analysis, db, endpoint="admin_analyses", name=_l("Analyses")))
    admin.add_view(DetectionAdmin(Detection, db, endpoint="admin_detections", name=_l("Detections")))
    admin.add_link(MenuLink(name=_l("Back to Moodlens"), url="/"))
    return admin
