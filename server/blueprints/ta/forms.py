from flask_wtf import FlaskForm
from wtforms import FloatField, SelectField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, NumberRange, Optional


class PointsField(FloatField):
    """Shown as 26, not 26.0."""

    def _value(self) -> str:
        if self.raw_data:
            return self.raw_data[0]
        return "" if self.data is None else f"{self.data:g}"


class OverrideForm(FlaskForm):
    """Points and/or a grade of the module's scale; the comment is required and the student reads it."""

    points = PointsField("Points", validators=[Optional(), NumberRange(min=0)])
    label = SelectField("Grade", choices=[], default="")
    comment = TextAreaField("Comment (the student sees it)",
                            validators=[DataRequired("say why: the student reads this comment"), Length(max=4000)])

    def for_scale(self, bands: tuple[tuple[str, float], ...]) -> "OverrideForm":
        self.label.choices = [SelectChoice("", "computed from the points"),
                              *(SelectChoice(label) for label, _ in bands)]
        return self
