"""Leases on numbered host resources (GPUs, CPU cores) held with ``flock``.

Each id has a lock file in a lock directory; a lease holds an ``flock`` on the
files of its ids, exclusive unless the caller shares. A lease is taken all or
none: a job never sits on some ids while it waits for others, so two jobs that
each need several ids cannot deadlock. Locks belong to the open file, so they
are released on every exit path, even when the worker is killed, and separate
``handin`` processes on one host never lease the same id.
"""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Self

Chooser = Callable[[list[int], int], Sequence[int]]


@dataclass
class Lease:
    """Ids held until :meth:`release` (or the end of a ``with`` block)."""

    ids: tuple[int, ...]
    _fds: list[int] = field(default_factory=list, repr=False, kw_only=True)

    def release(self) -> None:
        while self._fds:
            _unlock(self._fds.pop())

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc) -> None:
        self.release()


def first(free: list[int], count: int) -> Sequence[int]:
    return free[:count]


class LockPool:
    """Lock files ``<prefix><id>.lock`` for ``ids`` under ``lock_dir``."""

    def __init__(self, ids: Iterable[int], lock_dir: Path, prefix: str):
        self.ids = sorted(set(ids))
        self.lock_dir = Path(lock_dir)
        self.prefix = prefix

    def take(self, count: int, *, shared: bool = False, timeout: float, poll: float,
             choose: Chooser = first) -> tuple[tuple[int, ...], list[int]] | None:
        """Lock ``count`` ids, waiting up to ``timeout`` seconds; ``(ids, fds)`` or None on timeout.

        ``choose`` picks ``count`` of the free ids (sorted) when more are free.
        """
        self.lock_dir.mkdir(parents=True, exist_ok=True)
        deadline = time.monotonic() + timeout
        mode = fcntl.LOCK_SH if shared else fcntl.LOCK_EX
        while True:
            got = self._try(count, mode, choose)
            if got is not None:
                return got
            if time.monotonic() > deadline:
                return None
            time.sleep(poll)

    def _open(self, i: int) -> int:
        return os.open(self.lock_dir / f"{self.prefix}{i}.lock", os.O_RDWR | os.O_CREAT, 0o600)

    def unheld(self) -> list[int]:
        """Ids nobody holds exclusively at this moment (probed with a shared lock, released at once)."""
        if not self.lock_dir.is_dir():
            return list(self.ids)
        free = []
        for i in self.ids:
            try:
                fd = self._open(i)
            except OSError:
                continue
            try:
                fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                continue
            _unlock(fd)
            free.append(i)
        return free

    def _try(self, count: int, mode: int, choose: Chooser) -> tuple[tuple[int, ...], list[int]] | None:
        held: dict[int, int] = {}
        try:
            for i in self.ids:
                fd = self._open(i)
                try:
                    fcntl.flock(fd, mode | fcntl.LOCK_NB)
                except BlockingIOError:
                    os.close(fd)
                    continue
                held[i] = fd
                if choose is first and len(held) == count:
                    break  # first fit: no need to probe the rest
            if len(held) < count:
                return None
            chosen = sorted(choose(sorted(held), count))
            if len(set(chosen)) != count or not set(chosen) <= held.keys():
                raise ValueError(f"the chooser picked {chosen} from the free ids {sorted(held)}")
            return tuple(chosen), [held.pop(i) for i in chosen]
        finally:
            for fd in held.values():  # what was probed but not chosen goes back at once
                _unlock(fd)


def _unlock(fd: int) -> None:
    try:
        fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
