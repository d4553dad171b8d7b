"""Inside a grading container: start the judge and the student under their own uids.

Runs as the container's pid 1, as root with only CAP_SETUID, CAP_SETGID and
CAP_KILL (everything else dropped, no-new-privileges). It reads the two
processes' configs from a root-only directory, starts each process under its
uid with rlimits and hands it its config on stdin, keeps the first bytes of
each one's output, waits for the judge, kills everything the student started,
and writes what it saw to ``/out`` — which the host copies out through the
Docker API after the container has stopped. Nothing the student prints is
ever read as data.
"""

from __future__ import annotations

import json
import os
import resource
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from handin import roles
from handin.capture import Drain

STUDENT_UID = 61000  # the image's student user; the host usually assigns a uid per run
JUDGE_UID = 61001
JUDGE_LIB = "/judge/lib"   # the whole handin package, for the judge only (/opt/handin: the student's view)
OUT = Path("/out")
JUDGE_OUT = OUT / "judge"


def _preexec(uid: int, limits: dict[int, int], cwd: str):
    def setup() -> None:
        os.setsid()
        for which, value in limits.items():
            resource.setrlimit(which, (value, value))
        os.setgroups([])
        os.setgid(uid)
        os.setuid(uid)  # clears every capability: the child keeps none
        os.chdir(cwd)   # after setuid: the judge's home is closed to root without CAP_DAC_OVERRIDE
    return setup


def _start(role: str, uid: int, config: dict, sock: socket.socket, limits: dict[int, int],
           env: dict[str, str], cwd: str, *, fork: bool = False):
    """The role's process: a fresh interpreter, or (``fork``) a child of this one, which has
    imported the libraries both roles use and nothing of the run; either way it reads its config
    on stdin, under its uid and limits."""
    config = dict(config, fd=sock.fileno())
    if fork:
        return _Forked(role, uid, config, sock, limits, env, cwd)
    proc = subprocess.Popen([sys.executable, "-m", f"handin.{role}", "-"], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, pass_fds=(sock.fileno(),),
                            env=env, cwd="/", preexec_fn=_preexec(uid, limits, cwd))
    proc.stdin.write(json.dumps(config).encode())
    proc.stdin.close()
    return proc


class _Forked:
    """A role's process forked from the supervisor, with what main() uses of a Popen."""

    def __init__(self, role: str, uid: int, config: dict, sock: socket.socket, limits: dict[int, int],
                 env: dict[str, str], cwd: str):
        cfg_r, cfg_w = os.pipe()
        out_r, out_w = os.pipe()
        keep = sock.fileno()
        self.pid = os.fork()
        if self.pid == 0:  # pragma: no cover - runs in the child
            def become() -> int:
                os.dup2(cfg_r, 0)
                os.dup2(out_w, 1)
                os.dup2(out_w, 2)
                os.closerange(3, keep)
                os.closerange(keep + 1, 1 << 16)  # the other role's socket and pipes among them
                _preexec(uid, limits, cwd)()
                os.environ.clear()
                os.environ.update(env)
                return roles.run(role, "-")
            roles.exit_with(become)
        os.close(cfg_r)
        os.close(out_w)
        self.returncode: int | None = None
        self.stdout = open(out_r, "rb")
        try:
            with open(cfg_w, "wb") as fh:
                fh.write(json.dumps(config).encode())
        except BrokenPipeError:
            pass  # the child died before it read its config: its exit status says so


def _wait(proc: subprocess.Popen, timeout: float | None) -> tuple[int | None, int]:
    """(exit status, peak RSS in KiB) of one child, reaped with wait4 for its rusage."""
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            proc.returncode = os.waitstatus_to_exitcode(status)
            return proc.returncode, usage.ru_maxrss
        if deadline is not None and time.monotonic() > deadline:
            return None, 0
        time.sleep(0.02)


class _GpuPeak:
    """Polls nvidia-smi for the memory used on this container's GPUs (all of them are the run's)."""

    def __init__(self):
        import shutil
        import threading
        self.peak_mib = 0
        self._stop = threading.Event()
        self._smi = shutil.which("nvidia-smi")
        if self._smi:
            threading.Thread(target=self._poll, daemon=True).start()

    def _poll(self) -> None:
        while not self._stop.wait(0.5):
            try:
                out = subprocess.run([self._smi, "--query-gpu=memory.used", "--format=csv,noheader,nounits"],
                                     capture_output=True, text=True, timeout=5).stdout
                self.peak_mib = max([self.peak_mib] + [int(float(x)) for x in out.split()])
            except (OSError, ValueError, subprocess.TimeoutExpired):
                return

    def stop(self) -> int | None:
        self._stop.set()
        return self.peak_mib if self._smi else None


