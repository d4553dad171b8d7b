"""What hardware a benchmark ran on, and who else was using the CPUs meanwhile (judge side).

The *profile* names the hardware class whose thresholds apply in assignment.toml:
``cpu-N`` for N usable cores (the smallest of the CPU affinity, the cgroup quota
and the cores the sandbox allots, ``OMP_NUM_THREADS``), ``gpu-N`` for N visible
GPUs (``gpu-N-<model>`` is looked up first, e.g. ``gpu-8-h100``).

CPU accounting reads ``/proc/stat``, which is host-wide even inside the sandbox's
namespaces: busy time on the cores a trial uses, minus the judge's own CPU time,
is what *others* used during the trial — another job on the host, or a student
thread spinning to slow the baseline down.
"""

from __future__ import annotations

import functools
import math
import os
import re
import time
from typing import Any

CLK_TCK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def usable_cores() -> list[int]:
    try:
        return sorted(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return list(range(os.cpu_count() or 1))


def cgroup_cpu_quota() -> float | None:
    """CPUs allowed by the cgroup (v2 ``cpu.max`` or v1 quota/period), or None if unlimited."""
    try:
        quota, period = open("/sys/fs/cgroup/cpu.max").read().split()[:2]
        return None if quota == "max" else int(quota) / int(period)
    except (OSError, ValueError):
        pass
    try:
        quota = int(open("/sys/fs/cgroup/cpu/cpu.cfs_quota_us").read())
        period = int(open("/sys/fs/cgroup/cpu/cpu.cfs_period_us").read())
        return None if quota <= 0 else quota / period
    except (OSError, ValueError):
        return None


def allotted_threads() -> int | None:
    try:
        n = int(os.environ.get("OMP_NUM_THREADS", ""))
        return n if n > 0 else None
    except ValueError:
        return None


@functools.lru_cache(maxsize=1)
def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    import platform
    return platform.processor() or platform.machine()


def gpus(load_torch: bool) -> list[str]:
    """Names of the GPUs this process sees (only asks torch when ``load_torch``: CUDA init is slow)."""
    if not load_torch:
        return []
    try:
        import torch
        if not torch.cuda.is_available():
            return []
        return [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
    except Exception:
        return []


def detect(device: str = "cpu") -> dict[str, Any]:
    cores = usable_cores()
    quota = cgroup_cpu_quota()
    allotted = allotted_threads()
    n = len(cores)
    if quota is not None:
        n = min(n, max(1, math.floor(quota + 1e-9)))
    if allotted is not None:
        n = min(n, allotted)
    gpu_names = gpus(device == "cuda")
    return {"cpu_model": cpu_model(), "cores_online": os.cpu_count(), "cores_affinity": len(cores),
            "cgroup_quota": quota, "allotted_threads": allotted, "cores_usable": n,
            "cores": cores[:n], "gpus": gpu_names, "gpu_count": len(gpu_names), "device": device}


def _slug(name: str) -> str:
    for known in ("h200", "h100", "a100", "l40s", "l40", "l4", "a10g", "a10", "v100", "t4", "a6000", "4090", "3090"):
        if known in name.lower():
            return known
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:20]


def profiles(hw: dict[str, Any]) -> list[str]:
    """Profile names to look up, most specific first."""
    if hw.get("device") == "cuda" and hw.get("gpu_count"):
        n = hw["gpu_count"]
        return [f"gpu-{n}-{_slug(hw['gpus'][0])}", f"gpu-{n}"]
    return [f"cpu-{hw['cores_usable']}"]


def profile(hw: dict[str, Any]) -> str:
    return profiles(hw)[-1]


# ---------------------------------------------------------------- CPU accounting


def cpu_ticks(cores: list[int] | None = None) -> tuple[int, int] | None:
    """(busy, total) clock ticks over ``cores`` (all when None) from /proc/stat, or None."""
    try:
        with open("/proc/stat", encoding="ascii") as fh:
            lines = fh.read().splitlines()
    except OSError:
        return None
    busy = total = 0
    wanted = None if cores is None else {f"cpu{c}" for c in cores}
    for line in lines:
        parts = line.split()
        if not parts or not parts[0].startswith("cpu") or parts[0] == "cpu":
            continue
        if wanted is not None and parts[0] not in wanted:
            continue
        v = [int(x) for x in parts[1:9]] + [0] * max(0, 8 - len(parts[1:9]))
        user, nice, system, idle, iowait, irq, softirq, steal = v[:8]
        total += sum(v[:8])
        busy += user + nice + system + irq + softirq + steal
    return busy, total


def process_cpu_seconds(pids: list[int]) -> float:
    """User + system CPU seconds of the processes ``pids`` (all their threads), from /proc."""
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{int(pid)}/stat", encoding="ascii") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of stat)
        except (OSError, ValueError, IndexError):
            pass
    return total / CLK_TCK


class CpuMeter:
    """Busy cores on ``cores`` over an interval, and how much of that was not this process
    (nor the processes ``pids``: the judge's own rank processes)."""

    def __init__(self, cores: list[int] | None, pids: list[int] | None = None):
        self.cores = cores
        self.pids = list(pids or [])

    def _own(self) -> float:
        return time.process_time() + (process_cpu_seconds(self.pids) if self.pids else 0.0)

    def __enter__(self) -> "CpuMeter":
        self.t0 = time.perf_counter()
        self.own0 = self._own()
        self.ticks0 = cpu_ticks(self.cores)
        return self

    def __exit__(self, *exc: Any) -> None:
        self.wall = time.perf_counter() - self.t0
        self.own = self._own() - self.own0
        t1 = cpu_ticks(self.cores)
        if self.ticks0 is None or t1 is None or self.wall <= 0:
            self.busy_cores = self.others_cores = None
            return
        busy_s = (t1[0] - self.ticks0[0]) / CLK_TCK
        self.busy_cores = busy_s / self.wall
        # Tick accounting is coarse (10 ms): never report negative load.
        self.others_cores = max(0.0, (busy_s - self.own) / self.wall)


def others_load(cores: list[int] | None, seconds: float = 0.3) -> float | None:
    """Cores' worth of CPU that other processes used on ``cores`` over ``seconds`` (judge idle)."""
    with CpuMeter(cores) as m:
        time.sleep(seconds)
    return m.others_cores


def pin_process(cores: list[int]) -> set[int] | None:
    """Pin every thread of this process to ``cores``; returns the previous affinity."""
    try:
        before = os.sched_getaffinity(0)
    except (AttributeError, OSError):
        return None
    target = set(cores)
    try:
        tids = [int(t) for t in os.listdir("/proc/self/task")]
    except OSError:
        tids = [0]
    for tid in tids:
        try:
            os.sched_setaffinity(tid, target)
        except OSError:
            pass
    return before


def unpin_process(before: set[int] | None) -> None:
    if before is not None:
        pin_process(sorted(before))
