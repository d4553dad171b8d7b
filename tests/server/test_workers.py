"""Grading workers as real processes: the scale-out path, the embedded path, a worker killed mid-grade,
redelivered jobs. Nothing is mocked: ``handin serve`` / ``handin worker`` / ``handin user add`` /
``handin token create`` / ``handin db upgrade`` run as subprocesses (``python -m handin.cli``) against
real PostgreSQL, Redis, the embedded SQLite database and broker, and the local sandbox.

The sandbox is ``local`` (HANDIN_SANDBOX=local): ``auto`` would pick docker on a host with an engine
and the image, which grades m02 about four times slower, and a killed worker there leaves its
container behind rather than its bubblewrap tree (``--die-with-parent``).

Each subprocess logs to tests/artifacts/logs/workers-<test>-<name>.log.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest
import requests
from sqlalchemy import create_engine, text, update

from builders import REPO, TOY_TOML, make_toy_module, write_notebook
from services import Process, free_port, group_alive, log_path, safe_name
from webtools import reset_postgres

pytestmark = pytest.mark.slow   # every test here grades for real

HANDIN = [sys.executable, "-m", "handin.cli"]
M02 = "m02-feedforward"
M02_SOLUTION = REPO / "solutions" / M02 / "solution.ipynb"
M02_STARTER = REPO / "assignments" / M02 / "feedforward.ipynb"
PASSWORD = "correct horse battery staple"

# A toy module whose lease runs out soon after its worker dies: wall 15 s + margin 2 s.
TOY_FAST_LEASE = TOY_TOML.replace('wall_time = "40s"', 'wall_time = "15s"').replace(
    'notebook_time = "15s"', 'notebook_time = "10s"')
LEASE_MARGIN = "2"
TOY_SCORE, TOY_MAX = 4.5, 5.0   # the toy solution: test_scale earns half its point
SOLUTION_CELLS = [
    "import numpy as np\nnumbers = open('data/numbers.txt').read().split()",
    "def double(x):\n    return 2 * x",
    "def scale(x):\n    return np.asarray(x) * 3",
    "def guess():\n    return None",
]


# --------------------------------------------------------------------------- helpers


def private_redis(url: str, number: int = 5) -> str:
    """The session's Redis on a database of these tests' own, emptied (no message of an earlier test)."""
    import redis
    base, _, last = url.rpartition("/")
    if last.isdigit():
        url = f"{base}/{number}"
    client = redis.Redis.from_url(url)
    try:
        client.flushdb()
    finally:
        client.close()
    return url


def toy_course(root: Path, *, sleep: float = 0.0) -> tuple[Path, Path]:
    """A course root holding only the toy module; and a correct notebook that sleeps ``sleep`` s first."""
    make_toy_module(root, toml=TOY_FAST_LEASE)
    cells = ([f"import time\ntime.sleep({sleep})"] if sleep else []) + SOLUTION_CELLS
    return root, write_notebook(root / f"sleepy-{sleep:g}.ipynb", cells)


class Platform:
    """One platform instance: its environment, its processes (stopped at teardown), its database."""

    def __init__(self, name: str, tmp: Path, *, database_url: str | None = None, broker_url: str | None = None,
                 course_root: Path = REPO, sandbox: str = "local", lease_margin: str | None = None):
        self.name = name
        self.instance = tmp / "instance"
        self.database_url = database_url or f"sqlite:///{self.instance / 'handin.sqlite'}"
        env = {k: v for k, v in os.environ.items() if not k.startswith("HANDIN_")}
        env.update(HANDIN_INSTANCE=str(self.instance), HANDIN_SANDBOX=sandbox, HANDIN_COURSE_ROOT=str(course_root),
                   PYTHONUNBUFFERED="1")
        if database_url:
            env["HANDIN_DATABASE_URL"] = database_url
        if broker_url:
            env["HANDIN_BROKER_URL"] = broker_url
        if lease_margin:
            env["HANDIN_LEASE_MARGIN"] = lease_margin
        self.env = env
        self.procs: list[Process] = []
        self.port: int | None = None
        self._engine = None

    # the CLI
    def cli(self, *args: str, input: str | None = None) -> str:
        r = subprocess.run(HANDIN + list(args), env=self.env, cwd=REPO, input=input, capture_output=True,
                           text=True, timeout=120)
        assert r.returncode == 0, f"handin {' '.join(args)} failed ({r.returncode}):\n{r.stdout}\n{r.stderr}"
        return r.stdout

    def student(self, email: str, course: str = "demo") -> str:
        """``handin user add`` then ``handin token create``: the student's API token."""
        out = self.cli("user", "add", email, "--course", course, "--role", "student", "--password-stdin",
                       input=PASSWORD + "\n")
        assert f"student in {course}" in out
        token = self.cli("token", "create", email).strip().splitlines()[-1]
        assert token.startswith("hdn_"), token
        return token

    # processes
    def _process(self, argv: list[str], what: str) -> Process:
        p = Process(HANDIN + argv, log=log_path(f"workers-{self.name}-{what}"), env=self.env, cwd=REPO, name=what)
        self.procs.append(p)
        return p.start()

    def serve(self, *, worker: bool, wait: bool = True) -> Process:
        self.port = free_port()
        argv = ["serve", "--host", "127.0.0.1", "--port", str(self.port)] + ([] if worker else ["--no-worker"])
        p = self._process(argv, "serve")
        return self.serving(p) if wait else p

    def serving(self, p: Process) -> Process:
        return p.wait_for_port(self.port, timeout=90)

    def worker(self, what: str, queues: str = "cpu,gpu,timed", wait: bool = True) -> Process:
        p = self._process(["worker", "--queues", queues, "--concurrency", "1", "--name", f"{what}@test"], what)
        return self.ready(p) if wait else p

    @staticmethod
    def ready(p: Process) -> Process:
        return p.wait_until(lambda: "ready." in p.log.read_text(errors="replace"), timeout=90, what="ready")

    def stop(self) -> None:
        for p in self.procs:                    # signal them all first: they shut down side by side
            if p.alive:
                try:
                    os.killpg(p.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
        for p in reversed(self.procs):
            p.stop()
        if self._engine is not None:
            self._engine.dispose()

    # the API
    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}/api/v1{path}"

    def upload(self, token: str, notebook: Path, module: str, course: str = "demo") -> int:
        with open(notebook, "rb") as fh:
            r = requests.post(self.url(f"/courses/{course}/assignments/{module}/submissions"),
                              headers={"Authorization": f"Bearer {token}"}, files={"file": (notebook.name, fh)},
                              timeout=60)
        assert r.status_code == 202, r.text
        body = r.json()
        assert body["status"] == "queued" and isinstance(body["id"], int), body
        return body["id"]

    def submission(self, token: str, sub_id: int) -> dict:
        r = requests.get(self.url(f"/submissions/{sub_id}"), headers={"Authorization": f"Bearer {token}"},
                         timeout=30)
        assert r.status_code == 200, r.text
        return r.json()

    def wait_status(self, token: str, sub_id: int, statuses: tuple[str, ...], timeout: float,
                    interval: float = 0.2) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            doc = self.submission(token, sub_id)
            if doc["status"] in statuses:
                return doc
            if time.monotonic() > deadline:
                logs = "\n".join(f"--- {p.name} (alive={p.alive})\n{p.log_tail(25)}" for p in self.procs)
                pytest.fail(f"submission {sub_id} still {doc['status']} after {timeout:g} s\n{logs}")
            time.sleep(interval)

    # the database, read directly
    def rows(self, sub_id: int) -> dict:
        if self._engine is None:
            self._engine = create_engine(self.database_url)
        with self._engine.connect() as conn:
            one = lambda sql: conn.execute(text(sql), {"id": sub_id}).all()  # noqa: E731
            sub = one("SELECT status, deliveries FROM submissions WHERE id = :id")
            results = one("SELECT runs, score, max_score, run_status, graded_at, report_dir FROM results "
                          "WHERE submission_id = :id")
            grades = one("SELECT points, max_points, passed FROM grades WHERE submission_id = :id")
            audits = conn.execute(text("SELECT count(*) FROM audit_log WHERE action = 'grade.computed' "
                                       "AND target = :t"), {"t": f"submission:{sub_id}"}).scalar()
        return {"submission": [tuple(r) for r in sub], "results": [tuple(r) for r in results],
                "grades": [tuple(r) for r in grades], "audits": audits}

    def lease_token(self, sub_id: int) -> str:
        if self._engine is None:
            self._engine = create_engine(self.database_url)
        with self._engine.connect() as conn:
            token = conn.execute(text("SELECT lease_token FROM submissions WHERE id = :id"), {"id": sub_id}).scalar()
        assert token, "no lease"
        return token

    def logs(self) -> str:
        return "\n".join(p.log.read_text(errors="replace") for p in self.procs)


