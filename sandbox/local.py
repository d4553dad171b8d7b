"""The local backend: two processes on this host, fenced in as far as the host allows.

As root with bubblewrap (the setup installs it), each run gets:
- two fresh unprivileged uids from a slot (student, judge): the student cannot
  signal, trace or read the judge's files, and RLIMIT_NPROC counts its processes
  alone;
- a private mount namespace per process that shows the system, Python and the
  handin package read-only; the student sees its own tmpfs home with the
  module's public data, the judge sees the hidden tests and its output
  directory; graders/, solutions/ and everything else on the host are absent;
- new network, pid, ipc and uts namespaces: no network, no other processes;
- rlimits (CPU, address space, processes, file size, open files, core 0), a
  wall-clock kill of everything, and caps on the output kept;
- a CPU affinity: a timed run leases cores of its own (``cpusets``, the same
  locks as the docker backend's); an untimed one keeps off the leased cores.
Untimed CPU runs do not start two interpreters: their processes are forked from prepared
interpreters that have imported the harness and the module's libraries already
(``sandbox.zygote``), into a bubblewrap sandbox built exactly as above; a zygote that is
gone or cannot start means fresh interpreters for that run. ``environment.interpreters``
says which ("prepared" or "fresh"); ``HANDIN_PREPARED=0`` turns them off.
Without root or bubblewrap it runs with what is left and says so in
``protections``.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import handin
from handin import roles
from handin.preload import for_role as preload_for
from handin.sandboxing import (CHANNEL_FD, GRADER_MOUNT, JUDGE_CONFIG, JUDGE_OUT, PUBLIC_DATA_MOUNT,
                               STUDENT_CONFIG, STUDENT_HOME, Drain, RunOutcome, RunRequest, read_report,
                               thread_env)

from . import cpusets, student_view
from .cpusets import CpuAllocator, CpuLease
from .hostinfo import host_environment
from .slots import UidSlot, acquire_slot
from .zygote import ForkedProcess, ZygotePool

BWRAP = shutil.which("bwrap")
SETPRIV = shutil.which("setpriv")
JUDGE_MEMORY = 4 * 1024**3


class LocalBackend:
    name = "local"

    def __init__(self, *, run_root: Path | None = None, cores: list[int] | None = None,
                 prepared: bool | None = None):
        self.run_root = run_root
        self._protections: dict[str, bool] | None = None
        self.cpu_allocator = CpuAllocator(cores)
        # Prepared interpreters (sandbox.zygote) for untimed CPU runs; HANDIN_PREPARED=0 turns them off.
        self.prepared = os.environ.get("HANDIN_PREPARED", "1") != "0" if prepared is None else prepared
        self.zygotes = ZygotePool()

    # ------------------------------------------------------------ probing

    def protections(self) -> dict[str, bool]:
        if self._protections is None:
            root = os.geteuid() == 0
            bwrap = BWRAP is not None and _bwrap_works()
            sep = root and bwrap and SETPRIV is not None
            self._protections = {
                "rlimits": True,
                "wall_clock": True,
                "network_isolated": bwrap,
                "filesystem_hidden": bwrap,
                "uid_separation": sep,
                "pid_isolated": bwrap,
            }
        return dict(self._protections)

    # ------------------------------------------------------------ running

    def run(self, request: RunRequest) -> RunOutcome:
        prot = self.protections()
        # Timed runs lease cores of their own (the same locks as the docker backend's), untimed ones
        # stay off the leased cores; every process of the run inherits the affinity.
        pinned = self.cpu_allocator.pin(timed=request.benchmark is not None, cpus=request.limits.cpus)
        try:
            slot = acquire_slot() if prot["uid_separation"] else None
        except BaseException:
            if pinned is not None:
                pinned.release()
            raise
        started = time.monotonic()  # the wall clock starts once the run has its cores and uids
        run_dir = Path(tempfile.mkdtemp(prefix=f"handin-{request.label[:40]}-", dir=self.run_root))
        procs: list[subprocess.Popen] = []
        env = host_environment(self.name, request.limits)
        cpusets.record(env, pinned, request.limits.cpus)
        try:
            student_sock, judge_sock = socket.socketpair()
            forked = self._forking(request, prot)
            if forked:  # both zygotes import at once on a first run, not one after the other
                for role in ("student", "judge"):
                    self._zygote(request, role)
            try:
                layout = _prepare(run_dir, request, slot, hidden=prot["filesystem_hidden"],
                                  fds=(CHANNEL_FD, CHANNEL_FD) if forked
                                  else (student_sock.fileno(), judge_sock.fileno()))
                for role, sock in (("student", student_sock), ("judge", judge_sock)):
                    procs.append(self._start(layout, request, role, sock, slot, prot, pinned, forked))
                student, judge = procs
            finally:
                student_sock.close()
                judge_sock.close()
            env["interpreters"] = ("prepared" if all(isinstance(p, ForkedProcess) for p in procs)
                                   else "fresh")
            phases = {"prepare": time.monotonic() - started}
            s_out = Drain(student.stdout, request.limits.max_output)
            j_out = Drain(judge.stdout, 4 * request.limits.max_output)
            timed_out = False
            try:
                judge.wait(timeout=max(1.0, request.limits.wall_seconds - (time.monotonic() - started)))
            except subprocess.TimeoutExpired:
                timed_out = True
            phases["run"] = time.monotonic() - started - phases["prepare"]
            _kill(procs, slot)
            for t in (s_out, j_out):
                t.join(timeout=5)
            raw, problem = read_report(layout["out"] / "raw.json")
            phases["stop"] = time.monotonic() - started - phases["prepare"] - phases["run"]
            env["phases"] = {k: round(v, 3) for k, v in phases.items()}
            return RunOutcome(
                raw=raw, wall_seconds=time.monotonic() - started, timed_out=timed_out,
                student_exit=student.returncode, judge_exit=judge.returncode,
                student_log=s_out.cap.text(), judge_log=j_out.cap.text(),
                protections=prot, environment=env,
                error=None if raw is not None or timed_out else problem,
            )
        except OSError as exc:
            _kill(procs, slot)
            return RunOutcome(raw=None, wall_seconds=time.monotonic() - started, protections=prot,
                              environment=env,
                              error=f"the local sandbox could not start the run: {exc}")
        finally:
            shutil.rmtree(run_dir, ignore_errors=True)
            if slot is not None:
                slot.release()
            if pinned is not None:
                pinned.release()

    def close(self) -> None:
        """Stop the prepared interpreters (they also stop by themselves when this process exits)."""
        self.zygotes.close()

    def _forking(self, request: RunRequest, prot: dict[str, bool]) -> bool:
        """Whether this run's processes come from zygotes: untimed CPU runs with uids separated."""
        return (self.prepared and prot["uid_separation"] and prot["filesystem_hidden"]
                and request.benchmark is None and not request.limits.gpus)

    def _start(self, layout: dict, request: RunRequest, role: str, sock: socket.socket,
               slot: UidSlot | None, prot: dict[str, bool], pinned: CpuLease | None,
               forked: bool = False) -> subprocess.Popen | ForkedProcess:
        if forked:
            try:
                return self._fork(layout, request, role, sock, slot, pinned)
            except OSError:
                pass  # the zygote is gone or could not start: a fresh interpreter, as without one
        lim = request.limits
        python = sys.executable
        env = {
            **_fork_env(request),
            "HOME": STUDENT_HOME if role == "student" else "/tmp",
            "PYTHONPATH": str(Path(handin.__file__).resolve().parent.parent) if not prot["filesystem_hidden"]
            else _HANDIN_MOUNT_PARENT,
        }
        module = f"handin.{role}"
        config = STUDENT_CONFIG if role == "student" else JUDGE_CONFIG
        if prot["filesystem_hidden"]:
            argv = _bwrap_argv(layout, request, role) + ["--"]
            if slot is not None:
                uid = slot.student_uid if role == "student" else slot.judge_uid
                argv += [SETPRIV, f"--reuid={uid}", f"--regid={uid}", "--clear-groups",
                         "--inh-caps=-all", "--bounding-set=-all", "--no-new-privs"]
            argv += [python, "-m", module, config]
        else:
            config = str(layout[f"{role}_config"])
            argv = [python, "-m", module, config]
            env["HOME"] = str(layout["home"]) if role == "student" else str(layout["scratch"])
        limits = _student_rlimits(lim) if role == "student" else _judge_rlimits(lim)
        cwd = str(layout["home"]) if role == "student" and not prot["filesystem_hidden"] else "/"
        return subprocess.Popen(
            argv, env=env, cwd=cwd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, pass_fds=(sock.fileno(),), start_new_session=True,
            preexec_fn=_preexec(limits, pinned.cores if pinned is not None else None),
        )

    def _zygote(self, request: RunRequest, role: str):
        """The role's zygote for this kind of run, started (not waited for) if there is none."""
        preload = preload_for(role, request)
        key = (role, tuple(sorted(thread_env(request).items())), preload)
        return self.zygotes.get(key, dict(_fork_env(request), HOME="/tmp", PYTHONPATH=_SOURCE_ROOT), preload)

    def _fork(self, layout: dict, request: RunRequest, role: str, sock: socket.socket,
              slot: UidSlot | None, pinned: CpuLease | None) -> ForkedProcess:
        """The role's process forked by a zygote, inside a bwrap sandbox built as for a fresh one."""
        lim = request.limits
        base = _fork_env(request)
        zygote = self._zygote(request, role)
        info_r, info_w = os.pipe()
        try:
            holder = subprocess.Popen(
                _bwrap_argv(layout, request, role) + ["--info-fd", str(info_w), "--", "/bin/sh", "-c",
                                                      "echo ready && exec sleep infinity"],
                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                pass_fds=(info_w,), start_new_session=True)
        finally:
            os.close(info_w)
        try:
            info = _holder_ready(holder, info_r)
        except BaseException:
            _end(holder)
            raise
        finally:
            os.close(info_r)
        out_r, out_w = os.pipe()
        status_r, status_w = os.pipe()
        uid = None if slot is None else (slot.student_uid if role == "student" else slot.judge_uid)
        limits = _student_rlimits(lim) if role == "student" else _judge_rlimits(lim)
        doc = {"role": role, "holder_pid": info["child-pid"], "uid": uid,
               "namespaces": {k: v for k, v in info.items() if k.endswith("-namespace")},
               "rlimits": [[int(k), int(v)] for k, v in limits.items()],
               "cores": list(pinned.cores) if pinned is not None else None,
               "env": dict(base, HOME=STUDENT_HOME if role == "student" else "/tmp", PYTHONPATH=_HANDIN_MOUNT_PARENT),
               "cwd": STUDENT_HOME if role == "student" else "/tmp",
               "config": STUDENT_CONFIG if role == "student" else JUDGE_CONFIG}
        try:
            zygote.fork(doc, [out_w, sock.fileno(), status_w])
        except OSError:
            self.zygotes.discard(zygote)
            _end(holder)
            os.close(out_r)
            os.close(status_r)
            raise
        finally:
            os.close(out_w)
            os.close(status_w)
        return ForkedProcess(holder, out_r, status_r)


