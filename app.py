"""Moodlens web application factory: `flask --app app run`."""

from __future__ import annotations

import logging
import os
import re
import secrets
from pathlib import Path

from flask import Flask, current_app, jsonify, redirect, render_template, request, url_for
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge
from werkzeug.middleware.proxy_fix import ProxyFix

import jobs
import limiter_storage
from extensions import csrf, db, limiter, login_manager, migrate

DEFAULTS = {
    "MAX_UPLOAD_MB": 10,
    "MAX_VIDEO_MB": 100,
    "MAX_VIDEO_SECONDS": 120,
    "VIDEO_FPS": 4.0,
    "MAX_IMAGE_PIXELS": 40_000_000,
    "PER_PAGE": 12,
    "API_TOKEN_DAYS": 30,
    "SESSION_COOKIE_HTTPONLY": True,
    "SESSION_COOKIE_SAMESITE": "Lax",
    "REMEMBER_COOKIE_HTTPONLY": True,
    "REMEMBER_COOKIE_SAMESITE": "Lax",
    "WTF_CSRF_TIME_LIMIT": None,
    "RATELIMIT_ENABLED": True,
    "LOGIN_LIMITS": "10 per minute",  # per client address, and again per account name
    "PRODUCTION": False,  # MOODLENS_PRODUCTION=true behind an HTTPS proxy: Secure cookies, HSTS, X-Forwarded-*
}

PRODUCTION_SETTINGS = {
    "SESSION_COOKIE_SECURE": True,
    "REMEMBER_COOKIE_SECURE": True,
    "PREFERRED_URL_SCHEME": "https",
}


def _secret_key(instance_path: Path) -> str:
    """SECRET_KEY from the environment, else a random one generated once into instance/."""
    if os.environ.get("SECRET_KEY"):
        return os.environ["SECRET_KEY"]
    key_file = instance_path / "secret_key"
    if not key_file.exists():
        key_file.write_text(secrets.token_hex(32))
        key_file.chmod(0o600)
    return key_file.read_text().strip()


def _configure(app: Flask, overrides: dict | None) -> None:
    instance_path = Path(app.instance_path)
    instance_path.mkdir(parents=True, exist_ok=True)
    app.config.update(DEFAULTS)
    app.config.from_pyfile("config.py", silent=True)
    app.config.from_prefixed_env("MOODLENS")
    app.config.update(overrides or {})
    if app.config["PRODUCTION"]:
        app.config.update(PRODUCTION_SETTINGS)
    app.config.setdefault(
        "SQLALCHEMY_DATABASE_URI",
        os.environ.get("DATABASE_URL") or f"sqlite:///{instance_path / 'moodlens.sqlite'}",
    )
    app.config["SQLALCHEMY_DATABASE_URI"] = sqlalchemy_url(app.config["SQLALCHEMY_DATABASE_URI"])
    app.config.setdefault("SQLALCHEMY_ENGINE_OPTIONS", {"pool_pre_ping": True})  # survive a database restart
    app.config.setdefault("REDIS_URL", os.environ.get("REDIS_URL"))
    # Rate-limit counters are shared by every web process: in Redis when there is one, else in the database.
    app.config.setdefault("RATELIMIT_STORAGE_URI", app.config["REDIS_URL"] or f"{limiter_storage.SCHEME}://")
    app.config.setdefault("UPLOAD_FOLDER", str(instance_path / "uploads"))
    app.config.setdefault("EXPLAIN_FOLDER", str(instance_path / "explanations"))
    if not app.config.get("SECRET_KEY"):  # Flask's own default is None
        app.config["SECRET_KEY"] = _secret_key(instance_path)
    if not app.config.get("MAX_CONTENT_LENGTH"):
        largest_mb = max(app.config["MAX_UPLOAD_MB"], app.config["MAX_VIDEO_MB"])
        app.config["MAX_CONTENT_LENGTH"] = int(largest_mb * 1024 * 1024) + 64 * 1024  # room for the form fields


def sqlalchemy_url(url: str) -> str:
    """A PostgreSQL URL as hosting services write it (postgres://, postgresql://) made to use psycopg 3."""
    return re.sub(r"^postgres(ql)?://", "postgresql+psycopg://", url)


CONTENT_SECURITY_POLICY = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
)


def _security_headers(response):
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    response.headers.setdefault("X-Frame-Options", "DENY")
    if current_app.config["PRODUCTION"]:
        response.headers.setdefault("Strict-Transport-Security", "max-age=31536000")
    if not request.path.startswith("/admin"):  # Flask-Admin's own pages use inline scripts
        response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    return response


def _register_error_pages(app: Flask) -> None:
    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException):
        if isinstance(error, RequestEntityTooLarge):
            error.description = f"The file is larger than the {app.config['MAX_CONTENT_LENGTH'] / 1048576:.3g} MB limit."
        if request.path.startswith("/api/"):
            return jsonify(error=error.description), error.code
        return render_template("error.html", error=error), error.code


def create_app(overrides: dict | None = None, instance_path: str | None = None) -> Flask:
    """Build the app; `overrides` (tests) win over instance/config.py and MOODLENS_* variables.

    The instance folder (database, uploads, secret) is `instance_path`, else $MOODLENS_INSTANCE, else ./instance.
    """
    instance_path = instance_path or os.environ.get("MOODLENS_INSTANCE")
    if instance_path:
        instance_path = str(Path(instance_path).resolve())  # Flask wants it absolute
    app = Flask(__name__, instance_relative_config=True, instance_path=instance_path)
    _configure(app, overrides)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    db.init_app(app)
    migrate.init_app(app, db, render_as_batch=True)
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message_category = "info"
    csrf.init_app(app)
    limiter.init_app(app)
    jobs.init_app(app)

    import models  # noqa: F401  (registers the tables with SQLAlchemy)
    from admin import init_admin
    from cli import register_cli
    from views import analyze, api, auth, dashboard

    for blueprint in (auth.bp, analyze.bp, dashboard.bp, api.bp):
        app.register_blueprint(blueprint)
    csrf.exempt(api.bp)  # the API checks CSRF itself for cookie sessions; bearer tokens need none
    init_admin(app)
    register_cli(app)
    _register_error_pages(app)
    app.after_request(_security_headers)
    if app.config["PRODUCTION"]:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1, x_proto=1, x_host=1)  # the HTTPS proxy in front
    app.add_url_rule("/favicon.ico", "favicon",
                     lambda: redirect(url_for("static", filename="favicon.svg"), code=301))
    return app
