"""Prepared interpreters for the local sandbox: a fork server that is past its imports.

Starting a run's student and judge costs two interpreters importing numpy, torch, IPython and
pytest (1.5-2 s of CPU each on this project's hardware) before the first line of anybody's code.
A zygote imports them once and forks one process per run and role instead:

- The zygote is a fresh ``python -m sandbox.zygote`` started by the host's grading process.
  It imports only installed libraries and handin's own code, named by the host (never a
  submission's cells, never a file of the module's hidden tests), and then only receives
  requests to fork. It never runs, reads or receives anything of a submission: a request
  carries file descriptors, the run's namespaces, uid, limits and environment, and the path of
  the config file the child reads inside its sandbox. Nothing of one run can reach another,
  because nothing of a run ever enters the zygote; every child starts from the same memory.
- The sandbox itself is still bubblewrap's: for each role the host starts bwrap with the
  run's mounts and namespaces around a placeholder (``sleep``), exactly as it would around a
  fresh interpreter. The zygote's child joins those namespaces (setns: cgroup, ipc, uts, net,
  pid, mount), after checking each one's inode against what bwrap reported and that none is
  the host's own; forks once more into the new pid namespace (a root parent there, as
  bubblewrap's init is for a fresh interpreter, which reports the exit status) and once more for
  the run's process, which drops
  to the run's uid with an empty bounding set, no capabilities and no_new_privs (checked in
  /proc/self/status before any of the run's code runs); sets the run's rlimits, affinity and
  environment; closes every descriptor but 0-3; and calls the role's ``main``.
- Killing the placeholder's bwrap ends the pid namespace and so everything the run started;
  the run's uids are killed as before. The child's exit status reaches the host over a pipe.

Used only where the local backend separates uids (root, bubblewrap) and only for untimed,
CPU-only runs: timed runs keep fresh interpreters (their thresholds were measured that way, and
their ranks are processes of their own anyway), and CUDA is never initialised in a zygote.
Two zygotes per (role, threads, preload), so the student's never holds what the judge's imported
for the hidden tests. Environment variables read once at library load (OMP_NUM_THREADS,
OMP_WAIT_POLICY) are the zygote's, which is why threads are part of the key.
"""

from __future__ import annotations

import ctypes
import errno
import json
import os
import signal
import socket
import struct
import sys

from handin import roles

NAMESPACES = (("cgroup", 0x02000000), ("ipc", 0x08000000), ("uts", 0x04000000),
              ("net", 0x40000000), ("pid", 0x20000000), ("mnt", 0x00020000))
INFO_KEYS = {"cgroup": "cgroup-namespace", "ipc": "ipc-namespace", "uts": "uts-namespace",
             "net": "net-namespace", "pid": "pid-namespace", "mnt": "mnt-namespace"}
PR_CAPBSET_DROP = 24
PR_SET_NO_NEW_PRIVS = 38
MAX_REQUEST = 1 << 20
FAILED_TO_START = 70  # the child's exit status when it could not become the run's process


def _libc():
    return ctypes.CDLL(None, use_errno=True)


def _check(rc: int, what: str) -> None:
    if rc != 0:
        e = ctypes.get_errno()
        raise OSError(e, f"{what}: {os.strerror(e)}")


# ---------------------------------------------------------------- the zygote's side


def serve(control: socket.socket) -> int:
    """Import what the host's first message names, then fork one child per request until the
    host closes its end (which it does when it exits, however it exits)."""
    loaded, failed = roles.preload(json.loads(control.recv(MAX_REQUEST) or b"[]"))
    signal.signal(signal.SIGCHLD, lambda signum, frame: roles.reap())
    control.send(json.dumps({"ready": True, "loaded": loaded, "failed": failed}).encode())
    while True:
        try:
            msg, fds, _, _ = socket.recv_fds(control, MAX_REQUEST, 4)
        except OSError:
            return 0
        if not msg:
            return 0  # the host closed its end
        try:
            request = json.loads(msg)
            pid = os.fork()
        except BaseException as exc:
            for fd in fds:
                os.close(fd)
            control.send(json.dumps({"error": f"{type(exc).__name__}: {exc}"}).encode())
            continue
        if pid == 0:
            control.close()
            roles.exit_with(lambda: _enter(request, fds), FAILED_TO_START)
        for fd in fds:
            os.close(fd)
        control.send(json.dumps({"pid": pid}).encode())


