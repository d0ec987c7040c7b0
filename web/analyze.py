"""Upload a photo or video, see its result (admins: anyone's, read-only), browse and delete your history, assign
what was found to your subjects, fetch your files (with the browser session or an API bearer token)."""

from __future__ import annotations

import io
import math
import re
from datetime import date

from flask import (Blueprint, Response, abort, current_app, flash, g, redirect, render_template, request, send_file,
                   url_for)
from flask.typing import ResponseReturnValue
from babel.lists import format_list
from flask_babel import get_locale, gettext, lazy_gettext as _l
from flask_login import current_user, login_required
from flask_sqlalchemy.pagination import Pagination
from werkzeug.datastructures import FileStorage
from wtforms import SelectChoice

from extensions import db, limiter
from inference.errors import MediaError
from inference.formats import MIME_TYPES
from inference.labels import (ALL_EMOTIONS, UNSURE_FROM_CHANCE, Certainty, DetectionKind, reading_certainty,
                              shown_percent)
from inference.tracking import area
from inference.uncertainty import UnsureSignal
from insights.clip import ClipStory
from messages import N_
from models import EMOTION_CLASSES, Analysis, Detection, JobStatus, Media, Subject, SubjectKind
from services import explanations, identity, reanalysis, storage, subjects, track_readings
from services.accounts import type_ending
from services.access import detection_at, owned, owned_detection, row_id, viewable_analysis
from services.analyses import (NAME_SEARCH_LENGTH, HistoryFilter, accept_upload, delete_analysis, detection_crop_jpeg,
                               history_months, history_page, load_detection_parts, load_models_soon,
                               video_frame_jpeg, within_video)
from web.auth import api_viewable, session_or_token
from web.charts import horizontal_bars, tag_width, timeline_lines
from web.deleted import Deleted, card_of_a_deleted_analysis, deleted_goes_back, remember_deleted
from web.downloads import download_names
from web.errors import http_status_for
from web.forms import AssignForm, ConfirmForm, NamePersonForm, UploadForm, confirm_page
from services.errors import Conflict
from web.i18n import emotion as emotion_name, found, isolated, kind, moment, percent, say, set_apart, shortened
from web.notices import removed_says_so
from web.redirects import View, came_from_path, form_page, next_of, on_page, place_on
from web.flashes import FlashCategory, assigned_category, assigned_detection, flash_role, flash_style
from web.ids import whole_number

bp = Blueprint("analyze", __name__)
HISTORY_PER_PAGE = 12

COMMENTS = {  # a friendly line under a sure reading (a probable one has its chance of being wrong), by kind and top
    DetectionKind.HUMAN: {
        "angry": _l("Something has ruffled some feathers. A deep breath might help."),
        "disgust": _l("Not a fan of whatever that was, it seems."),
        "fear": _l("A touch of worry here. Hopefully it passes quickly."),
        "happy": _l("What a lovely smile! Good vibes all around."),
        "sad": _l("Looks a little down. Maybe time for something comforting."),
        "surprise": _l("Whoa, something unexpected just happened!"),
        "neutral": _l("Calm and composed: a classic poker face."),
    },
    DetectionKind.DOG: {
        "angry": _l("On guard: something has this dog's hackles up."),
        "happy": _l("A happy dog: tail-wagging vibes all around."),
        "relaxed": _l("Loose and at ease. All is well in the world."),
        "sad": _l("Looks a little down. Maybe time for a cuddle or a walk."),
    },
    DetectionKind.CAT: {  # once a cat model ships (models.EMOTION_CLASSES)
        "angry": _l("Ears back: this cat is not amused."),
        "happy": _l("A contented cat: all is right with the world."),
        "sad": _l("Looks a little down. Maybe time for some quiet company."),
        "other": _l("Hard to say what this cat is feeling, which is very cat-like."),
    },
}
UNCERTAIN_COMMENT = _l("Unsure: the model's members disagree, or this face is unlike the photos it learnt from, so "
                       "this reading is more likely wrong than right.")  # readings stored without their signals
UNSURE_BECAUSE = {  # which signals made a reading unsure (inference.uncertainty.UnsureSignal), in words
    (UnsureSignal.WEAK,): N_("Unsure: the likeliest emotion has a low probability, so the estimated chance that this "
                             "reading is wrong is %(chance)s."),
    (UnsureSignal.MEMBERS_DISAGREE,): N_("Unsure: the networks that make up the model read this face differently, "
                                         "so the estimated chance that this reading is wrong is %(chance)s."),
    (UnsureSignal.WEAK, UnsureSignal.MEMBERS_DISAGREE): N_(
        "Unsure: the likeliest emotion has a low probability and the networks that make up the model read this "
        "face differently, so the estimated chance that this reading is wrong is %(chance)s."),
}
# no estimate of the chance that it is wrong:
WEAK_WITHOUT_FIGURE = _l("Unsure: the likeliest emotion has a low probability, so this reading may well be wrong.")


