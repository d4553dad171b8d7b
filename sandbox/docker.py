"""The Docker backend: one locked-down container per run, GPUs and timed cores leased per job.

Per run the container gets: no network; a memory limit with memory+swap equal
(no swap); a CPU quota; a pids limit; ulimits (nofile, fsize, core 0); a
read-only root with sized tmpfs mounts for /tmp and the two homes; every
capability dropped except CAP_SETUID, CAP_SETGID and CAP_KILL, which only the
supervisor (pid 1) holds and which vanish when it drops to the student and
judge uids; no-new-privileges; Docker's default seccomp profile. A timed run
(the module has a [benchmark] section) also gets cores of its own: an exclusive
lease of as many as the module's ``cpus`` (all the host has, where it has fewer)
pins the container to them, so no other timed run shares them; an untimed run
is pinned to the cores no timed run holds when it starts.

The hidden tests are bind-mounted read-only under /judge, a directory only the
judge uid may enter. The handin and sandbox packages are bind-mounted read-only
(the image carries the Python dependencies only, so changing handin needs no
rebuild). The run's configs sit in a root-only directory; the supervisor pipes
each process its own. Results come back as files through the API (a tar of the
/out volume, size-capped), are parsed as JSON and validated by the core. The
wall clock is enforced from outside: the container is killed and always
removed; containers left by a dead worker are reaped when a backend starts.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import socket
import tarfile
import tempfile
import time
from pathlib import Path
from typing import Any

import docker
import docker.errors
import docker.types

import handin
from handin.preload import shared as preload_shared
from handin.sandboxing import RunOutcome, RunRequest, thread_env

from . import cpusets, student_view
from .cpusets import CpuAllocator, CpuLease
from .gpus import GpuAllocator, GpuLease
from .supervisor import JUDGE_LIB
from .hostinfo import gpu_inventory, host_environment
from .images import CPU_TAG, GPU_TAG
from .slots import DOCKER_UID_BASE, UidSlot, acquire_slot

LABEL = "org.handin.run"
OWNER_LABEL = "org.handin.owner"
JUDGE_OVERHEAD = 1024**3          # the judge's share of the container's memory
MAX_OUT_BYTES = 64 * 1024**2      # the /out tar as a whole
CAPS = ["SETUID", "SETGID", "KILL"]


def engine(timeout: float = 5.0) -> docker.DockerClient | None:
    """A client when an engine answers, else None."""
    try:
        client = docker.from_env(timeout=timeout)
        client.ping()
        return client
    except Exception:  # no socket, permission denied, daemon down: all mean "no engine here"
        return None


def owner_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


class DockerBackend:
    name = "docker"

    def __init__(self, *, client: docker.DockerClient | None = None, image: str | None = None,
                 gpu_image: str | None = None, gpus: list[int] | None = None,
                 cores: list[int] | None = None, prepare_ahead: int = 0):
        self.client = client or engine()
        if self.client is None:
            raise RuntimeError("no Docker engine answers; start one (see README: .ci/docker-engine.sh) "
                               "or use --sandbox local")
        self.image = image or CPU_TAG
        self.gpu_image = gpu_image or GPU_TAG
        inventory = gpus if gpus is not None else [g["index"] for g in gpu_inventory()]
        self.allocator = GpuAllocator(inventory)
        self.cpu_allocator = CpuAllocator(cores)
        self.reaped = reap_orphans(self.client)
        # Prepared containers (untimed CPU runs): how many to keep started ahead per kind of run.
        # 0 by default; a long-lived worker or a batch sets it (it costs a container's memory each).
        self.prepare_ahead = prepare_ahead
        self.prepared = PreparedPool(self)

    def protections(self) -> dict[str, bool]:
        return {"rlimits": True, "wall_clock": True, "network_isolated": True, "filesystem_hidden": True,
                "uid_separation": True, "pid_isolated": True}

    # ------------------------------------------------------------ running

    def run(self, request: RunRequest) -> RunOutcome:
        started = time.monotonic()
        lim = request.limits
        lease: GpuLease | None = None
        pinned: CpuLease | None = None
        slot: UidSlot | None = None
        container = None
        run_dir: Path | None = None
        env = host_environment(self.name, lim)
        try:
            t0 = time.monotonic()
            lease = self.allocator.acquire(lim.gpus, shared=lim.gpu_sharing) if lim.gpus else None
            pinned = self.cpu_allocator.pin(timed=request.benchmark is not None, cpus=lim.cpus)
            phases = {"lease": time.monotonic() - t0}
            image = self.gpu_image if lim.gpus else self.image
            ready = self.prepared.take(request, image, pinned)
            if ready is not None:
                container, run_dir, slot = ready.container, ready.run_dir, ready.slot
            else:
                run_dir = Path(tempfile.mkdtemp(prefix="handin-docker-"))
                slot = acquire_slot(base=DOCKER_UID_BASE, kill_leftovers=False)
            plan = _write_configs(run_dir, request, lease, slot.student_uid)
            env["interpreters"] = "prepared" if ready else "fresh" if plan["preload"] is None else "forked"
            t0 = time.monotonic()
            if ready is None:
                container = self.client.containers.create(
                    **container_config(request, run_dir, image, lease, slot.student_uid, cores=pinned))
                phases["create"] = time.monotonic() - t0
            env.update(image=image, image_id=container.image.id, container_limits=_applied(request, pinned))
            if lease:
                env["gpus"] = [g for g in env.get("gpus", []) if g["index"] in lease.ids]
                env["gpu_ids"] = list(lease.ids)
            cpusets.record(env, pinned, lim.cpus)
            t0 = time.monotonic()
            if ready is None:
                container.start()
                phases["start"] = time.monotonic() - t0
            else:
                ready.go()  # the supervisor, past its imports, reads the configs written above
                phases["ready"] = time.monotonic() - t0
            self.prepared.refill(request, image, pinned)
            timed_out = False
            try:
                container.wait(timeout=lim.wall_seconds)
            except Exception:  # requests' ReadTimeout / ConnectionError: past the wall clock
                timed_out = True
                _kill(container)
                container.wait(timeout=30)
            phases["run"] = time.monotonic() - t0 - phases.get("start", phases.get("ready", 0.0))
            t0 = time.monotonic()
            container.reload()
            state = container.attrs.get("State", {})
            files = read_out(container)
            phases["copy_out"] = time.monotonic() - t0
            # The supervisor's own output (never the student's: that goes through its pipes).
            files["supervisor.log"] = _capped_logs(container)
            supervisor = _json(files.get("supervisor.json")) or {}
            raw = _json(files.get("judge/raw.json"))
            env.update(phases={k: round(v, 3) for k, v in phases.items()},
                       oom_killed=bool(state.get("OOMKilled")),
                       student_peak_rss_bytes=supervisor.get("student_peak_rss_kib", 0) * 1024,
                       judge_peak_rss_bytes=supervisor.get("judge_peak_rss_kib", 0) * 1024,
                       gpu_peak_memory_mib=supervisor.get("gpu_peak_memory_mib"),
                       container_cpu_seconds=supervisor.get("cpu_seconds"))
            student_log = _text(files.get("student.log"))
            if state.get("OOMKilled"):
                student_log += "\n[handin] the container ran out of memory (OOM kill)\n"
            error = None
            if raw is None and not timed_out:
                error = ("the judge wrote no report" if "judge/raw.json" not in files
                         else "the judge's report is not valid JSON")
                if state.get("OOMKilled"):
                    error = None  # the student ate the memory; reported as status memory
            return RunOutcome(raw=raw, wall_seconds=time.monotonic() - started, timed_out=timed_out,
                              student_exit=supervisor.get("student_exit"),
                              judge_exit=supervisor.get("judge_exit"), student_log=student_log,
                              judge_log=_text(files.get("judge.log")) + _text(files.get("supervisor.log")),
                              protections=self.protections(), environment=env, error=error)
        except docker.errors.DockerException as exc:
            return RunOutcome(raw=None, wall_seconds=time.monotonic() - started,
                              protections=self.protections(), environment=env,
                              error=f"the docker sandbox failed: {exc}")
        finally:
            if container is not None:
                try:
                    container.remove(v=True, force=True)
                except docker.errors.DockerException:
                    pass
            if lease is not None:
                lease.release()
            if pinned is not None:
                pinned.release()
            if slot is not None:
                slot.release(kill=False)
            if run_dir is not None:
                shutil.rmtree(run_dir, ignore_errors=True)

    def close(self) -> None:
        """Remove the prepared containers (reap_orphans removes them too once this process is gone)."""
        self.prepared.close()


# ---------------------------------------------------------------- prepared containers


class Prepared:
    """A container created and started ahead of demand for one kind of run: its supervisor has
    imported what both roles share (handin.preload.shared, public names only) and waits on a fifo
    in its root-only config directory. It has seen nothing of any submission; it is used for
    exactly one, then removed like any other run's container."""

    def __init__(self, container, run_dir: Path, slot: UidSlot, cores: tuple[int, ...] | None):
        self.container, self.run_dir, self.slot, self.cores = container, run_dir, slot, cores

    def go(self, timeout: float = 120.0) -> None:
        """Tell the supervisor its configs are there (waiting while it still imports)."""
        import errno
        deadline = time.monotonic() + timeout
        while True:
            try:
                fd = os.open(self.run_dir / "go", os.O_WRONLY | os.O_NONBLOCK)
                break
            except OSError as exc:
                if exc.errno != errno.ENXIO or time.monotonic() > deadline:
                    raise docker.errors.DockerException(f"the prepared container never got ready: {exc}") from None
                time.sleep(0.005)  # no reader yet: the supervisor is still importing
        try:
            os.write(fd, b"go")
        finally:
            os.close(fd)

    def discard(self) -> None:
        try:
            self.container.remove(v=True, force=True)
        except docker.errors.DockerException:
            pass
        self.slot.release(kill=False)
        shutil.rmtree(self.run_dir, ignore_errors=True)


