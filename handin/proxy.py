"""The judge's side of the channel: a proxy into the student process.

``student.relu(x)`` sends ``x`` over the channel, runs ``relu`` in the student
process and decodes the plain value that comes back. Objects that are not
plain values stay in the student process and are represented here by
:class:`Remote` handles. A handle never forwards comparisons or truth tests to
the student: ``assert handle`` or ``handle == expected`` cannot be made to pass
by student code.
"""

from __future__ import annotations

import socket
import time
from typing import Any

from . import wire
from .notebook import cell_errors, code_cell

GRACE_SECONDS = 5.0


class StudentError(Exception):
    """An exception raised by student code, re-raised in the judge as text only."""

    def __init__(self, type_name: str, message: str, traceback: str = ""):
        super().__init__(f"{type_name}: {message}" if message else type_name)
        self.type_name = type_name
        self.message = message
        self.student_traceback = traceback


class StudentUnavailable(Exception):
    """The student process is gone, hung past its limit, or broke the protocol."""


class Channel:
    """Request/response over a socket, with a time limit and a size cap per call."""

    def __init__(self, sock: socket.socket, *, call_seconds: float,
                 max_message_bytes: int = wire.DEFAULT_MAX_BYTES):
        self.sock = sock
        self.call_seconds = call_seconds
        self.max_message_bytes = max_message_bytes
        self.broken: str | None = None
        self.calls = 0
        self._next_id = 1

    def wait_ready(self, seconds: float) -> dict:
        """Wait for the student's notebook summary (the first message it sends)."""
        reply = self._receive(seconds)
        if not isinstance(reply, dict) or reply.get("id") != 0 or not isinstance(reply.get("ok"), dict):
            self.broken = "the student process sent something other than its notebook summary"
            raise StudentUnavailable(self.broken)
        ready = reply["ok"].get("ready")
        if not isinstance(ready, dict):
            self.broken = "malformed notebook summary"
            raise StudentUnavailable(self.broken)
        return ready

    def request(self, op: str, **fields: Any) -> Any:
        if self.broken:
            raise StudentUnavailable(self.broken)
        rid = self._next_id
        self._next_id += 1
        self.calls += 1
        try:
            frame = wire.encode({"id": rid, "op": op, **fields}, on_unsafe=_outgoing,
                                max_bytes=self.max_message_bytes)
        except wire.WireError as exc:
            raise TypeError(str(exc)) from None
        try:
            wire.send(self.sock, frame)
        except OSError as exc:
            self.broken = f"the student process is gone ({exc.strerror or exc})"
            raise StudentUnavailable(self.broken) from None
        reply = self._receive(self.call_seconds + GRACE_SECONDS)
        if not isinstance(reply, dict) or reply.get("id") != rid:
            self.broken = "the student process answered out of turn"
            raise StudentUnavailable(self.broken)
        if "error" in reply:
            err = reply["error"] if isinstance(reply["error"], dict) else {}
            raise StudentError(str(err.get("type", "Error"))[:200], str(err.get("message", ""))[:4000],
                               str(err.get("traceback", ""))[:20_000])
        return reply.get("ok")

    def _receive(self, seconds: float) -> Any:
        deadline = time.monotonic() + seconds
        try:
            self.sock.settimeout(max(0.01, deadline - time.monotonic()))
            header, buffers = wire.recv(self.sock, max_bytes=self.max_message_bytes)
            return wire.decode(header, buffers, resolve_handle=lambda ref: Remote(self, ref))
        except socket.timeout:
            self.broken = f"the student process did not answer within {seconds:g} s"
        except EOFError:
            self.broken = "the student process exited"
        except wire.WireError as exc:
            self.broken = f"the student process sent an invalid message: {exc}"
        except OSError as exc:
            self.broken = f"the channel to the student process failed: {exc}"
        raise StudentUnavailable(self.broken)


def _outgoing(value: Any) -> wire.HandleRef:
    if isinstance(value, Remote):
        return object.__getattribute__(value, "_ref")
    raise wire.WireError(f"a {type(value).__name__} cannot be sent to the student process")


class Remote:
    """A handle to an object that lives in the student process."""

    __slots__ = ("_channel", "_ref")

    def __init__(self, channel: Channel, ref: wire.HandleRef):
        object.__setattr__(self, "_channel", channel)
        object.__setattr__(self, "_ref", ref)

    def _req(self, op: str, **fields: Any) -> Any:
        ref = object.__getattribute__(self, "_ref")
        return object.__getattribute__(self, "_channel").request(op, target=ref.id, **fields)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") and name.endswith("__"):
            raise AttributeError(name)
        return self._req("getattr", name=name)

    def __setattr__(self, name: str, value: Any) -> None:
        self._req("setattr", name=name, value=value)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self._req("call", args=list(args), kwargs=kwargs)

    def __getitem__(self, key: Any) -> Any:
        return self._req("getitem", key=key)

    def __len__(self) -> int:
        try:
            n = self._req("len")
        except StudentError as exc:
            if exc.type_name == "TypeError":  # list(handle) asks for a length hint first
                raise TypeError(exc.message) from None
            raise
        if type(n) is not int or n < 0:
            raise TypeError("len() of the student object is not a non-negative int")
        return n

    def __iter__(self):
        items = self._req("iter")
        if type(items) is not list:
            raise TypeError("iterating the student object did not give a list")
        return iter(items)

    def __bool__(self) -> bool:
        raise TypeError("a student object has no truth value here: fetch a value and test that")

    def __eq__(self, other: object) -> bool:
        return self is other

    def __hash__(self) -> int:
        return id(self)

    def __repr__(self) -> str:
        ref = object.__getattribute__(self, "_ref")
        return f"<student {ref.type_name}: {ref.text[:80]}>"

    @property
    def type_name(self) -> str:
        return object.__getattribute__(self, "_ref").type_name


class StudentProxy:
    """The ``student`` fixture: the notebook's namespace, seen from the judge."""

    def __init__(self, channel: Channel, notebook: dict):
        object.__setattr__(self, "_channel", channel)
        object.__setattr__(self, "_notebook", notebook)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") and name.endswith("__"):
            raise AttributeError(name)
        channel: Channel = object.__getattribute__(self, "_channel")
        try:
            return channel.request("getattr", target=0, name=name)
        except StudentError as exc:
            if exc.type_name == "AttributeError":
                raise MissingName(name, object.__getattribute__(self, "_notebook")) from None
            raise

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("the student namespace is read-only from the judge")

    def __contains__(self, name: str) -> bool:
        return object.__getattribute__(self, "_channel").request("has", name=name) is True

    def names(self) -> list[str]:
        return list(object.__getattribute__(self, "_channel").request("names"))


class MissingName(AttributeError):
    def __init__(self, name: str, notebook: dict):
        notebook = notebook if isinstance(notebook, dict) else {}
        errors = cell_errors(notebook)
        hint = ""
        if errors and (notebook.get("timed_out") or notebook.get("on_cell_error") == "stop"):
            last = errors[-1]  # the one that stopped the run (a timeout comes last)
            hint = f" (execution stopped at {code_cell(last['cell_index'])}: {last['ename']})"
        elif errors:
            failed = notebook.get("cells_failed")
            more = f" and {failed - 1} more cell(s) raised" if type(failed) is int and failed > 1 else ""
            hint = f" ({code_cell(errors[0]['cell_index'])} raised {errors[0]['ename']}{more})"
        super().__init__(f"the notebook does not define `{name}`{hint}")
