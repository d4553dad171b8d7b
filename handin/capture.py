"""A child process's output, kept up to a cap: what a sandbox reads from the student and the judge.

Dependency-free on purpose: the container's supervisor imports it before it starts the two
processes, so every import here is start-up time of every docker run.
"""

from __future__ import annotations

import threading


class OutputCap:
    """Keeps the first ``limit`` bytes of a stream and counts the rest."""

    def __init__(self, limit: int):
        self.limit = limit
        self.kept = bytearray()
        self.dropped = 0

    def feed(self, chunk: bytes) -> None:
        room = self.limit - len(self.kept)
        if room > 0:
            self.kept += chunk[:room]
        self.dropped += max(0, len(chunk) - max(room, 0))

    def text(self) -> str:
        s = self.kept.decode("utf-8", "replace")
        if self.dropped:
            s += f"\n[handin] … {self.dropped} more bytes of output not kept\n"
        return s


class Drain(threading.Thread):
    """Reads a child's output pipe to the end, keeping what :class:`OutputCap` allows."""

    def __init__(self, stream, limit: int):
        super().__init__(daemon=True)
        self.stream = stream
        self.cap = OutputCap(limit)
        self.start()

    def run(self) -> None:
        while chunk := self.stream.read1(65536):
            self.cap.feed(chunk)
