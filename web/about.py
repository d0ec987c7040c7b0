"""The "About the models" page: what each model was trained on and how often it is right, in plain words
(the figures come from the model cards in inference/weights/README.md)."""

from __future__ import annotations

from flask import Blueprint, render_template

bp = Blueprint("about", __name__)


@bp.route("/about")
def index():
    return render_template("about.html")