class PreparedPool:
    """Prepared containers by kind of run (image, module, data, limits, threads, preload).

    ``take`` hands one out if it matches the run's cores; ``refill`` starts, in the background,
    as many as the backend's ``prepare_ahead`` asks for that kind; at most ``MAX_KINDS`` kinds are
    kept (the least recently used ones removed)."""

    MAX_KINDS = 2

    def __init__(self, backend: "DockerBackend"):
        import threading
        self.backend = backend
        self._lock = threading.Lock()
        self._ready: dict[tuple, list[Prepared]] = {}
        self._filling: set[tuple] = set()
        self._closed = False

    @staticmethod
    def usable(request: RunRequest) -> bool:
        return request.benchmark is None and not request.limits.gpus

    @staticmethod
    def key(request: RunRequest, image: str) -> tuple:
        return (image, str(request.grader_dir), tuple((n, str(p)) for n, p in request.data), request.limits,
                tuple(sorted(thread_env(request).items())), tuple(preload_shared(request)))

    def take(self, request: RunRequest, image: str, pinned: CpuLease | None) -> Prepared | None:
        if not self.usable(request):
            return None
        cores = pinned.cores if pinned is not None else None
        with self._lock:
            ready = self._ready.get(self.key(request, image), [])
            while ready:
                p = ready.pop(0)
                if p.cores == cores:
                    try:
                        p.container.reload()
                        if p.container.status == "running":
                            return p
                    except docker.errors.DockerException:
                        pass
                p.discard()  # pinned to other cores than the run gets now, or dead
        return None

    def refill(self, request: RunRequest, image: str, pinned: CpuLease | None) -> None:
        if not self.usable(request) or self.backend.prepare_ahead <= 0:
            return
        import threading
        key = self.key(request, image)
        with self._lock:
            if key in self._filling or self._closed:
                return
            if not self._filling and not self._ready:
                import atexit
                atexit.register(self.close)  # a normal exit removes them; reap_orphans any other
            self._filling.add(key)
            self._ready.setdefault(key, [])
            self._ready[key] = self._ready.pop(key)  # most recently used last
            while len(self._ready) > self.MAX_KINDS:
                for p in self._ready.pop(next(iter(self._ready))):
                    p.discard()
        threading.Thread(target=self._fill, args=(key, request, image, pinned), daemon=True).start()

    def _fill(self, key: tuple, request: RunRequest, image: str, pinned: CpuLease | None) -> None:
        try:
            while True:
                with self._lock:
                    if self._closed or key not in self._ready or len(self._ready[key]) >= self.backend.prepare_ahead:
                        return
                p = self._start(request, image, pinned)
                with self._lock:
                    if self._closed or key not in self._ready:
                        p.discard()
                        return
                    self._ready[key].append(p)
        except Exception:  # no slot, the engine refused: runs start their own containers
            return
        finally:
            with self._lock:
                self._filling.discard(key)

    def _start(self, request: RunRequest, image: str, pinned: CpuLease | None) -> Prepared:
        run_dir = Path(tempfile.mkdtemp(prefix="handin-docker-prepared-"))
        os.chmod(run_dir, 0o700)
        slot = acquire_slot(base=DOCKER_UID_BASE, kill_leftovers=False)
        try:
            (run_dir / "preload.json").write_text(json.dumps({"preload": preload_shared(request),
                                                              "thread_env": thread_env(request)}))
            os.mkfifo(run_dir / "go", 0o600)
            container = self.backend.client.containers.create(
                **container_config(request, run_dir, image, None, slot.student_uid, cores=pinned, prepared=True))
            p = Prepared(container, run_dir, slot, pinned.cores if pinned is not None else None)
            container.start()
            return p
        except BaseException:
            slot.release(kill=False)
            shutil.rmtree(run_dir, ignore_errors=True)
            raise

    def drain(self, *, close: bool = False) -> None:
        """Remove every prepared container (and, with ``close``, prepare no more)."""
        with self._lock:
            self._closed = self._closed or close
            kinds, self._ready = list(self._ready.values()), {}
        for ready in kinds:
            for p in ready:
                p.discard()

    def close(self) -> None:
        self.drain(close=True)