def _user_key() -> str:
    """Rate-limit key of a user's request: the user (bearer token or session), wherever they send it from."""
    return f"uploader:{g.get('api_user', current_user).id}"


# Every upload decodes a file: UPLOAD_LIMITS per user, the web form and the API counted together.
upload_limit = limiter.shared_limit(lambda: current_app.config["UPLOAD_LIMITS"], "uploads", key_func=_user_key,
                                    methods=["POST"],
                                    error_message=N_("Too many uploads; wait a minute and try again."))
# A video's frame, and a crop not kept yet (a video track's, an older photo's), decode the stored file again:
# DECODE_LIMITS per user, crops and frames together.
decode_limit = limiter.shared_limit(lambda: current_app.config["DECODE_LIMITS"], "decodes", key_func=_user_key,
                                    error_message=N_("Too many images asked for; wait a minute and try again."))


@bp.route("/")
def index() -> ResponseReturnValue:
    if current_user.is_authenticated:
        return redirect(url_for("analyze.upload"))
    return render_template("index.html")


@bp.route("/analyze", methods=["GET", "POST"])
@login_required
@upload_limit
def upload() -> ResponseReturnValue:
    form = UploadForm()
    if not form.validate_on_submit():
        load_models_soon()
        return render_template("analyze/upload.html", form=form), 400 if form.errors else 200
    try:
        accepted = accept_upload(current_user, form.file.data)
    except MediaError as error:
        form.file.errors.append(_named(form.file.data, say(error.args[0])))
        return render_template("analyze/upload.html", form=form), http_status_for(error)
    if accepted.duplicate:
        flash(already_uploaded(accepted.analysis), FlashCategory.INFO)
    return redirect(url_for("analyze.result", analysis_id=accepted.analysis.id))


def _named(file: FileStorage, reason: str) -> str:
    """A refused upload's reason after its file's name: the answer's file picker is empty, so the page says which
    file it was."""
    name = (file.filename or "").strip()
    return gettext("%(file)s: %(reason)s", file=name[:100], reason=reason) if name else reason


def already_uploaded(analysis: Analysis) -> str:
    """The note on an upload of bytes the user had analysed before: when, and that the page is that result (or,
    for a video still in the queue, its progress; for a result made by earlier models, that it can be analysed
    again: the page offers it)."""
    when = moment(analysis.created_at)
    if reanalysis.out_of_date(analysis):
        return gettext("You already uploaded this file on %(date)s; its result was made by an earlier model, and you "
                       "can have it analysed again below.", date=when)
    if analysis.media != Media.VIDEO:
        return gettext("You already uploaded this photo on %(date)s; here is its result.", date=when)
    if analysis.status.active:
        return gettext("You already uploaded this video on %(date)s; it is still being analysed.", date=when)
    return gettext("You already uploaded this video on %(date)s; here is its result.", date=when)


@bp.route("/analyses/<int:analysis_id>")
@login_required
@deleted_goes_back(Deleted.ANALYSIS, "analysis_id")
@removed_says_so
def result(analysis_id: int) -> ResponseReturnValue:
    """The result (or the progress) page; an admin may view anyone's, without the owner's actions. ?next=PATH, a
    page of the history (the one it was opened from, filtered, page 2: `opened_from`), is where its "Back to
    history" goes, and deleting it from here goes back there; its forms send it on; any other `next` is ignored."""
    analysis = viewable_analysis(current_user, analysis_id, as_admin=True)
    owner = analysis.user_id == current_user.id
    history_back = opened_from() or url_for("analyze.history")
    if analysis.status != JobStatus.DONE:
        return render_template("analyze/progress.html", analysis=analysis, owner=owner, history_back=history_back)
    load_detection_parts(analysis)
    classified = [d for d in analysis.detections if d.top]
    bars = {d.id: horizontal_bars(d.emotions, d.top, full_scale=1.0) for d in classified}
    template = "analyze/video.html" if analysis.media == Media.VIDEO else "analyze/result.html"
    if analysis.media == Media.VIDEO:
        extra = video_extras(analysis, classified)
    else:
        extra = {"explained": {d.id: explanations.status_document(analysis, d) for d in classified},
                 "places": {d.id: place_on_photo(d, analysis.width, analysis.height) for d in analysis.detections},
                 "unsure_comments": {d.id: unsure_comment(tuple(d.why_unsure), d.chance_wrong) for d in classified}}
    assign_forms = {d.id: assign_form(d) for d in analysis.detections} if owner else {}
    dismissed = identity.dismissals(analysis) if owner else {}
    return render_template(template, analysis=analysis, bars=bars, comments=COMMENTS, history_back=history_back,
                           owner=owner, assign_forms=assign_forms, also_assigned=also_assigned(analysis),
                           again=again_state(analysis) if owner else None,
                           suggested=identity.suggestions(analysis) if owner else {},
                           dismissed=dismissed,
                           name_forms={face: name_person_form(face, person) for face, person in dismissed.items()},
                           suggestions_pending=owner and identity.suggestions_pending(analysis),
                           found=found([d.kind for d in analysis.detections]),
                           **extra)


