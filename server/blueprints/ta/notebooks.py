"""TAs and teachers: a handed-in notebook to read (rendered, in a sandboxed frame) and to download."""

from __future__ import annotations

from flask import Response, g, render_template, send_file

from ... import REPORT_CSP
from ...authz import course_role
from ...services import notebooks, staff, teaching
from .routes import bp


@bp.route("/submissions/<int:submission_id>/notebook")
@course_role("ta", "teacher")
def notebook(course: str, submission_id: int):
    sub = teaching.submission_in(g.enrollment.course, submission_id)
    return render_template("ta/notebook.html", sub=sub, attempts=staff.attempts_beside(sub))


@bp.route("/submissions/<int:submission_id>/notebook.html")
@course_role("ta", "teacher")
def notebook_html(course: str, submission_id: int):
    """The rendered notebook, framed by the page above: untrusted, so no script and nothing loaded."""
    html = notebooks.render_html(teaching.submission_in(g.enrollment.course, submission_id))
    return Response(html, mimetype="text/html",
                    headers={"Content-Security-Policy": REPORT_CSP, "Cache-Control": "private, no-store"})


@bp.route("/submissions/<int:submission_id>/notebook.ipynb")
@course_role("ta", "teacher")
def notebook_file(course: str, submission_id: int):
    sub = teaching.submission_in(g.enrollment.course, submission_id)
    return send_file(notebooks.stored(sub), mimetype=notebooks.MIMETYPE, as_attachment=True,
                     download_name=notebooks.download_name(sub), max_age=0)
