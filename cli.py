"""Command-line tools: `flask users create-admin`, `flask users reset-password`,
`flask analyze PATH [--json] [--explain]`, `flask explain ANALYSIS_ID`, `flask jobs work`,
`flask maintenance check [--repair]`, `flask maintenance readings`, `flask maintenance metadata`."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click
import numpy as np
from flask import Flask, current_app
from flask.cli import AppGroup, with_appcontext

from extensions import db
from inference.backends import set_cpu_threads
from inference.errors import MediaError
from inference.explain import METHODS, get_explainer
from inference.heif import decode_photo
from jobs import work
from models import Analysis, JobStatus, Media
from services import accounts, storage
from services.analyses import analyze_file
from services.documents import analysis_document
from services.maintenance import check_storage, keep_missing_readings, leave_out_stored_metadata, repair_storage
from services.errors import NotFound, Refused
from web.i18n import found

users_cli = AppGroup("users", help="Manage user accounts.")


@users_cli.command("create-admin")
@click.argument("username")
@click.password_option(prompt="Password for the admin")
def create_admin(username: str, password: str) -> None:
    """Create USERNAME as an admin, or make an existing user an admin with this password (active again: the way
    back in when every administrator was deactivated), saying what changed. A new username follows the sign-up
    page's rule."""
    try:
        made = accounts.make_admin(username, password)
    except Refused as refused:
        raise click.UsageError(str(refused)) from None
    click.echo(f"{made.user.username} is an admin" + (" (it was deactivated: it is active again)." if made.was_inactive
                                                       else "."), err=True)
    if made.existed:
        click.echo("The account was there already: its password is the one just given, and its sessions and API "
                   "tokens have ended.", err=True)


@users_cli.command("reset-password")
@click.argument("username")
@click.password_option(prompt="New password")
def reset_password(username: str, password: str) -> None:
    """Give USERNAME a new password, keeping their role; their sessions and API tokens end."""
    try:
        user = accounts.reset_password(username, password)
    except (NotFound, Refused) as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"{user.username} has a new password; their sessions are logged out.", err=True)
    if not user.active:  # told, or the owner is sent to log in and refused
        click.echo(f"{user.username}'s account stays deactivated: they cannot log in until an administrator "
                   "reactivates it (the back office's Users, Active).", err=True)


EXPLAIN_DIR = Path("moodlens-explanations")


def write_explanations(rgb: np.ndarray, analysis: Analysis, folder: Path, stem: str) -> dict[int, dict]:
    """Explain each face and dog of the analysis with a top emotion; write its overlays as PNG files in `folder`.
    Returns {position: {method: path}}."""
    explainer = get_explainer()
    folder.mkdir(parents=True, exist_ok=True)
    written = {}
    for detection in analysis.detections:
        if not detection.top:
            continue
        paths = {method: folder / f"{stem}-{detection.position}-{method}.png" for method in METHODS}
        explanation = explainer.explain(rgb, detection.box, detection.kind, detection.top, detection.landmarks)
        saved = explanation.save_overlays(paths)
        written[detection.position] = {method: str(path) for method, path in saved.items()}
    return written


def _fail(path: Path, error: Exception) -> None:
    message = error.strerror if isinstance(error, OSError) and error.strerror else str(error)
    click.echo(f"error: {path}: {message}", err=True)
    sys.exit(1)


def _explain_photo(path: Path, analysis: Analysis, out: Path) -> dict[int, dict]:
    """The --explain overlays of a photo's classified detections (videos have none)."""
    if analysis.media != Media.IMAGE:
        return {}
    rgb = decode_photo(path.read_bytes(), current_app.config["MAX_IMAGE_PIXELS"]).rgb
    return write_explanations(rgb, analysis, out, path.stem)


@click.command("analyze")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="print the analysis JSON instead of a summary")
@click.option("--explain", is_flag=True, help="also write heat maps of each face's and dog's top emotion (photos)")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=EXPLAIN_DIR, show_default=True,
              help="folder for the --explain PNG files")
@with_appcontext
def analyze_command(path: Path, as_json: bool, explain: bool, out: Path) -> None:
    """Analyse a photo or a video under the upload limits, without storing it; print a summary, or with --json
    the analysis JSON of the API (logs go to stderr)."""
    try:
        analysis = analyze_file(path)
        explained = _explain_photo(path, analysis, out) if explain else {}
    except (OSError, MediaError) as error:
        _fail(path, error)
    if as_json:
        document = analysis_document(analysis)
        for position, detection in enumerate(document.get("detections", []), start=1):
            if position in explained:
                detection["explanation"] = explained[position]
        click.echo(json.dumps(document))
        return
    _print_summary(path, analysis, explained)


