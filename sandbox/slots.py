"""Pairs of unprivileged uids, one pair per concurrent run on this host.

Each run gets its own student and judge uid, so RLIMIT_NPROC counts only that
run's processes and "kill every process of this uid" ends exactly that run,
even children that left its process group. Slots are claimed with ``flock``
on a lock file, so separate ``handin`` processes on one host never share one.
"""

from __future__ import annotations

import fcntl
import os
import signal
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from ._locks import LockPool

UID_BASE = int(os.environ.get("HANDIN_UID_BASE", "63000"))
# Docker sandboxes draw the student's uid from a range of their own: uids are not
# namespaced, so RLIMIT_NPROC inside a container counts that uid host-wide.
DOCKER_UID_BASE = int(os.environ.get("HANDIN_DOCKER_UID_BASE", "62000"))
MAX_SLOTS = 64
LOCK_DIR = Path(os.environ.get("HANDIN_SLOT_DIR", Path(tempfile.gettempdir()) / "handin-slots"))


@dataclass
class UidSlot:
    index: int
    _fd: int = field(repr=False)
    base: int = UID_BASE

    @property
    def student_uid(self) -> int:
        return self.base + 2 * self.index

    @property
    def judge_uid(self) -> int:
        return self.base + 2 * self.index + 1

    def kill_all(self) -> None:
        for uid in (self.student_uid, self.judge_uid):
            kill_uid(uid)

    def release(self, *, kill: bool = True) -> None:
        if kill:
            self.kill_all()
        if self._fd >= 0:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = -1


def kill_uid(uid: int) -> None:
    """SIGKILL every process owned by ``uid`` (needs root)."""
    pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the forked child
        try:
            os.setgroups([])
            os.setgid(uid)
            os.setuid(uid)
            os.kill(-1, signal.SIGKILL)  # every process this uid may signal, but not the caller
        except BaseException:
            pass
        os._exit(0)
    os.waitpid(pid, 0)


def acquire_slot(timeout: float = 3600.0, *, base: int = UID_BASE, kill_leftovers: bool = True) -> UidSlot:
    lock_dir = LOCK_DIR / str(base)
    lock_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    got = LockPool(range(MAX_SLOTS), lock_dir, "").take(1, timeout=timeout, poll=0.2)
    if got is None:
        raise TimeoutError("no free sandbox slot")
    (index,), (fd,) = got
    slot = UidSlot(index, fd, base)
    if kill_leftovers:
        slot.kill_all()  # leftovers of a run whose grader died
    return slot
