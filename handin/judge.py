"""The judge process: run a module's hidden pytest suite against the student process.

Started by a sandbox backend as ``python -m handin.judge CONFIG`` under the
judge uid. It waits for the student's notebook summary, runs pytest over the
grader directory with the :class:`JudgePlugin` (fixtures ``student``,
``credit``, ``figure``, ``grader_dir``, ``public_data``; markers ``points`` and ``visibility``) and writes
one raw report. Scoring (points from the spec, late penalty, grade) happens on
the host from that report; the judge only says what passed.
"""

from __future__ import annotations

import base64
import json
import os
import socket
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from . import wire
from .proxy import Channel, StudentProxy, StudentUnavailable
from .student import load_json_config

MAX_MESSAGE = 4_000
MAX_DETAIL = 20_000
MAX_TITLE = 200
MAX_FIGURES = 4                 # per test
MAX_FIGURE_BYTES = 512 * 1024   # one PNG


def title_of(doc: str | None) -> str:
    """The title a report shows for a test: the first line of its docstring ('' when none)."""
    lines = (doc or "").strip().splitlines()
    return " ".join(lines[0].split())[:MAX_TITLE] if lines else ""


class JudgePlugin:
    def __init__(self, channel: Channel, notebook: dict, grader_dir: Path, benchmark: dict | None = None,
                 public_data: Path | None = None, before_tests: Any = None):
        self._before_tests = before_tests   # called once the suite is collected, before any test runs
        self._grader_dir = grader_dir
        self._public_data = public_data
        self.records: dict[str, dict[str, Any]] = {}
        self.collection_errors: list[str] = []
        self._proxy = StudentProxy(channel, notebook)
        self._channel = channel
        self._benchmark_config = benchmark
        self._bench = None  # handin.bench.harness.Bench, created on first use

    # -- fixtures ------------------------------------------------------

    @pytest.fixture
    def student(self) -> StudentProxy:
        """A proxy into the student's notebook namespace."""
        return self._proxy

    @pytest.fixture
    def credit(self, request):
        """``credit(fraction, message=None)``: partial credit for a passing test."""
        record = self.records[request.node.nodeid]

        def give(fraction: float, message: str | None = None) -> None:
            f = float(fraction)
            if not 0.0 <= f <= 1.0 or f != f:
                raise ValueError(f"credit fraction must be within [0, 1], got {fraction!r}")
            record["fraction"] = f
            if message:
                record["credit_message"] = str(message)[:MAX_MESSAGE]
        return give

    @pytest.fixture
    def figure(self, request):
        """``figure(png, caption)``: attach a PNG image (bytes) to the test's result.

        Reports show it under the test, to the student under the same rule as the test's
        message (visible tests only), to TAs always. Draw it in the judge (matplotlib, Agg)
        from values that came back from the student; at most four per test, 512 KiB each.
        """
        record = self.records[request.node.nodeid]

        def attach(png: bytes, caption: str = "") -> None:
            if not isinstance(png, (bytes, bytearray)) or not bytes(png).startswith(b"\x89PNG\r\n\x1a\n"):
                raise ValueError("figure() takes the bytes of a PNG image")
            if len(png) > MAX_FIGURE_BYTES:
                raise ValueError(f"figure is {len(png)} bytes, more than {MAX_FIGURE_BYTES}")
            figures = record.setdefault("figures", [])
            if len(figures) >= MAX_FIGURES:
                raise ValueError(f"at most {MAX_FIGURES} figures per test")
            figures.append({"caption": str(caption)[:MAX_TITLE], "png": base64.b64encode(bytes(png)).decode("ascii")})
        return attach

    @pytest.fixture
    def grader_dir(self) -> Path:
        """The grader's own directory (hidden data lives under it)."""
        return self._grader_dir

    @pytest.fixture
    def public_data(self) -> Path:
        """The module's public data ([assignment] data), read-only, laid out as the notebook sees it:
        ``public_data / "data" / "train.npz"`` is what the notebook opens as ``data/train.npz``."""
        if self._public_data is None:
            pytest.fail("this run has no public data (the sandbox gave the judge none)", pytrace=False)
        return self._public_data

    @pytest.fixture
    def bench(self, request):
        """The timing harness (handin.bench.harness.Bench): ranks, reference, timed trials."""
        if self._bench is None:
            from .bench.harness import Bench
            self._bench = Bench(self._channel, self._benchmark_config, self._grader_dir)
        self._bench.current_test = request.node.nodeid
        return self._bench

    @property
    def benchmarks(self) -> list[dict]:
        return list(self._bench.records) if self._bench is not None else []

    # -- hooks ---------------------------------------------------------

    def pytest_sessionfinish(self, session, exitstatus):
        if self._bench is not None:
            self._bench.close()

    def pytest_configure(self, config):
        config.addinivalue_line("markers", "points(n): the test's points (assignment.toml may override)")
        config.addinivalue_line("markers", "visibility(v): visible, hidden, after_due_date or after_published")

    def pytest_collection_modifyitems(self, session, config, items):
        for item in items:
            points = item.get_closest_marker("points")
            visibility = item.get_closest_marker("visibility")
            self.records[item.nodeid] = {
                "nodeid": item.nodeid,
                "name": item.name,
                "title": title_of(getattr(getattr(item, "function", None), "__doc__", None)),
                "file": item.nodeid.split("::", 1)[0],
                "marker_points": float(points.args[0]) if points and points.args else None,
                "marker_visibility": str(visibility.args[0]) if visibility and visibility.args else None,
                "outcome": "not run",
                "fraction": 1.0,
                "message": "",
                "detail": "",
                "duration": 0.0,
            }

    def pytest_collection_finish(self, session):
        if self._before_tests is not None:
            self._before_tests()

    def pytest_collectreport(self, report):
        if report.failed:
            self.collection_errors.append(f"{report.nodeid}: {report.longreprtext[-MAX_DETAIL:]}")

    def pytest_runtest_logreport(self, report):
        record = self.records.get(report.nodeid)
        if record is None:
            return
        record["duration"] += report.duration
        if report.when == "call" or report.failed or report.skipped:
            if report.skipped:
                record["outcome"] = "skipped"
            elif report.failed:
                record["outcome"] = "failed" if report.when == "call" else "error"
            elif record["outcome"] not in ("failed", "error"):
                record["outcome"] = "passed"
            if report.failed or report.skipped:
                crash = getattr(report.longrepr, "reprcrash", None)
                record["message"] = (crash.message if crash else str(report.longrepr))[:MAX_MESSAGE]
                record["detail"] = report.longreprtext[-MAX_DETAIL:]