def _print_summary(path: Path, analysis: Analysis, explained: dict[int, dict]) -> None:
    found_words = found([d.kind for d in analysis.detections])
    length = f", {analysis.duration:.1f} s" if analysis.media == Media.VIDEO else ""
    click.echo(f"{path.name}: {analysis.width}x{analysis.height}{length}, {found_words}")
    for detection in analysis.detections:
        emotion = f"{detection.top} ({detection.emotions[detection.top]:.0%})" if detection.top else "no emotion model"
        emotion += ", unsure" if detection.uncertain else ""
        click.echo(f"  {detection.title}: {emotion} at {detection.box}")
        for method, written in explained.get(detection.position, {}).items():
            click.echo(f"     {method}: {written}")


@click.command("explain")
@click.argument("analysis_id", type=int)
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=EXPLAIN_DIR, show_default=True)
@with_appcontext
def explain_command(analysis_id: int, out: Path) -> None:
    """Write heat maps of the top emotion of each face and dog of a stored photo analysis; print where."""
    analysis = db.session.get(Analysis, analysis_id)
    if analysis is None or analysis.media != Media.IMAGE or analysis.status != JobStatus.DONE:
        raise click.ClickException(f"No finished photo analysis #{analysis_id}.")
    source = storage.upload_path(analysis.stored_name)
    try:
        rgb = storage.stored_rgb(analysis)
        explained = write_explanations(rgb, analysis, out, f"analysis-{analysis_id}")
    except (OSError, MediaError) as error:
        _fail(source, error)
    if not explained:
        click.echo(f"analysis #{analysis_id} has no face or dog to explain", err=True)
    for position, files in explained.items():
        for method, written in files.items():
            click.echo(f"#{position} {method}: {written}")


jobs_cli = AppGroup("jobs", help="Background analysis jobs.")


@jobs_cli.command("work")
@click.option("--once", is_flag=True, help="process the queued jobs, then exit")
@click.option("--threads", type=click.IntRange(0), default=0,
              help="CPU threads for the models (0: all cores); N workers on one machine: cores / N each")
def work_command(once: bool, threads: int) -> None:
    """Process queued analyses in this process: from Redis with JOBS_MODE=redis, else from the database
    (JOBS_MODE=external in the web processes)."""
    if threads:
        set_cpu_threads(threads)
    work(current_app._get_current_object(), once)


maintenance_cli = AppGroup("maintenance", help="Consistency checks of the database and the upload folder, and "
                                              "readings to keep.")


@maintenance_cli.command("check")
@click.option("--repair", is_flag=True, help="delete orphan files, fail jobs whose upload is gone, rebuild thumbnails")
@click.option("--min-age", default=600.0, show_default=True,
              help="seconds; younger unreferenced files may belong to an upload in progress")
def check_command(repair: bool, min_age: float) -> None:
    """Report files no analysis refers to and analyses whose files are gone; exit 1 if any (unless --repair)."""
    check = check_storage(min_age)
    for path in check.orphan_files:
        click.echo(f"orphan file: {path}")
    for analysis_id, status, name in check.missing_files:
        click.echo(f"missing file: analysis {analysis_id} ({status}) has no {name}")
    click.echo(f"{check.problems} problem(s) found" + (", repaired" if repair and check.problems else ""))
    if repair:
        repair_storage(check)
    elif check.problems:
        sys.exit(1)


@maintenance_cli.command("readings")
def readings_command() -> None:
    """Keep the readings of detections stored before readings were kept (pages read those from video timelines
    meanwhile), and set their analyses' top emotion, which the history's filter finds, from them: once, after the
    upgrade that adds them (flask db upgrade)."""
    click.echo(f"Analyses stored before readings were kept, given theirs: {keep_missing_readings()}")


@maintenance_cli.command("metadata")
def metadata_command() -> None:
    """Store again without their metadata (location, camera, times), and private (0600), the photos and videos
    stored before it was left out: each once (scripts/setup.sh runs it at every start; uploads stored since are
    not read; of the old ones, only a photo that holds metadata is decoded)."""
    done = leave_out_stored_metadata()
    for path in done.unreadable:
        click.echo(f"not read (gone or not decodable), left as it was: {path}")
    click.echo(f"Uploads looked at: {done.looked_at}; stored again without their metadata: {done.changed}")


def register_cli(app: Flask) -> None:
    app.cli.add_command(jobs_cli)
    app.cli.add_command(maintenance_cli)
    app.cli.add_command(users_cli)
    app.cli.add_command(analyze_command)
    app.cli.add_command(explain_command)