# ---------------------------------------------------------------- layout

_HANDIN_MOUNT_PARENT = "/opt/handin"


def _prepare(run_dir: Path, request: RunRequest, slot: UidSlot | None, *, hidden: bool,
             fds: tuple[int, int]) -> dict:
    """Create the per-run directories and config files with the right owners."""
    os.chmod(run_dir, 0o711)
    home = run_dir / "home"
    home.mkdir()
    judge_dir = run_dir / "judge"
    out = judge_dir / "out"
    scratch = judge_dir / "scratch"
    for d in (judge_dir, out, scratch):
        d.mkdir(exist_ok=True)
    student_config = run_dir / "student.json"
    judge_config = judge_dir / "judge.json"
    sc = dict(request.student_config(), fd=fds[0])
    jc = dict(request.judge_config(), fd=fds[1])
    if not hidden:
        # No mount namespace: the processes see host paths.
        public = judge_dir / "public"  # the judge's public_data: links to the host's (read-only) data
        public.mkdir()
        jc.update(grader_dir=str(request.grader_dir), public_data=str(public), out=str(out / "raw.json"),
                  scratch=str(scratch))
        for name, src in request.data:
            dst = home / name
            dst.parent.mkdir(parents=True, exist_ok=True)
            (shutil.copytree if src.is_dir() else shutil.copy2)(src, dst)
            link = public / name
            link.parent.mkdir(parents=True, exist_ok=True)
            link.symlink_to(src.resolve())
    student_config.write_text(json.dumps(sc))
    judge_config.write_text(json.dumps(jc))
    if slot is not None:
        os.chown(student_config, 0, slot.student_uid)
        os.chmod(student_config, 0o640)
        for p in (judge_dir, out, scratch, judge_config):
            os.chown(p, slot.judge_uid, slot.judge_uid)
        for p in (judge_dir, out, scratch):
            os.chmod(p, 0o700)
        os.chown(home, slot.student_uid, slot.student_uid)
        os.chmod(home, 0o700)
    return {"run_dir": run_dir, "home": home, "out": out, "scratch": scratch,
            "student_config": student_config, "judge_config": judge_config}