@bp.app_template_global()
def opened_from() -> str | None:
    """The page of the history a result page was opened from: the request's `next` (the page's own, or that of one
    of its forms, which send it on) when it is one, else None."""
    back = came_from_path()
    return back if on_page(back, url_for("analyze.history")) else None


def result_page(analysis_id: int, anchor: str | None = None) -> str:
    """The result page (at `anchor`) that a form of it comes back to, still knowing the page of the history it was
    opened from (`opened_from`)."""
    return url_for("analyze.result", analysis_id=analysis_id, next=opened_from(), _anchor=anchor)


def again_state(analysis: Analysis) -> dict | None:
    """What the owner's page says about analysing the result again: None when it was made by the models in use now;
    else whether it is under way, and why the last try failed (its reason, or None)."""
    if not reanalysis.out_of_date(analysis):
        return None
    job = reanalysis.job_of(analysis)
    active = job is not None and job.status.active
    return {"under_way": active, "failed": job.error if job and job.status == JobStatus.FAILED else None}


@bp.route("/analyses/<int:analysis_id>/again", methods=["GET", "POST"])
@login_required
@form_page(lambda analysis_id: url_for("analyze.result", analysis_id=owned(Analysis, analysis_id, current_user).id))
def analyse_again(analysis_id: int) -> ResponseReturnValue:
    """"Analyse again": the owner's result made by earlier models is analysed again with the models in use now."""
    analysis = owned(Analysis, analysis_id, current_user)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    try:
        job = reanalysis.start(analysis)
    except Conflict as refused:
        flash(say(refused.args[0]), FlashCategory.INFO)
    else:
        if job.status.active:  # else done (the page shows the new result) or failed (the page says why)
            flash(gettext("The file is being analysed again: the new result appears here when it is ready (reload "
                          "the page)."), FlashCategory.INFO)
    return redirect(result_page(analysis.id))


# Where a box is on a photo, by the thirds its centre falls in (rows top to bottom, columns left to right): what tells
# "Face 2" from "Face 3" to someone who does not see the numbered boxes.
PLACES = ((_l("at the top left"), _l("at the top"), _l("at the top right")),
          (_l("on the left"), _l("in the middle"), _l("on the right")),
          (_l("at the bottom left"), _l("at the bottom"), _l("at the bottom right")))


def place_on_photo(detection: Detection, width: int, height: int) -> str:
    """Where the detection's box is on a width x height photo, in words ("at the top left")."""
    column = min(2, max(0, int(3 * (detection.x1 + detection.x2) / 2 / max(width, 1))))
    row = min(2, max(0, int(3 * (detection.y1 + detection.y2) / 2 / max(height, 1))))
    return str(PLACES[row][column])


def unsure_comment(because: tuple[str, ...], chance: float | None) -> str:
    """Why the page calls a reading unsure, in one shape for faces and pets: what made it so (`because`:
    UnsureSignal values, a StrEnum equal to their text), and the estimated chance it is wrong; without that figure
    the same sentence without it, and the general sentence for a flagged face stored before its signals were (or a
    track unsure by its figure alone). A figure under one half would contradict "unsure" (a video track is flagged
    when most of its moments were, while its figure is their mean), so the sentence then goes without it."""
    if because not in UNSURE_BECAUSE:
        return str(UNCERTAIN_COMMENT)
    if chance is None or chance < UNSURE_FROM_CHANCE:
        return str(WEAK_WITHOUT_FIGURE if because == (UnsureSignal.WEAK,) else UNCERTAIN_COMMENT)
    return gettext(UNSURE_BECAUSE[because], chance=percent(chance))


