"""The student process: run the notebook's code cells, then serve the judge's calls.

Started by a sandbox backend as ``python -m handin.student CONFIG`` under the
student uid, with the channel to the judge on an inherited file descriptor.
Everything here runs beside hostile code: nothing the judge trusts is decided
in this process. It only answers requests, and every answer is plain data
checked again on the judge side.
"""

from __future__ import annotations

import json
import os
import random
import signal
import socket
import sys
import time
import traceback
from dataclasses import dataclass, field
from typing import Any

from . import wire
from .notebook import MAX_CELL_ERRORS

MAX_TRACEBACK = 20_000
MAX_TRACEBACKS = 200_000      # all the cells' tracebacks together: the summary must fit one message
MAX_ITER_ITEMS = 100_000
SKIPPED_MAGICS = {
    "line": ("system", "sx", "sc", "pip", "conda", "mamba", "micromamba", "uv", "bg", "killbgscripts"),
    "cell": ("bash", "sh", "script", "perl", "ruby", "python", "python2", "python3", "pypy",
             "system", "sx", "js", "javascript", "html", "svg", "latex", "markdown"),
}


class NotebookTimeout(BaseException):
    """Raised inside a cell when the notebook's time budget is spent."""


class CallTimeout(BaseException):
    """Raised inside a student function when one call runs past its limit."""


@dataclass
class Config:
    cells: list[str]
    notebook_seconds: float = 120.0
    call_seconds: float = 30.0
    max_message_bytes: int = wire.DEFAULT_MAX_BYTES
    seed: int = 0
    threads: int = 1
    fd: int = 3
    links: dict = field(default_factory=dict)  # name in the cwd → read-only data path
    on_cell_error: str = "continue"            # or "stop": no cell runs after one that raised

    @classmethod
    def load(cls, path: str) -> "Config":
        raw = load_json_config(path)
        known = {k: raw[k] for k in cls.__dataclass_fields__ if k in raw}
        return cls(**known)


def load_json_config(path: str) -> dict:
    """A run's config: a JSON file, or ``-`` for standard input (the docker supervisor pipes it)."""
    if path == "-":
        return json.loads(sys.stdin.read())
    with open(path, encoding="utf-8") as fh:
        return json.load(fh)


# ---------------------------------------------------------------- notebook


def make_shell():
    """An IPython shell with shell escapes and subprocess magics switched off."""
    os.environ.setdefault("MPLBACKEND", "Agg")
    from IPython.core.interactiveshell import InteractiveShell

    shell = InteractiveShell.instance(colors="nocolor")

    def skipped(cmd: Any = "", *args: Any, **kwargs: Any) -> list:
        print(f"[handin] shell command not run by the grader: {str(cmd)[:200]}", file=sys.stderr)
        return []

    shell.system = shell.system_raw = shell.system_piped = skipped
    shell.getoutput = skipped
    for kind, names in SKIPPED_MAGICS.items():
        for name in names:
            shell.register_magic_function(_skipped_magic(name), magic_kind=kind, magic_name=name)
    shell.register_magic_function(lambda line="": None, magic_kind="line", magic_name="matplotlib")
    shell.register_magic_function(lambda line="": None, magic_kind="line", magic_name="pylab")
    return shell


def _skipped_magic(name: str):
    def magic(line: str = "", cell: str | None = None) -> None:
        print(f"[handin] magic %{name} is not run by the grader", file=sys.stderr)
    return magic


def seed_everything(seed: int, threads: int, load_torch: bool) -> None:
    random.seed(seed)
    try:
        import numpy as np
        np.random.seed(seed)
    except ImportError:
        pass
    if load_torch:
        try:
            import torch
            torch.manual_seed(seed)
            torch.set_num_threads(max(1, threads))
        except ImportError:
            pass


def run_cells(shell, cells: list[str], budget: float, on_error: str = "continue") -> dict:
    """Run code cells in order and return the notebook summary.

    A cell that raises is recorded in ``errors`` (index, exception, traceback; ``error`` is
    the first); with ``on_error="continue"`` the next cells still run, with ``"stop"`` none
    after it does. Running past the notebook's time budget always ends the run, and what was
    defined before stays. ``cells_run`` counts the cells that ran to their end, those that
    raised included.
    """
    errors: list[dict] = []
    summary: dict[str, Any] = {"cells_total": len(cells), "cells_run": 0, "cells_failed": 0, "error": None,
                               "errors": errors, "timed_out": False, "on_cell_error": on_error}
    room = MAX_TRACEBACKS

    def record(index: int, exc: BaseException, tb: str) -> None:
        nonlocal room
        if len(errors) < MAX_CELL_ERRORS or isinstance(exc, NotebookTimeout):  # past the cap: counted only
            tb = tb[-room:] if room > 0 else ""
            room -= len(tb)
            errors.append({"cell_index": index, "ename": type(exc).__name__,
                           "evalue": _safe_str(exc)[:2000], "traceback": tb})
            summary["error"] = errors[0]

    def on_alarm(signum, frame):
        raise NotebookTimeout(f"the notebook ran past its {budget:g} s time budget")

    deadline = time.monotonic() + budget
    signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, budget)
    try:
        for index, source in enumerate(cells):
            if time.monotonic() >= deadline:  # a cell that caught the alarm has spent the budget
                raise NotebookTimeout(f"the notebook ran past its {budget:g} s time budget")
            result = shell.run_cell(source, store_history=False)
            exc = result.error_before_exec or result.error_in_exec
            if isinstance(exc, NotebookTimeout):
                summary["timed_out"] = True
                record(index, exc, _format_exception(exc))
                break
            summary["cells_run"] = index + 1
            if exc is not None:
                summary["cells_failed"] += 1
                record(index, exc, _format_exception(exc))
                if on_error == "stop":
                    break
    except NotebookTimeout as exc:  # fired between cells, outside IPython's own handler
        summary["timed_out"] = True
        record(summary["cells_run"], exc, "")
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
    return summary


