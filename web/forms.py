"""Flask-WTF forms (each carries a CSRF token), read from form bodies only."""

import re
import secrets

from flask import render_template, request
from flask_babel import gettext, lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import (BooleanField, Field, Form, HiddenField, IntegerField, PasswordField, SelectChoice, SelectField,
                     StringField, SubmitField)
from werkzeug.datastructures import CombinedMultiDict, ImmutableMultiDict, MultiDict
from wtforms.validators import DataRequired, EqualTo, InputRequired, Length, NumberRange, Regexp, StopValidation

from models import PASSWORD_LENGTH, USERNAME_CHARACTERS, USERNAME_LENGTH, SubjectKind, User
from services.insights import ALERT_DAYS, ALERT_PERCENTS
from services.subjects import NAME_LENGTH, normal_name
from web.login_limits import password_checked

# WTForms' own Korean messages use the formal style (합니다); these two, the most common, speak like the app.
REQUIRED = _l("Fill this in.")
IN_RANGE = _l("Give a number from %(min)s to %(max)s.")


# A browser cuts a longer name pasted into an input with a maxlength, silently: the server says so instead.
NO_BROWSER_CUT = {"maxlength": False}
CHARACTER_RANGE = _l("Use %(min)d to %(max)d characters.")

LARGEST_INTEGER = 2**63 - 1  # the database's BIGINT
NOT_A_WHOLE_NUMBER = _l("Type a whole number.")


class WholeNumberField(IntegerField):
    """An integer field that says, in the app's words, when what was typed is not a whole number, and says only
    that (its range check would add a second reason). A number past the database's range is not one either:
    WTForms' NumberRange turns the value into a float to compare it, which raises OverflowError (a 500) from about
    10**309 on."""

    def process_formdata(self, valuelist: list[str]) -> None:
        if valuelist and not valuelist[0]:  # nothing typed: InputRequired (or Optional) says what that means
            self.data = None
            return
        try:
            super().process_formdata(valuelist)
        except ValueError as error:
            raise ValueError(NOT_A_WHOLE_NUMBER) from error
        if self.data is not None and abs(self.data) > LARGEST_INTEGER:
            self.data = None
            raise ValueError(NOT_A_WHOLE_NUMBER)

    def pre_validate(self, form: Form) -> None:
        if self.process_errors:
            raise StopValidation()


class TickedIdsField(Field):
    """The ids of the ticked checkboxes that share this field's name, as whole numbers (none ticked: an empty
    list); a value that is not an id, or more than MAX_TICKED of them, is an error."""

    MAX_TICKED = 500

    def process_formdata(self, valuelist: list[str]) -> None:
        self.data = []
        if len(valuelist) > self.MAX_TICKED or not all(re.fullmatch(r"\d{1,18}", value) for value in valuelist):
            raise ValueError(NOT_A_WHOLE_NUMBER)
        self.data = [int(value) for value in valuelist]


SUBMIT_METHODS = ("POST", "PUT", "PATCH", "DELETE")  # Flask-WTF's: a form is submitted by these


class WebForm(FlaskForm):
    """A page's form. Flask-WTF would read a JSON body as the form's data, where any JSON (nested past the decoder's
    depth, a list, an object for a text field) could raise a 500; pages post forms, so a JSON body is no data
    (the form is then invalid: a 400, or the page again with its errors). The JSON API is web/api.py. Likewise it
    merges every uploaded file into the data, where a file sent under a text field's name (a password) raised a 500
    (a length check of a file): only a file field reads files."""

    class Meta:
        def wrap_formdata(self, form: Form, formdata: MultiDict | None) -> MultiDict | None:
            if request.is_json:
                return ImmutableMultiDict() if request.method in SUBMIT_METHODS else None
            wrapped = super().wrap_formdata(form, formdata)
            if not (isinstance(wrapped, CombinedMultiDict) and wrapped.dicts[0] is request.files):
                return wrapped  # no files were sent, or the data was given
            data = MultiDict(request.form)
            for name, field in form._fields.items():
                if isinstance(field, FileField):
                    data.setlist(name, request.files.getlist(name))
            return data