def _enter(request: dict, fds: list[int]) -> int:
    """In the zygote's child: join the run's namespaces, fork the run's process, report its exit."""
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    stdout_w, channel, status_w = fds
    os.dup2(stdout_w, 2)  # what goes wrong from here on is in the role's log
    libc = _libc()
    holder, expected = int(request["holder_pid"]), request["namespaces"]
    joined = []
    for name, flag in NAMESPACES:
        try:
            fd = os.open(f"/proc/{holder}/ns/{name}", os.O_RDONLY | os.O_CLOEXEC)
        except FileNotFoundError:
            if name == "cgroup" and INFO_KEYS[name] not in expected:
                continue
            raise
        inode, own = os.fstat(fd).st_ino, os.stat(f"/proc/self/ns/{name}").st_ino
        if INFO_KEYS[name] not in expected or inode != int(expected[INFO_KEYS[name]]) or inode == own:
            raise RuntimeError(f"the {name} namespace of pid {holder} is not the run's")
        joined.append((fd, flag, name))
    for fd, flag, name in joined:
        _check(libc.setns(fd, flag), f"setns {name}")
        os.close(fd)
    pid = os.fork()
    if pid == 0:  # inside the pid namespace from here on
        roles.exit_with(lambda: _parent(request, stdout_w, channel, status_w), FAILED_TO_START)
    for fd in (stdout_w, channel, status_w):
        os.close(fd)
    os.waitpid(pid, 0)
    return 0


def _parent(request: dict, stdout_w: int, channel: int, status_w: int) -> int:
    """The run's parent inside its pid namespace (root, as bubblewrap's init is for a fresh
    interpreter, so the run cannot signal it and its ``os.getppid()`` names a process it can
    see): fork the run's process and report its exit status to the host."""
    pid = os.fork()
    if pid == 0:
        os.close(status_w)
        roles.exit_with(lambda: _become(request, stdout_w, channel), FAILED_TO_START)
    os.close(stdout_w)
    os.close(channel)
    _, status = os.waitpid(pid, 0)
    try:
        os.write(status_w, struct.pack("i", os.waitstatus_to_exitcode(status)))
    except OSError:
        pass
    return 0


def _become(request: dict, stdout_w: int, channel: int) -> int:
    """Inside the run's namespaces: drop to the run's uid and limits, then run the role's main."""
    os.setsid()
    devnull = os.open("/dev/null", os.O_RDWR)
    os.dup2(devnull, 0)
    os.dup2(stdout_w, 1)
    os.dup2(stdout_w, 2)
    os.dup2(channel, 3)
    os.closerange(4, 1 << 16)  # the zygote's descriptors: nothing of the host stays open
    os.chdir(request["cwd"])
    os.environ.clear()
    os.environ.update(request["env"])
    roles.set_limits(request["rlimits"], request.get("cores"))
    libc = _libc()
    uid = request.get("uid")
    if uid is not None:
        for cap in range(64):
            if libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0:
                if ctypes.get_errno() == errno.EINVAL:
                    break  # past the last capability this kernel knows
                raise OSError(ctypes.get_errno(), "could not drop a capability from the bounding set")
        os.setgroups([])
        os.setresgid(uid, uid, uid)
        os.setresuid(uid, uid, uid)
    _check(libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "no_new_privs")
    if uid is not None:
        _assert_unprivileged(uid)
    return roles.run(request["role"], request["config"])


