"""JSON API v1: bearer tokens (HTTP Basic to get one), analyses, subjects and their appearances, insights."""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Callable
from functools import wraps

from flask import Blueprint, Response, abort, current_app, g, jsonify, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user
from flask_wtf.csrf import CSRFError

import jobs
from extensions import csrf
from models import ACTIVE_STATUSES, AlertRule, Analysis, JobStatus, Subject, SubjectKind, User
from services import explanations, identity, reanalysis, species, subjects, tokens, track_readings
from services.access import detection_at, owned
from services.analyses import MAX_PAGE, HistoryFilter, accept_upload, delete_analysis, history_page
from services.clock import zone_of
from services.documents import (alert_rule_document, analysis_document, found_document, reanalysis_document,
                                subject_document, token_document)
from services.insights import add_alert, alert_results, asked_week, remove_alert, report_of, subject_insights
from web.analyze import upload_limit
from web.auth import api_viewable, basic_auth_username, basic_credentials, bearer_challenge, bearer_user
from web.errors import referrer_missing
from web.login_limits import login_limits, password_checked
from web.notices import deactivated_message, removed_says_so

bp = Blueprint("api", __name__, url_prefix="/api/v1")
REFERRER_NEEDED = ("Over HTTPS a request signed in by the browser session needs a Referer header naming this site "
                   "(browsers send one; a script sends it, or uses a token).")
MAX_JSON_KB = 64  # a JSON body's size at most: a name, a kind, an emotion (the upload limit let 100 MB be parsed)


@bp.before_request
def _json_limit() -> None:
    """A JSON body over MAX_JSON_KB is refused (413) before anything reads it (a session's CSRF check reads the body
    first, under the upload limit); one of unknown length (sent in chunks) is read one byte past that far, and
    refused too if it has that byte (the stream stops at its limit without a word: the JSON would read as cut)."""
    if not request.is_json:
        return
    limit = MAX_JSON_KB * 1024
    request.max_content_length = limit + 1
    if (request.content_length or 0) > limit or (
            request.content_length is None and len(request.get_data(cache=True)) > limit):
        abort(413, description=f"A JSON body is at most {MAX_JSON_KB} KB.")


@bp.before_request
def _options() -> Response | None:
    """OPTIONS: 204 with the methods the address takes in `Allow` (Flask's own answer is a 200 with an empty HTML
    body, the one place the API answered in HTML)."""
    if request.method != "OPTIONS":
        return None
    response = _no_content()
    response.headers["Allow"] = current_app.make_default_options_response().headers["Allow"]
    return response


def _error(message: str, status: int, **headers: str):
    return jsonify(error=message), status, headers


def _answer(document: dict, status: int, location: str) -> Response:
    """`document` as JSON with `status` and where the thing it is about lives (201 Created, 202 Accepted)."""
    response = jsonify(document)
    response.status_code = status
    response.headers["Location"] = location
    return response


def _work_answer(document: dict) -> Response | tuple[Response, int]:
    """How some work stands (`document["status"]`): 202 while it is queued or running, with Location the address
    to ask again (this one); 200 once it has ended."""
    if document["status"] in ACTIVE_STATUSES:
        return _answer(document, 202, url_for(request.endpoint, **request.view_args))  # under a proxy's prefix too
    return jsonify(document), 200


def _no_content() -> Response:
    """204: done, nothing to send (no body, so no Content-Type either)."""
    response = Response(status=204)
    del response.headers["Content-Type"]
    return response


def api_auth(view: Callable[..., ResponseReturnValue]) -> Callable[..., ResponseReturnValue]:
    """A bearer token, or the browser session (then unsafe methods need the X-CSRFToken header)."""

    @wraps(view)
    def wrapper(*args, **kwargs):
        user = bearer_user()
        if user is None and current_user.is_authenticated:
            if request.method not in ("GET", "HEAD", "OPTIONS"):
                try:
                    csrf.protect()
                except CSRFError as refused:
                    abort(400, description=REFERRER_NEEDED if referrer_missing(refused) else
                          "Missing or invalid CSRF token (send it as X-CSRFToken).")
            user = current_user._get_current_object()
        if user is None:
            abort(401, description="Authentication required: send 'Authorization: Bearer <token>'.",
                  www_authenticate=bearer_challenge())
        g.api_user = user
        return view(*args, **kwargs)

    return wrapper


