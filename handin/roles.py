"""A forked process becoming a run's student or judge, as a fresh ``python -m handin.<role>`` would.

The local sandbox's zygotes and the container's supervisor fork the run's two processes from an
interpreter that has imported libraries already (sandbox.zygote, sandbox.supervisor). What a
fresh interpreter would have had and a forked one inherits instead is reset here: unbuffered
standard streams on the new descriptors, default signal handlers, numpy's global generator
state of its own. Dependency-free: the supervisor imports it before it starts a run.
Also what the forking parents here share: importing ahead, a child's limits, a child that never
returns into its parent's code, and reaping what exited.
"""

from __future__ import annotations

import io
import os
import resource
import signal
import sys


def fresh_state() -> None:
    for fd, name in ((1, "stdout"), (2, "stderr")):  # as PYTHONUNBUFFERED gives a fresh interpreter
        setattr(sys, name, io.TextIOWrapper(io.FileIO(fd, "w", closefd=False), encoding="utf-8",
                                            errors="backslashreplace", write_through=True))
    sys.stdin = io.TextIOWrapper(io.FileIO(0, "r", closefd=False), encoding="utf-8")
    for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGUSR1, signal.SIGUSR2, signal.SIGALRM, signal.SIGCHLD):
        signal.signal(sig, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    np = sys.modules.get("numpy")
    if np is not None and "numpy.random" in sys.modules:  # Python's own ``random`` reseeds after a fork
        np.random.seed(int.from_bytes(os.urandom(4), "little"))


def preload(names) -> tuple[list[str], list[str]]:
    """Import ``names`` ahead of the runs that will use them: (loaded, failed). A library that
    fails here is imported by the run itself, which then fails in its own log."""
    import importlib
    loaded, failed = [], []
    for name in names:
        try:
            importlib.import_module(name)
            loaded.append(name)
        except BaseException as exc:
            failed.append(f"{name}: {type(exc).__name__}")
    return loaded, failed


def set_limits(rlimits, cores=None) -> None:
    """The run's rlimits ((resource, value) pairs, soft = hard) and CPU affinity, as far as allowed
    (also called between fork and exec: nothing to import here)."""
    for which, value in rlimits:
        try:
            resource.setrlimit(int(which), (int(value), int(value)))
        except (ValueError, OSError):
            pass
    if cores:
        try:
            os.sched_setaffinity(0, cores)
        except OSError:
            pass


JUDGE_LIB_ENV = "HANDIN_JUDGE_LIB"   # where the judge's whole package is, when its parent imported the student's view


def adopt_package_root(root: str | None) -> None:
    """Load the rest of handin from ``root``: a judge forked from a parent (the container's
    supervisor) that imported handin's runtime from the student's view, which holds only the
    allowlisted modules. The modules already loaded are the same files; their packages now
    find the others under ``root``, which only the judge may read."""
    if not root:
        return
    if root not in sys.path:
        sys.path.insert(0, root)
    for name, module in list(sys.modules.items()):
        if (name == "handin" or name.startswith("handin.")) and getattr(module, "__path__", None) is not None:
            module.__path__ = [os.path.join(root, *name.split("."))]
    import importlib
    importlib.invalidate_caches()


def run(role: str, config: str) -> int:
    """The role's main with ``config`` (a path, or ``-`` for stdin); its exit status."""
    fresh_state()
    sys.argv = [f"handin.{role}", config]
    if sys.path and sys.path[0] == "/":  # ``python -m`` puts its start directory first: the parent's was /
        sys.path[0] = os.getcwd()
    if role == "student":
        from .student import main
    else:
        adopt_package_root(os.environ.get(JUDGE_LIB_ENV))
        from .judge import main
    try:
        code = main([config])
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    import atexit
    atexit._run_exitfuncs()
    return int(code or 0)  # exit_with flushes the streams


def exit_with(fn, failed: int = 70) -> None:
    """In a forked child: ``os._exit`` with what ``fn()`` returns, or ``failed`` (the traceback
    on stderr) if it raises; never returns into the parent's code, never runs its finalizers."""
    code = failed
    try:
        code = fn()
    except BaseException:
        import traceback
        traceback.print_exc()
    finally:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except BaseException:
                pass
    os._exit(code)


def reap() -> None:
    """Collect every child that has exited, without waiting for the others."""
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