# ---------------------------------------------------------------- container


def container_config(request: RunRequest, run_dir: Path, image: str, lease: GpuLease | None,
                     student_uid: int, *, cores: CpuLease | None = None, prepared: bool = False) -> dict[str, Any]:
    """Keyword arguments for ``containers.create``: every limit of the run, in one place."""
    lim = request.limits
    pkg = Path(handin.__file__).resolve().parent
    view = student_view.build()   # what both uids can read: the student's allowlisted runtime
    memory = lim.memory_bytes + JUDGE_OVERHEAD
    mounts = [
        docker.types.Mount("/opt/handin/handin", str(view / "handin"), type="bind", read_only=True),
        docker.types.Mount("/opt/handin/sandbox", str(view / "sandbox"), type="bind", read_only=True),
        docker.types.Mount(f"{JUDGE_LIB}/handin", str(pkg), type="bind", read_only=True),  # under /judge: 0700
        docker.types.Mount("/judge/grader", str(request.grader_dir), type="bind", read_only=True),
        docker.types.Mount("/run/handin", str(run_dir), type="bind", read_only=True),
        docker.types.Mount("/out", None, type="volume"),  # anonymous, removed with the container
    ]
    for name, src in request.data:
        mounts.append(docker.types.Mount(f"/data/{name}", str(src), type="bind", read_only=True))
    config: dict[str, Any] = dict(
        image=image,
        command=["python", "-m", "sandbox.supervisor", "/run/handin"] + (["--prepared"] if prepared else []),
        user="0:0",
        working_dir="/",
        environment={"PYTHONPATH": "/opt/handin", "PYTHONDONTWRITEBYTECODE": "1"},
        labels={LABEL: "prepared" if prepared else request.label, OWNER_LABEL: owner_id()},
        network_mode="none",
        mem_limit=memory,
        memswap_limit=memory,
        nano_cpus=_nano_cpus(lim.cpus, cores),
        pids_limit=lim.max_processes + 64,
        ulimits=[docker.types.Ulimit(name="nofile", soft=1024, hard=1024),
                 docker.types.Ulimit(name="fsize", soft=lim.max_file_size, hard=lim.max_file_size),
                 docker.types.Ulimit(name="core", soft=0, hard=0)],
        read_only=True,
        tmpfs={"/tmp": f"rw,nosuid,nodev,size={lim.tmp_size},mode=1777",
               "/home/student": f"rw,nosuid,nodev,size={lim.tmp_size},uid={student_uid},gid={student_uid},mode=0700",
               "/home/judge": "rw,nosuid,nodev,size=256m,uid=61001,gid=61001,mode=0700"},
        cap_drop=["ALL"],
        cap_add=list(CAPS),
        security_opt=["no-new-privileges"],
        mounts=mounts,
        hostname="sandbox",
        ipc_mode="private",
        stop_signal="SIGKILL",
        detach=True,
    )
    if lease is not None and lease.ids:
        config["device_requests"] = [gpu_request(lease.ids)]
    if cores is not None and cores.cores:
        config["cpuset_cpus"] = cores.cpuset
    return config


