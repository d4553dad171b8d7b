"""How a queued submission reaches a worker, chosen by ``Settings.dispatch``.

``celery`` sends a task to the submission's queue (production). ``inline`` grades in the
calling process at once (scripts, small tests). ``none`` leaves it queued for whoever calls
``server.services.jobs.run_job`` (tests that look at the queue itself).
"""

from __future__ import annotations

import logging

log = logging.getLogger("handin.dispatch")


class CeleryDispatch:
    def send(self, submission_id: int, queue: str) -> None:
        from .tasks import grade
        try:
            grade.apply_async((submission_id,), queue=queue)
        except Exception:   # the broker is down: the row stays queued and requeue_stuck re-sends it
            log.exception("could not send submission %s to the %s queue", submission_id, queue)


class InlineDispatch:
    def send(self, submission_id: int, queue: str) -> None:
        from .services.jobs import run_job
        run_job(submission_id)


class NoDispatch:
    def send(self, submission_id: int, queue: str) -> None:
        pass


DISPATCHERS = {"celery": CeleryDispatch, "inline": InlineDispatch, "none": NoDispatch}


def make_dispatcher(name: str):
    try:
        return DISPATCHERS[name]()
    except KeyError:
        raise ValueError(f"unknown dispatch {name!r}; choose one of {', '.join(DISPATCHERS)}") from None


def dispatch(submission_ids: list[int]) -> None:
    """Send each submission to its queue; call only after the commit that queued them."""
    from flask import current_app

    from .extensions import db
    from .models import Submission

    state = current_app.extensions["handin"]
    for sub_id in submission_ids:
        sub = db.session.get(Submission, sub_id)
        if sub is not None and sub.status == "queued":
            state.dispatcher.send(sub_id, sub.queue)
