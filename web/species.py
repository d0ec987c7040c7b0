"""A pet's species set by its owner: "Not a dog? Mark it as a cat" on a dog's (or cat's) card asks first, on a page that
says what changes (it works without scripts), then sets it (services/species.py) and goes back to the card, where a
line says what was done."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext
from flask_login import current_user, login_required

from models import Detection, Subject, SubjectKind
from services import species
from services.access import owned_detection
from web.analyze import assigned_category, face_page, opened_from
from web.forms import ConfirmForm, confirm_page
from web.i18n import kind, say

bp = Blueprint("species", __name__)
bp.add_app_template_global(species.other_species)  # the cards' "Not a dog? Mark it as a cat"


@bp.route("/detections/<int:detection_id>/species", methods=["GET", "POST"])
@login_required
def set_species(detection_id: int) -> ResponseReturnValue:
    """GET asks first (what changes); POST makes the user's dog a cat, or cat a dog, and goes back to its card."""
    detection = owned_detection(detection_id, current_user)
    other = species.species_to_set(detection)
    if request.method != "POST":  # GET, and HEAD with it
        question = gettext("Is %(face)s a %(kind)s?", face=say(detection.title), kind=kind(other))
        return confirm_page(question, consequences(detection, other),
                            url_for("species.set_species", detection_id=detection.id),
                            gettext("Yes, it is a %(kind)s", kind=kind(other)), face_page(detection), opened_from(),
                            cancel_label=gettext("No, it is a %(kind)s", kind=kind(detection.kind)))
    if not ConfirmForm().validate_on_submit():
        abort(400)
    was = say(detection.title)
    left = species.set_species(detection, other)
    flash(species_saved(was, detection, left), assigned_category(detection))
    return redirect(face_page(detection))


def consequences(detection: Detection, other: str) -> list[str]:
    """What setting the species does to this detection, for the page that asks first."""
    said = [gettext("It is a %(kind)s in this result, your history, your dashboards and the exports.",
                    kind=kind(other))]
    if detection.top is not None:
        said.append(gettext("The emotions the %(model)s model read are removed: it read the wrong animal.",
                            model=kind(detection.kind)))
    said.append(gettext("There is no emotion model for cats yet, so it has no emotions.") if other == "cat" else
                gettext("It is not read again, so it has no emotions."))
    subject = detection.subject
    if subject is not None and SubjectKind(subject.kind).detection_kind != other:
        said.append(gettext("It is no longer assigned to %(name)s, who is a %(kind)s.", name=subject.name,
                            kind=kind(subject.kind)))
    return said


def species_saved(was: str, detection: Detection, left_subject: Subject | None) -> str:
    """What was done: "Saved: Dog 1 is now Cat 2.", and the subject it left."""
    saved = gettext("Saved: %(was)s is now %(face)s.", was=was, face=say(detection.title))
    if left_subject is None:
        return saved
    return " ".join([saved, gettext("It is no longer assigned to %(name)s.", name=left_subject.name)])
