"""``handin sandbox doctor``: the state of each isolation backend on this host."""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass


@dataclass(frozen=True)
class Check:
    name: str
    level: str  # ok | warn | fail
    detail: str
    fix: str = ""


def diagnose() -> list[Check]:
    checks = _local_checks()
    from .docker import engine
    from .hostinfo import gpu_inventory
    from .images import CPU_TAG, GPU_TAG, image_status

    client = engine()
    if client is None:
        checks.append(Check("docker engine", "fail", "no engine answers on the Docker socket",
                            "as root: .ci/docker-engine.sh (installs docker.io and starts dockerd)"))
        return checks
    info = client.info()
    checks.append(Check("docker engine", "ok", f"Docker {info.get('ServerVersion')}, storage driver "
                        f"{info.get('Driver')}, cgroup {info.get('CgroupVersion', '?')}"))
    present = {img["tag"]: img for img in image_status(client) if img["present"]}
    for tag, needed in ((CPU_TAG, True), (GPU_TAG, False)):
        img = present.get(tag)
        if img:
            checks.append(Check(f"image {tag}", "ok", f"{img.get('size', 0) / 1e9:.2f} GB, id {str(img.get('id'))[:19]}"))
        else:
            flag = " --gpu" if tag == GPU_TAG else ""
            checks.append(Check(f"image {tag}", "fail" if needed else "warn", "not built",
                                f"handin sandbox build{flag}"))
    runtimes = sorted((info.get("Runtimes") or {}).keys())
    gpus = gpu_inventory()
    if gpus:
        names = ", ".join(f"{g['index']}: {g['name']} ({g['memory_mib']} MiB, driver {g['driver']})" for g in gpus)
        checks.append(Check("GPUs", "ok", names))
        level = "ok" if "nvidia" in runtimes or _has_cdi(info) else "fail"
        checks.append(Check("GPU runtime", level, f"runtimes: {', '.join(runtimes)}",
                            "" if level == "ok" else "install nvidia-container-toolkit and run "
                            "`nvidia-ctk runtime configure --runtime=docker`, then restart dockerd"))
    else:
        checks.append(Check("GPUs", "warn", "none found (nvidia-smi absent or no devices): GPU modules "
                            "cannot be graded on this host"))
    return checks


def _has_cdi(info: dict) -> bool:
    return bool(info.get("CDISpecDirs"))


def _local_checks() -> list[Check]:
    from .local import LocalBackend

    checks = []
    root = os.geteuid() == 0
    checks.append(Check("root", "ok" if root else "warn", "running as root" if root else
                        "not root: the local backend cannot separate uids", "run handin as root"))
    if shutil.which("bwrap"):
        prot = LocalBackend().protections()
        missing = [k for k, v in prot.items() if not v]
        checks.append(Check("local backend", "ok" if not missing else "warn",
                            "all protections active" if not missing else "missing: " + ", ".join(missing)))
    else:
        checks.append(Check("bubblewrap", "warn", "not installed: the local backend runs without namespaces",
                            "apt-get install bubblewrap"))
    return checks