def _python_paths() -> list[str]:
    paths = {sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix,
             str(Path(os.path.realpath(sys.executable)).parent.parent)}
    return sorted(p for p in paths if p and p != "/" and not p.startswith("/usr"))


def _system_binds() -> list[str]:
    argv = ["--ro-bind", "/usr", "/usr", "--ro-bind", "/etc", "/etc"]
    for d in ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"):
        if os.path.islink(d):
            argv += ["--symlink", os.readlink(d), d]
        elif os.path.isdir(d):
            argv += ["--ro-bind", d, d]
    return argv


def _parents(path: str) -> list[str]:
    """--dir entries so that every parent of ``path`` is traversable (0755)."""
    argv = []
    parts = Path(path).parts[1:-1]
    for i in range(1, len(parts) + 1):
        argv += ["--perms", "0755", "--dir", "/" + "/".join(parts[:i])]
    return argv


def _bwrap_argv(layout: dict, request: RunRequest, role: str) -> list[str]:
    lim = request.limits
    argv = [BWRAP, "--die-with-parent", "--new-session", "--unshare-net", "--unshare-pid",
            "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try", "--hostname", "sandbox",
            "--proc", "/proc", "--dev", "/dev"]
    argv += _system_binds()
    # Scratch space first: Python and handin are bound on top of it below, so a
    # checkout that lives under /tmp or /home stays visible (read-only).
    argv += ["--size", str(lim.tmp_size), "--perms", "1777", "--tmpfs", "/tmp", "--dir", "/run/handin"]
    if role == "student":
        # The home is a sized tmpfs: nothing the student writes reaches the host's disk.
        argv += ["--perms", "0755", "--dir", "/home",
                 "--size", str(lim.tmp_size), "--perms", "1777", "--tmpfs", STUDENT_HOME]
    for p in _python_paths():
        argv += _parents(p) + ["--ro-bind", p, p]
    pkg = str(Path(handin.__file__).resolve().parent)
    # The student's side sees the allowlisted runtime only (sandbox.student_view), where the
    # package would be: the zygote's children find handin at its own path, fresh ones at /opt/handin.
    src = str(student_view.build() / "handin") if role == "student" else pkg
    argv += _parents(pkg) + ["--ro-bind", src, pkg]
    # A fixed import path too, for installs where the package is not on sys.path by itself.
    argv += ["--dir", _HANDIN_MOUNT_PARENT, "--ro-bind", src, f"{_HANDIN_MOUNT_PARENT}/handin"]
    if role == "student":
        for name, src in request.data:
            argv += ["--ro-bind", str(src), f"{STUDENT_HOME}/{name}"]
        argv += ["--ro-bind", str(layout["student_config"]), STUDENT_CONFIG, "--chdir", STUDENT_HOME]
    else:
        # The module's public data, read-only, as the notebook sees it (the public_data fixture).
        argv += ["--perms", "0755", "--dir", PUBLIC_DATA_MOUNT]
        for name, src in request.data:
            argv += ["--ro-bind", str(src), f"{PUBLIC_DATA_MOUNT}/{name}"]
        argv += ["--ro-bind", str(request.grader_dir), GRADER_MOUNT,
                 "--bind", str(layout["out"]), JUDGE_OUT,
                 "--ro-bind", str(layout["judge_config"]), JUDGE_CONFIG, "--chdir", "/tmp"]
    return argv