def video_extras(analysis: Analysis, classified: list[Detection]) -> dict:
    """What a video's page shows besides its bars: timelines, shares of time, each track's story with its chance
    of a wrong reading (or why it is unsure), the player's overlay data at the time asked for (?t=SECONDS, so
    the frame links work without scripts), and how the readings of tracks set to a dog stand (`frame_readings`)."""
    duration = analysis.duration or 0.0
    seconds = within_video(analysis, request.args.get("t", 0.0, type=seconds_given))
    tracks = player_tracks(analysis.detections)
    step = 1.0 / (analysis.fps_sampled or 1.0)
    tolerance = 0.75 * step
    until = holds_until(tracks, duration, 1.5 * step)
    stories = {d.id: d.story for d in classified}
    chances = {d.id: d.chance_wrong for d in classified}
    return {"timelines": {d.id: timeline_lines(d.timeline or [], duration) for d in classified},
            "share_bars": {d.id: horizontal_bars(d.summary["share"], d.top, full_scale=1.0) for d in classified},
            "stories": stories, "chances": chances,
            "unsure_comments": {d.id: unsure_comment(track_unsure_because(d, stories[d.id]), chances[d.id])
                                for d in classified},
            "player_tracks": tracks, "tolerance": tolerance, "until": until, "seconds": seconds,
            "strip_times": strip_times(duration, sorted(moments_of(tracks))),
            "boxes_now": boxes_at(tracks, seconds, tolerance, until),
            **frame_readings(analysis)}


STRIP_FRAMES = 6  # frames in a video page's strip, at evenly spaced times


def strip_times(duration: float, moments: list[float]) -> list[float]:
    """Up to STRIP_FRAMES evenly spaced times of the clip, each moved to the analysed moment nearest it (`moments`:
    the times of the frames the tracks were read in), none twice: a 1 s clip at 4 frames a second showed one frame
    at 0.17 s and again at 0.33 s. A clip where nothing was seen has no moments: its evenly spaced times."""
    wanted = [duration * i / STRIP_FRAMES for i in range(STRIP_FRAMES)]
    if not moments:
        return wanted
    return sorted({round(min(moments, key=lambda moment: abs(moment - time)), 2) for time in wanted})


def frame_readings(analysis: Analysis) -> dict:
    """For each track its owner set to a dog that waits for the dog model's reading of its frames, how that stands
    (None: not asked for, as for a track set before they were read), by id; and whether any is under way."""
    states = {d.id: track_readings.status(d) for d in analysis.detections if track_readings.wanted(d)}
    under_way = any(state and state["status"].active for state in states.values())
    return {"frame_readings": states, "frames_being_read": under_way}


def track_unsure_because(track: Detection, story: ClipStory) -> tuple[str, ...]:
    """What made an unsure track unsure: what made most of its flagged frames so; a weak reading when the emotions
    told were under the wording threshold; else nothing to name (its frames' mean chance alone reached one half)."""
    if track.uncertain:
        return tuple(track.unsure_signals or [])
    return (UnsureSignal.WEAK,) if reading_certainty(story.confidence, flagged=False) == Certainty.UNSURE else ()


def player_tracks(tracks: list[Detection]) -> list[dict]:
    """Each track's title ("Face 1", "Face 1 (Ana)"), its label on the video (`box_tag`) and its box and top
    emotion at each analysed moment:
    [t, x1, y1, x2, y2, emotion, percent, certainty] (emotion, percent and certainty None without a model; the
    top emotion's whole percent as pages show it, which its certainty words: a probability rounded again in the
    browser read 0.7949 as "probably happy (80%)"; certainty, a Certainty value, as a photo's page words a reading:
    "unsure" when that frame's face reading was flagged or its top emotion is under 50%, "probably" under 80%, else
    "sure"), for the player's overlay (static/player.js reads it from the page)."""
    def point(moment: dict) -> list:
        emotions = moment["emotions"]
        top = max(emotions, key=emotions.__getitem__) if emotions else None
        certainty = reading_certainty(emotions[top], moment.get("uncertain")).value if top else None
        return [moment["t"], *moment["box"], top, shown_percent(emotions[top]) if top else None, certainty]
    return [{"title": say(d.title) + (f" ({isolated(d.subject.name)})" if d.subject else ""), "tag": box_tag(d),
             "points": [point(moment) for moment in d.timeline or []]} for d in tracks]


@bp.app_template_global()
def box_tag(detection: Detection) -> str:
    """A box's label on a photo or a video: its subject's name once assigned (at most 12 characters, so neighbouring
    labels stay apart), else its tag (a face's number, an animal's "Dog 1": Detection.tag)."""
    return isolated(shortened(detection.subject.name, 12)) if detection.subject else say(detection.tag)


def holds_until(tracks: list[dict], duration: float, reach: float) -> float:
    """Until when the last moment any track was seen stands for the clip: its end, when that moment lies within
    `reach` of it (a sampling step and up to half a step for the frames' own timing: no later frame was sampled);
    else never past it."""
    last = max((point[0] for track in tracks for point in track["points"]), default=None)
    return duration if last is not None and duration - last <= reach else 0.0


def moments_of(tracks: list[dict]) -> set[float]:
    """The times of the analysed frames the player's tracks were seen in."""
    return {point[0] for track in tracks for point in track["points"]}