@bp.post("/tokens")
@login_limits(basic_auth_username)
def create_token() -> ResponseReturnValue:
    """Exchange HTTP Basic credentials for a bearer token (shown once; only its hash is stored)."""
    credentials = basic_credentials()
    challenge = {"WWW-Authenticate": 'Basic realm="moodlens"'}
    if not (credentials and credentials.type == "basic" and credentials.username):
        return _error("No username and password: send them with HTTP Basic authentication (curl -u NAME:PASSWORD); "
                      "a JSON body names the token only.", 401, **challenge)
    user = User.authenticate(credentials.username, credentials.password or "")
    password_checked(user)
    if user is None:
        return _error("Invalid username or password.", 401, **challenge)
    if not user.active:
        return _error(deactivated_message(), 403)
    token, plain = tokens.issue(user, tokens.token_name(_optional_json_object().get("name")))
    return _answer({"token": plain, "token_type": "Bearer", **token_document(token)}, 201,
                   url_for("api.token", token_id=token.id))


def _optional_json_object() -> dict:
    """The request's JSON object; {} when it sends no body (an empty one sent in chunks, or with a JSON
    Content-Type, too). Any other body is a 400, as everywhere else: a form's name=..., or JSON sent without its
    Content-Type, was dropped without a word (a token made unnamed). A body sent in chunks is read no further than
    a JSON body may be (_json_limit); one of known length only when it is JSON."""
    if request.content_length is not None or "Transfer-Encoding" not in request.headers:
        return _json_object() if request.content_length else {}
    request.max_content_length = MAX_JSON_KB * 1024 + 1
    return _json_object() if request.get_data(cache=True) else {}


@bp.get("/tokens")
@api_auth
def list_tokens() -> ResponseReturnValue:
    """The caller's working tokens, newest first (never their hashes); `current` marks the one sent."""
    sent = g.get("api_token")
    return jsonify(items=[{**token_document(token), "current": token is sent}
                          for token in tokens.live_tokens(g.api_user)])


@bp.get("/tokens/<int:token_id>")
@api_auth
def token(token_id: int) -> ResponseReturnValue:
    """One of the caller's working tokens, as the list shows it (404 for any other id, as DELETE)."""
    found = tokens.live_token(g.api_user, token_id)
    return jsonify({**token_document(found), "current": found is g.get("api_token")})


@bp.delete("/tokens/current")
@api_auth
def revoke_token() -> ResponseReturnValue:
    token = g.get("api_token")
    if token is None:
        abort(400, description="Only a bearer token can be revoked.")
    tokens.revoke(token)
    return _no_content()


@bp.delete("/tokens/<int:token_id>")
@api_auth
def revoke_token_by_id(token_id: int) -> ResponseReturnValue:
    """Revoke one of the caller's working tokens (404 for any other id: another user's, revoked, expired)."""
    tokens.revoke(tokens.live_token(g.api_user, token_id))
    return _no_content()


@bp.post("/analyses")
@api_auth
@upload_limit
def create_analysis() -> ResponseReturnValue:
    """A new analysis: 201 for a photo (done), 202 for a video (queued); bytes the user had analysed before: 200
    with that analysis. The answer's `duplicate` says which."""
    uploads = request.files.getlist("file")
    if not uploads:
        return _error("No file: send the photo or video as multipart field 'file'.", 400)
    if len(uploads) > 1:
        return _error(f"{len(uploads)} files in field 'file': send one photo or video per request.", 400)
    upload = uploads[0]
    accepted = accept_upload(g.api_user, upload)  # a MediaError is answered by web/errors.py
    analysis = accepted.analysis
    # the user's earlier analysis of the same bytes, done or not: nothing new was made
    status = 200 if accepted.duplicate else 201 if analysis.status == JobStatus.DONE else 202
    return _answer({**analysis_answer(analysis), "duplicate": accepted.duplicate}, status,
                   url_for("api.get_analysis", analysis_id=analysis.id))


