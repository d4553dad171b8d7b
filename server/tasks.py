"""The Celery adapter: one task, a thin call of :func:`server.services.jobs.run_job`.

Every task runs inside the app's context (the worker builds the app once). Jobs are
acknowledged late and rejected back to the queue when their worker dies; the database lease
in ``run_job`` makes a redelivered job harmless.
"""

from __future__ import annotations

import os

from celery import Celery, Task, shared_task
from flask import Flask
from kombu import Queue

from . import broker  # noqa: F401  (registers the embedded SQLite transport)


def celery_init_app(app: Flask) -> Celery:
    class FlaskTask(Task):
        def __call__(self, *args, **kwargs):
            with app.app_context():
                return self.run(*args, **kwargs)

    settings = app.extensions["handin"].settings
    celery_app = Celery(app.name, task_cls=FlaskTask)
    options = {"polling_interval": 0.25, "connect_args": {"timeout": 30}} \
        if settings.broker_url.startswith(broker.SCHEME) else {}
    if settings.broker_url.startswith("redis"):
        # Unacknowledged jobs come back after this; the database lease is the real guard.
        options = {"visibility_timeout": int(app.config.get("BROKER_VISIBILITY_TIMEOUT")
                                             or os.environ.get("HANDIN_BROKER_VISIBILITY_TIMEOUT", 3600))}
    celery_app.conf.update(
        broker_url=settings.broker_url,
        broker_transport_options=options,
        broker_connection_retry_on_startup=True,
        task_ignore_result=True,
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_default_queue="cpu",
        task_queues=[Queue(q, routing_key=q) for q in ("cpu", "gpu", "timed")],
        worker_hijack_root_logger=False,
        worker_send_task_events=False,
    )
    celery_app.set_default()
    app.extensions["celery"] = celery_app
    return celery_app


@shared_task(name="handin.grade", ignore_result=True, acks_late=True)
def grade(submission_id: int) -> str:
    from .services.jobs import run_job
    return run_job(submission_id)