def run(config: dict) -> dict:
    """Run the suite and return the raw report (also used by in-process tests)."""
    grader_dir = Path(config["grader_dir"])
    sock = socket.socket(fileno=int(config["fd"]))
    channel = Channel(sock, call_seconds=float(config["call_seconds"]),
                      max_message_bytes=int(config.get("max_message_bytes", wire.DEFAULT_MAX_BYTES)))
    started = time.monotonic()
    notebook: dict = {}   # filled in once the student is ready; the proxy holds this same dict
    marks: dict[str, float] = {}

    def await_notebook() -> None:
        """Wait for the notebook summary (once). The suite is collected — its imports done — while
        the student still runs the notebook, so the judge's start-up costs no wall time."""
        if "notebook_ready" in marks:
            return
        marks["collected"] = time.monotonic() - started
        budget = max(0.1, float(config["ready_seconds"]) - marks["collected"])
        try:
            notebook.update(channel.wait_ready(budget), available=True)
        except StudentUnavailable as exc:
            notebook.update({"available": False, "reason": str(exc),
                             "hung": "did not answer" in str(exc), "cells_run": None, "error": None,
                             "timed_out": "did not answer" in str(exc)})
        marks["notebook_ready"] = time.monotonic() - started

    benchmark = config.get("benchmark") if isinstance(config.get("benchmark"), dict) else None
    public_data = Path(config["public_data"]) if config.get("public_data") else None
    plugin = JudgePlugin(channel, notebook, grader_dir, benchmark, public_data, before_tests=await_notebook)
    blank_ini = Path(config.get("scratch", "/tmp")) / "handin-pytest.ini"
    blank_ini.write_text("[pytest]\n")
    args = [str(grader_dir), "-c", str(blank_ini), "--rootdir", str(grader_dir),
            "-p", "no:cacheprovider", "-p", "no:stepwise", "--import-mode=prepend",
            "-q", "--tb=short", "--color=no", "-o", "python_files=test_*.py",
            "-W", "ignore::DeprecationWarning"]
    exit_code = pytest.main(args, plugins=[plugin])
    await_notebook()   # a suite that failed to collect still reports on the notebook
    finished = time.monotonic() - started
    return {
        "version": 1,
        "notebook": notebook,
        "notebook_seconds": round(marks["notebook_ready"], 3),
        "collect_seconds": round(marks["collected"], 3),
        "tests_seconds": round(finished - marks["notebook_ready"], 3),
        "tests": list(plugin.records.values()),
        "collection_errors": plugin.collection_errors,
        "pytest_exit_code": int(exit_code),
        "student_calls": channel.calls,
        "runtime": _runtime(),
        "channel_broken": channel.broken,
        "benchmarks": plugin.benchmarks,
    }


def _runtime() -> dict[str, str]:
    """Versions inside the sandbox, which may differ from the host's (a container image)."""
    import platform
    out = {"python": platform.python_version()}
    for name in ("numpy", "torch"):
        module = sys.modules.get(name)
        if module is not None:
            out[name] = str(getattr(module, "__version__", "?"))
    return out


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    config = load_json_config(argv[0])
    report = run(config)
    out = Path(config["out"])
    tmp = out.with_suffix(".tmp")
    tmp.write_text(json.dumps(report, default=str))
    os.replace(tmp, out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