def _assert_unprivileged(uid: int) -> None:
    status = dict(line.split(":", 1) for line in open("/proc/self/status", encoding="ascii") if ":" in line)
    caps = {k: int(status[k].strip(), 16) for k in ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb") if k in status}
    ids = [int(x) for x in status["Uid"].split()] + [int(x) for x in status["Gid"].split()]
    if any(caps.values()) or set(ids) != {uid} or status.get("NoNewPrivs", "1").strip() != "1":
        raise RuntimeError(f"the run's process kept privileges: {caps}, ids {ids}")



# ---------------------------------------------------------------- the host's side


class Zygote:
    """One zygote process, started at once and ready when its imports are done."""

    def __init__(self, env: dict[str, str], preload: tuple[str, ...]):
        import subprocess
        import threading
        parent, child = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self.preload = preload
        self._lock = threading.Lock()
        self.ready: dict | None = None
        try:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "sandbox.zygote", str(child.fileno())],
                pass_fds=(child.fileno(),), env=env, cwd="/", stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        finally:
            child.close()
        self.control = parent
        parent.send(json.dumps(list(preload)).encode())  # not in argv: a forked run's cmdline is this one

    def fork(self, request: dict, fds: list[int], *, ready_timeout: float = 120.0) -> int:
        """The pid of the zygote's child for ``request``; OSError if the zygote is gone."""
        with self._lock:
            if self.ready is None:
                self.control.settimeout(ready_timeout)
                try:
                    self.ready = json.loads(self.control.recv(65536) or b"null")
                except (TimeoutError, ValueError) as exc:
                    raise OSError(f"the zygote did not get ready: {exc}") from None
                finally:
                    self.control.settimeout(None)
                if not isinstance(self.ready, dict):
                    raise OSError("the zygote exited before it was ready")
            socket.send_fds(self.control, [json.dumps(request).encode()], fds)
            reply = json.loads(self.control.recv(65536) or b"{}")
        if "pid" not in reply:
            raise OSError(f"the zygote could not fork: {reply.get('error', 'it exited')}")
        return int(reply["pid"])

    def alive(self) -> bool:
        return self.proc.poll() is None

    def close(self) -> None:
        self.control.close()
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()


class ZygotePool:
    """Zygotes by key (role, thread settings, preload), the least recently used closed past ``size``."""

    def __init__(self, size: int = 6):
        import threading
        self.size = size
        self._lock = threading.Lock()
        self._zygotes: dict[tuple, Zygote] = {}

    def get(self, key: tuple, env: dict[str, str], preload: tuple[str, ...]) -> Zygote:
        with self._lock:
            z = self._zygotes.pop(key, None)
            if z is not None and not z.alive():
                z.close()
                z = None
            if z is None:
                z = Zygote(env, preload)
            self._zygotes[key] = z  # most recently used last
            while len(self._zygotes) > self.size:
                self._zygotes.pop(next(iter(self._zygotes))).close()
            return z

    def discard(self, zygote: Zygote) -> None:
        with self._lock:
            for key, z in list(self._zygotes.items()):
                if z is zygote:
                    del self._zygotes[key]
        zygote.close()

    def close(self) -> None:
        with self._lock:
            zygotes, self._zygotes = list(self._zygotes.values()), {}
        for z in zygotes:
            z.close()


class ForkedProcess:
    """A run's process forked by a zygote, with what the backend uses of ``subprocess.Popen``:
    ``stdout``, ``returncode``, ``poll`` and ``wait``. ``kill`` ends its placeholder's sandbox,
    and with it the pid namespace the process lives in."""

    def __init__(self, holder, stdout_fd: int, status_fd: int):
        self.holder = holder
        self.pid = holder.pid
        self.stdout = open(stdout_fd, "rb")
        self._status = status_fd
        self.returncode: int | None = None

    def poll(self) -> int | None:
        import subprocess
        try:
            return self.wait(0)
        except subprocess.TimeoutExpired:
            return None

    def wait(self, timeout: float | None = None) -> int:
        import select
        import subprocess
        if self.returncode is None:
            ready, _, _ = select.select([self._status], [], [], timeout)
            if not ready:
                raise subprocess.TimeoutExpired("forked run", timeout)
            data = os.read(self._status, 4)
            self.returncode = struct.unpack("i", data)[0] if len(data) == 4 else FAILED_TO_START
            os.close(self._status)
        return self.returncode

    def kill(self) -> None:
        if self.holder.poll() is None:
            try:
                os.killpg(self.holder.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.holder.wait()


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    return serve(socket.socket(fileno=int(argv[0])))


if __name__ == "__main__":
    sys.exit(main())