@pytest.fixture
def platforms(request, tmp_path):
    made: list[Platform] = []

    def make(**kwargs) -> Platform:
        name = safe_name(request.node.name) + (f"-{len(made)}" if made else "")
        p = Platform(name, tmp_path / f"p{len(made)}", **kwargs)
        made.append(p)
        return p

    yield make
    for p in made:
        p.stop()


def processes_mentioning(needle: str) -> list[int]:
    """Processes whose command line contains ``needle`` (bubblewrap's names the run's folder)."""
    found = []
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                if needle.encode() in (d / "cmdline").read_bytes():
                    found.append(int(d.name))
            except OSError:
                continue
    return found


def remove_leftovers(lease: str, upload: Path) -> None:
    """A killed worker cannot clean up: remove its sandbox's run folder and its job's temp folder."""
    tmp = Path(tempfile.gettempdir())
    for d in tmp.glob(f"handin-{lease}-*"):
        shutil.rmtree(d, ignore_errors=True)
    for d in tmp.glob("handin-*-*"):
        try:
            if d.is_dir() and any(f.is_file() and os.path.samefile(f, upload) for f in d.iterdir()):
                shutil.rmtree(d, ignore_errors=True)
        except OSError:
            continue


def task_outcomes(log: str) -> list[str]:
    """What each grading task returned, from a worker's log (Celery's 'succeeded in …: 'graded'' lines)."""
    return re.findall(r"Task handin\.grade\[[^\]]+\] succeeded in [0-9.e-]+s: '(\w+)'", log)


