"""The embedded broker: jobs go through a SQLite file, and delivered messages do not pile up."""

from __future__ import annotations

import sqlite3

from server import create_app
from server.broker import purge_delivered
from webtools import make_settings


def test_jobs_reach_the_embedded_broker_and_delivered_ones_are_purged(tmp_path):
    broker_file = tmp_path / "broker.sqlite"
    url = f"handin-sqla+sqlite:///{broker_file}"
    app = create_app(make_settings(tmp_path, f"sqlite:///{tmp_path / 'db.sqlite'}", broker_url=url,
                                   dispatch="celery"))
    from server.tasks import grade
    with app.app_context():
        for sub_id in (1, 2, 3):
            grade.apply_async((sub_id,), queue="cpu")
    con = sqlite3.connect(broker_file)
    queued = con.execute("SELECT count(*) FROM kombu_message m JOIN kombu_queue q ON m.queue_id = q.id "
                         "WHERE q.name = 'cpu' AND m.visible = 1").fetchone()[0]
    assert queued == 3
    # What kombu does on delivery: visible off, timestamp set (naive local time, as SQLAlchemy writes it).
    import datetime as dt
    con.execute("UPDATE kombu_message SET visible = 0, timestamp = ? WHERE id IN (SELECT min(id) FROM kombu_message)",
                (dt.datetime.now().strftime("%Y-%m-%d %H:%M:%S.%f"),))
    con.commit()
    assert purge_delivered(url, older_than_seconds=3600) == 0      # too recent
    assert purge_delivered(url, older_than_seconds=-1) == 1        # the delivered one goes
    assert con.execute("SELECT count(*) FROM kombu_message WHERE visible = 1").fetchone()[0] == 2
    assert purge_delivered("redis://127.0.0.1:1/0") == 0           # other brokers keep their own house
    con.close()
