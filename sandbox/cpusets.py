"""Dedicated CPU cores for timed jobs on one host.

A timed (benchmark) job measures speedups with its rank processes pinned to
cores; another job on the same cores would corrupt both timings. Each core has
a lock file and a timed job takes an exclusive ``flock`` on as many as it
needs, all or none (see ``_locks``), preferring cores on one NUMA node and in
one contiguous run. Untimed jobs take no lease; they run on the cores no timed
job holds when they start (:meth:`CpuAllocator.unleased`), or on any core when
every core is held.

The cores are this process's CPU affinity, or ``HANDIN_CPUS`` (``0-3,6``)
where the Docker engine's host differs from the grading host's.
"""

from __future__ import annotations

import glob
import math
import os
import re
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from ._locks import Lease, LockPool

LOCK_DIR = Path(os.environ.get("HANDIN_CPU_LOCK_DIR", Path(tempfile.gettempdir()) / "handin-cpus"))


class CpuUnavailable(Exception):
    pass


@dataclass
class CpuLease(Lease):
    dedicated: bool = field(default=True, kw_only=True)  # False: spare cores, looked at, not locked

    @property
    def cores(self) -> tuple[int, ...]:
        return self.ids

    @property
    def cpuset(self) -> str:
        """The cores as Docker's ``cpuset_cpus`` takes them: ``"2,3"``."""
        return ",".join(str(c) for c in self.ids)


def parse_cpu_list(text: str) -> list[int]:
    """Core ids from a Linux CPU list such as ``0-3,6`` (as in ``HANDIN_CPUS`` or sysfs)."""
    cores: set[int] = set()
    for part in text.replace(" ", "").split(","):
        if not part:
            continue
        m = re.fullmatch(r"(\d+)(?:-(\d+))?", part)
        if m is None or (m[2] is not None and int(m[2]) < int(m[1])):
            raise ValueError(f"{text!r} is not a CPU list: write core ids and ranges such as 0-3,6")
        cores.update(range(int(m[1]), int(m[2] or m[1]) + 1))
    return sorted(cores)


def host_cores() -> list[int]:
    """``HANDIN_CPUS`` when set, else the cores this process may run on."""
    env = os.environ.get("HANDIN_CPUS", "").strip()
    if env:
        try:
            cores = parse_cpu_list(env)
        except ValueError as exc:
            raise ValueError(f"HANDIN_CPUS: {exc}") from None
        if cores:
            return cores
    try:
        return sorted(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return list(range(os.cpu_count() or 1))


def numa_nodes() -> dict[int, int]:
    """Core id → NUMA node, from sysfs; empty where the kernel does not say."""
    nodes: dict[int, int] = {}
    for path in glob.glob("/sys/devices/system/node/node[0-9]*/cpulist"):
        node = int(re.search(r"node(\d+)/cpulist$", path)[1])
        try:
            nodes.update((core, node) for core in parse_cpu_list(Path(path).read_text().strip()))
        except (OSError, ValueError):
            continue
    return nodes


class CpuAllocator:
    def __init__(self, cores: Iterable[int] | None = None, *, lock_dir: Path = LOCK_DIR,
                 nodes: Mapping[int, int] | None = None):
        self.cores = sorted(set(host_cores() if cores is None else cores))
        self.lock_dir = lock_dir
        self.nodes = dict(numa_nodes() if nodes is None else nodes)

    def acquire(self, count: int, *, timeout: float = 3600.0, poll: float = 0.5) -> CpuLease:
        """Lease ``count`` cores for this job alone, waiting up to ``timeout`` seconds for them."""
        if count <= 0:
            return CpuLease(())
        if count > len(self.cores):
            raise CpuUnavailable(f"{count} dedicated core(s) asked for; this host has {len(self.cores)} "
                                 f"({','.join(map(str, self.cores))})")
        got = self._locks().take(count, timeout=timeout, poll=poll, choose=self.choose)
        if got is None:
            raise CpuUnavailable(f"no {count} free core(s) within {timeout:g} s: other timed jobs hold them")
        ids, fds = got
        return CpuLease(ids, _fds=fds)

    def pin(self, *, timed: bool, cpus: float) -> CpuLease | None:
        """The cores a run is pinned to: for a timed run an exclusive lease of ``ceil(cpus)`` cores
        (all the host has, where it has fewer); for an untimed one the cores no timed run holds,
        unleased (a timed run that starts later may still share them, and its judge then sees the
        load), or None (any core) when no core is held or every one is."""
        if timed:
            return self.acquire(min(math.ceil(cpus), len(self.cores)))
        free = self.unleased()
        if not free or len(free) == len(self.cores):
            return None
        return CpuLease(tuple(free), dedicated=False)

    def unleased(self) -> list[int]:
        """The cores no timed job holds right now (a look, not a lease: nothing stays locked)."""
        return self._locks().unheld()

    def _locks(self) -> LockPool:
        return LockPool(self.cores, self.lock_dir, "cpu")  # built on use: lock_dir may be changed

    def choose(self, free: list[int], count: int) -> list[int]:
        """Of the free cores, ``count`` on the fewest NUMA nodes, then in the tightest run."""
        def node(core: int) -> int:
            return self.nodes.get(core, 0)

        groups = [free] + [[c for c in free if node(c) == n] for n in {node(c) for c in free}]
        windows = [g[i:i + count] for g in groups for i in range(len(g) - count + 1)]
        return min(windows, key=lambda w: (len({node(c) for c in w}), w[-1] - w[0], w[0]))


def record(env: dict, pinned: CpuLease | None, cpus: float) -> None:
    """Note a run's dedicated cores (and any shortfall) in its environment record."""
    if pinned is None or not pinned.dedicated:
        return
    env["cpu_ids"] = list(pinned.cores)
    if len(pinned.cores) < math.ceil(cpus):
        env["cpu_shortfall"] = (f"the module asks for {math.ceil(cpus)} dedicated cores; "
                                f"this host has {len(pinned.cores)}, all leased")
