"""The "About the models" page: what each model was trained on and how often it is right, in plain words; the
figures are read from the model cards and calibration files (inference/model_card.py), so they follow the
models."""

from __future__ import annotations

from flask import Blueprint, render_template
from flask.typing import ResponseReturnValue

from inference.labels import DOG_EMOTIONS, HUMAN_EMOTIONS, PROBABLY_BELOW, UNSURE_BELOW
from inference.model_card import model_figures

bp = Blueprint("about", __name__)


@bp.route("/about")
def index() -> ResponseReturnValue:
    figures = model_figures()
    by_recall = sorted(figures.face_recall, key=figures.face_recall.get, reverse=True)  # easiest first
    return render_template("about.html", figures=figures, by_recall=by_recall, dog_chance=1 / len(DOG_EMOTIONS),
                           face_chance=1 / len(HUMAN_EMOTIONS),
                           unsure_below=UNSURE_BELOW, probably_below=PROBABLY_BELOW)
