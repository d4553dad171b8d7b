"""The student-side half of the harness: the ``bench_*`` operations of the student server.

Runs in the student process (the sandbox). It exports the notebook's
definitions to a module, starts N rank processes (``python -m handin.bench.rank``)
that join one process group through a TCP store on a free loopback port, and
relays the judge's commands to them. Replies are plain data (weights as arrays,
counters as numbers). Nothing here is trusted by the judge: it is all student
territory, and every number that matters is checked on the judge's side.

Operations (``op`` of a request; the judge side is :mod:`handin.bench.harness`):

``bench_pool``    start (or keep) the ranks: world size, threads per rank, cores, backend
``bench_run``     untimed training on every rank; replies with each rank's weights and counters
``bench_ready``   warm-up and barrier on every rank; replies once all are waiting for ``go``
``bench_go``      the judge's fresh seed; replies with each rank's digest of its final weights
``bench_result``  the weights the last ``go`` committed to
``bench_close``   stop the ranks
"""

from __future__ import annotations

import os
import selectors
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from .. import wire
from . import export

MAX_MESSAGE = 512 * 1024**2
EXIT_GRACE = 2.0


class RankFailure(RuntimeError):
    """A rank raised, died or ran past the deadline; the message carries its traceback."""


class Pool:
    def __init__(self, *, world: int, threads: int, cores: list[list[int]] | None, backend: str,
                 module_dir: str | None, module_name: str | None, timeout: float,
                 devices: list[int] | None = None):
        self.key = (world, threads, tuple(map(tuple, cores or [])), backend, tuple(devices or []))
        self.world = world
        self.procs: list[subprocess.Popen] = []
        self.socks: list[socket.socket] = []
        self.info: list[dict] = []
        import torch.distributed as dist
        import datetime as dt
        # The store lives here, on a free port chosen by the kernel (port 0): parallel jobs never collide.
        self.store = dist.TCPStore("127.0.0.1", 0, world, is_master=True, wait_for_workers=False,
                                   timeout=dt.timedelta(seconds=timeout))
        env = dict(os.environ)
        env.update({"OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads),
                    "OPENBLAS_NUM_THREADS": str(threads),
                    "PYTHONDONTWRITEBYTECODE": "1", "PYTHONUNBUFFERED": "1"})
        here = str(Path(__file__).resolve().parent.parent.parent)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (env.get("PYTHONPATH", ""), here) if p)
        try:
            for rank in range(world):
                parent, child = socket.socketpair()
                proc = subprocess.Popen([sys.executable, "-m", "handin.bench.rank", str(child.fileno())],
                                        pass_fds=(child.fileno(),), env=env, stdin=subprocess.DEVNULL)
                child.close()
                self.procs.append(proc)
                self.socks.append(parent)
                init = {"cmd": "init", "rank": rank, "world": world, "host": "127.0.0.1",
                        "port": self.store.port, "backend": backend, "threads": threads,
                        "cores": (cores[rank] if cores else None), "module_dir": module_dir,
                        "module_name": module_name, "timeout_s": timeout,
                        "device_index": (devices[rank] if devices else rank)}
                wire.send(parent, wire.encode(init, max_bytes=MAX_MESSAGE))
            self.info = self._gather(time.monotonic() + timeout)
        except BaseException:
            self.close()
            raise

    def alive(self) -> bool:
        return all(p.poll() is None for p in self.procs)

    def pids(self) -> list[int]:
        return [p.pid for p in self.procs]

    def command(self, msg: dict, deadline: float) -> list[dict]:
        """Send ``msg`` to every rank, then gather the replies (in rank order)."""
        frame = wire.encode(msg, max_bytes=MAX_MESSAGE)
        for sock in self.socks:
            wire.send(sock, frame)
        return self._gather(deadline)

    def _gather(self, deadline: float) -> list[dict]:
        replies: list[Any] = [None] * self.world
        errors: list[str] = []
        sel = selectors.DefaultSelector()
        for rank, sock in enumerate(self.socks):
            sock.setblocking(True)
            sel.register(sock, selectors.EVENT_READ, rank)
        pending = set(range(self.world))
        try:
            while pending:
                now = time.monotonic()
                if now >= deadline:
                    late = ", ".join(str(r) for r in sorted(pending))
                    errors.append(f"rank(s) {late} did not answer in time (a hang in a collective? "
                                  "every rank must make the same collective calls in the same order)")
                    break
                events = sel.select(timeout=min(0.5, deadline - now))
                for key, _ in events:
                    rank = key.data
                    sock = self.socks[rank]
                    sock.settimeout(max(0.1, deadline - time.monotonic()))
                    try:
                        header, buffers = wire.recv(sock, max_bytes=MAX_MESSAGE)
                        reply = wire.decode(header, buffers)
                    except (EOFError, OSError, wire.WireError) as exc:
                        code = self.procs[rank].poll()
                        errors.append(f"rank {rank} died (exit code {code}): {exc}")
                        reply = None
                    finally:
                        sock.settimeout(None)
                    sel.unregister(sock)
                    pending.discard(rank)
                    if isinstance(reply, dict) and "error" in reply:
                        e = reply["error"] if isinstance(reply["error"], dict) else {}
                        errors.append(f"rank {rank}: {e.get('type')}: {e.get('message')}\n{e.get('traceback', '')}")
                    elif isinstance(reply, dict) and "ok" in reply:
                        replies[rank] = reply["ok"]
                if errors and pending:
                    # One rank failed: the others may be stuck in a collective. Give them a moment.
                    deadline = min(deadline, time.monotonic() + 1.0)
        finally:
            sel.close()
        if errors:
            self.close()
            raise RankFailure("\n".join(errors)[-30_000:])
        return replies

    def close(self) -> None:
        for sock in self.socks:
            try:
                wire.send(sock, wire.encode({"cmd": "exit"}))
            except (OSError, wire.WireError):
                pass
        end = time.monotonic() + EXIT_GRACE
        for proc in self.procs:
            try:
                proc.wait(timeout=max(0.05, end - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
                try:
                    proc.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    pass
        for sock in self.socks:
            try:
                sock.close()
            except OSError:
                pass
        self.procs, self.socks = [], []


class Launcher:
    """Keeps at most one pool of ranks alive: one per student process (ranks that import the
    notebook's definitions), and one in the judge for its own baselines (``cells=None``: the
    ranks import no student code, only ``module``, the module's reference in its grader folder)."""

    def __init__(self, cells: list[str] | None, cells_run: int | None, call_seconds: float,
                 failed: frozenset[int] = frozenset(), module: tuple[str, str] | None = None):
        self.cells = [] if cells is None else list(cells if cells_run is None else cells[:cells_run])
        self.failed = failed  # cells that raised in the notebook: their definitions are exported guarded
        self.call_seconds = call_seconds
        self.pool: Pool | None = None
        self.module_dir: str | None = module[0] if module else None
        self.module_name = module[1] if module else (None if cells is None else "handin_notebook")

    def _module(self) -> str | None:
        if self.module_name is None:
            return None
        if self.module_dir is None:
            self.module_dir = tempfile.mkdtemp(prefix="handin-ranks-")
            export.write_module(self.cells, self.module_dir, self.module_name, self.failed)
        return self.module_dir

    def _deadline(self) -> float:
        return time.monotonic() + max(1.0, self.call_seconds - 1.5)

    def handle(self, req: dict) -> Any:
        op = req["op"]
        try:
            if op == "bench_pool":
                return self.ensure(req)
            if op == "bench_close":
                self.close()
                return None
            if self.pool is None or not self.pool.alive():
                self.close()
                raise RankFailure("no ranks are running (start them with bench_pool)")
            if op == "bench_run":
                return self.pool.command({"cmd": "run", "task": req["task"], "mode": req["mode"],
                                          "seed": int(req["seed"]), "steps": int(req["steps"]),
                                          "options": dict(req.get("options") or {})}, self._deadline())
            if op == "bench_ready":
                return self.pool.command({"cmd": "ready", "task": req["task"], "mode": req["mode"],
                                          "steps": int(req["steps"]), "warmup": int(req.get("warmup", 0)),
                                          "warmup_seed": int(req.get("warmup_seed", 0)),
                                          "options": dict(req.get("options") or {})}, self._deadline())
            if op == "bench_go":
                return self.pool.command({"cmd": "go", "seed": int(req["seed"])}, self._deadline())
            if op == "bench_result":
                return self.pool.command({"cmd": "result"}, self._deadline())
        except BaseException:
            self.close()  # a failed or interrupted pool is never reused
            raise
        raise ValueError(f"unknown operation {op!r}")

    def ensure(self, req: dict) -> dict:
        world = int(req["world_size"])
        threads = int(req.get("threads", 1))
        cores = req.get("cores")
        backend = str(req.get("backend", "gloo"))
        devices = req.get("devices")
        key = (world, threads, tuple(map(tuple, cores or [])), backend, tuple(devices or []))
        started = time.monotonic()
        if self.pool is not None and (self.pool.key != key or not self.pool.alive()):
            self.close()
        if self.pool is None:
            self.pool = Pool(world=world, threads=threads, cores=cores, backend=backend,
                             module_dir=self._module(), module_name=self.module_name,
                             timeout=max(5.0, self.call_seconds - 2.0), devices=devices)
        return {"ranks": self.pool.info, "start_seconds": round(time.monotonic() - started, 3)}

    def pids(self) -> list[int]:
        return self.pool.pids() if self.pool is not None else []

    def close(self) -> None:
        if self.pool is not None:
            pool, self.pool = self.pool, None
            pool.close()


_LAUNCHER: Launcher | None = None


def handle(server: Any, req: dict) -> Any:
    """Entry point from :class:`handin.student.Server` for every ``bench_*`` operation."""
    global _LAUNCHER
    if _LAUNCHER is None:
        summary = getattr(server, "notebook", None)
        summary = summary if isinstance(summary, dict) else {}
        cells_run = summary.get("cells_run")
        failed = frozenset(e["cell_index"] for e in summary.get("errors") or ()
                           if isinstance(e, dict) and isinstance(e.get("cell_index"), int))
        _LAUNCHER = Launcher(server.config.cells, cells_run if isinstance(cells_run, int) else None,
                             server.config.call_seconds, failed)
    return _LAUNCHER.handle(req)
