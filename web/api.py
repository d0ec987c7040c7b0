"""JSON API v1: bearer tokens (HTTP Basic to get one) and analyses."""

from __future__ import annotations

from datetime import timedelta
from functools import wraps

from flask import Blueprint, abort, current_app, g, jsonify, request, url_for
from flask_login import current_user
from flask_wtf.csrf import CSRFError

from extensions import csrf, db
from insights.report import parse_week, weekly_report
from models import Analysis, ApiToken, JobStatus, Subject, User, utcnow
from services import explanations
from services.access import owned
from services.analyses import accept_upload, delete_analysis, history_page
from services.documents import analysis_document, iso_utc
from services.insights import alert_results, history_of, subject_insights
from web.auth import basic_auth_username, login_limits

bp = Blueprint("api", __name__, url_prefix="/api/v1")


def _error(message: str, status: int, **headers: str):
    return jsonify(error=message), status, headers


def _bearer_user() -> User | None:
    header = request.headers.get("Authorization", "")
    scheme, _, plain = header.partition(" ")
    if scheme.lower() != "bearer" or not plain:
        return None
    token = ApiToken.find_valid(plain.strip())
    if token is None:
        abort(401, description="The token is invalid, expired or revoked.")
    g.api_token = token
    return token.user


def api_auth(view):
    """A bearer token, or the browser session (then unsafe methods need the X-CSRFToken header)."""

    @wraps(view)
    def wrapper(*args, **kwargs):
        user = _bearer_user()
        if user is None and current_user.is_authenticated:
            if request.method not in ("GET", "HEAD", "OPTIONS"):
                try:
                    csrf.protect()
                except CSRFError:
                    abort(400, description="Missing or invalid CSRF token (send it as X-CSRFToken).")
            user = current_user._get_current_object()
        if user is None:
            abort(401, description="Authentication required: send 'Authorization: Bearer <token>'.")
        g.api_user = user
        return view(*args, **kwargs)

    return wrapper


@bp.post("/tokens")
@login_limits(basic_auth_username)
def create_token():
    """Exchange HTTP Basic credentials for a bearer token (shown once; only its hash is stored)."""
    credentials = request.authorization
    user = None
    if credentials and credentials.type == "basic" and credentials.username:
        user = User.authenticate(credentials.username, credentials.password or "")
    if user is None or not user.active:
        return _error("Invalid username or password.", 401, **{"WWW-Authenticate": 'Basic realm="moodlens"'})
    token, plain = ApiToken.issue(user, timedelta(days=current_app.config["API_TOKEN_DAYS"]))
    db.session.add(token)
    db.session.commit()
    return jsonify(token=plain, token_type="Bearer", expires_at=iso_utc(token.expires_at)), 201


@bp.delete("/tokens/current")
@api_auth
def revoke_token():
    token = g.get("api_token")
    if token is None:
        abort(400, description="Only a bearer token can be revoked.")
    token.revoked = True
    db.session.commit()
    return "", 204


@bp.post("/analyses")
@api_auth
def create_analysis():
    upload = request.files.get("file")
    if upload is None:
        return _error("No file: send the photo as multipart field 'file'.", 400)
    analysis = accept_upload(g.api_user, upload)  # a MediaError is answered by web/errors.py
    response = jsonify(analysis_document(analysis))
    response.status_code = 201 if analysis.status == JobStatus.DONE else 202
    response.headers["Location"] = url_for("api.get_analysis", analysis_id=analysis.id)
    return response


@bp.get("/analyses")
@api_auth
def list_analyses():
    page = history_page(g.api_user, request.args.get("page", 1, type=int),
                        request.args.get("per_page", 20, type=int), max_per_page=100)
    return jsonify(items=[analysis_document(a) for a in page.items], page=page.page, per_page=page.per_page,
                   total=page.total, pages=page.pages)


@bp.get("/analyses/<int:analysis_id>")
@api_auth
def get_analysis(analysis_id: int):
    return jsonify(analysis_document(owned(Analysis, analysis_id, g.api_user)))


@bp.delete("/analyses/<int:analysis_id>")
@api_auth
def remove_analysis(analysis_id: int):
    delete_analysis(owned(Analysis, analysis_id, g.api_user))
    return "", 204


@bp.route("/analyses/<int:analysis_id>/detections/<int:position>/explanation", methods=["GET", "POST"])
@api_auth
def explanation(analysis_id: int, position: int):
    """GET: the explanation's status (and its images once done); POST: start it unless cached or under way."""
    analysis = owned(Analysis, analysis_id, g.api_user)
    detection = explanations.explainable_detection(analysis, position)
    if request.method == "POST":
        explanations.start(analysis, detection)
    document = explanations.status_document(analysis, detection)
    return jsonify(document), 202 if document["status"] in (JobStatus.QUEUED, JobStatus.RUNNING) else 200


@bp.get("/subjects/<int:subject_id>/insights")
@api_auth
def insights(subject_id: int):
    """A subject's profile, patterns and changes (each with `enough` and what it needs when data is short)."""
    subject = owned(Subject, subject_id, g.api_user)
    history = history_of(subject)
    alerts = [{"id": rule.id, "emotion": rule.emotion, "share": rule.share, "days": rule.days, **result}
              for rule, result in alert_results([subject])]
    last_week = weekly_report(history, parse_week(None, utcnow().date())) if history is not None else None
    return jsonify({**subject_insights(subject), "alerts": alerts, "weekly_report": last_week})