def assert_graded_once(rows: dict, *, score: float, max_score: float, deliveries: int | None = None) -> None:
    (status, delivered), = rows["submission"]
    assert status == "graded"
    assert len(rows["results"]) == 1, rows
    assert len(rows["grades"]) == 1, rows
    runs, got, got_max, run_status, _, _ = rows["results"][0]
    assert runs == 1, f"graded {runs} times"
    assert rows["audits"] == 1, f"{rows['audits']} grade.computed entries"
    assert (got, got_max, run_status) == (score, max_score, "ok")
    assert rows["grades"][0][:2] == (score, max_score)
    if deliveries is not None:
        assert delivered == deliveries, f"claimed {delivered} times, expected {deliveries}"


# --------------------------------------------------------------------------- a. the two deployment paths

def test_scale_out_postgres_redis_two_workers(platforms, postgres_url, redis_url):
    """PostgreSQL + Redis, `handin serve --no-worker` and two `handin worker`: m02 graded 29/29."""
    p = platforms(database_url=reset_postgres(postgres_url), broker_url=private_redis(redis_url))
    assert "up to date" in p.cli("db", "upgrade")
    serve = p.serve(worker=False, wait=False)   # first start: seeds the demo course (every module released)
    w1, w2 = p.worker("worker-1", wait=False), p.worker("worker-2", wait=False)
    p.serving(serve)
    token = p.student("ada@example.org")
    p.ready(w1), p.ready(w2)
    assert "sandbox local" in w1.log.read_text()

    solution = p.upload(token, M02_SOLUTION, M02)
    starter = p.upload(token, M02_STARTER, M02)
    doc = p.wait_status(token, solution, ("graded", "error"), timeout=150)
    assert doc["status"] == "graded", doc
    assert (doc["score"], doc["max_score"], doc["run_status"]) == (29, 29, "ok")
    assert doc["grade"]["passed"] is True
    doc = p.wait_status(token, starter, ("graded", "error"), timeout=150)
    assert (doc["status"], doc["score"], doc["max_score"]) == ("graded", 0, 29)
    assert_graded_once(p.rows(solution), score=29, max_score=29, deliveries=1)
    assert_graded_once(p.rows(starter), score=0, max_score=29, deliveries=1)
    # prefetch 1, concurrency 1: each worker took one of the two jobs
    outcomes = [task_outcomes(w.log.read_text()) for w in (w1, w2)]
    assert outcomes == [["graded"], ["graded"]], outcomes


def test_embedded_default_serve_grades_an_upload(platforms):
    """`handin serve` alone: SQLite database, SQLite broker, embedded workers."""
    p = platforms()
    serve = p.serve(worker=True)
    assert "grading workers started" in serve.log.read_text()
    token = p.student("grace@example.org")
    sub_id = p.upload(token, M02_SOLUTION, M02)
    doc = p.wait_status(token, sub_id, ("graded", "error"), timeout=150)
    assert (doc["status"], doc["score"], doc["max_score"]) == ("graded", 29, 29), doc
    assert_graded_once(p.rows(sub_id), score=29, max_score=29, deliveries=1)
    assert (p.instance / "broker.sqlite").is_file() and (p.instance / "handin.sqlite").is_file()
    worker_log = (p.instance / "worker.log").read_text()
    assert task_outcomes(worker_log) == ["graded"], worker_log[-3000:]


