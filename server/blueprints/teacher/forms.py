import datetime as dt

from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import DateTimeLocalField, FloatField, HiddenField, IntegerField, SelectField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import AnyOf, InputRequired, NumberRange, Optional

from ...models import COUNTS, ROLES

BACK = ("dashboard", "assignment", "review")   # where a button's POST returns to


class ActionForm(FlaskForm):
    """A button: only the CSRF token, and which page to return to."""

    back = HiddenField(validators=[Optional(), AnyOf(BACK)])
    confirm = HiddenField(validators=[Optional(), AnyOf(("yes",))])   # sent by the page that asks first

    @property
    def confirmed(self) -> bool:
        return self.confirm.data == "yes"


class SettingsForm(FlaskForm):
    due = DateTimeLocalField("Deadline (UTC)", format=["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S"],
                             tz=dt.timezone.utc, validators=[Optional()])
    late_penalty_per_day = FloatField("Late penalty (% per started day)",
                                      validators=[InputRequired(), NumberRange(0, 100)])
    max_late_days = FloatField("Late days accepted (0 with a penalty: until it reaches 100%)",
                               validators=[InputRequired(), NumberRange(0, 365)])
    max_attempts = IntegerField("Attempts (blank: unlimited)", validators=[Optional(), NumberRange(1, 1000)])
    counts = SelectField("Submission that counts", choices=[SelectChoice(c, f"the {c} graded attempt") for c in COUNTS])


class RosterForm(FlaskForm):
    roster = FileField("Roster (CSV, UTF-8; header email,name,role and an optional group)",
                       validators=[FileRequired("choose a CSV file")])


class RoleForm(FlaskForm):
    role = SelectField("Role", choices=list(ROLES), validators=[AnyOf(ROLES)])