def boxes_at(tracks: list[dict], seconds: float, tolerance: float, until: float = 0.0) -> list[dict]:
    """The tracks seen in the analysed frame nearest `seconds` (within `tolerance`, or after the last one up to
    `until`; the earlier of two as near), as the overlay draws them: never boxes from two analysed frames, so none
    of a track that is not in that frame."""
    moments = moments_of(tracks)
    moment = min(moments, key=lambda t: (abs(t - seconds), t), default=None)
    if moment is None or (abs(moment - seconds) > tolerance and not max(moments) == moment < seconds <= until):
        return []
    shown = []
    for track in tracks:
        for t, x1, y1, x2, y2, emotion, whole_percent, certainty in track["points"]:
            if t == moment:
                shown.append({"title": track["title"], "tag": track["tag"], "box": (x1, y1, x2, y2),
                              "emotion": emotion, "percent": whole_percent, "certainty": certainty})
    return shown


@bp.route("/analyses")
@login_required
@deleted_goes_back(Deleted.SUBJECT, "subject")
def history() -> ResponseReturnValue:
    """The user's analyses, newest first, narrowed by the GET form's filters (kept, with a page size asked for, in
    the page links and the form). The form's emotions are the chosen subject's model's (a dog's history offers no
    "disgust"), else those of the models that read the user's photos; an emotion filtered on that they lack stays
    listed, selected, and an empty page says why it is empty."""
    filters = HistoryFilter.from_args(request.args, current_user)
    page = history_page(current_user, request.args.get("page", 1, type=whole_number),
                        request.args.get("per_page", HISTORY_PER_PAGE, type=whole_number), max_per_page=48,
                        filters=filters)
    kept = kept_params(page, filters)
    if page.pages and page.page > page.pages:  # past the end (an old link, a typed number): the last page
        return redirect(url_for("analyze.history", page=page.pages, **kept))
    emotions = subjects.labels_read(current_user, filters.subject)
    unread = filters.emotion if filters.emotion and filters.emotion not in emotions else None
    return render_template("analyze/history.html", page=page, filters=filters, kept=kept,
                           emotions=(*emotions, unread) if unread else emotions, unread_emotion=unread,
                           emotion_lists=_emotion_lists(), subjects=current_user.subjects_by_name,
                           months=_months(filters),
                           name_search_length=NAME_SEARCH_LENGTH)


def _months(filters: HistoryFilter) -> dict[str, date]:
    """The history form's months ("2026-09": its first day), the one asked for among them even when the user has no
    upload in it (an old link, a typed address)."""
    months = {month.strftime("%Y-%m"): month for month in history_months(current_user)}
    if filters.month and filters.month.name not in months:
        months[filters.month.name] = filters.month.first
    return months


def _emotion_lists() -> dict[str, object]:
    """What static/shown-filters.js relists the history form's emotions from when another "Who" is chosen: the
    emotions offered for everyone ("") and for each kind of subject (a subject's option names its kind), and every
    emotion's name in the reader's language."""
    lists = {"": subjects.labels_read(current_user)} | {kind.value: kind.emotion_classes or () for kind in SubjectKind}
    return {"lists": lists, "names": {label: emotion_name(label) for label in ALL_EMOTIONS}}


@bp.app_template_global()
def thumb_focus(analysis: Analysis, shown: Detection | None = None) -> str:
    """Classes that move a thumbnail's crop (a square on a phone, 4:3 wider: style.css `focus-x0` .. `focus-y4`,
    object-position in quarters) onto `shown`, else its largest face or animal, along each side the crop cuts; none
    without one, where the crop keeps a wide video's middle and a tall photo's upper part."""
    if not analysis.detections or not analysis.width or not analysis.height:
        return ""
    shown = shown or max(analysis.detections, key=lambda found: area(found.box))
    steps = {axis: crop_step(centre, length, other) for axis, centre, length, other in (
        ("x", (shown.x1 + shown.x2) / 2, analysis.width, analysis.height),
        ("y", (shown.y1 + shown.y2) / 2, analysis.height, analysis.width))}
    return " ".join(f"focus-{axis}{step}" for axis, step in steps.items() if step is not None)


@bp.app_template_global()
def examples_focus(subject: Subject, analysis_ids: list[int]) -> dict[int, str]:
    """`thumb_focus` of each example of a subject's pattern (its analyses' ids), on the subject's own face or animal:
    the largest one of a photo of two people showed neither whole."""
    appearances = db.session.scalars(db.select(Detection).where(Detection.subject_id == subject.id,
                                                                 Detection.analysis_id.in_(analysis_ids)))
    by_size = sorted(appearances, key=lambda found: area(found.box))
    return {appearance.analysis_id: thumb_focus(appearance.analysis, appearance)  # of two, the larger one
            for appearance in by_size}


