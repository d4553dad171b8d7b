"""What the ``handin serve|worker|user|token|db`` commands do (``handin.cli`` holds the click layer)."""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

from flask import Flask

from .config import Settings

log = logging.getLogger("handin.server")
REAP_EVERY = 15.0


def make_app(instance: Path | None, **overrides) -> Flask:
    from . import create_app
    return create_app(Settings.from_env(instance, **overrides))


def upgrade(app: Flask) -> None:
    """Apply the migrations (creates the database on first start)."""
    from flask_migrate import upgrade as alembic_upgrade

    from . import MIGRATIONS
    with app.app_context():
        alembic_upgrade(directory=str(MIGRATIONS))


def seed_if_new(app: Flask, say) -> None:
    from .services import seed
    with app.app_context():
        if not seed.needs_seed():
            return
        made = seed.seed_demo(warn=say)
    path = app.extensions["handin"].instance / "demo-accounts.txt"
    lines = [f"{role:8} {email:24} {password}" for role, email, password in made]
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write("# handin demo accounts (course 'demo'; <role>@<code>.handin for the courses in courses/); "
                 "passwords shown once at first start\n")
        fh.write("\n".join(lines) + "\n")
    os.chmod(path, 0o600)
    say("first start: course 'demo' with every module, and the courses of courses/ with theirs, released; "
        "accounts (also in "
        f"{path}, mode 0600):")
    for line in lines:
        say("  " + line)


def requeue_loop(app: Flask, stop: threading.Event, every: float = REAP_EVERY) -> threading.Thread:
    """Background thread: requeue jobs whose worker died (their lease ran out)."""
    from .broker import purge_delivered
    from .dispatch import dispatch
    from .services.jobs import requeue_stuck

    broker_url = app.extensions["handin"].settings.broker_url

    def loop():
        passes = 0
        while not stop.wait(every):
            passes += 1
            try:
                with app.app_context():
                    ids = requeue_stuck()
                    if ids:
                        dispatch(ids)
                if passes % 40 == 0:   # every ten minutes
                    purge_delivered(broker_url)
            except Exception:
                log.exception("requeue pass failed")

    t = threading.Thread(target=loop, name="handin-requeue", daemon=True)
    t.start()
    return t


def run_worker(app: Flask, *, queues: list[str], concurrency: int, name: str | None = None) -> None:
    """A Celery worker (thread pool: each job's work is in its sandbox's processes)."""
    state = app.extensions["handin"]
    with app.app_context():
        state.backend(gpu="gpu" in queues)
    print(f"handin worker: queues {','.join(queues)}, concurrency {concurrency}; {state.backend_note}", flush=True)
    stop = threading.Event()
    requeue_loop(app, stop)
    celery_app = app.extensions["celery"]
    worker = celery_app.Worker(queues=queues, concurrency=concurrency, pool="threads", loglevel="INFO",
                               hostname=name or f"handin-{'-'.join(queues)}-{os.getpid()}@{socket.gethostname()}",
                               without_heartbeat=True, without_mingle=True, without_gossip=True, quiet=True)
    try:
        worker.start()
    finally:
        stop.set()
    sys.exit(worker.exitcode or 0)


class EmbeddedWorkers:
    """``handin serve``'s own workers: one for cpu and gpu jobs, one taking timed jobs one at a time."""

    def __init__(self, instance: Path, concurrency: int):
        self.instance = instance
        self.specs = [(["cpu", "gpu"], concurrency), (["timed"], 1)]
        self.procs: list[subprocess.Popen | None] = [None] * len(self.specs)
        self.stop = threading.Event()
        self.log = open(instance / "worker.log", "ab")

    def start(self) -> None:
        for i in range(len(self.specs)):
            self._spawn(i)
        threading.Thread(target=self._watch, name="handin-workers", daemon=True).start()

    def _spawn(self, i: int) -> None:
        queues, concurrency = self.specs[i]
        argv = [sys.executable, "-m", "handin.cli", "worker", "--instance", str(self.instance),
                "--queues", ",".join(queues), "--concurrency", str(concurrency)]
        self.procs[i] = subprocess.Popen(argv, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)

    def _watch(self) -> None:
        while not self.stop.wait(2.0):
            for i, p in enumerate(self.procs):
                if p is not None and p.poll() is not None and not self.stop.is_set():
                    log.warning("embedded worker %s exited (%s); restarting", self.specs[i][0], p.returncode)
                    time.sleep(1.0)
                    self._spawn(i)

    def close(self) -> None:
        self.stop.set()
        for p in self.procs:
            if p is not None and p.poll() is None:
                try:
                    os.killpg(p.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
        deadline = time.monotonic() + 10
        for p in self.procs:
            if p is None:
                continue
            try:
                p.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)


def serve(app: Flask, *, host: str, port: int, worker: bool, concurrency: int, say) -> None:
    from waitress import create_server

    state = app.extensions["handin"]
    with app.app_context():
        state.backend()
    say(state.backend_note)
    workers = EmbeddedWorkers(state.instance, concurrency) if worker else None
    if workers:
        workers.start()
        say(f"grading workers started (log: {state.instance / 'worker.log'})")
    stop = threading.Event()
    requeue_loop(app, stop)
    server = create_server(app, host=host, port=port, threads=16, connection_limit=1000,
                           channel_timeout=120, clear_untrusted_proxy_headers=True)
    say(f"handin is serving on http://{host}:{server.effective_port}/  (instance {state.instance}; Ctrl-C stops)")

    def shutdown(signum, frame):
        raise KeyboardInterrupt
    signal.signal(signal.SIGTERM, shutdown)
    try:
        server.run()
    except KeyboardInterrupt:
        pass
    finally:
        stop.set()
        server.close()
        if workers:
            workers.close()
