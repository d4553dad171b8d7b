"""Regrade requests in the API: students ask on a submission, TAs and teachers list and answer them."""

from __future__ import annotations

from typing import Any

from flask import g, jsonify, request

from ...authz import api
from ...models import RegradeRequest
from ...serialize import iso
from ...services import regrades
from ...services.errors import BadRequest
from .routes import bp


def request_json(r: RegradeRequest) -> dict[str, Any]:
    sub = r.submission
    return {"id": r.id, "submission": sub.id, "course": sub.assignment.course.code, "module": sub.assignment.module,
            "attempt": sub.attempt, "requester": r.requester.email if r.requester else None, "test": r.test,
            "reason": r.reason, "state": r.state, "created_at": iso(r.created_at), "decided_at": iso(r.decided_at),
            "decided_by": r.decided_by.display_name if r.decided_by else None, "comment": r.comment,
            "points": r.points}


@bp.route("/submissions/<int:submission_id>/regrade-requests", methods=["POST"])
@api()
def ask_regrade(submission_id: int):
    body = _body()
    req = regrades.ask(g.api_user, submission_id, reason=_text(body, "reason"), test=_text(body, "test") or None)
    return jsonify(request_json(req)), 201


@bp.route("/submissions/<int:submission_id>/regrade-requests")
@api()
def submission_regrades(submission_id: int):
    sub = regrades.own_submission(g.api_user, submission_id)
    return jsonify([request_json(r) for r in regrades.requests_on(sub)])


@bp.route("/courses/<course>/regrade-requests")
@api("ta", "teacher")
def course_regrades(course: str):
    return jsonify([request_json(r) for r in regrades.queue(g.enrollment.course, request.args.get("state") or None)])


@bp.route("/regrade-requests/<int:request_id>", methods=["POST"])
@api()
def decide_regrade(request_id: int):
    body = _body()
    points = body.get("points")
    if points is not None and (isinstance(points, bool) or not isinstance(points, (int, float))):
        raise BadRequest("points must be a number")
    req = regrades.decide(g.api_user, request_id, decision=_text(body, "decision"), comment=_text(body, "comment"),
                          points=None if points is None else float(points))
    return jsonify(request_json(req))


def _body() -> dict:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise BadRequest("send a JSON object (Content-Type: application/json)")
    return body


def _text(body: dict, key: str) -> str:
    value = body.get(key)
    if value is not None and not isinstance(value, str):
        raise BadRequest(f"{key} must be a string")
    return value or ""

