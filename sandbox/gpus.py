"""Exclusive GPUs per job on one host.

Each GPU id has a lock file; a job takes an exclusive ``flock`` on as many as
it needs (a shared one where the module allows sharing), all or none, so two
concurrent jobs never share a GPU by accident. Locks belong to the open file,
so they are released on every exit path — even when the worker is killed.
"""

from __future__ import annotations

import fcntl
import os
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

LOCK_DIR = Path(os.environ.get("HANDIN_GPU_LOCK_DIR", Path(tempfile.gettempdir()) / "handin-gpus"))


class GpuUnavailable(Exception):
    pass


@dataclass
class GpuLease:
    ids: tuple[int, ...]
    shared: bool
    _fds: list[int] = field(default_factory=list, repr=False)

    def release(self) -> None:
        for fd in self._fds:
            try:
                fcntl.flock(fd, fcntl.LOCK_UN)
            finally:
                os.close(fd)
        self._fds.clear()

    def __enter__(self) -> "GpuLease":
        return self

    def __exit__(self, *exc) -> None:
        self.release()


class GpuAllocator:
    def __init__(self, inventory: list[int], *, lock_dir: Path = LOCK_DIR):
        self.inventory = sorted(inventory)
        self.lock_dir = lock_dir

    def acquire(self, count: int, *, shared: bool = False, timeout: float = 3600.0,
                poll: float = 0.5) -> GpuLease:
        """Lease ``count`` GPUs, waiting up to ``timeout`` seconds for them to be free."""
        if count <= 0:
            return GpuLease((), shared)
        if count > len(self.inventory):
            raise GpuUnavailable(f"the module needs {count} GPU(s); this host has {len(self.inventory)}")
        self.lock_dir.mkdir(parents=True, exist_ok=True)
        deadline = time.monotonic() + timeout
        mode = fcntl.LOCK_SH if shared else fcntl.LOCK_EX
        while True:
            fds, ids = [], []
            for gpu in self.inventory:
                fd = os.open(self.lock_dir / f"gpu{gpu}.lock", os.O_RDWR | os.O_CREAT, 0o600)
                try:
                    fcntl.flock(fd, mode | fcntl.LOCK_NB)
                except BlockingIOError:
                    os.close(fd)
                    continue
                fds.append(fd)
                ids.append(gpu)
                if len(ids) == count:
                    return GpuLease(tuple(ids), shared, fds)
            for fd in fds:  # all or none: never sit on some GPUs while waiting for others
                fcntl.flock(fd, fcntl.LOCK_UN)
                os.close(fd)
            if time.monotonic() > deadline:
                raise GpuUnavailable(f"no {count} free GPU(s) within {timeout:g} s")
            time.sleep(poll)
