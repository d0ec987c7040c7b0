"""Face recognition, privately and on request: the setting that turns it on or off, "no" to a "Looks like Ana"
suggestion, its undo and who the face is instead (another person, or a new one named on its card), and naming a group
of look-alike unnamed faces in one step ("yes" goes through the ordinary assignment form of web/analyze.py, whose
"Nobody in particular" takes it back, as it does a named face)."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext, ngettext
from flask_login import current_user, login_required

from inference.labels import DetectionKind
from models import Detection, Subject
from services import identity
from services.access import owned, owned_detection
from services.errors import Refused
from web.analyze import assignment_saved, card_form, face_page, name_person_form, person_choices
from web.forms import NameGroupForm, NamePersonForm, NotThisPersonForm, RecognitionForm
from web.i18n import say, set_apart
from web.redirects import form_page
from web.flashes import FlashCategory, assigned_category

bp = Blueprint("identity", __name__)


@bp.route("/settings/faces", methods=["GET", "POST"])
@login_required
def settings() -> ResponseReturnValue:
    form = RecognitionForm(recognize_faces=current_user.recognize_faces)
    if form.validate_on_submit():
        was_on = current_user.recognize_faces
        identity.set_recognition(current_user, form.recognize_faces.data)
        flash(_recognition_saved(was_on, current_user.recognize_faces), FlashCategory.SUCCESS)
        return redirect(url_for("identity.settings"))
    return render_template("identity/settings.html", form=form), 400 if form.errors else 200


def _recognition_saved(was_on: bool, is_on: bool) -> str:
    """What saving the face-recognition setting did (saving it unchanged deletes nothing and signs nothing)."""
    if is_on:
        return gettext("Face recognition is on: your photos' faces are being signed in the background.") \
            if not was_on else gettext("Face recognition stays on.")
    return gettext("Face recognition is off: every face signature was deleted.") if was_on \
        else gettext("Face recognition stays off: no face signature is kept.")


@bp.route("/detections/<int:detection_id>/suggestion/no", methods=["GET", "POST"])
@card_form
def not_this_person(detection_id: int) -> ResponseReturnValue:
    detection, person = _answered(detection_id)
    identity.dismiss(detection, person)
    flash(gettext("Noted: we will not suggest %(name)s for this face again.", name=set_apart(person.name)),
          assigned_category(detection))
    return redirect(face_page(detection))


@bp.route("/detections/<int:detection_id>/suggestion/no/undo", methods=["GET", "POST"])
@card_form
def undo_not_this_person(detection_id: int) -> ResponseReturnValue:
    """Take a "No" back: that person may be suggested for this face again."""
    detection, person = _answered(detection_id)
    if identity.take_back_dismissal(detection, person):
        said = gettext("Undone: %(name)s may be suggested for this face again.", name=set_apart(person.name))
    else:  # undone already (another tab), or "No" said to someone else since
        said = gettext("There is no “No” to %(name)s on this face to undo.", name=set_apart(person.name))
    flash(said, assigned_category(detection))
    return redirect(face_page(detection))


def _answered(detection_id: int) -> tuple[Detection, Subject]:
    """The user's face and the person that a "No" (or its undo) names; 400 for a form that names none."""
    detection = owned_detection(detection_id, current_user)
    form = NotThisPersonForm()
    if not form.validate_on_submit():
        abort(400)
    return detection, owned(Subject, form.subject.data, current_user)


@bp.route("/detections/<int:detection_id>/person", methods=["GET", "POST"])
@card_form
def name_face(detection_id: int) -> ResponseReturnValue:
    """Who a face is after "No" to a suggestion, said on its card: another of the user's people, or a new person
    named there (never the one they said it is not)."""
    detection = owned_detection(detection_id, current_user)
    if detection.kind != DetectionKind.HUMAN:
        abort(400, description=gettext("Only a person's face is named here."))
    not_person = identity.dismissals(detection.analysis).get(detection.id)
    form = name_person_form(detection.id, not_person)
    if not form.validate_on_submit():
        abort(400, description=gettext("Choose one of your people or type a new name."))
    try:
        person = _chosen_person(form)
    except Refused as refused:
        flash(gettext("%(reason)s Choose one of your people or type a new name.", reason=say(refused.args[0])),
              assigned_category(detection, refused=True))
        return redirect(face_page(detection))
    if identity.name_faces([detection], person):
        flash(assignment_saved(detection, person), assigned_category(detection))
    else:
        flash(gettext("You said this is not %(name)s: choose someone else, or undo your “No”.",
                      name=set_apart(person.name)), assigned_category(detection, refused=True))
    return redirect(face_page(detection))


def _chosen_person(form: NamePersonForm) -> Subject:
    """The person the form chose, or the one its typed name names (created if new). Raises Refused."""
    if form.subject.data:
        return owned(Subject, form.subject.data, current_user)
    return identity.person_named(current_user, form.name.data or "")


def name_group_form(group: identity.UnnamedGroup | None = None) -> NameGroupForm:
    """The form that names a group of faces (a ticked checkbox per face, drawn by the page; the person they look
    like is chosen already)."""
    if group is None:
        form = NameGroupForm()
    else:
        form = NameGroupForm(subject=group.suggestion.subject.id if group.suggestion else 0)
    form.subject.choices = person_choices()
    return form


@bp.route("/subjects/groups", methods=["GET", "POST"])
@login_required
@form_page(lambda: url_for("dashboard.subjects"))
def name_group() -> ResponseReturnValue:
    form = name_group_form()
    if not form.validate_on_submit():
        abort(400)
    if not form.faces.data:
        flash(gettext("Tick the faces to name."), FlashCategory.ERROR)
        return redirect(url_for("dashboard.subjects"))
    faces = identity.unassigned_faces(current_user, form.faces.data)
    if not faces:
        flash(gettext("These faces are already named."), FlashCategory.INFO)
        return redirect(url_for("dashboard.subjects"))
    try:
        person = _chosen_person(form)
        named = identity.name_faces(faces, person)
    except Refused as refused:
        flash(gettext("%(reason)s Choose one of your people or type a new name.", reason=say(refused.args[0])),
              FlashCategory.ERROR)
        return redirect(url_for("dashboard.subjects"))
    _flash_named(len(named), len(faces) - len(named), person)
    unticked = identity.unassigned_faces(current_user, sorted(set(form.shown.data) - set(form.faces.data)))
    if said_not := identity.dismiss_faces(unticked, person):
        flash(ngettext("%(num)d face you unticked will not be suggested as %(name)s.",
                       "%(num)d faces you unticked will not be suggested as %(name)s.", said_not,
                       name=set_apart(person.name)), FlashCategory.INFO)
    return redirect(url_for("dashboard.subjects"))


def _flash_named(named: int, refused: int, person: Subject) -> None:
    """How many faces now count as the person, and how many were left unnamed: those the user said are not them."""
    if named:
        flash(ngettext("%(num)d face now counts in %(name)s's history.",
                       "%(num)d faces now count in %(name)s's history.", named, name=set_apart(person.name)),
              FlashCategory.SUCCESS)
    if refused:
        flash(ngettext("%(num)d face was left unnamed: you said it is not %(name)s.",
                       "%(num)d faces were left unnamed: you said they are not %(name)s.", refused,
                       name=set_apart(person.name)), FlashCategory.INFO)
