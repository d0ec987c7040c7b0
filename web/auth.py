"""Registration, log-in and log-out."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required, login_user, logout_user

from extensions import db, limiter, login_manager
from models import User
from web.forms import ConfirmForm, LoginForm, RegisterForm

bp = Blueprint("auth", __name__)


@login_manager.user_loader
def load_user(user_id: str) -> User | None:
    user = db.session.get(User, int(user_id))
    return user if user is not None and user.active else None  # deactivation logs out at once


def _safe_next(target: str | None) -> str:
    """Only same-site relative paths are followed after log-in."""
    if target and target.startswith("/") and not target.startswith("//") and not urlsplit(target).netloc:
        return target
    return url_for("analyze.upload")


@bp.route("/register", methods=["GET", "POST"])
def register():
    if current_user.is_authenticated:
        return redirect(url_for("analyze.upload"))
    form = RegisterForm()
    if form.validate_on_submit():
        if db.session.scalar(db.select(User).filter_by(username=form.username.data)):
            form.username.errors.append("That username is taken.")
        else:
            user = User(username=form.username.data)
            user.set_password(form.password.data)
            db.session.add(user)
            db.session.commit()
            login_user(user)
            flash("Welcome to Moodlens! Upload a photo to get started.", "success")
            return redirect(url_for("analyze.upload"))
    return render_template("auth/register.html", form=form), 400 if form.errors else 200


def login_account_key() -> str:
    """Rate-limit key for password guesses against one account (form or HTTP Basic), from any address."""
    name = request.form.get("username") or (request.authorization.username if request.authorization else "")
    return "account:" + (name or "").strip().lower()


def _login_limit() -> str:
    return current_app.config["LOGIN_LIMITS"]


def login_limits(view):
    """Limit password attempts per client address and per account (LOGIN_LIMITS)."""
    per_address = limiter.limit(_login_limit, methods=["POST"],
                                error_message="Too many log-in attempts; wait a minute.")
    per_account = limiter.limit(_login_limit, methods=["POST"], key_func=login_account_key,
                                error_message="Too many log-in attempts for this account; wait a minute.")
    return per_address(per_account(view))


@bp.route("/login", methods=["GET", "POST"])
@login_limits
def login():
    if current_user.is_authenticated:
        return redirect(url_for("analyze.upload"))
    form = LoginForm()
    if form.validate_on_submit():
        user = db.session.scalar(db.select(User).filter_by(username=form.username.data))
        if user is None or not user.check_password(form.password.data):
            flash("Wrong username or password.", "error")
        elif not user.active:
            flash("This account has been deactivated.", "error")
        else:
            login_user(user, remember=form.remember.data)
            return redirect(_safe_next(request.args.get("next")))
        return render_template("auth/login.html", form=form), 401
    return render_template("auth/login.html", form=form), 400 if form.errors else 200


@bp.route("/logout", methods=["POST"])
@login_required
def logout():
    if ConfirmForm().validate_on_submit():
        logout_user()
        flash("You are logged out.", "info")
    return redirect(url_for("auth.login"))
