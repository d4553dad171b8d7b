"""Real throwaway services for the tests, owned by the test session (a pytest plugin).

Registered for the whole suite by ``pytest_plugins`` in tests/conftest.py, so every test
(tests/server/ included) can ask for:

- ``postgres_url``: a fresh PostgreSQL cluster on 127.0.0.1 (a SQLAlchemy URL,
  ``postgresql+psycopg://postgres@127.0.0.1:PORT/handin_test``), or $HANDIN_TEST_DATABASE_URL;
- ``redis_url``: a redis-server on 127.0.0.1 without persistence (``redis://127.0.0.1:PORT/0``),
  or $HANDIN_TEST_REDIS_URL;
- ``browser``: a headless playwright Chromium (Debian's /usr/bin/chromium);
- ``page``: a new context and page per test, screenshotted on teardown into
  ``<artifacts>/screenshots/<test name>.png``.

Each service starts once per session and is stopped at its end. A missing component fails
the test with the install step that provides it (CI installs everything: `make setup`).
Artifacts (screenshots, service logs) go to tests/artifacts/ or $HANDIN_TEST_ARTIFACTS.

For servers and workers of the tests' own (``handin serve``, ``handin worker``)::

    port = free_port()
    with Process(["handin", "serve", "--port", str(port)], log=log_path("serve")) as web:
        web.wait_for_port(port)
        ...
"""

from __future__ import annotations

import ctypes
import glob
import importlib
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Callable, Iterator, Sequence

import pytest

from builders import REPO

SETUP = "run `make setup` as root (.ci/system-deps.sh installs it)"

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-quic",
]
PG_DATABASE = "handin_test"
PG_SUPERUSER = "postgres"


class ServiceError(RuntimeError):
    """A service did not start, or did not become ready in time."""


# --- helpers ------------------------------------------------------------------------------

def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nobody listens on right now (the kernel's pick)."""
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def port_answers(port: int, host: str = "127.0.0.1") -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def artifacts_dir(*parts: str) -> Path:
    """tests/artifacts (or $HANDIN_TEST_ARTIFACTS), with sub-folders, created."""
    root = Path(os.environ.get("HANDIN_TEST_ARTIFACTS") or REPO / "tests" / "artifacts")
    path = root.joinpath(*parts)
    path.mkdir(parents=True, exist_ok=True)
    return path


def log_path(name: str) -> Path:
    """Where a service's log goes: <artifacts>/logs/<name>.log."""
    return artifacts_dir("logs") / f"{safe_name(name)}.log"


def safe_name(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._=-]+", "_", name).strip("_") or "unnamed"


_libc = ctypes.CDLL(None, use_errno=True)
_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    # In the child before exec: killed if the test session dies without its teardown.
    _libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


class Process:
    """A long-running subprocess for a test: its own process group, output in a log file.

    ``start()`` launches it; ``wait_for_port(port)`` or ``wait_until(condition)`` waits until
    it is ready (failing early, with the log's tail, if it exits); ``stop()`` sends
    ``stop_signal`` to the whole group, then SIGKILL after ``timeout``. As a context manager
    it starts on entry and stops on exit. ``user`` (root only) runs it as that OS user. The
    log is overwritten unless ``append``.
    """

    def __init__(self, argv: Sequence[str], *, log: Path | str, env: dict | None = None,
                 cwd: Path | str | None = None, user: str | None = None,
                 stop_signal: int = signal.SIGTERM, name: str | None = None,
                 append: bool = False):
        self.argv = [str(a) for a in argv]
        self.log = Path(log)
        self.env = env
        self.cwd = cwd
        self.user = user
        self.stop_signal = stop_signal
        self.name = name or Path(self.argv[0]).name
        self.append = append
        self.popen: subprocess.Popen | None = None

    def __repr__(self) -> str:
        return f"<Process {self.name} pid={self.pid} log={self.log}>"

    @property
    def pid(self) -> int | None:
        return self.popen.pid if self.popen else None

    @property
    def returncode(self) -> int | None:
        return self.popen.poll() if self.popen else None

    @property
    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def start(self) -> "Process":
        if self.popen is not None:
            raise ServiceError(f"{self.name} was already started")
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log, "ab" if self.append else "wb") as out:
            out.write(f"=== {time.strftime('%Y-%m-%d %H:%M:%S')} {' '.join(self.argv)}\n".encode())
            out.flush()
            try:
                self.popen = subprocess.Popen(
                    self.argv, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                    env=self.env, cwd=self.cwd, start_new_session=True,
                    preexec_fn=_die_with_parent, **_as_user(self.user))
            except OSError as e:
                raise ServiceError(f"cannot start {self.name} ({self.argv[0]}): {e}") from e
        return self

    def wait_until(self, condition: Callable[[], object], timeout: float = 30.0,
                   what: str = "ready", interval: float = 0.05) -> "Process":
        """Poll ``condition`` until it is true; raise if the process exits or time runs out.

        Exceptions from ``condition`` count as "not yet" (the last one is reported)."""
        deadline = time.monotonic() + timeout
        last = None
        while True:
            if not self.alive:
                raise ServiceError(f"{self.name} exited with {self.returncode} before it was "
                                   f"{what}; log {self.log}:\n{self.log_tail()}")
            try:
                if condition():
                    return self
                last = None
            except Exception as e:  # noqa: BLE001 - "not yet", reported on timeout
                last = e
            if time.monotonic() > deadline:
                why = f" (last: {type(last).__name__}: {last})" if last else ""
                raise ServiceError(f"{self.name} was not {what} after {timeout:g} s{why}; "
                                   f"log {self.log}:\n{self.log_tail()}")
            time.sleep(interval)

    def wait_for_port(self, port: int, host: str = "127.0.0.1",
                      timeout: float = 30.0) -> "Process":
        return self.wait_until(lambda: port_answers(port, host), timeout,
                               what=f"listening on {host}:{port}")

    def stop(self, timeout: float = 10.0) -> int | None:
        """Stop the whole process group; the leader's exit status."""
        if self.popen is None:
            return None
        for sig in (self.stop_signal, signal.SIGKILL):
            try:
                os.killpg(self.popen.pid, sig)
            except ProcessLookupError:
                pass  # the whole group is gone
            try:
                self.popen.wait(timeout)
                if sig == signal.SIGKILL or not group_alive(self.popen.pid):
                    break
            except subprocess.TimeoutExpired:
                continue
        _wait_group_gone(self.popen.pid, timeout)
        return self.popen.returncode

    def log_tail(self, lines: int = 40) -> str:
        try:
            text = self.log.read_text(errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])

    def __enter__(self) -> "Process":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def group_alive(pgid: int) -> bool:
    """Whether any process of group ``pgid`` still runs (zombies waiting for a reaper don't)."""
    for stat in glob.glob("/proc/[0-9]*/stat"):
        try:
            with open(stat) as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue  # exited while we looked
        if int(fields[2]) == pgid and fields[0] not in ("Z", "X"):
            return True
    return False