# ---------------------------------------------------------------- processes


def _student_rlimits(lim) -> dict[int, int]:
    cpu = int(lim.wall_seconds * max(1, lim.cpus)) + 5
    return {
        resource.RLIMIT_AS: lim.memory_bytes,
        resource.RLIMIT_CPU: cpu,
        resource.RLIMIT_NPROC: lim.max_processes,
        resource.RLIMIT_FSIZE: lim.max_file_size,
        resource.RLIMIT_NOFILE: 1024,
        resource.RLIMIT_CORE: 0,
    }


def _judge_rlimits(lim) -> dict[int, int]:
    return {
        resource.RLIMIT_AS: max(JUDGE_MEMORY, lim.memory_bytes),
        resource.RLIMIT_NPROC: 512,
        resource.RLIMIT_FSIZE: 64 * 1024**2,
        resource.RLIMIT_NOFILE: 1024,
        resource.RLIMIT_CORE: 0,
    }


def _preexec(limits: dict[int, int], cores: tuple[int, ...] | None = None):
    def setup() -> None:
        roles.set_limits(limits.items(), cores)
    return setup


def _kill(procs: list[subprocess.Popen], slot: UidSlot | None) -> None:
    """Kill both process trees. Children that left the process group are caught by
    the pid namespace (bwrap dies → its namespace dies) and by a kill of every
    process of the slot's uids."""
    for p in procs:
        if isinstance(p, ForkedProcess):
            p.kill()  # its sandbox, whether or not the process is still running
        elif p.poll() is None:
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
    if slot is not None:
        slot.kill_all()
    for p in procs:
        try:
            p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass


# Where the zygote imports handin and sandbox from: this checkout or install.
_SOURCE_ROOT = str(Path(__file__).resolve().parent.parent)


def _fork_env(request: RunRequest) -> dict[str, str]:
    """The environment of a run's processes (and of their zygotes), less HOME and PYTHONPATH."""
    return {"PATH": f"{Path(sys.executable).parent}:/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8",
            "PYTHONDONTWRITEBYTECODE": "1", "PYTHONUNBUFFERED": "1", "PYTHONNOUSERSITE": "1",
            "MPLBACKEND": "Agg", "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1", **thread_env(request)}


def _holder_ready(holder: subprocess.Popen, info_fd: int, timeout: float = 30.0) -> dict:
    """bwrap's report of the sandbox (host pid, namespace inodes), once its command runs."""
    import select
    ready, _, _ = select.select([holder.stdout], [], [], timeout)
    line = holder.stdout.readline() if ready else b""
    if line != b"ready\n":
        err = holder.stderr.read1(4096).decode("utf-8", "replace") if holder.poll() is not None else ""
        raise OSError(f"the sandbox did not start: {err.strip() or 'no word from it'}")
    holder.stdout.close()
    holder.stderr.close()
    data = b""
    while True:
        try:
            return json.loads(data)
        except ValueError:
            chunk = os.read(info_fd, 65536)
            if not chunk:
                raise OSError("bwrap reported no sandbox") from None
            data += chunk


def _end(holder: subprocess.Popen) -> None:
    try:
        os.killpg(holder.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    holder.wait()


_BWRAP_OK: bool | None = None


def _bwrap_works() -> bool:
    global _BWRAP_OK
    if _BWRAP_OK is None:
        if BWRAP is None:
            _BWRAP_OK = False
        else:
            try:
                r = subprocess.run([BWRAP, "--ro-bind", "/", "/", "--unshare-net", "--unshare-pid",
                                    "--proc", "/proc", "--dev", "/dev", "true"],
                                   capture_output=True, timeout=20)
                _BWRAP_OK = r.returncode == 0
            except (OSError, subprocess.TimeoutExpired):
                _BWRAP_OK = False
    return _BWRAP_OK
