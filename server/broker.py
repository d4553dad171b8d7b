"""The embedded broker: kombu's SQLAlchemy transport on a SQLite file in the instance folder.

kombu passes every transport option to ``create_engine``, so its polling interval cannot be
set through Celery; this transport keeps only the engine's own options and polls faster.
"""

from __future__ import annotations

from kombu.transport import TRANSPORT_ALIASES
from kombu.transport import sqlalchemy as sqla
from sqlalchemy import create_engine

SCHEME = "handin-sqla+"
ENGINE_OPTIONS = ("connect_args",)


class Channel(sqla.Channel):
    def _engine_from_config(self):
        client = self.connection.client
        opts = {k: v for k, v in client.transport_options.items() if k in ENGINE_OPTIONS}
        return create_engine(client.hostname, **opts)


class Transport(sqla.Transport):
    Channel = Channel
    polling_interval = 0.25


TRANSPORT_ALIASES[SCHEME.rstrip("+")] = "server.broker:Transport"


def purge_delivered(broker_url: str, *, older_than_seconds: float = 3600.0) -> int:
    """Delete messages the embedded broker handed out more than ``older_than_seconds`` ago.

    kombu's SQLAlchemy transport only marks a delivered message invisible and never deletes
    it, so the file would grow with every job. A delivered message is not needed again: if its
    worker died, the database lease (``server.services.jobs``) requeues the submission.
    """
    if not broker_url.startswith(SCHEME):
        return 0
    import datetime as dt

    from sqlalchemy import inspect, text

    engine = create_engine(broker_url.removeprefix(SCHEME), connect_args={"timeout": 30})
    try:
        if not inspect(engine).has_table("kombu_message"):
            return 0
        cutoff = dt.datetime.now() - dt.timedelta(seconds=older_than_seconds)
        with engine.begin() as conn:
            res = conn.execute(text("DELETE FROM kombu_message WHERE visible = 0 AND timestamp < :cutoff"),
                               {"cutoff": cutoff.strftime("%Y-%m-%d %H:%M:%S.%f")})
        return res.rowcount or 0
    finally:
        engine.dispose()
