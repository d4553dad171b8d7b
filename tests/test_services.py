"""The test services start for real: the proof that CI installed PostgreSQL, Redis and Chromium."""

import http.server
import threading
import time

import pytest

from services import (Process, ServiceError, artifacts_dir, free_port, group_alive, log_path,
                      port_answers, safe_name)


def test_postgres_answers(postgres_url):
    import psycopg
    url = postgres_url.replace("postgresql+psycopg://", "postgresql://", 1)
    with psycopg.connect(url) as conn:
        assert conn.execute("select 1").fetchone() == (1,)
        assert conn.execute("select current_database()").fetchone()[0] == url.rsplit("/", 1)[1]


def test_redis_answers(redis_url):
    import redis
    client = redis.Redis.from_url(redis_url)
    try:
        assert client.ping()
        client.set("handin:probe", "ok", ex=60)
        assert client.get("handin:probe") == b"ok"
    finally:
        client.close()


class _Page(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = b"<html><head><title>handin probe</title></head><body><h1>Hello</h1></body></html>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def screenshot_on_teardown(request):
    """Asked for before `page`, so its teardown runs after the page's: the screenshot is there."""
    shot = artifacts_dir("screenshots") / f"{safe_name(request.node.name)}.png"
    shot.unlink(missing_ok=True)
    yield
    assert shot.stat().st_size > 0, f"no screenshot at {shot}"


def test_chromium_loads_a_page(screenshot_on_teardown, page):
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Page)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        page.goto(f"http://127.0.0.1:{server.server_port}/")
        assert page.title() == "handin probe"
        assert page.inner_text("h1") == "Hello"
    finally:
        server.shutdown()
        server.server_close()


def test_process_waits_for_its_port_and_kills_its_group(tmp_path):
    port = free_port()
    # A shell that leaves a child behind: stop() must take the whole group down.
    script = f"sleep 300 & exec python3 -m http.server {port} --bind 127.0.0.1"
    with Process(["sh", "-c", script], log=tmp_path / "web.log", name="web") as web:
        web.wait_for_port(port, timeout=20)
        assert port_answers(port)
        pgid = web.pid
    assert not web.alive
    assert not group_alive(pgid)
    assert not port_answers(port)


def test_process_that_exits_early_fails_with_its_log(tmp_path):
    proc = Process(["sh", "-c", "echo no config here; exit 3"], log=tmp_path / "bad.log")
    started = time.monotonic()
    with proc, pytest.raises(ServiceError, match="(?s)exited with 3.*no config here"):
        proc.wait_for_port(free_port(), timeout=20)
    assert time.monotonic() - started < 10
    assert log_path("x y").name == "x_y.log"