@bp.get("/analyses")
@api_auth
def list_analyses() -> ResponseReturnValue:
    """The user's analyses, newest first, a page at a time; `subject`, `media`, `emotion`, `name` and `month` narrow
    them as the History page's filters do."""
    page = history_page(g.api_user, _whole_number("page", 1, MAX_PAGE), _whole_number("per_page", 20, MAX_PER_PAGE),
                        max_per_page=MAX_PER_PAGE, filters=HistoryFilter.from_args(request.args, g.api_user,
                                                                                    strict=True), whole=True)
    suggest = identity.suggester(g.api_user) if g.api_user.recognize_faces else None
    return jsonify(items=[analysis_document(a, g.api_user, suggest) for a in page.items], page=page.page,
                   per_page=page.per_page, total=page.total, pages=page.pages)


MAX_PER_PAGE = 100


def _whole_number(name: str, default: int, largest: int) -> int:
    """The query's `name` (`default` without it); a 400 for one that is not a whole number from 1 to `largest`, as
    the filters refuse what they do not know (a script's mistake is told, not answered with another page)."""
    text = request.args.get(name)
    if text is None:
        return default
    if not (text.isascii() and text.isdigit() and len(text) <= len(str(largest)) and 1 <= int(text) <= largest):
        abort(400, description=f"{name} is a whole number from 1 to {largest:,}.")
    return int(text)


@bp.get("/analyses/<int:analysis_id>")
@api_auth
@removed_says_so
def get_analysis(analysis_id: int) -> ResponseReturnValue:
    """The analysis (an admin in a browser session may read anyone's, as on the result page; never with a token)."""
    return jsonify(analysis_answer(api_viewable(analysis_id)))


def analysis_answer(analysis: Analysis) -> dict:
    """The analysis as the reader gets it: its owner with `reanalysis` (made by earlier models? analysed again?),
    anyone else (an admin) with null there."""
    owner = analysis.user_id == g.api_user.id
    return {**analysis_document(analysis, g.api_user), "reanalysis": reanalysis_document(analysis) if owner else None}


@bp.route("/analyses/<int:analysis_id>/reanalysis", methods=["GET", "POST"])
@api_auth
@removed_says_so
def reanalyse(analysis_id: int) -> ResponseReturnValue:
    """GET: whether the owner's analysis was made by earlier models and how its re-analysis stands; POST: analyse it
    again with the models in use now (409 when it was made by them). 202 while it is queued or running."""
    analysis = owned(Analysis, analysis_id, g.api_user)
    if request.method == "POST":
        reanalysis.start(analysis)  # a Conflict is answered by web/errors.py
    return _work_answer(reanalysis_document(analysis))  # Location: here (the analysis says "done" meanwhile)


@bp.delete("/analyses/<int:analysis_id>")
@api_auth
@removed_says_so
def remove_analysis(analysis_id: int) -> ResponseReturnValue:
    delete_analysis(owned(Analysis, analysis_id, g.api_user))
    return _no_content()


@bp.route("/analyses/<int:analysis_id>/detections/<int:position>/explanation", methods=["GET", "POST"])
@api_auth
@removed_says_so
def explanation(analysis_id: int, position: int) -> ResponseReturnValue:
    """GET: the explanation's status (and its images once done); POST: start it unless cached or under way (an
    admin may, on anyone's analysis, as on the result page: in a browser session, never with a token)."""
    analysis = api_viewable(analysis_id)
    detection = explanations.explainable_detection(analysis, position)
    if request.method == "POST":
        explanations.start(analysis, detection, g.api_user)
    return _work_answer(explanations.status_document(analysis, detection))


@bp.get("/analyses/<int:analysis_id>/signatures")
@api_auth
@removed_says_so
def signatures(analysis_id: int) -> ResponseReturnValue:
    """How the signing of the owner's analysis's faces stands (face recognition; only the owner may ask)."""
    return jsonify({"status": identity.signature_status(owned(Analysis, analysis_id, g.api_user))})


SEND_AN_OBJECT = "Send a JSON object (Content-Type: application/json)."


class _NotStandardJson(ValueError):
    """What Python's decoder reads and JSON has not: NaN and Infinity, and a number too large for a float (1e400,
    read as infinity)."""


def _refuse_constant(name: str) -> None:
    raise _NotStandardJson(f"{name} is not a JSON number")