def _wait_group_gone(pgid: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while group_alive(pgid) and time.monotonic() < deadline:
        try:
            os.killpg(pgid, signal.SIGKILL)
        except ProcessLookupError:
            return
        time.sleep(0.05)


def _as_user(user: str | None) -> dict:
    """Popen arguments that run the child as ``user`` (with that user's groups only)."""
    if user is None:
        return {}
    pw = pwd.getpwnam(user)
    if pw.pw_uid == os.geteuid():
        return {}
    return {"user": pw.pw_uid, "group": pw.pw_gid, "extra_groups": []}


def _scratch_dir(prefix: str, owner: str | None = None) -> Path:
    """A fresh temp dir (under /tmp, which every user can traverse), chowned to ``owner``."""
    path = Path(tempfile.mkdtemp(prefix=prefix))
    if owner is not None:
        pw = pwd.getpwnam(owner)
        os.chown(path, pw.pw_uid, pw.pw_gid)
    return path


def _fail(message: str) -> None:
    pytest.fail(message, pytrace=False)


def _require(module: str):
    """Import a Python package the services need, or fail naming the install step."""
    try:
        return importlib.import_module(module)
    except ImportError as e:
        _fail(f"{module} cannot be imported ({e}): run `make setup` "
              "(it installs the project with pip install -e '.[test]')")


def _started(process: Process, ready: Callable[[], object], timeout: float, what: str):
    """Start ``process`` and wait until ``ready``; a failure fails the test, with the log."""
    try:
        process.start().wait_until(ready, timeout, what=what)
    except ServiceError as e:
        process.stop()
        _fail(str(e))
    return process


# --- PostgreSQL ---------------------------------------------------------------------------

def postgres_bindir() -> Path:
    """The newest /usr/lib/postgresql/<version>/bin that has initdb (Debian's layout)."""
    found = sorted((Path(p).parent for p in glob.glob("/usr/lib/postgresql/*/bin/initdb")
                    if Path(p).parent.parent.name.isdigit()),
                   key=lambda bindir: int(bindir.parent.name))
    if not found:
        _fail(f"PostgreSQL is not installed (no /usr/lib/postgresql/*/bin/initdb): {SETUP}, "
              "or `apt-get install postgresql`")
    return found[-1]


def _postgres_user() -> str | None:
    """The OS user the cluster runs as: `postgres` when we are root (postgres refuses root)."""
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam("postgres")
    except KeyError:
        _fail(f"no `postgres` OS user to run the test cluster as root: {SETUP} "
              "(the postgresql package creates it)")
    return "postgres"


def _pg_query_ok(url: str) -> bool:
    import psycopg
    with psycopg.connect(url, connect_timeout=2) as conn:
        return conn.execute("select 1").fetchone() == (1,)


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A SQLAlchemy URL of a fresh, empty database on a throwaway cluster (or the env's)."""
    if url := os.environ.get("HANDIN_TEST_DATABASE_URL"):
        yield url
        return
    psycopg = _require("psycopg")
    bindir = postgres_bindir()
    user = _postgres_user()
    root = _scratch_dir("handin-pg-", owner=user)
    data, sockets = root / "data", root / "sockets"
    log = log_path("postgres")
    try:
        for d in (data, sockets):
            d.mkdir(mode=0o700)
            if user:
                shutil.chown(d, user, user)
        init = subprocess.run(
            [bindir / "initdb", "-D", data, "-U", PG_SUPERUSER, "--auth=trust", "--no-sync",
             "--no-instructions", "-E", "UTF8", "--no-locale"],
            stdin=subprocess.DEVNULL, capture_output=True, text=True, cwd=root,
            **_as_user(user))
        with open(log, "w") as f:
            f.write(init.stdout + init.stderr)
        if init.returncode:
            _fail(f"initdb failed ({init.returncode}):\n{init.stdout}{init.stderr}")
        port = free_port()
        server = Process(
            [bindir / "postgres", "-D", data, "-p", port,
             "-c", "listen_addresses=127.0.0.1", "-c", f"unix_socket_directories={sockets}",
             "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off"],
            log=log, append=True, cwd=root, user=user, name="postgres",
            stop_signal=signal.SIGINT)  # postgres' fast shutdown
        admin = f"postgresql://{PG_SUPERUSER}@127.0.0.1:{port}/postgres"
        _started(server, lambda: _pg_query_ok(admin), 30, f"answering on 127.0.0.1:{port}")
        try:
            with psycopg.connect(admin, autocommit=True) as conn:
                conn.execute(f"create database {PG_DATABASE}")
            yield f"postgresql+psycopg://{PG_SUPERUSER}@127.0.0.1:{port}/{PG_DATABASE}"
        finally:
            server.stop()
    finally:
        shutil.rmtree(root, ignore_errors=True)


# --- Redis --------------------------------------------------------------------------------

def _redis_pings(url: str) -> bool:
    import redis
    client = redis.Redis.from_url(url, socket_timeout=2)
    try:
        return client.ping()
    finally:
        client.close()


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """``redis://127.0.0.1:PORT/0`` of a throwaway redis-server (or the env's)."""
    if url := os.environ.get("HANDIN_TEST_REDIS_URL"):
        yield url
        return
    _require("redis")
    binary = shutil.which("redis-server")
    if binary is None:
        _fail(f"redis-server is not installed: {SETUP}, or `apt-get install redis-server`")
    root = _scratch_dir("handin-redis-")
    port = free_port()
    url = f"redis://127.0.0.1:{port}/0"
    server = Process(
        [binary, "--bind", "127.0.0.1", "--port", str(port), "--save", "", "--appendonly", "no",
         "--dir", root, "--daemonize", "no", "--protected-mode", "yes", "--logfile", ""],
        log=log_path("redis"), name="redis-server")
    try:
        _started(server, lambda: _redis_pings(url), 30, f"answering PING on 127.0.0.1:{port}")
        yield url
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)


# --- Chromium -----------------------------------------------------------------------------

@pytest.fixture(scope="session")
def browser():
    """A headless playwright Chromium (sync API): Debian's /usr/bin/chromium."""
    sync_playwright = _require("playwright.sync_api").sync_playwright
    if not os.access(CHROMIUM, os.X_OK):
        _fail(f"{CHROMIUM} is not installed: {SETUP}, or `apt-get install chromium`")
    pw = sync_playwright().start()
    try:
        try:
            chromium = pw.chromium.launch(executable_path=CHROMIUM, headless=True,
                                          args=CHROMIUM_ARGS, timeout=60_000)
        except Exception as e:  # noqa: BLE001 - playwright's Error: report it as the cause
            _fail(f"cannot launch {CHROMIUM} with playwright: {e}")
        try:
            yield chromium
        finally:
            chromium.close()
    finally:
        pw.stop()


@pytest.fixture
def page(browser, request):
    """A fresh context and page; screenshotted into <artifacts>/screenshots on teardown."""
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    pg = context.new_page()
    try:
        yield pg
    finally:
        shot = artifacts_dir("screenshots") / f"{safe_name(request.node.name)}.png"
        try:
            pg.screenshot(path=str(shot), full_page=True, timeout=10_000)
        except Exception as e:  # noqa: BLE001 - a closed or crashed page: say so, go on
            import warnings
            warnings.warn(f"no screenshot for {request.node.nodeid}: {e}", stacklevel=1)
        context.close()
