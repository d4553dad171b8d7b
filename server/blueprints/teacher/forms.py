import datetime as dt

from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import DateTimeLocalField, FloatField, HiddenField, IntegerField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import AnyOf, InputRequired, Length, NumberRange, Optional
from wtforms.widgets import TextInput

from ...models import COUNTS, ROLES

BACK = ("dashboard", "assignment", "review")   # where a button's POST returns to


class ActionForm(FlaskForm):
    """A button: only the CSRF token, and which page to return to."""

    back = HiddenField(validators=[Optional(), AnyOf(BACK)])
    confirm = HiddenField(validators=[Optional(), AnyOf(("yes",))])   # sent by the page that asks first

    @property
    def confirmed(self) -> bool:
        return self.confirm.data == "yes"


class UTCDateTimeField(DateTimeLocalField):
    """A UTC date and time typed as 2030-01-31 23:59: 24-hour, year first, in every browser.

    An ``<input type=datetime-local>`` shows the browser's locale (12-hour, month first in the US)
    and cannot say which zone it means; this field is text with the format and the zone in its label.
    """

    widget = TextInput()

    def __init__(self, label: str, validators=None, **kwargs):
        render_kw = {"placeholder": "2030-01-31 23:59", "pattern": r"\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}(:\d{2})?",
                     "title": "year-month-day hour:minute, 24-hour, UTC", "size": 16, **kwargs.pop("render_kw", {})}
        super().__init__(label, validators,
                         format=["%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S"],
                         tz=dt.timezone.utc, render_kw=render_kw, **kwargs)


COUNTS_SAID = {"last": "the last graded attempt", "best": "the best graded attempt",
               "chosen": "the student's choice (a graded attempt, until the deadline; else the last)"}


class SettingsForm(FlaskForm):
    due = UTCDateTimeField("Deadline (UTC, YYYY-MM-DD HH:MM)", validators=[Optional()])
    late_penalty_per_day = FloatField("Late penalty (% per started day)",
                                      validators=[InputRequired(), NumberRange(0, 100)])
    max_late_days = FloatField("Late days accepted (0 with a penalty: until it reaches 100%)",
                               validators=[InputRequired(), NumberRange(0, 365)])
    max_attempts = IntegerField("Attempts (blank: unlimited)", validators=[Optional(), NumberRange(1, 1000)])
    counts = SelectField("Submission that counts", choices=[SelectChoice(c, COUNTS_SAID[c]) for c in COUNTS])
    group_size = IntegerField("Group size (1: everyone alone; students invite up to this many)",
                              validators=[InputRequired(), NumberRange(1, 20)])
    regrade_days = FloatField("Regrade requests: days after publishing (0: off)",
                              validators=[InputRequired(), NumberRange(0, 365)])


class LateDaysForm(FlaskForm):
    late_days = IntegerField("Late days each student may spend over the course (0: none)",
                             validators=[InputRequired(), NumberRange(0, 365)])


class GroupForm(FlaskForm):
    members = TextAreaField("Students' emails (one a line, or separated by commas)",
                            validators=[InputRequired(), Length(max=5000)])
    name = StringField("Name (blank: group-N)", validators=[Optional(), Length(max=100)])


class ExtensionForm(FlaskForm):
    team = SelectField("Student or group", validate_choice=True)
    due = UTCDateTimeField("Their due date (UTC, YYYY-MM-DD HH:MM)", validators=[InputRequired()])


class RosterForm(FlaskForm):
    roster = FileField("Roster (CSV, UTF-8; header email,name,role and an optional group)",
                       validators=[FileRequired("choose a CSV file")])


class RoleForm(FlaskForm):
    role = SelectField("Role", choices=list(ROLES), validators=[AnyOf(ROLES)])
