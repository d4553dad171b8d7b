"""Exclusive GPUs per job on one host.

Each GPU id has a lock file; a job takes an exclusive ``flock`` on as many as
it needs (a shared one where the module allows sharing), all or none, so two
concurrent jobs never share a GPU by accident (see ``_locks``).
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from ._locks import Lease, LockPool

LOCK_DIR = Path(os.environ.get("HANDIN_GPU_LOCK_DIR", Path(tempfile.gettempdir()) / "handin-gpus"))


class GpuUnavailable(Exception):
    pass


@dataclass
class GpuLease(Lease):
    shared: bool


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
        got = LockPool(self.inventory, self.lock_dir, "gpu").take(count, shared=shared, timeout=timeout, poll=poll)
        if got is None:
            raise GpuUnavailable(f"no {count} free GPU(s) within {timeout:g} s")
        ids, fds = got
        return GpuLease(ids, shared, _fds=fds)