def _nano_cpus(cpus: float, cores: CpuLease | None) -> int:
    """The CPU quota: the module's cpus, never more than the cores the run is pinned to."""
    if cores is not None and cores.cores:
        cpus = min(cpus, len(cores.cores))
    return int(max(1, cpus) * 1e9)


def gpu_request(ids: tuple[int, ...]) -> docker.types.DeviceRequest:
    return docker.types.DeviceRequest(device_ids=[str(i) for i in ids], capabilities=[["gpu"]])


def _write_configs(run_dir: Path, request: RunRequest, lease: GpuLease | None, student_uid: int) -> dict:
    lim = request.limits
    os.chmod(run_dir, 0o700)  # root only: the student uid cannot read the judge's config
    # public_data: the same read-only /data mounts the student's links point at.
    judge = dict(request.judge_config(), grader_dir="/judge/grader", public_data="/data",
                 out="/out/judge/raw.json", scratch="/home/judge")
    plan = {"cpus": lim.cpus, "thread_env": thread_env(request), "student_uid": student_uid,
            "max_processes": lim.max_processes,
            "memory_bytes": lim.memory_bytes, "cpu_seconds": int(lim.wall_seconds * max(1, lim.cpus)) + 5,
            "max_file_size": lim.max_file_size, "max_output": lim.max_output, "gpus": lim.gpus,
            "cuda_visible_devices": ",".join(str(i) for i in range(len(lease.ids))) if lease and lease.ids else None,
            # Untimed CPU runs: the supervisor imports what both roles use once and forks them
            # (public names only: the starter's imports that the graders share, and the harness's).
            "preload": preload_shared(request) if request.benchmark is None and not lim.gpus else None}
    (run_dir / "plan.json").write_text(json.dumps(plan))
    # The student's home is its own (0700): the student process links the data in itself.
    student = dict(request.student_config(), links={name: f"/data/{name}" for name, _ in request.data})
    (run_dir / "student.json").write_text(json.dumps(student))
    (run_dir / "judge.json").write_text(json.dumps(judge))
    return plan


