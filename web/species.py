"""A pet's species set by its owner: "Not a dog? Mark it as a cat" on a dog's (or cat's) card asks first, on a page that
says what changes (it works without scripts), then sets it (services/species.py) and goes back to the card, where a
line says what was done. The page's form names the species it asked about, so a second page left open on the same
pet (or a form sent twice) cannot turn it back. A video's track set to a dog is read in its frames by a job; its card
says how that stands, and offers to try again when it failed."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext
from flask_login import current_user

from models import EMOTION_CLASSES, Analysis, Detection, Media, Subject
from services import species, track_readings
from services.errors import Conflict
from services.access import owned_detection
from web.analyze import card_form, card_view, face_page, opened_from
from web.forms import ConfirmForm, confirm_page
from web.i18n import kind, say, set_apart
from web.flashes import assigned_category

bp = Blueprint("species", __name__)
bp.add_app_template_global(species.other_species)  # the cards' "Not a dog? Mark it as a cat"


@bp.route("/detections/<int:detection_id>/species", methods=["GET", "POST"])
@card_view
def set_species(detection_id: int) -> ResponseReturnValue:
    """GET asks first (what changes; a face's: its card); POST makes the user's dog a cat, or cat a dog (?species=, as
    the page that asked named it), and goes back to its card."""
    detection = owned_detection(detection_id, current_user)
    if request.method != "POST" and species.other_species(detection) is None:
        return redirect(face_page(detection))  # a face has no species to set: its card, as a form's address answers
    other = species.species_to_set(detection)
    if request.method != "POST":  # GET, and HEAD with it
        question = gettext("Is %(face)s a %(kind)s?", face=say(detection.title), kind=kind(other))
        return confirm_page(question, consequences(detection, other),
                            url_for("species.set_species", detection_id=detection.id, analysis=detection.analysis_id,
                                    species=other),
                            gettext("Yes, it is a %(kind)s", kind=kind(other)), face_page(detection), opened_from(),
                            cancel_label=gettext("No, it is a %(kind)s", kind=kind(detection.kind)), undoable=True)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    wanted = request.args.get("species")
    if wanted == detection.kind:  # the change was made meanwhile (another page on the same pet, a form sent twice)
        flash(gettext("%(face)s is already a %(kind)s.", face=say(detection.title), kind=kind(wanted)),
              assigned_category(detection))
        return redirect(face_page(detection))
    titles = titles_of(detection.analysis)
    left = species.set_species(detection, wanted)
    flash(species_saved(titles, detection, left), assigned_category(detection))
    return redirect(face_page(detection))


@bp.route("/detections/<int:detection_id>/reading", methods=["GET", "POST"])
@card_form
def read_track(detection_id: int) -> ResponseReturnValue:
    """"Read it" / "Try again" on the card of a video's track its owner set to a dog: its frames read by the dog model
    (services/track_readings.py), and back to its card."""
    detection = owned_detection(detection_id, current_user)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    try:
        track_readings.ask(detection)
    except Conflict as refused:
        flash(say(refused.args[0]), assigned_category(detection, refused=True))
    return redirect(face_page(detection))


def consequences(detection: Detection, other: str) -> list[str]:
    """What setting the species does to this detection, for the page that asks first."""
    said = [gettext("It is a %(kind)s in this result, your history, your dashboards and the exports.",
                    kind=kind(other))]
    if detection.top is not None and detection.kind_read == other:  # back to the models' species
        said.append(gettext("The emotions the %(model)s model read are removed.", model=kind(detection.kind)))
    elif detection.top is not None:
        said.append(gettext("The emotions the %(model)s model read are removed: it read the wrong animal.",
                            model=kind(detection.kind)))
    said.append(reading_to_come(detection, other))
    subject = detection.subject
    if subject is not None and subject.kind.detection_kind != other:
        said.append(gettext("It is no longer assigned to %(name)s, who is a %(kind)s.", name=set_apart(subject.name),
                            kind=kind(subject.kind)))
    return said


def reading_to_come(detection: Detection, other: str) -> str:
    """What it will be read as: the models' reading again, the other species' model on a photo, or nothing."""
    if detection.kind_read == other:
        return gettext("The reading the models made when they read it as a %(kind)s comes back.", kind=kind(other))
    if other not in EMOTION_CLASSES:
        return gettext("There is no emotion model for cats yet, so it has no emotions.")
    if detection.analysis.media == Media.VIDEO:
        return gettext("The %(model)s model reads it in each of the video’s frames instead; this takes a little while.",
                       model=kind(other))
    return gettext("The %(model)s model reads it instead.", model=kind(other))


def titles_of(analysis: Analysis) -> dict[int, str]:
    """Each of its detections' title now ("Cat 1"), by id: numbers within a kind change when one changes kind."""
    return {found.id: say(found.title) for found in analysis.detections}


def species_saved(titles: dict[int, str], detection: Detection, left_subject: Subject | None) -> str:
    """What was done: "Saved: Dog 1 is now Cat 1.", the other pets it renumbered ("Cat 1 is now Cat 2.") and the
    subject it left."""
    said = [gettext("Saved: %(was)s is now %(face)s.", was=titles[detection.id], face=say(detection.title))]
    said += [gettext("%(was)s is now %(face)s.", was=titles[found.id], face=say(found.title))
             for found in detection.analysis.detections
             if found is not detection and titles[found.id] != say(found.title)]
    if left_subject is not None:
        said.append(gettext("It is no longer assigned to %(name)s.", name=set_apart(left_subject.name)))
    return " ".join(said)