def crop_step(centre: float, length: int, other: int) -> int | None:
    """The object-position, in quarters (0 .. 4), that puts `centre` (pixels along a side `length` long) as near the
    middle of a square crop of the picture (its other side `other` long) as the picture allows; None when the crop
    cuts nothing along this side."""
    if length <= other:
        return None
    shift = (centre - other / 2) / (length - other)
    return round(4 * min(1.0, max(0.0, shift)))


def kept_params(page: Pagination, filters: HistoryFilter) -> dict[str, str | int]:
    """What a link to another page of this history keeps: its filters, and its page size unless the usual one."""
    size = {} if page.per_page == HISTORY_PER_PAGE else {"per_page": page.per_page}
    return {**filters.params(), **size}


def face_page(detection: Detection) -> str:
    """The detection's card on its result page (its "Who is this?" form, its "Why?"), the page still knowing the page
    of the history it was opened from."""
    return result_page(detection.analysis_id, f"face-{detection.position}")


def own_face_page(detection_id: int) -> str:
    """`face_page` of one of the user's own detections (NotFound for anyone else's)."""
    return face_page(owned_detection(detection_id, current_user))


def card_view(view: View) -> View:
    """A view of one detection's card (`detection_id`): for a signed-in user; the card of an upload they deleted in
    this session goes where that deletion went, and one an administrator removed says so."""
    return login_required(card_of_a_deleted_analysis(removed_says_so(view)))


def card_form(view: View) -> View:
    """`card_view` of the address a card's form posts to: a GET of it goes to the card (`form_page`)."""
    return card_view(form_page(own_face_page)(view))


@bp.route("/detections/<int:detection_id>/subject", methods=["GET", "POST"])
@card_form
def assign_subject(detection_id: int) -> ResponseReturnValue:
    """Assign a face (or a whole video track) to one of the user's subjects of its kind, or clear it (0). A subject
    that is not the user's (deleted in another tab since the page was shown; someone else's is answered alike, so no
    id tells whether it exists) goes back to the face's card with a word of why, and the list as it is now; any
    other choice not offered (one of the user's subjects of another kind) is a 400."""
    detection = owned_detection(detection_id, current_user)
    form = assign_form(detection)
    if not form.validate_on_submit():  # among the choices: only subjects of the detection's kind
        if not _chose_a_deleted_subject(form):
            abort(400, description=gettext("Choose one of your subjects of this kind, or nobody."))
        flash(gettext("That person or pet is no longer among yours (deleted in another tab?): choose again."),
              assigned_category(detection, refused=True))
        return redirect(face_page(detection), 303)
    flash(assignment_saved(detection, subjects.assign(detection, form.subject.data or None)),
          assigned_category(detection))
    return redirect(face_page(detection))


def _chose_a_deleted_subject(form: AssignForm) -> bool:
    """Whether the form was sent (its CSRF token right) for a subject id that none of the user's subjects has (any
    more: another user's answers alike, so that no id tells whether someone else has it)."""
    chosen = row_id(form.subject.raw_data[0]) if form.is_submitted() and form.subject.raw_data else None
    if chosen is None or form.errors.get("csrf_token"):
        return False
    subject = db.session.get(Subject, chosen)
    return subject is None or subject.user_id != current_user.id


def assignment_saved(detection: Detection, subject: Subject | None) -> str:
    """What "Save" (or a name on "Who is this?") did: whom the face now is, then whether it counts (an unsure
    reading is left out of the charts and insights, so saying it "counts" would promise what the dashboard then does
    not show); both start alike, "Saved: Dog 1 is Rex"."""
    face = say(detection.title)
    if subject is None:
        return gettext("%(face)s is no longer assigned to a subject.", face=face)
    name = set_apart(subject.name)
    if detection.top and detection.unsure:
        return gettext("Saved: %(face)s is %(name)s. Its reading is unsure, so %(name)s's charts and insights "
                       "leave it out.", face=face, name=name)
    return gettext("Saved: %(face)s is %(name)s, and counts in %(name)s's history.", face=face, name=name)


for flash_helper in (assigned_detection, flash_style, flash_role):  # the pages' flashed messages (web/flashes.py)
    bp.add_app_template_global(flash_helper)
bp.add_app_template_global(tag_width)  # face_boxes: the rectangle behind a box's tag


@bp.app_template_global()
def subject_kind_of(detection_kind: DetectionKind) -> str:
    """The kind of subject a detection can be assigned to ("Add a person or pet" from a dog's card adds a dog)."""
    return SubjectKind.of_detection(detection_kind).value


@bp.app_template_global()
@bp.app_template_test()
def has_emotion_model(detection_kind: DetectionKind) -> bool:
    """Whether detections of this kind are read by an emotion model (cats: not yet)."""
    return detection_kind in EMOTION_CLASSES