def _finite(text: str) -> float:
    number = float(text)
    if not math.isfinite(number):
        raise _NotStandardJson(f"{text[:20]} is too large a number")
    return number


def _json_object() -> dict:
    """The request's JSON body, which must be an object of standard JSON (one over MAX_JSON_KB was refused before:
    `_json_limit`); what makes it unreadable is said."""
    data = request.get_data(cache=True)
    if not request.is_json or not data.strip():
        abort(400, description=SEND_AN_OBJECT)
    try:
        body = json.loads(data, parse_constant=_refuse_constant, parse_float=_finite)
    except (ValueError, RecursionError) as error:
        abort(400, description=f"The body is not JSON this API reads: {_unreadable(error)}.")
    if not isinstance(body, dict):
        abort(400, description=SEND_AN_OBJECT)
    return body


def _unreadable(error: ValueError | RecursionError) -> str:
    """What made a JSON body unreadable, in a client's words."""
    if isinstance(error, json.JSONDecodeError):
        return f"{error.msg} at line {error.lineno}, column {error.colno}"
    if isinstance(error, UnicodeDecodeError):
        return "it is not UTF-8 text"
    if isinstance(error, RecursionError):
        return "it is nested too deep"
    if isinstance(error, _NotStandardJson) or "integer string conversion" not in str(error):
        return str(error)
    return f"a whole number has more than {sys.get_int_max_str_digits()} digits"


@bp.get("/subjects")
@api_auth
def list_subjects() -> ResponseReturnValue:
    counts = subjects.appearance_counts(g.api_user)
    return jsonify(items=[subject_document(subject, counts.get(subject.id, 0))
                          for subject in g.api_user.subjects_by_name])


@bp.post("/subjects")
@api_auth
def create_subject() -> ResponseReturnValue:
    """{"name": ..., "kind": "person" | "dog" | "cat"} (kind defaults to person); 409 for a name in use."""
    body = _json_object()
    subject = subjects.create_subject(g.api_user, body.get("name"), body.get("kind", SubjectKind.PERSON.value))
    return _answer(subject_document(subject, 0), 201, url_for("api.get_subject", subject_id=subject.id))


@bp.get("/subjects/<int:subject_id>")
@api_auth
def get_subject(subject_id: int) -> ResponseReturnValue:
    subject = owned(Subject, subject_id, g.api_user)
    return _subject_answer(subject)


def _subject_answer(subject: Subject) -> ResponseReturnValue:
    """The subject as the API describes it, with its appearances counted."""
    return jsonify(subject_document(subject, subjects.appearance_count(subject)))


@bp.patch("/subjects/<int:subject_id>")
@api_auth
def rename_subject(subject_id: int) -> ResponseReturnValue:
    """{"name": ...}: the subject renamed (its history stays); 409 for a name another subject has."""
    subject = owned(Subject, subject_id, g.api_user)
    body = _json_object()
    if set(body) != {"name"}:  # a "kind" beside the name would otherwise be dropped unsaid
        abort(400, description='Send {"name": ...}: the only field a subject changes is its name.')
    subjects.rename_subject(subject, body["name"])
    return _subject_answer(subject)


@bp.delete("/subjects/<int:subject_id>")
@api_auth
def remove_subject(subject_id: int) -> ResponseReturnValue:
    """Delete the subject and its alerts; its appearances stay, assigned to nobody."""
    subjects.delete_subject(owned(Subject, subject_id, g.api_user))
    return _no_content()


@bp.put("/analyses/<int:analysis_id>/detections/<int:position>/subject")
@api_auth
@removed_says_so
def assign_subject(analysis_id: int, position: int) -> ResponseReturnValue:
    """{"subject": ID or null}: detection POSITION of a photo (a video's track TRACK_ID) becomes an appearance
    of that subject of its kind, or of nobody; answers the detection (or track) as the analysis lists it."""
    analysis = owned(Analysis, analysis_id, g.api_user)
    detection = detection_at(analysis, position)
    body = _json_object()
    subject_id = body.get("subject")
    if "subject" not in body or (subject_id is not None and (isinstance(subject_id, bool)
                                                             or not isinstance(subject_id, int))):
        abort(400, description='"subject" is a subject id or null.')
    subjects.assign(detection, subject_id)
    return jsonify(found_document(detection))


