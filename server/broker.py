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