def _cpu_seconds() -> float:
    """CPU of the whole run: the supervisor and every process reaped under it."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    config_dir = Path(argv[0] if argv else "/run/handin")
    prepared = "--prepared" in argv[1:]
    if prepared:
        # A prepared container: import what both roles share now, then wait for the run's configs.
        ahead = json.loads((config_dir / "preload.json").read_text())
        os.environ.update(ahead["thread_env"])
        roles.preload(ahead["preload"])
        with open(config_dir / "go", "rb") as go:
            go.read(2)
    plan = json.loads((config_dir / "plan.json").read_text())
    student_cfg = json.loads((config_dir / "student.json").read_text())
    judge_cfg = json.loads((config_dir / "judge.json").read_text())

    home = Path("/home/student")
    base_env = {"PATH": "/opt/venv/bin:/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8",
                "PYTHONPATH": "/opt/handin", "PYTHONDONTWRITEBYTECODE": "1", "PYTHONUNBUFFERED": "1",
                "MPLBACKEND": "Agg", "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1",
                **(plan.get("thread_env") or {"OMP_NUM_THREADS": str(plan["cpus"]),
                                              "MKL_NUM_THREADS": str(plan["cpus"])})}
    if plan.get("cuda_visible_devices") is not None:
        base_env["CUDA_VISIBLE_DEVICES"] = plan["cuda_visible_devices"]

    student_uid = int(plan.get("student_uid", STUDENT_UID))
    student_limits = {resource.RLIMIT_AS: plan["memory_bytes"], resource.RLIMIT_CPU: plan["cpu_seconds"],
                      resource.RLIMIT_NPROC: plan["max_processes"],
                      resource.RLIMIT_FSIZE: plan["max_file_size"], resource.RLIMIT_NOFILE: 1024,
                      resource.RLIMIT_CORE: 0}
    if plan.get("gpus"):
        del student_limits[resource.RLIMIT_AS]  # CUDA maps far more address space than it uses
    judge_limits = {resource.RLIMIT_FSIZE: 64 * 1024**2, resource.RLIMIT_NOFILE: 1024, resource.RLIMIT_CORE: 0}

    started = time.monotonic()
    fork = prepared or plan.get("preload") is not None
    if fork and not prepared:
        os.environ.update(base_env)  # thread counts: read once, when the libraries load
        roles.preload(plan["preload"])
    s_sock, j_sock = socket.socketpair()
    student = _start("student", student_uid, student_cfg, s_sock, student_limits,
                     dict(base_env, HOME=str(home), USER="student", LOGNAME="student"), str(home), fork=fork)
    judge = _start("judge", JUDGE_UID, judge_cfg, j_sock, judge_limits,
                   dict(base_env, HOME="/home/judge", PYTHONPATH=f"{JUDGE_LIB}:/opt/handin",
                        **{roles.JUDGE_LIB_ENV: JUDGE_LIB}), "/home/judge", fork=fork)
    gpu_peak = _GpuPeak() if plan.get("gpus") else None  # a thread: only after the forks
    s_sock.close()
    j_sock.close()
    s_out, j_out = Drain(student.stdout, plan["max_output"]), Drain(judge.stdout, 4 * plan["max_output"])

    judge_exit, judge_rss = _wait(judge, None)  # the host enforces the wall clock from outside
    student_exit, student_rss = (student.returncode, 0) if student.returncode is not None else _wait(student, 0)
    if student_exit is None:
        os.killpg(student.pid, signal.SIGKILL)
        student_exit, student_rss = _wait(student, 10)
    try:
        os.kill(-1, signal.SIGKILL)  # whatever the student left behind, escaped process groups included
    except ProcessLookupError:
        pass
    s_out.join(5)
    j_out.join(5)
    roles.reap()  # pid 1 inherits the orphans the kill above left as zombies
    (OUT / "student.log").write_text(s_out.cap.text())
    (OUT / "judge.log").write_text(j_out.cap.text())
    (OUT / "supervisor.json").write_text(json.dumps({
        "student_exit": student_exit, "judge_exit": judge_exit,
        "student_peak_rss_kib": student_rss, "judge_peak_rss_kib": judge_rss,
        "gpu_peak_memory_mib": gpu_peak.stop() if gpu_peak else None,
        "seconds": round(time.monotonic() - started, 3),
        "cpu_seconds": round(_cpu_seconds(), 3),
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main())
