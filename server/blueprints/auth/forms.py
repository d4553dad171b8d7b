from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, PasswordField
from wtforms.validators import DataRequired, EqualTo, Length


class LoginForm(FlaskForm):
    email = EmailField("Email", validators=[DataRequired(), Length(max=254)])
    password = PasswordField("Password", validators=[DataRequired(), Length(max=500)])
    remember = BooleanField("Keep me signed in")


class SetPasswordForm(FlaskForm):
    password = PasswordField("New password (at least 10 characters)", validators=[DataRequired(), Length(max=500)])
    confirm = PasswordField("The same again", validators=[DataRequired(), EqualTo("password", "the two passwords differ")])