def _applied(request: RunRequest, cores: CpuLease | None = None) -> dict[str, Any]:
    lim = request.limits
    applied = {"memory_bytes": lim.memory_bytes + JUDGE_OVERHEAD,
               "memory_swap_bytes": lim.memory_bytes + JUDGE_OVERHEAD,
               "nano_cpus": _nano_cpus(lim.cpus, cores), "pids": lim.max_processes + 64,
               "read_only_root": True, "network": "none", "capabilities": CAPS, "no_new_privileges": True}
    if cores is not None and cores.cores:
        applied["cpuset_cpus"] = cores.cpuset
    return applied


def read_out(container) -> dict[str, bytes]:
    """The files under /out, read from the archive API with a cap on the total."""
    try:
        stream, _ = container.get_archive("/out")
    except docker.errors.DockerException:
        return {}
    buf = io.BytesIO()
    for chunk in stream:
        buf.write(chunk)
        if buf.tell() > MAX_OUT_BYTES:
            break
    buf.seek(0)
    files: dict[str, bytes] = {}
    try:
        with tarfile.open(fileobj=buf, mode="r|") as tar:
            for member in tar:
                if not member.isfile() or member.size > MAX_OUT_BYTES:
                    continue
                name = member.name.split("/", 1)[1] if "/" in member.name else member.name
                fh = tar.extractfile(member)
                if fh is not None:
                    files[name] = fh.read()
    except (tarfile.TarError, OSError):
        pass
    return files


def _capped_logs(container, limit: int = 64 * 1024) -> bytes:
    try:
        data = container.logs(stdout=True, stderr=True, tail=400)
    except docker.errors.DockerException:
        return b""
    return data[-limit:]


def _json(data: bytes | None) -> dict | None:
    if data is None:
        return None
    try:
        doc = json.loads(data)
    except (ValueError, RecursionError):
        return None
    return doc if isinstance(doc, dict) else None


def _text(data: bytes | None) -> str:
    return "" if data is None else data.decode("utf-8", "replace")


def _kill(container) -> None:
    try:
        container.kill()
    except docker.errors.DockerException:
        pass


def reap_orphans(client: docker.DockerClient) -> int:
    """Remove handin containers whose worker process on this host is gone."""
    reaped = 0
    host = socket.gethostname()
    for c in client.containers.list(all=True, filters={"label": LABEL}):
        owner = c.labels.get(OWNER_LABEL, "")
        h, _, pid = owner.rpartition(":")
        if h == host and pid.isdigit() and _alive(int(pid)):
            continue
        try:
            c.remove(v=True, force=True)
            reaped += 1
        except docker.errors.DockerException:
            pass
    return reaped


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return True


__all__ = ["DockerBackend", "container_config", "engine", "gpu_request", "reap_orphans"]