ALSO_ASSIGNED = {Media.VIDEO: N_("%(name)s is also %(others)s in this video."),
                 Media.IMAGE: N_("%(name)s is also %(others)s in this photo.")}


def also_assigned(analysis: Analysis) -> dict[int, str]:
    """For each detection whose subject other detections of the analysis have too, a note that says so: "Snowy is
    also Dog 1 in this video." (allowed, since a tracker may split one dog into two tracks; but two different dogs
    given one name is a slip the owner should see)."""
    groups: dict[int, list[Detection]] = {}
    for detection in analysis.detections:
        if detection.subject is not None:
            groups.setdefault(detection.subject_id, []).append(detection)
    return {detection.id: also_note(detection, [other for other in group if other is not detection], analysis.media)
            for group in groups.values() if len(group) > 1 for detection in group}


def also_note(detection: Detection, others: list[Detection], media: Media) -> str:
    titles = format_list([say(other.title) for other in others], locale=str(get_locale() or "en"))
    return gettext(ALSO_ASSIGNED[media], name=set_apart(detection.subject.name), others=titles)


def assign_form(detection: Detection) -> AssignForm:
    """"Who is this?", offering only the owner's subjects of the detection's kind."""
    form = AssignForm(prefix=f"d{detection.id}", subject=detection.subject_id or 0)
    form.subject.choices = [SelectChoice(0, gettext("Nobody in particular"))] + [
        SelectChoice(subject.id, f"{set_apart(subject.name)} ({kind(subject.kind)})")
        for subject in subjects.assignable_subjects(detection)
    ]
    return form


def person_choices(left_out: Subject | None = None) -> list[SelectChoice]:
    """"Someone new (type the name)" (0), then the user's people but `left_out` (the one they said a face is not)."""
    return [SelectChoice(0, gettext("Someone new (type the name)"))] + [
        SelectChoice(subject.id, subject.name) for subject in current_user.subjects_by_name
        if subject.kind == SubjectKind.PERSON and subject != left_out]


def name_person_form(detection_id: int, not_person: Subject | None) -> NamePersonForm:
    """"Who is this?" on a face's card after "No" to `not_person`: another of the user's people, or a new one."""
    form = NamePersonForm(prefix=f"d{detection_id}")
    form.subject.choices = person_choices(not_person)
    return form


@bp.route("/analyses/<int:analysis_id>/delete", methods=["GET", "POST"])
@login_required
@deleted_goes_back(Deleted.ANALYSIS, "analysis_id")
@removed_says_so
def delete(analysis_id: int) -> ResponseReturnValue:
    """GET asks first (a page, so it works without scripts); POST deletes. ?next=PATH (same-site only; the form
    sends it on) is the page the user came from: "Keep it" goes back there, and deleting goes back to it when it is
    a page of the history (its filters and page kept), or to the page of the history a result page came from, else
    to the history."""
    analysis = owned(Analysis, analysis_id, current_user)
    came_from = came_from_path()
    if request.method != "POST":  # GET, and HEAD with it
        return confirm_page(
            gettext("Delete %(name)s?", name=analysis.original_name),
            [gettext("The upload, its result and its heat maps are deleted for good."),
             gettext("The faces and animals in it no longer count in anyone's dashboard or weekly report.")],
            url_for("analyze.delete", analysis_id=analysis.id), gettext("Delete this analysis"),
            came_from or url_for("analyze.result", analysis_id=analysis.id), came_from)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    delete_analysis(analysis)
    back = history_place(came_from)
    remember_deleted(Deleted.ANALYSIS, analysis_id, back)
    flash(gettext("The analysis and its files were deleted."), FlashCategory.SUCCESS)
    return redirect(back)


def history_place(path: str | None) -> str:
    """`path` if it is a page of the history (a filtered one, page 3: the history sends a page now past the end to
    the last one); else the page of the history that `path` was opened from (a result page's `next`); else the
    history's first page."""
    history = url_for("analyze.history")
    return path if on_page(path, history) else place_on(next_of(path), history)


NO_THUMBNAIL_YET = N_("This video's thumbnail is made once its analysis is done: ask again then.")


@bp.route("/analyses/<int:analysis_id>/<any(original, thumb):variant>")
@session_or_token
@removed_says_so
def media_file(analysis_id: int, variant: str) -> ResponseReturnValue:
    """The uploaded file or its thumbnail, only for its owner (or an admin)."""
    analysis = api_viewable(analysis_id)
    name, mimetype = ((analysis.stored_name, MIME_TYPES[analysis.format]) if variant == "original"
                      else (analysis.thumb_name, "image/jpeg"))
    if not name:  # a video still queued or running has no thumbnail yet
        abort(404, description=NO_THUMBNAIL_YET)
    path = storage.upload_path(name)
    if not path.is_file():
        abort(404)
    response = _private_file(send_file(path, mimetype=mimetype, max_age=0, conditional=True))
    if variant == "original":  # "Save image as" offers the name it was uploaded under, not "original"
        saved = analysis.original_name + type_ending(analysis.original_name, analysis.stored_name)
        response.headers.set("Content-Disposition", "inline", **download_names(saved))
    return response


