"""What only the docker backend does: container settings, GPU requests, cleanup, hostile I/O."""

from __future__ import annotations

import pytest

from builders import write_notebook
from handin.grading import GradeOptions, grade_file, make_request
from handin.notebook import Notebook
from sandbox.docker import LABEL, OWNER_LABEL, DockerBackend, container_config, gpu_request, reap_orphans
from sandbox.gpus import GpuAllocator, GpuLease, GpuUnavailable
from sandbox.images import CPU_TAG

GOOD = ["import numpy as np", "def double(x):\n    return 2 * x", "def scale(x):\n    return np.asarray(x) * 3",
        "def guess():\n    return None"]


def request_for(spec, cells=("x = 1",), gpus=0):
    req = make_request(spec, Notebook(tuple(cells), len(cells), "0" * 64, 1), "t", GradeOptions())
    if gpus:
        from dataclasses import replace
        req = replace(req, limits=replace(req.limits, gpus=gpus))
    return req


def test_container_config_locks_everything_down(toy_module, tmp_path):
    req = request_for(toy_module)
    cfg = container_config(req, tmp_path, CPU_TAG, None, 62000)
    lim = req.limits
    assert cfg["network_mode"] == "none"
    assert cfg["read_only"] is True
    assert cfg["cap_drop"] == ["ALL"] and sorted(cfg["cap_add"]) == ["KILL", "SETGID", "SETUID"]
    assert cfg["security_opt"] == ["no-new-privileges"]
    assert cfg["mem_limit"] == cfg["memswap_limit"] > lim.memory_bytes  # no swap
    assert cfg["nano_cpus"] == lim.cpus * 10**9
    assert cfg["pids_limit"] == lim.max_processes + 64
    ulimits = {u["Name"]: (u["Soft"], u["Hard"]) for u in cfg["ulimits"]}
    assert ulimits["core"] == (0, 0) and ulimits["fsize"] == (lim.max_file_size,) * 2
    assert f"size={lim.tmp_size}" in cfg["tmpfs"]["/tmp"]
    assert "uid=62000" in cfg["tmpfs"]["/home/student"] and "mode=0700" in cfg["tmpfs"]["/home/student"]
    mounts = {m["Target"]: m for m in cfg["mounts"]}
    assert mounts["/judge/grader"]["ReadOnly"] and mounts["/judge/grader"]["Source"] == str(toy_module.paths.grader_dir)
    assert mounts["/opt/handin/handin"]["ReadOnly"] and mounts["/run/handin"]["ReadOnly"]
    assert mounts["/out"]["Type"] == "volume" and not mounts["/out"].get("Source")
    assert mounts["/data/data"]["ReadOnly"]
    assert cfg["labels"][LABEL] == "t" and OWNER_LABEL in cfg["labels"]
    assert "device_requests" not in cfg


def test_gpu_jobs_get_a_device_request_for_their_leased_ids(toy_module, tmp_path):
    req = request_for(toy_module, gpus=2)
    cfg = container_config(req, tmp_path, "handin-sandbox:gpu", GpuLease((1, 3), False), 62000)
    (dr,) = cfg["device_requests"]
    assert dr["DeviceIDs"] == ["1", "3"] and dr["Capabilities"] == [["gpu"]]
    assert gpu_request((0,))["DeviceIDs"] == ["0"]


def test_gpu_allocator_gives_exclusive_sets_and_frees_them(tmp_path):
    alloc = GpuAllocator([0, 1, 2, 3], lock_dir=tmp_path)
    a = alloc.acquire(2)
    b = alloc.acquire(2)
    assert set(a.ids).isdisjoint(b.ids) and len(a.ids) == len(b.ids) == 2
    with pytest.raises(GpuUnavailable):
        alloc.acquire(1, timeout=0.2, poll=0.05)
    a.release()
    with alloc.acquire(2, timeout=1) as c:
        assert set(c.ids) == set((0, 1, 2, 3)) - set(b.ids)
    b.release()
    with pytest.raises(GpuUnavailable, match="this host has 4"):
        alloc.acquire(5)
    assert alloc.acquire(0).ids == ()


def test_gpu_allocator_all_or_nothing_and_sharing(tmp_path):
    alloc = GpuAllocator([0, 1], lock_dir=tmp_path)
    held = alloc.acquire(1)
    with pytest.raises(GpuUnavailable):
        alloc.acquire(2, timeout=0.2, poll=0.05)
    with alloc.acquire(1, timeout=1) as other:  # the failed try did not keep the free GPU
        assert other.ids != held.ids
    held.release()
    s1 = alloc.acquire(2, shared=True)
    s2 = alloc.acquire(2, shared=True)  # modules that allow sharing can share
    assert s1.ids == s2.ids == (0, 1)
    with pytest.raises(GpuUnavailable):
        alloc.acquire(1, timeout=0.2, poll=0.05)  # but an exclusive job waits
    s1.release()
    s2.release()


