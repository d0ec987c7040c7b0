"""Moodlens web application factory: `flask --app app run`. Wiring only: settings (settings.py), extensions,
the job queue with its handlers, blueprints, the back office, the CLI, error pages and security headers."""

from __future__ import annotations

import logging
import os
from pathlib import Path

from flask import Flask, redirect, url_for
from werkzeug.middleware.proxy_fix import ProxyFix

import jobs
import settings
from cli import register_cli
from inference.labels import Certainty, DetectionKind
from insights.history import Direction
from models import JobStatus, Media, OnDemandStatus, SubjectKind
from extensions import csrf, db, init_limiter, keep_connections_per_process, login_manager, migrate
from services.analyses import run_video_job
from services.reanalysis import run_reanalysis_job
from services.explanations import run_explanation_job
from services.identity import run_signature_job
from services.track_readings import run_track_reading_job
from web import about, admin, analyze, api, auth, dashboard, errors, i18n, identity, ids, notices, species
from web.dashboard import Period
from web.flashes import FlashCategory
from web import limiter_storage  # noqa: F401 (its import registers the database:// storage of the rate limits)

JOB_HANDLERS = {jobs.JobKind.ANALYSIS: run_video_job, jobs.JobKind.EXPLANATION: run_explanation_job,
                jobs.JobKind.REANALYSIS: run_reanalysis_job, jobs.JobKind.TRACK_READING: run_track_reading_job,
                jobs.JobKind.SIGNATURES: run_signature_job}


# The domain's values the templates compare with ({% if analysis.media == Media.VIDEO %}), never as bare strings
TEMPLATE_ENUMS = {enum.__name__: enum for enum in (Certainty, DetectionKind, Direction, JobStatus, Media,
                                                    OnDemandStatus, Period, SubjectKind)}


def create_app(overrides: dict | None = None, instance_path: str | None = None) -> Flask:
    """Build the app; `overrides` (tests) win over instance/config.py and MOODLENS_* variables.

    The instance folder (database, uploads, secret) is `instance_path`, else $MOODLENS_INSTANCE, else ./instance.
    """
    instance_path = instance_path or os.environ.get("MOODLENS_INSTANCE")
    if instance_path:
        instance_path = str(Path(instance_path).resolve())  # Flask wants it absolute
    app = Flask(__name__, instance_relative_config=True, instance_path=instance_path)
    ids.init_app(app)  # before any address is added
    settings.configure(app, overrides)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    db.init_app(app)
    keep_connections_per_process(app)
    migrate.init_app(app, db, render_as_batch=True)
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message_category = FlashCategory.INFO
    csrf.init_app(app)
    init_limiter(app)
    jobs.init_app(app, JOB_HANDLERS)
    notices.init_app(app)  # first: its hook runs after the others
    i18n.init_app(app)

    for blueprint in (auth.bp, analyze.bp, dashboard.bp, api.bp, about.bp, identity.bp, species.bp):
        app.register_blueprint(blueprint)
    csrf.exempt(api.bp)  # the API checks CSRF itself for cookie sessions; bearer tokens need none
    admin.init_admin(app)
    register_cli(app)
    errors.init_app(app)
    if hops := app.config["PROXY_HOPS"]:  # the HTTPS proxy (or proxies) in front
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)
    app.add_url_rule("/favicon.ico", "favicon",
                     lambda: redirect(url_for("static", filename="favicon.svg"), code=301))
    app.jinja_env.globals.update(TEMPLATE_ENUMS)
    return app