def explained_face_page(analysis_id: int, position: int) -> str:
    """The card of detection `position` on a result page the user may view (NotFound otherwise, and for a
    detection the analysis does not have)."""
    detection = detection_at(viewable_analysis(current_user, analysis_id, as_admin=True), position)
    return url_for("analyze.result", analysis_id=analysis_id, _anchor=f"face-{detection.position}")


@bp.route("/analyses/<int:analysis_id>/detections/<int:position>/explain", methods=["GET", "POST"])
@login_required
@deleted_goes_back(Deleted.ANALYSIS, "analysis_id")
@removed_says_so
@form_page(explained_face_page)
def explain(analysis_id: int, position: int) -> ResponseReturnValue:
    """Start the "Why?" explanation (the form's fallback when scripts are off; the page's script uses the API);
    an admin may explain anyone's result, which changes nothing of the owner's."""
    if not ConfirmForm().validate_on_submit():
        abort(400)
    analysis = viewable_analysis(current_user, analysis_id, as_admin=True)
    explanations.start(analysis, explanations.explainable_detection(analysis, position), current_user)
    flash(gettext("The explanation is being computed: it appears here in a few seconds (reload the page)."),
          FlashCategory.INFO)
    return redirect(result_page(analysis.id, f"face-{position}"))


@bp.route("/analyses/<int:analysis_id>/detections/<int:position>/explanation/<any(occlusion, grad_cam):method>.png")
@session_or_token
@removed_says_so
def explanation_image(analysis_id: int, position: int, method: str) -> ResponseReturnValue:
    analysis = api_viewable(analysis_id)
    detection = explanations.explainable_detection(analysis, position)
    path = storage.explanation_paths(analysis.stored_name, detection.position)[method]
    if not path.is_file():
        abort(404)
    return _private_file(send_file(path, mimetype="image/png", max_age=0, conditional=True))


@bp.route("/analyses/<int:analysis_id>/detections/<int:position>/crop.jpg")
@session_or_token
@removed_says_so
@decode_limit
def detection_crop(analysis_id: int, position: int) -> ResponseReturnValue:
    """One detection's box cut out of the photo (or a video's poster frame), e.g. a cat's appearance."""
    analysis = api_viewable(analysis_id)
    jpeg = detection_crop_jpeg(analysis, detection_at(analysis, position), g.api_user)
    return _private_file(send_file(io.BytesIO(jpeg), mimetype="image/jpeg"))


@bp.route("/analyses/<int:analysis_id>/frame")
@session_or_token
@removed_says_so
@decode_limit
def video_frame(analysis_id: int) -> ResponseReturnValue:
    """The video frame at ?t=SECONDS as a JPEG (for the scrubber and the thumbnails strip); a time past the end
    gives the last frame."""
    analysis = api_viewable(analysis_id)
    if analysis.media != Media.VIDEO:
        abort(404, description=NO_FRAMES)
    jpeg = video_frame_jpeg(analysis, frame_time(), g.api_user)
    response = send_file(io.BytesIO(jpeg), mimetype="image/jpeg")
    return _private_file(response)


NO_FRAMES = N_("This analysis is of a photo, which has no frames: only a video's frames are at this address.")
NOT_A_TIME = N_("t is the time of the frame in seconds from the video's start: a number from 0 on, such as t=1.5.")


NUMBER = re.compile(r"-?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][-+]?[0-9]+)?")  # 1.5, 2, .5, 1e3: in ASCII digits


def frame_time() -> float:
    """The ?t=SECONDS a frame is asked at (0 without one); a 400 for one that is not a finite number from 0 on
    (text, NaN, infinity, negative); a time past the end is left for video_frame_jpeg to clamp."""
    text = request.args.get("t")
    if text is None:
        return 0.0
    try:
        seconds = seconds_given(text)
    except ValueError:
        seconds = math.nan
    if not math.isfinite(seconds) or seconds < 0:
        abort(400, description=NOT_A_TIME)
    return seconds


def seconds_given(text: str) -> float:
    """`text` as a number of seconds in ASCII digits (1.5, 2, .5, 1e3), for `request.args.get(..., type=)`:
    ValueError otherwise; float() also reads "٣", "1_0", " 3" and "nan"."""
    if not NUMBER.fullmatch(text):
        raise ValueError(f"not a number: {text[:20]!r}")
    return float(text)


def _private_file(response: Response) -> Response:
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Disposition"] = "inline"
    response.headers["Cache-Control"] = "private, max-age=3600"
    return response