@pytest.mark.slow
def test_orphans_are_reaped(docker_client, docker_image):
    orphan = docker_client.containers.create(CPU_TAG, ["sleep", "300"],
                                             labels={LABEL: "orphan", OWNER_LABEL: "gone-host:1"})
    orphan.start()
    DockerBackend(client=docker_client)
    ids = [c.id for c in docker_client.containers.list(all=True, filters={"label": LABEL})]
    assert orphan.id not in ids
    assert reap_orphans(docker_client) == 0


@pytest.mark.slow
def test_containers_are_removed_after_every_run(toy_module, tmp_path, docker_client, docker_image):
    backend = DockerBackend(client=docker_client)
    nb = write_notebook(tmp_path / "s.ipynb", GOOD[:2] + ["import signal\nsignal.signal(signal.SIGALRM, signal.SIG_IGN)\n"
                                                          "while True:\n    pass"])
    r = grade_file(toy_module, nb, backend=backend, out_dir=None, options=GradeOptions(wall_seconds=8))
    assert r["status"] == "timeout"
    assert docker_client.containers.list(all=True, filters={"label": LABEL}) == []


@pytest.mark.slow
def test_hostile_io_is_contained(toy_module, tmp_path, docker_client, docker_image):
    backend = DockerBackend(client=docker_client)
    probe = """
import os, socket
seen = {}
for path in ['/judge/grader/test_hidden.py', '/judge', '/run/handin/judge.json', '/out/judge', '/opt/handin/x', '/etc/x']:
    try:
        if os.path.isdir(path):
            os.listdir(path)
        else:
            open(path, 'a' if path.endswith('/x') else 'r').close()
        seen[path] = 'OPEN'
    except OSError as e:
        seen[path] = type(e).__name__
try:
    with open('/tmp/fill', 'wb') as fh:
        while True:
            fh.write(b'x' * (1 << 20))
except OSError as e:
    seen['disk'] = type(e).__name__
os.remove('/tmp/fill')
try:
    os.kill(1, 9)
    seen['kill'] = 'killed'
except OSError as e:
    seen['kill'] = type(e).__name__
import ctypes
libc = ctypes.CDLL(None, use_errno=True)
judges = [int(p) for p in os.listdir('/proc') if p.isdigit()
          and 'Uid:\t61001' in open(f'/proc/{p}/status').read()]
seen['judge_seen'] = bool(judges)
for pid in judges:
    try:
        os.kill(pid, 9)
        seen['kill_judge'] = 'killed'
    except OSError as e:
        seen['kill_judge'] = type(e).__name__
    rc = libc.ptrace(16, pid, 0, 0)  # PTRACE_ATTACH
    seen['trace_judge'] = 'attached' if rc == 0 else os.strerror(ctypes.get_errno())
print('SEEN', seen)
"""
    nb = write_notebook(tmp_path / "h.ipynb", GOOD[:3] + [probe])
    r = grade_file(toy_module, nb, backend=backend, out_dir=tmp_path / "o", options=GradeOptions())
    log = (tmp_path / "o" / "h" / "student.log").read_text()
    seen = eval(log.split("SEEN", 1)[1].strip().splitlines()[0])  # noqa: S307 - our own probe's dict
    assert seen["/judge/grader/test_hidden.py"] == "PermissionError"
    assert seen["/judge"] == "PermissionError"
    assert seen["/run/handin/judge.json"] == "PermissionError"
    assert seen["/out/judge"] == "PermissionError"
    assert seen["/opt/handin/x"] in ("OSError", "PermissionError")  # read-only file system
    assert seen["/etc/x"] in ("OSError", "PermissionError")
    assert seen["disk"] in ("OSError",)  # the tmpfs is full: ENOSPC, or the file-size limit
    assert seen["kill"] == "PermissionError"
    assert seen["judge_seen"] and seen["kill_judge"] == "PermissionError"
    assert seen["trace_judge"] == "Operation not permitted"
    assert r["status"] == "ok" and r["score"] == 3.5  # public 1 + double 2 + half of scale; no guess()


@pytest.mark.slow
def test_auto_picks_docker_when_engine_and_image_are_ready(docker_image):
    from sandbox import choose_backend
    backend, why = choose_backend("auto")
    assert backend.name == "docker" and "docker" in why
    local, why_local = choose_backend("local")
    assert local.name == "local"


@pytest.mark.slow
def test_sandbox_commands(docker_image):
    from click.testing import CliRunner

    from handin.cli import main
    r = CliRunner().invoke(main, ["sandbox", "build"])
    assert r.exit_code == 0 and "up to date" in r.output
    r = CliRunner().invoke(main, ["sandbox", "doctor"])
    assert "✓ docker engine" in r.output and f"✓ image {CPU_TAG}" in r.output
    assert "GPUs" in r.output