# --------------------------------------------------------------------------- b. a worker killed mid-grade

@pytest.mark.parametrize("broker", ["redis", "sqlite"])
def test_sigkill_mid_grade_is_graded_exactly_once(platforms, tmp_path, request, broker):
    """Worker A dies (SIGKILL, whole group) while grading; its lease runs out, the run is requeued,
    worker B grades it: one result, one grade, correct.

    Redis: the dead worker's message sits unacknowledged until the visibility timeout (an hour), so
    it is the database lease that brings the job back. SQLite broker: the message was taken and is
    never restored; again the lease brings it back.
    """
    root, notebook = toy_course(tmp_path / "course", sleep=6)
    if broker == "redis":
        urls = dict(database_url=reset_postgres(request.getfixturevalue("postgres_url")),
                    broker_url=private_redis(request.getfixturevalue("redis_url")))
    else:
        urls = {}
    p = platforms(course_root=root, lease_margin=LEASE_MARGIN, **urls)
    p.cli("db", "upgrade")
    serve = p.serve(worker=False, wait=False)
    a = p.worker("worker-A", wait=False)
    p.serving(serve)
    token = p.student("kim@example.org")
    p.ready(a)

    sub_id = p.upload(token, notebook, "toy")
    doc = p.wait_status(token, sub_id, ("running",), timeout=60, interval=0.1)
    lease = p.lease_token(sub_id)               # worker A's run: its sandbox dir is handin-<lease>-…
    request.addfinalizer(lambda: remove_leftovers(lease, p.instance / "uploads" / doc["sha256"][:2]
                                                  / f"{doc['sha256']}.ipynb"))
    time.sleep(1.5)                             # inside the 6 s sleep of the first cell
    assert processes_mentioning(f"handin-{lease}-"), "worker A's sandbox is not running"
    os.killpg(a.pid, signal.SIGKILL)
    a.popen.wait(10)
    deadline = time.monotonic() + 10
    while (group_alive(a.pid) or processes_mentioning(f"handin-{lease}-")) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not group_alive(a.pid)
    if os.geteuid() == 0:   # bubblewrap --die-with-parent; without it (not root) nothing reaps them
        assert not processes_mentioning(f"handin-{lease}-"), "worker A's sandbox outlived it"
    time.sleep(2)
    rows = p.rows(sub_id)
    assert rows["submission"] == [("running", 1)] and rows["results"] == [], rows
    assert task_outcomes(a.log.read_text()) == []

    b = p.worker("worker-B")
    t = time.monotonic()
    doc = p.wait_status(token, sub_id, ("graded", "error"), timeout=90)
    assert (doc["status"], doc["score"], doc["max_score"]) == ("graded", TOY_SCORE, TOY_MAX), doc
    assert_graded_once(p.rows(sub_id), score=TOY_SCORE, max_score=TOY_MAX, deliveries=2)
    assert task_outcomes(b.log.read_text()) == ["graded"]
    assert "lease ran out; requeued" in p.logs()
    # the result's report is worker B's run, and it is on disk
    report_dir = p.rows(sub_id)["results"][0][5]
    assert (p.instance / report_dir / "results.json").is_file()
    print(f"{broker}: graded by worker B {time.monotonic() - t:.1f} s after it started")


# --------------------------------------------------------------------------- c. redelivered jobs

