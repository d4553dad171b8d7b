"""What the run's environment record says about this host."""

from __future__ import annotations

import functools
import importlib.metadata
import os
import platform
import shutil
import subprocess
from typing import Any


@functools.lru_cache(maxsize=1)
def _static() -> dict[str, Any]:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    try:
        torch_version = importlib.metadata.version("torch")
    except importlib.metadata.PackageNotFoundError:
        torch_version = None
    return {"host": platform.node(), "cpu": cpu, "cpu_count": os.cpu_count(),
            "python": platform.python_version(), "torch": torch_version, "gpus": gpu_inventory()}


def gpu_inventory() -> list[dict[str, Any]]:
    """GPUs as nvidia-smi reports them; empty where there is none."""
    smi = shutil.which("nvidia-smi")
    if not smi:
        return []
    try:
        out = subprocess.run([smi, "--query-gpu=index,name,driver_version,memory.total",
                              "--format=csv,noheader,nounits"], capture_output=True, text=True,
                             timeout=20).stdout
    except (OSError, subprocess.TimeoutExpired):
        return []
    gpus = []
    for line in out.strip().splitlines():
        parts = [p.strip() for p in line.split(",")]
        if len(parts) == 4:
            gpus.append({"index": int(parts[0]), "name": parts[1], "driver": parts[2],
                         "memory_mib": int(float(parts[3]))})
    return gpus


def host_environment(backend: str, limits) -> dict[str, Any]:
    return {"backend": backend, **_static(), "limits": {
        "wall_seconds": limits.wall_seconds, "notebook_seconds": limits.notebook_seconds,
        "call_seconds": limits.call_seconds, "memory_bytes": limits.memory_bytes,
        "cpus": limits.cpus, "gpus": limits.gpus, "max_processes": limits.max_processes,
        "max_file_size": limits.max_file_size, "max_output": limits.max_output}}