@bp.put("/analyses/<int:analysis_id>/detections/<int:position>/species")
@api_auth
@removed_says_so
def set_species(analysis_id: int, position: int) -> ResponseReturnValue:
    """{"species": "dog" or "cat"}: the owner's word on a pet's species (a cat the models read as a dog, or the other
    way round): detection POSITION of a photo (a video's track TRACK_ID) becomes that species, read by its model (a
    cat has none; a track in its frames, by a job: its `reading_frames`), or, set back, with the models' reading
    again, and leaves a subject of the other (services/species.py); answers the detection (or track) as the analysis
    lists it."""
    analysis = owned(Analysis, analysis_id, g.api_user)
    detection = detection_at(analysis, position)
    body = _json_object()
    if "species" not in body:
        abort(400, description='Send {"species": "dog" or "cat"}.')
    species.set_species(detection, body["species"])
    return jsonify(found_document(detection))


@bp.route("/analyses/<int:analysis_id>/detections/<int:position>/reading", methods=["GET", "POST"])
@api_auth
@removed_says_so
def track_reading(analysis_id: int, position: int) -> ResponseReturnValue:
    """GET: how the reading of the owner's video track TRACK_ID in its frames stands, as the species its owner set
    ({"status": "none"} when none is asked for or it is done); POST: ask for it again (after a failure; 409 for a
    track that waits for none). 202 while it is queued or running."""
    detection = detection_at(owned(Analysis, analysis_id, g.api_user), position)
    if request.method == "POST":
        track_readings.ask(detection)  # a Conflict is answered by web/errors.py
    return _work_answer(track_readings.status(detection) or jobs.standing(None))


def _alerts_of(subject: Subject) -> list[dict]:
    """Each alert rule of the subject (`rule`: its own share and days) with its window now, fired or not (the
    window's share and days, once beside the rule's, had overwritten them)."""
    return [{"rule": alert_rule_document(rule), **result} for rule, result in alert_results([subject])]


@bp.route("/subjects/<int:subject_id>/alerts", methods=["GET", "POST"])
@api_auth
def alerts(subject_id: int) -> ResponseReturnValue:
    """GET: the subject's alert rules, each with its window now; POST {"emotion", "share", "days"}: a new rule (201;
    400 for a cat or a value out of range, 409 for one it has already)."""
    subject = owned(Subject, subject_id, g.api_user)
    if request.method == "POST":
        body = _json_object()
        rule = add_alert(subject, body.get("emotion"), body.get("share"), body.get("days"))
        return _answer(alert_rule_document(rule), 201, url_for("api.alert", rule_id=rule.id))
    return jsonify(items=_alerts_of(subject))


def _owned_rule(rule_id: int) -> AlertRule:
    return owned(AlertRule, rule_id, g.api_user, lambda rule: rule.subject.user_id)


@bp.get("/alerts/<int:rule_id>")
@api_auth
def alert(rule_id: int) -> ResponseReturnValue:
    """One alert rule with its window now, as its subject's list shows it (404 for another user's, or none)."""
    rule = _owned_rule(rule_id)
    found = next((item for item in _alerts_of(rule.subject) if item["rule"]["id"] == rule.id), None)
    if found is None:  # deleted meanwhile by another request
        abort(404, description=f"No alert rule {rule_id}.")
    return jsonify(found)


@bp.delete("/alerts/<int:rule_id>")
@api_auth
def delete_alert(rule_id: int) -> ResponseReturnValue:
    remove_alert(_owned_rule(rule_id))
    return _no_content()


@bp.get("/subjects/<int:subject_id>/insights")
@api_auth
def insights(subject_id: int) -> ResponseReturnValue:
    """A subject's profile, patterns and changes (each with `enough` and what it needs when data is short)."""
    subject = owned(Subject, subject_id, g.api_user)
    asked = asked_week(request.args.get("week"))  # 400 for one that is not a week, even where there is no report
    found = report_of(subject, asked)
    return jsonify({**subject_insights(subject), "alerts": _alerts_of(subject), "weekly_report": found and found[1],
                    "time_zone": zone_of(subject.user).key})  # days, weeks and times of day on the owner's clock