def test_redelivered_job_with_two_workers_racing_yields_one_result(platforms, tmp_path, postgres_url, redis_url):
    """The same job delivered twice at once to two workers, then once more after grading: one result."""
    from server import create_app
    from server.config import Settings

    root, notebook = toy_course(tmp_path / "course", sleep=1)
    p = platforms(course_root=root, database_url=reset_postgres(postgres_url), broker_url=private_redis(redis_url))
    p.cli("db", "upgrade")
    serve = p.serve(worker=False, wait=False)
    w1, w2 = p.worker("worker-1", wait=False), p.worker("worker-2", wait=False)
    p.serving(serve)
    token = p.student("lin@example.org")
    p.ready(w1), p.ready(w2)
    sender = create_app(Settings(instance=tmp_path / "sender", database_url=p.database_url,
                                 broker_url=p.env["HANDIN_BROKER_URL"], course_root=root, dispatch="none",
                                 rate_limits=False, testing=True)).extensions["celery"]

    sub_id = p.upload(token, notebook, "toy")   # the API sent one message;
    sender.send_task("handin.grade", args=(sub_id,), queue="cpu")   # a second copy races it
    p.wait_status(token, sub_id, ("graded", "error"), timeout=60)
    deadline = time.monotonic() + 20
    while len(task_outcomes(w1.log.read_text()) + task_outcomes(w2.log.read_text())) < 2:
        assert time.monotonic() < deadline, "the second copy was not taken"
        time.sleep(0.2)
    first = p.rows(sub_id)
    assert_graded_once(first, score=TOY_SCORE, max_score=TOY_MAX, deliveries=1)
    assert sorted(task_outcomes(w1.log.read_text()) + task_outcomes(w2.log.read_text())) == ["graded", "skipped"]

    sender.send_task("handin.grade", args=(sub_id,), queue="cpu")   # redelivered after it was graded
    deadline = time.monotonic() + 20
    while len(task_outcomes(w1.log.read_text()) + task_outcomes(w2.log.read_text())) < 3:
        assert time.monotonic() < deadline, "the third copy was not taken"
        time.sleep(0.2)
    assert sorted(task_outcomes(w1.log.read_text()) + task_outcomes(w2.log.read_text())) == \
        ["graded", "skipped", "skipped"]
    assert p.rows(sub_id) == first              # not a byte changed: same run, same graded_at


def test_celery_task_called_twice_and_lease_stolen_mid_grade(tmp_path):
    """The task itself, in this process on SQLite: called twice at once → one grades, one skips; called
    again after its lease was taken over mid-grade → the first run's result is dropped ("superseded")."""
    from server import create_app
    from server.config import Settings
    from server.extensions import db
    from server.models import Result, Submission
    from server.services import accounts, catalog, submissions
    from server.tasks import grade

    root, notebook = toy_course(tmp_path / "course", sleep=3)
    app = create_app(Settings(instance=tmp_path / "instance", database_url=f"sqlite:///{tmp_path / 'h.sqlite'}",
                              broker_url="memory://", course_root=root, dispatch="none", sandbox="local",
                              rate_limits=False, testing=True, lease_margin=30.0))
    with app.app_context():
        db.create_all()
        course = accounts.ensure_course("c1", "Course one")
        catalog.add_module(course, "toy", released=True)
        user, _ = accounts.add_user("sam@example.org", course=course, role="student", password=PASSWORD)
        db.session.commit()
        ids = [submissions.submit(user, "c1", "toy", filename=notebook.name, data=notebook.read_bytes()).id
               for _ in range(2)]
        db.session.remove()

    def run(sub_id: int, out: list) -> None:
        out.append(grade(sub_id))                  # the Celery task, called as a worker calls it

    # 1. two deliveries at once
    outcomes: list[str] = []
    threads = [threading.Thread(target=run, args=(ids[0], outcomes)) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sorted(outcomes) == ["graded", "skipped"]
    assert grade(ids[0]) == "skipped"             # and once more, after it was graded

    # 2. the lease runs out while the first run still grades; a second run takes it over
    first: list[str] = []
    t = threading.Thread(target=run, args=(ids[1], first))
    t.start()
    with app.app_context():
        deadline = time.monotonic() + 30
        while db.session.get(Submission, ids[1]).status != "running":
            assert time.monotonic() < deadline
            db.session.expire_all()
            time.sleep(0.05)
        db.session.execute(update(Submission).where(Submission.id == ids[1])
                           .values(lease_until=dt.datetime.now(dt.timezone.utc) - dt.timedelta(seconds=1)))
        db.session.commit()
        db.session.remove()
    second = grade(ids[1])
    t.join(60)
    assert (first, second) == (["superseded"], "graded")
    with app.app_context():
        for sub_id in ids:
            sub = db.session.get(Submission, sub_id)
            assert sub.status == "graded" and sub.result.runs == 1
            assert (sub.result.score, sub.result.max_score) == (TOY_SCORE, TOY_MAX)
            assert db.session.query(Result).filter_by(submission_id=sub_id).count() == 1
        sub = db.session.get(Submission, ids[1])
        assert sub.deliveries == 2
        reports = sorted(d.name for d in (tmp_path / "instance" / "reports" / str(ids[1])).iterdir())
        assert [f"reports/{ids[1]}/{name}" for name in reports] == [sub.result.report_dir], \
            "the superseded run's report was not removed"
        db.session.remove()
        db.engine.dispose()
