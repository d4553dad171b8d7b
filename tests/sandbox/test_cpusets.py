"""Dedicated cores for timed runs: the allocator, and the docker backend pinning timed containers."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from dataclasses import replace

import pytest

from builders import TOY_TOML, make_toy_module, write_notebook
from handin.grading import GradeOptions, grade_batch, grade_file, make_request
from handin.notebook import Notebook
from handin.spec import load_module
from sandbox.cpusets import CpuAllocator, CpuLease, CpuUnavailable, host_cores, parse_cpu_list
from sandbox.docker import DockerBackend, container_config
from sandbox.local import LocalBackend
from sandbox.images import CPU_TAG

TIMED_TOML = TOY_TOML.replace("cpus = 1", "cpus = 2") + """
[benchmark]
world_sizes = [2]
"""


def allocator(tmp_path, cores=range(8), nodes=None) -> CpuAllocator:
    return CpuAllocator(cores, lock_dir=tmp_path / "locks", nodes=nodes or {})


# ---------------------------------------------------------------- which cores


def test_cpu_lists_parse_like_linux_writes_them():
    assert parse_cpu_list("0-3,6") == [0, 1, 2, 3, 6]
    assert parse_cpu_list(" 6, 2-3,2 ") == [2, 3, 6]
    assert parse_cpu_list("") == []
    for bad in ("3-1", "a", "1-", "0-3;6"):
        with pytest.raises(ValueError, match="not a CPU list"):
            parse_cpu_list(bad)


def test_host_cores_come_from_the_affinity_or_handin_cpus(monkeypatch):
    monkeypatch.delenv("HANDIN_CPUS", raising=False)
    assert host_cores() == sorted(os.sched_getaffinity(0))
    assert CpuAllocator().cores == sorted(os.sched_getaffinity(0))
    monkeypatch.setenv("HANDIN_CPUS", "0-3,6")
    assert host_cores() == [0, 1, 2, 3, 6]
    assert CpuAllocator().cores == [0, 1, 2, 3, 6]
    monkeypatch.setenv("HANDIN_CPUS", "six")
    with pytest.raises(ValueError, match="HANDIN_CPUS"):
        host_cores()


# ---------------------------------------------------------------- leases


def test_leases_never_overlap_and_prefer_contiguous_cores(tmp_path):
    alloc = allocator(tmp_path)
    a, b, c = alloc.acquire(3), alloc.acquire(2), alloc.acquire(3)
    assert (a.cores, b.cores, c.cores) == ((0, 1, 2), (3, 4), (5, 6, 7))
    assert b.cpuset == "3,4"
    with pytest.raises(CpuUnavailable, match="no 1 free core"):
        alloc.acquire(1, timeout=0.2, poll=0.05)
    a.release()
    c.release()
    held = alloc.acquire(1)  # core 0: free are now 1, 2, 5, 6, 7
    assert held.cores == (0,)
    assert alloc.acquire(2).cores == (1, 2)  # a contiguous pair, not 1 and 5
    assert alloc.acquire(3).cores == (5, 6, 7)
    assert alloc.acquire(0).cores == ()


def test_leases_keep_to_one_numa_node(tmp_path):
    interleaved = allocator(tmp_path / "a", range(4), nodes={0: 0, 1: 1, 2: 0, 3: 1})
    assert interleaved.acquire(2).cores == (0, 2)
    halves = allocator(tmp_path / "b", nodes={c: c // 4 for c in range(8)})
    halves.acquire(2)  # 0, 1
    assert halves.acquire(3).cores == (4, 5, 6)  # not 2, 3, 4 across the two nodes


def test_all_or_none(tmp_path):
    alloc = allocator(tmp_path, range(4))
    held = alloc.acquire(3)
    with pytest.raises(CpuUnavailable):
        alloc.acquire(2, timeout=0.2, poll=0.05)
    with alloc.acquire(1, timeout=0) as other:  # the failed try kept nothing
        assert set(other.cores).isdisjoint(held.cores)
    held.release()
    with pytest.raises(CpuUnavailable, match="this host has 4"):
        alloc.acquire(5)


def test_leases_are_released_on_exceptions(tmp_path):
    alloc = allocator(tmp_path, range(4))
    with pytest.raises(RuntimeError):
        with alloc.acquire(2):
            raise RuntimeError("the run failed")
    alloc.choose = lambda free, count: 1 / 0  # a failure while every free core is probed
    with pytest.raises(ZeroDivisionError):
        alloc.acquire(1)
    with allocator(tmp_path, range(4)).acquire(4, timeout=0) as lease:
        assert lease.cores == (0, 1, 2, 3)


def test_acquire_waits_for_cores_then_gives_up(tmp_path):
    alloc = allocator(tmp_path, range(2))
    held = alloc.acquire(2)
    threading.Timer(0.5, held.release).start()
    t0 = time.monotonic()
    with alloc.acquire(2, timeout=10, poll=0.05) as lease:
        assert lease.cores == (0, 1) and time.monotonic() - t0 >= 0.4
        t0 = time.monotonic()
        with pytest.raises(CpuUnavailable, match="within 0.3 s"):
            alloc.acquire(1, timeout=0.3, poll=0.05)
        assert time.monotonic() - t0 >= 0.3


def test_a_lease_held_by_another_process_blocks_until_it_dies(tmp_path):
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys; from pathlib import Path; from sandbox.cpusets import CpuAllocator\n"
         "lease = CpuAllocator([0, 1], lock_dir=Path(sys.argv[1]), nodes={}).acquire(1)\n"
         "print(lease.cpuset, flush=True); sys.stdin.read()", str(tmp_path / "locks")],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "0"
        alloc = allocator(tmp_path, range(2))
        with pytest.raises(CpuUnavailable):
            alloc.acquire(2, timeout=0.2, poll=0.05)
        with alloc.acquire(1, timeout=0) as mine:
            assert mine.cores == (1,)
    finally:
        holder.kill()  # killed, not released: the lock goes with the process
        holder.wait()
    with alloc.acquire(2, timeout=5, poll=0.05) as both:
        assert both.cores == (0, 1)


# ---------------------------------------------------------------- docker


def test_only_timed_runs_are_pinned(tmp_path):
    timed = load_module(make_toy_module(tmp_path / "timed", toml=TIMED_TOML))
    req = make_request(timed, Notebook(("x = 1",), 1, "0" * 64, 1), "t", GradeOptions())
    assert req.benchmark is not None and req.limits.cpus == 2
    cfg = container_config(req, tmp_path, CPU_TAG, None, 62000, cores=CpuLease((2, 3)))
    assert cfg["cpuset_cpus"] == "2,3" and cfg["nano_cpus"] == 2 * 10**9
    short = container_config(req, tmp_path, CPU_TAG, None, 62000, cores=CpuLease((5,)))
    assert short["cpuset_cpus"] == "5" and short["nano_cpus"] == 10**9  # quota no larger than the cores
    untimed = container_config(replace(req, benchmark=None), tmp_path, CPU_TAG, None, 62000)
    assert "cpuset_cpus" not in untimed and untimed["nano_cpus"] == 2 * 10**9


PROBE = "import os\nprint('AFFINITY', sorted(os.sched_getaffinity(0)))"
GOOD = ["import numpy as np", "def double(x):\n    return 2 * x", "def scale(x):\n    return np.asarray(x) * 3",
        "def guess():\n    return None", PROBE]


def affinity(log: str) -> list[int]:
    return eval(log.split("AFFINITY", 1)[1].strip().splitlines()[0])  # noqa: S307 - our own probe's list


def _backend(kind, request, tmp_path, cores=None):
    """A backend of ``kind`` whose core locks live in ``tmp_path`` (the same policy in both)."""
    if kind == "docker":
        backend = DockerBackend(client=request.getfixturevalue("docker_client"), cores=cores)
        request.getfixturevalue("docker_image")
    else:
        backend = LocalBackend(cores=cores)
    backend.cpu_allocator.lock_dir = tmp_path / "locks"
    return backend


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["local", "docker"])
def test_timed_runs_get_cores_of_their_own(tmp_path, kind, request):
    spec = load_module(make_toy_module(tmp_path / "course", toml=TIMED_TOML))
    nb = write_notebook(tmp_path / "s.ipynb", GOOD)
    backend = _backend(kind, request, tmp_path)
    r = grade_file(spec, nb, backend=backend, out_dir=tmp_path / "o", options=GradeOptions())
    env = r["environment"]
    expected = min(2, len(host_cores()))  # on a 2-core host a cpus = 2 run gets both
    assert len(env["cpu_ids"]) == expected and "cpu_shortfall" not in env
    if kind == "docker":
        assert env["container_limits"]["cpuset_cpus"] == ",".join(map(str, env["cpu_ids"]))
    assert affinity((tmp_path / "o" / "s" / "student.log").read_text()) == env["cpu_ids"]
    assert r["score"] == 4.5
    with backend.cpu_allocator.acquire(len(backend.cpu_allocator.cores), timeout=0):
        pass  # every core is free again


@pytest.mark.slow
def test_a_host_with_fewer_cores_leases_all_it_has(tmp_path, docker_client, docker_image):
    spec = load_module(make_toy_module(tmp_path / "course", toml=TIMED_TOML))
    nb = write_notebook(tmp_path / "s.ipynb", GOOD)
    core = max(host_cores())
    backend = DockerBackend(client=docker_client, cores=[core])
    backend.cpu_allocator.lock_dir = tmp_path / "locks"
    r = grade_file(spec, nb, backend=backend, out_dir=tmp_path / "o", options=GradeOptions())
    env = r["environment"]
    assert env["cpu_ids"] == [core] and "asks for 2 dedicated cores" in env["cpu_shortfall"]
    assert env["container_limits"]["nano_cpus"] == 10**9
    assert affinity((tmp_path / "o" / "s" / "student.log").read_text()) == [core]
    assert r["score"] == 4.5


def test_unleased_cores_are_the_ones_no_timed_job_holds(tmp_path):
    alloc = CpuAllocator([0, 1, 2, 3], lock_dir=tmp_path / "locks", nodes={})
    assert alloc.unleased() == [0, 1, 2, 3]                    # no lock dir yet
    with alloc.acquire(2, timeout=0) as held:
        assert alloc.unleased() == [c for c in (0, 1, 2, 3) if c not in held.cores]
        with alloc.acquire(2, timeout=0):                       # looking took nothing
            assert alloc.unleased() == []
    assert alloc.unleased() == [0, 1, 2, 3]


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["local", "docker"])
def test_untimed_runs_stay_off_the_cores_timed_runs_hold(tmp_path, kind, request):
    cores = host_cores()
    if len(cores) < 2:
        pytest.fail("this test needs a host with at least 2 cores")
    spec = load_module(make_toy_module(tmp_path / "course"))
    nb = write_notebook(tmp_path / "s.ipynb", GOOD)
    backend = _backend(kind, request, tmp_path, cores=cores[:2])
    with backend.cpu_allocator.acquire(1, timeout=0) as timed:
        r = grade_file(spec, nb, backend=backend, out_dir=tmp_path / "o", options=GradeOptions())
    free = [c for c in cores[:2] if c not in timed.cores]
    env = r["environment"]
    assert "cpu_ids" not in env                                  # nothing leased for it
    if kind == "docker":
        assert env["container_limits"]["cpuset_cpus"] == ",".join(map(str, free))
    assert affinity((tmp_path / "o" / "s" / "student.log").read_text()) == free
    assert r["score"] == 4.5
    r = grade_file(spec, nb, backend=backend, out_dir=tmp_path / "o2", options=GradeOptions())
    assert affinity((tmp_path / "o2" / "s" / "student.log").read_text()) == sorted(os.sched_getaffinity(0))


@pytest.mark.slow
def test_timed_runs_graded_two_at_a_time_take_turns_on_the_cores(tmp_path, request):
    spec = load_module(make_toy_module(tmp_path / "course", toml=TIMED_TOML))
    nbs = [write_notebook(tmp_path / f"s{i}.ipynb", GOOD) for i in range(2)]
    backend = _backend("local", request, tmp_path)
    results = grade_batch(spec, nbs, backend=backend, out_dir=tmp_path / "o", jobs=2)
    want = list(backend.cpu_allocator.cores[:2])
    assert [r["environment"]["cpu_ids"] for r in results] == [want, want]   # the same cores, so in turn
    assert [r["score"] for r in results] == [4.5, 4.5]
