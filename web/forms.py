"""Flask-WTF forms (each carries a CSRF token)."""

from flask import render_template
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import (BooleanField, HiddenField, IntegerField, PasswordField, SelectChoice, SelectField, StringField,
                     SubmitField)
from wtforms.validators import EqualTo, InputRequired, Length, NumberRange, Optional, Regexp

from models import SubjectKind


class LoginForm(FlaskForm):
    username = StringField("Username", validators=[InputRequired(), Length(max=32)])
    password = PasswordField("Password", validators=[InputRequired(), Length(max=128)])
    remember = BooleanField("Remember me")
    submit = SubmitField("Log in")


MIN_PASSWORD_LENGTH = 8


class NewPasswordForm(FlaskForm):
    """A new password, typed twice."""

    password = PasswordField("Password", validators=[InputRequired(), Length(min=MIN_PASSWORD_LENGTH, max=128)])
    confirm = PasswordField("Repeat password", validators=[
        InputRequired(), EqualTo("password", message="The passwords do not match."),
    ])


class RegisterForm(NewPasswordForm):
    username = StringField("Username", validators=[
        InputRequired(), Length(min=3, max=32),
        Regexp(r"^[A-Za-z0-9_.-]+$", message="Use letters, digits, dots, dashes and underscores only."),
    ])
    submit = SubmitField("Create account")


class PasswordChangeForm(NewPasswordForm):
    current_password = PasswordField("Current password", validators=[InputRequired(), Length(max=128)])
    submit = SubmitField("Change password")


class UploadForm(FlaskForm):
    file = FileField("Photo or video", validators=[FileRequired("Choose a photo or a video to analyse.")])
    submit = SubmitField("Analyse")


class ConfirmForm(FlaskForm):
    """An empty form for POST-only buttons (delete, log out): it carries the CSRF token."""

    submit = SubmitField("Confirm")


def confirm_page(question: str, consequences: list[str], action: str, confirm_label: str, cancel_url: str) -> str:
    """The page a deletion's GET shows first (templates/confirm.html): what goes, a button that posts to `action`
    and a way back; it works without scripts."""
    return render_template("confirm.html", form=ConfirmForm(), question=question, consequences=consequences,
                           action=action, confirm_label=confirm_label, cancel_url=cancel_url)


class SubjectForm(FlaskForm):
    name = StringField("Name", validators=[InputRequired(), Length(min=1, max=64)])
    kind = SelectField("Kind", choices=[SelectChoice(kind.value, kind.value.title()) for kind in SubjectKind])
    submit = SubmitField("Add subject")


class AssignForm(FlaskForm):
    """Assign a detection (a face in a photo, or a whole video track) to one of the user's subjects."""

    subject = SelectField("Who is this?", coerce=int)
    submit = SubmitField("Save")


class AlertRuleForm(FlaskForm):
    """A gentle alert: `emotion` as the top one in more than `percent`% of appearances over `days` days."""

    emotion = SelectField("Emotion")
    percent = IntegerField("More than (%)", default=40, validators=[InputRequired(), NumberRange(5, 95)])
    days = IntegerField("Over the last (days)", default=7, validators=[InputRequired(), NumberRange(1, 90)])
    submit = SubmitField("Add alert")


class WeeklyReportForm(FlaskForm):
    weekly_report = BooleanField("Show my weekly reports on the dashboard")
    submit = SubmitField("Save")


class RecognitionForm(FlaskForm):
    """Face recognition on or off (off deletes every stored face signature)."""

    recognize_faces = BooleanField("Recognise the people I have named in my new and past photos")
    submit = SubmitField("Save")


class NotThisPersonForm(FlaskForm):
    """"No" to a "Looks like Ana" suggestion: that person is not suggested for this face again."""

    subject = IntegerField(validators=[InputRequired(), NumberRange(min=1)])
    submit = SubmitField("No")


class NameGroupForm(FlaskForm):
    """Name a group of faces that look alike in one step: one of the user's people, or a new person's name."""

    faces = HiddenField(validators=[InputRequired(), Regexp(r"^\d{1,18}(,\d{1,18}){0,499}$")])
    subject = SelectField("Who is this?", coerce=int)
    name = StringField("or a new person's name", validators=[Optional(), Length(max=64)])
    submit = SubmitField("Name them")