def _format_exception(exc: BaseException) -> str:
    text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    return text[-MAX_TRACEBACK:]


# ---------------------------------------------------------------- serving


class Server:
    """Answers the judge's requests against the notebook's namespace."""

    def __init__(self, namespace: dict, sock: socket.socket, config: Config):
        self.ns = namespace
        self.sock = sock
        self.config = config
        self.objects: dict[int, Any] = {0: _Namespace(namespace)}
        self.ids: dict[int, int] = {}
        self.next_id = 1

    def handle_for(self, obj: Any) -> wire.HandleRef:
        key = id(obj)
        hid = self.ids.get(key)
        if hid is None or self.objects.get(hid) is not obj:
            hid = self.next_id
            self.next_id += 1
            self.objects[hid] = obj
            self.ids[key] = hid
        try:
            text = repr(obj)[:300]
        except BaseException:  # a hostile __repr__ must not break the reply
            text = "<unrepresentable>"
        return wire.HandleRef(hid, type(obj).__qualname__[:200], text)

    def resolve(self, ref: wire.HandleRef) -> Any:
        if ref.id not in self.objects:
            raise KeyError(f"unknown handle {ref.id}")
        return self.objects[ref.id]

    def send(self, message: dict) -> None:
        try:
            frame = wire.encode(message, on_unsafe=self.handle_for,
                                max_bytes=self.config.max_message_bytes)
        except wire.WireError as exc:
            frame = wire.encode({"id": message.get("id"), "error": {
                "type": "WireError", "message": f"the result cannot be returned: {exc}",
                "traceback": ""}})
        wire.send(self.sock, frame)

    def serve_forever(self) -> None:
        while True:
            try:
                header, buffers = wire.recv(self.sock, max_bytes=self.config.max_message_bytes)
                request = wire.decode(header, buffers, resolve_handle=self.resolve)
            except EOFError:
                return
            rid = request.get("id") if isinstance(request, dict) else None
            try:
                value = self.dispatch(request)
                reply = {"id": rid, "ok": value}
            except BaseException as exc:  # student code may raise anything, SystemExit included
                reply = {"id": rid, "error": {"type": type(exc).__name__,
                                              "message": _safe_str(exc)[:4000],
                                              "traceback": _format_exception(exc)}}
            self.send(reply)

    def dispatch(self, req: dict) -> Any:
        op = req["op"]
        if op == "release":
            for hid in req.get("ids", []):
                if hid:
                    obj = self.objects.pop(hid, None)
                    self.ids.pop(id(obj), None)
            return None
        if op == "has":
            return req["name"] in self.ns
        if op == "names":
            return sorted(k for k in self.ns if isinstance(k, str) and not k.startswith("_"))
        if isinstance(op, str) and op.startswith("bench_"):
            # The timing harness's student side: spawns and drives the rank processes.
            from .bench import launcher
            with _time_limit(self.config.call_seconds):
                return launcher.handle(self, req)
        target = self.resolve(wire.HandleRef(req.get("target", 0), "", ""))
        with _time_limit(self.config.call_seconds):
            if op == "getattr":
                return getattr(target, req["name"])
            if op == "setattr":
                setattr(target, req["name"], req["value"])
                return None
            if op == "call":
                return target(*req.get("args", ()), **req.get("kwargs", {}))
            if op == "callattr":
                return getattr(target, req["name"])(*req.get("args", ()), **req.get("kwargs", {}))
            if op == "getitem":
                return target[req["key"]]
            if op == "len":
                return len(target)
            if op == "iter":
                items = []
                for item in target:
                    items.append(item)
                    if len(items) > MAX_ITER_ITEMS:
                        raise ValueError(f"more than {MAX_ITER_ITEMS} items")
                return items
            if op == "repr":
                return repr(target)[:10_000]
        raise ValueError(f"unknown operation {op!r}")


class _Namespace:
    """Attribute access into the notebook's globals (handle 0)."""

    def __init__(self, ns: dict):
        object.__setattr__(self, "_ns", ns)

    def __getattr__(self, name: str) -> Any:
        try:
            return self._ns[name]
        except KeyError:
            raise AttributeError(f"the notebook does not define `{name}`") from None

    def __setattr__(self, name: str, value: Any) -> None:
        self._ns[name] = value


class _time_limit:
    def __init__(self, seconds: float):
        self.seconds = seconds

    def __enter__(self):
        def on_alarm(signum, frame):
            raise CallTimeout(f"the call ran past its {self.seconds:g} s limit")
        signal.signal(signal.SIGALRM, on_alarm)
        signal.setitimer(signal.ITIMER_REAL, self.seconds)

    def __exit__(self, *exc):
        signal.setitimer(signal.ITIMER_REAL, 0)
        return False


def _safe_str(exc: BaseException) -> str:
    try:
        return str(exc)
    except BaseException:
        return "<unprintable exception>"


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    config = Config.load(argv[0])
    sock = socket.socket(fileno=config.fd)
    for name, target in config.links.items():
        if "/" not in name and name not in (".", "..") and not os.path.lexists(name):
            os.symlink(target, name)
    shell = make_shell()
    seed_everything(config.seed, config.threads,
                    load_torch=any("torch" in c for c in config.cells))
    summary = run_cells(shell, config.cells, config.notebook_seconds,
                        "stop" if config.on_cell_error == "stop" else "continue")
    server = Server(shell.user_ns, sock, config)
    server.notebook = summary  # the bench launcher exports the cells that ran (failed ones guarded)
    server.send({"id": 0, "ok": {"ready": summary}})
    server.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
