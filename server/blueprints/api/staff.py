"""The API's staff routes: a course's submissions with filters, and a handed-in notebook."""

from __future__ import annotations

from flask import g, jsonify, request, send_file, url_for

from ...authz import api
from ...serialize import submission_json
from ...services import notebooks, staff, submissions
from .routes import bp


@bp.route("/courses/<course>/submissions")
@api("ta", "teacher")
def course_submissions(course: str):
    """Newest first, ``per_page`` (default 50) at a time; ``Link`` names the next page, ``X-Total-Count`` all."""
    found = staff.submissions(g.enrollment.course, actor=g.api_user, filters=staff.Filters.from_args(request.args),
                              page=staff.page_number(request.args),
                              per_page=_int(request.args.get("per_page"), staff.PER_PAGE))
    response = jsonify([{**submission_json(s), "student": {"email": s.user.email, "name": s.user.name},
                         "counts": s.id in found.counted_ids} for s in found.items])
    response.headers["X-Total-Count"] = str(found.total)
    if found.has_next:
        args = {**request.args.to_dict(), "page": found.page + 1}
        response.headers["Link"] = f'<{url_for(".course_submissions", course=course, **args)}>; rel="next"'
    return response


@bp.route("/submissions/<int:submission_id>/notebook")
@api()
def notebook(submission_id: int):
    sub, _ = submissions.submission_for(g.api_user, submission_id)   # its student, their group, staff
    return send_file(notebooks.stored(sub), mimetype=notebooks.MIMETYPE, as_attachment=True,
                     download_name=notebooks.download_name(sub), max_age=0)


def _int(value: str | None, default: int) -> int:
    try:
        return int(value) if value else default
    except ValueError:
        return -1   # the service names the allowed range