class BrowserClock:
    """The browser's IANA time zone, filled in by static/time-zone.js (empty without scripts: nothing changes)."""

    time_zone = HiddenField()


class LoginForm(BrowserClock, WebForm):
    username = StringField(_l("Username"), filters=[normal_name], validators=[InputRequired(REQUIRED), Length(max=32)])
    password = PasswordField(_l("Password"), validators=[InputRequired(REQUIRED), Length(max=128)])
    remember = BooleanField(_l("Remember me"))
    submit = SubmitField(_l("Log in"))


KIND_LABELS = {SubjectKind.PERSON: _l("Person"), SubjectKind.DOG: _l("Dog"), SubjectKind.CAT: _l("Cat")}


class NewPasswordForm(WebForm):
    """A new password, typed twice."""

    password = PasswordField(_l("Password"), render_kw=NO_BROWSER_CUT,  # a longer paste refused, not cut unseen
                             validators=[InputRequired(REQUIRED), Length(min=PASSWORD_LENGTH.start,
                                                                         max=PASSWORD_LENGTH.stop - 1,
                                                                         message=CHARACTER_RANGE)])
    confirm = PasswordField(_l("Repeat password"), render_kw=NO_BROWSER_CUT, validators=[
        InputRequired(REQUIRED), EqualTo("password", message=_l("The passwords do not match.")),
    ])


# What a username may be, whoever chooses it (a new user, or an admin renaming one: web/admin.py), its field's
# arguments: a longer name pasted is refused with the reason, not cut by the browser. Latin letters and Hangul
# syllables (a Korean reader's name, "김민수"), in Unicode's composed form as kept (a name pasted from a file name
# can arrive as loose jamo); no other script, none of whose letters could pass for another account's.
USERNAME_FIELD = {
    "render_kw": NO_BROWSER_CUT,
    "filters": [normal_name],
    "validators": [InputRequired(REQUIRED),
                   Length(min=USERNAME_LENGTH.start, max=USERNAME_LENGTH.stop - 1,
                          message=_l("Use 2 to 32 characters: English or Korean letters, digits, dots, dashes and "
                                     "underscores.")),  # the whole rule its hint said
                   Regexp(USERNAME_CHARACTERS,
                          message=_l("Use English or Korean letters, digits, dots, dashes and underscores only."))],
}


class RegisterForm(BrowserClock, NewPasswordForm):
    username = StringField(_l("Username"), **USERNAME_FIELD)
    submit = SubmitField(_l("Create account"))


class CurrentPasswordForm(WebForm):
    """A form that asks for the user's current password before it changes anything."""

    current_password = PasswordField(_l("Current password"), validators=[InputRequired(REQUIRED), Length(max=128)])

    def password_is(self, user: User) -> bool:
        """Whether the current password typed is the user's (told to the log-in limits, web/login_limits.py); if
        not, the field says so."""
        right = user.check_password(self.current_password.data)
        password_checked(user if right else None)
        if not right:
            self.current_password.errors.append(gettext("That is not your current password."))
        return right


class PasswordChangeForm(CurrentPasswordForm, NewPasswordForm):
    submit = SubmitField(_l("Change password"))

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.password.label.text = _l("New password")  # beside "Current password"


class DeleteAccountForm(CurrentPasswordForm):
    submit = SubmitField(_l("Delete my account"))


class TokenForm(CurrentPasswordForm):
    """A new API token from the account page: an optional name, and the password (a token outlives the session
    and its log-out, as the API's exchange of the password for one does)."""

    name = StringField(_l("Name (optional)"), render_kw=NO_BROWSER_CUT)  # services.tokens checks it
    # this form's own id: the same form sent again (a reload of the page showing its token) makes no second token
    form_id = HiddenField(default=lambda: secrets.token_urlsafe(12))
    submit = SubmitField(_l("Create a token"))


class UploadForm(WebForm):
    file = FileField(_l("Photo or video"), validators=[FileRequired(_l("Choose a photo or a video to analyse."))])
    submit = SubmitField(_l("Analyse"))

    def validate_file(self, field: Field) -> None:
        """One file a request, as the API asks: two sent under its name (a crafted form) analysed the first alone."""
        if len(request.files.getlist(field.name)) > 1:
            raise StopValidation(gettext("Send one photo or video at a time."))


