from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired


class UploadForm(FlaskForm):
    notebook = FileField("Notebook (.ipynb)", validators=[FileRequired("choose your notebook file")])