class ConfirmForm(WebForm):
    """An empty form for POST-only buttons (delete, log out): it carries the CSRF token."""

    submit = SubmitField(_l("Confirm"))


def confirm_page(question: str, consequences: list[str], action: str, confirm_label: str, cancel_url: str,
                 came_from: str | None = None, cancel_label: str | None = None, undoable: bool = False) -> str:
    """The page a deletion's (or the log-out's) GET shows first (templates/confirm.html): what happens, a button
    that posts to `action` (with `came_from`, a same-site path, as its `next`) and a way back, worded
    `cancel_label` ("Keep it" by default); it works without scripts. The button is red (a warning) unless the change
    is `undoable` (a pet's species)."""
    return render_template("confirm.html", form=ConfirmForm(), question=question, consequences=consequences,
                           action=action, confirm_label=confirm_label, cancel_url=cancel_url, came_from=came_from,
                           cancel_label=cancel_label, undoable=undoable)


class SubjectNameForm(WebForm):
    """A subject's new name (services.subjects checks it further)."""

    name = StringField(_l("Name"), render_kw=NO_BROWSER_CUT, filters=[normal_name], validators=[  # measured as kept
        DataRequired(REQUIRED), Length(max=NAME_LENGTH, message=_l("Give a name of 1 to %(max)d characters."))])
    submit = SubmitField(_l("Rename"))


class SubjectForm(SubjectNameForm):
    """A new subject: its name and kind."""

    kind = SelectField(_l("Kind"), choices=[SelectChoice(kind.value, KIND_LABELS[kind]) for kind in SubjectKind])
    submit = SubmitField(_l("Add subject"))


class AssignForm(WebForm):
    """Assign a detection (a face in a photo, or a whole video track) to one of the user's subjects."""

    subject = SelectField(_l("Who is this?"), coerce=int, validators=[InputRequired()])  # sent, not the default
    submit = SubmitField(_l("Save"))


class AlertRuleForm(WebForm):
    """A gentle alert: `emotion` as the top one in more than `percent`% of appearances over `days` days."""

    emotion = SelectField(_l("Emotion"))
    percent = WholeNumberField(_l("More than (%)"), default=40,
                               validators=[InputRequired(REQUIRED), NumberRange(*ALERT_PERCENTS, IN_RANGE)])
    days = WholeNumberField(_l("Over the last (days)"), default=7,
                            validators=[InputRequired(REQUIRED), NumberRange(*ALERT_DAYS, IN_RANGE)])
    submit = SubmitField(_l("Add alert"))


class WeeklyReportForm(WebForm):
    weekly_report = BooleanField(_l("List each person's and dog's weekly report here"))  # each dashboard links its own
    submit = SubmitField(_l("Save"))


class RecognitionForm(WebForm):
    """Face recognition on or off (off deletes every stored face signature)."""

    recognize_faces = BooleanField(_l("Recognise the people I have named in my new and past photos"))
    submit = SubmitField(_l("Save"))


class NotThisPersonForm(WebForm):
    """"No" to a "Looks like Ana" suggestion: that person is not suggested for this face again."""

    subject = WholeNumberField(validators=[InputRequired(REQUIRED), NumberRange(min=1)])
    submit = SubmitField(_l("No"))


class NamePersonForm(WebForm):
    """Who a face is: one of the user's people, or a new person's name (on a face's card after "No" to a
    suggestion, where the person it is not is left out of the choices)."""

    subject = SelectField(_l("Who is this?"), coerce=int)
    name = StringField(_l("New person's name"), render_kw=NO_BROWSER_CUT)  # services.subjects checks it
    submit = SubmitField(_l("Save"))


class NameGroupForm(NamePersonForm):
    """Name a group of faces that look alike in one step: one of the user's people, or a new person's name."""

    faces = TickedIdsField()  # the faces left ticked
    shown = TickedIdsField()  # every face the group showed: one left unticked is someone else
    submit = SubmitField(_l("Name them"))
