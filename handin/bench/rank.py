"""One rank process: ``python -m handin.bench.rank FD``, started by the launcher.

Runs in the student sandbox, as student code (it imports the notebook's
definitions). It talks to the launcher over the socket on ``FD`` in the wire
format (plain data, never pickle). Commands:

``init``    pin to cores, set threads, join the process group, import the notebook
``run``     train a task for some steps (untimed; correctness tests)
``ready``   warm up on a throw-away seed, meet the other ranks at a barrier, report ready
``go``      train on the judge's fresh seed; reply with a digest of the final weights
``result``  send the weights committed to by the last ``go``
``exit``
"""

from __future__ import annotations

import datetime as dt
import importlib
import os
import socket
import sys
import time
import traceback
from typing import Any

from .. import wire
from . import comm, pipeline, regression, tasks

MAX_MESSAGE = 512 * 1024**2


class RankState:
    def __init__(self, init: dict):
        self.rank = int(init["rank"])
        self.world = int(init["world"])
        self.init = init
        self.module = None
        self.group = None
        self.device = None
        self.pending: dict | None = None
        self.committed: dict | None = None

    # ------------------------------------------------------------ setup

    def setup(self) -> dict:
        started = time.perf_counter()
        cores = self.init.get("cores")
        if cores:
            try:
                os.sched_setaffinity(0, set(int(c) for c in cores))
            except (OSError, ValueError):
                pass
        import torch
        import torch.distributed as dist
        threads = int(self.init.get("threads") or 1)
        torch.set_num_threads(threads)
        try:
            torch.set_num_interop_threads(1)
        except RuntimeError:
            pass
        comm.install()
        backend = self.init.get("backend", "gloo")
        kwargs: dict[str, Any] = {}
        if backend == "nccl":
            local = int(self.init.get("device_index", self.rank))
            self.device = torch.device("cuda", local)
            torch.cuda.set_device(self.device)
            kwargs["device_id"] = self.device
        timeout = dt.timedelta(seconds=float(self.init.get("timeout_s", 60)))
        store = dist.TCPStore(self.init["host"], int(self.init["port"]), self.world, is_master=False,
                              timeout=timeout)
        dist.init_process_group(backend, store=store, rank=self.rank, world_size=self.world,
                                timeout=timeout, **kwargs)
        self.group = dist.group.WORLD
        pg_seconds = time.perf_counter() - started
        t = time.perf_counter()
        if self.init.get("module_name"):  # the notebook's definitions, or on the judge's ranks its reference
            sys.path.insert(0, self.init["module_dir"])
            self.module = importlib.import_module(self.init["module_name"])
        return {"rank": self.rank, "pid": os.getpid(), "threads": torch.get_num_threads(),
                "affinity": sorted(os.sched_getaffinity(0)), "backend": backend,
                "device": str(self.device or "cpu"), "torch": torch.__version__,
                "setup_seconds": round(pg_seconds, 3), "import_seconds": round(time.perf_counter() - t, 3)}

    # ------------------------------------------------------------ student code

    def _student(self, name: str) -> Any:
        try:
            return getattr(self.module, name)
        except AttributeError:
            raise NameError(
                f"the notebook does not define `{name}` (rank processes import only the notebook's "
                "definitions: imports, functions, classes and assignments that call nothing)") from None

    def _hooks(self, mode: str, options: dict):
        if mode == "allreduce":
            fn = self._student(options.get("sync_fn", "all_reduce_gradients"))
            group = self.group
            return None, (lambda net: fn(net, group))
        if mode == "bucketed":
            cls = self._student(options.get("wrapper", "BucketedDataParallel"))
            finish = options.get("finish", "finish_gradient_synchronization")
            cap = options.get("bucket_cap_mb")
            group = self.group

            def prepare(model):
                return cls(model, bucket_cap_mb=cap, group=group) if cap is not None else cls(model, group=group)

            def sync(net):
                getattr(net, finish)()
            return prepare, sync
        if mode == "none":
            return None, None
        raise ValueError(f"unknown mode {mode!r}")

    def train(self, task: dict, mode: str, seed: int, steps: int, options: dict):
        if mode == regression.MODE:
            grad, agg = (self._student(options.get(f"{name}_fn", name)) for name in regression.FUNCTIONS)
            return regression.run_descent(task, seed, steps, rank=self.rank, world=self.world,
                                          partition_gradient=grad, aggregate=agg, group=self.group, mark=comm.mark)
        if mode in ("pipeline", "gpipe"):   # gpipe: the judge's ranks, whose module is the grader's reference
            step_fn = self._student(options.get("step_fn", pipeline.STEP_FN))
            return pipeline.run_pipeline(pipeline.check_task(task), seed, steps, rank=self.rank, world=self.world,
                                         step_fn=step_fn, n_micro=int(options.get("n_micro", 1)),
                                         starts=options.get("starts"), group=self.group, mark=comm.mark,
                                         device=self.device)
        prepare, sync = self._hooks(mode, options)
        return tasks.run_training(task, seed, steps, rank=self.rank, world=self.world, prepare=prepare,
                                  sync=sync, mark=comm.mark, per_rank_init=bool(options.get("per_rank_init")),
                                  device=self.device)

    # ------------------------------------------------------------ commands

    def run(self, msg: dict) -> dict:
        task = regression.checked(msg["task"], msg.get("mode"))
        options = dict(msg.get("options") or {})
        comm.reset()
        t = time.perf_counter()
        trained = self.train(task, msg["mode"], int(msg["seed"]), int(msg["steps"]), options)
        seconds = time.perf_counter() - t
        reply = {"rank": self.rank, "weights": _weights(trained), "seconds": round(seconds, 6),
                 "samples": trained.sampler.samples, "batches": trained.sampler.batches,
                 "comm": comm.summary(), "calls": list(comm.LOG) if options.get("calls") else None}
        return _pipeline_fields(reply, trained)

    def ready(self, msg: dict) -> dict:
        task = regression.checked(msg["task"], msg.get("mode"))
        options = dict(msg.get("options") or {})
        if regression.is_regression(task):
            regression.data_set(task)
        else:
            tasks.data_pool(task, self.device)
        warmup = int(msg.get("warmup", 0))
        if warmup > 0:
            self.train(task, msg["mode"], int(msg["warmup_seed"]), warmup, options)
        self.pending = {"task": task, "mode": msg["mode"], "steps": int(msg["steps"]), "options": options}
        self.committed = None
        comm.reset()
        comm.raw("barrier")()
        return {"rank": self.rank, "ready": True}

    def go(self, msg: dict) -> dict:
        if self.pending is None:
            raise RuntimeError("go before ready")
        p, self.pending = self.pending, None
        comm.reset()
        t = time.perf_counter()
        trained = self.train(p["task"], p["mode"], int(msg["seed"]), p["steps"], p["options"])
        w = _weights(trained)
        d = tasks.digest(w)
        seconds = time.perf_counter() - t
        self.committed = w
        reply = {"rank": self.rank, "digest": d, "seconds": round(seconds, 6), "samples": trained.sampler.samples,
                 "batches": trained.sampler.batches, "comm": comm.summary()}
        return _pipeline_fields(reply, trained)

    def result(self, msg: dict) -> dict:
        if self.committed is None:
            raise RuntimeError("no committed result")
        return {"rank": self.rank, "weights": self.committed}


def _weights(trained: Any) -> dict:
    if isinstance(trained, regression.Trained):
        return trained.weights
    return tasks.weights(trained.model)


def _pipeline_fields(reply: dict, trained: Any) -> dict:
    if isinstance(trained, pipeline.PipelineTrained):
        reply["losses"] = trained.losses
        reply["events"] = trained.log.as_lists()
    return reply


def _error(exc: BaseException) -> dict:
    text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    return {"error": {"type": type(exc).__name__, "message": str(exc)[:4000], "traceback": text[-20_000:]}}


def _send(sock: socket.socket, value: Any) -> None:
    wire.send(sock, wire.encode(value, max_bytes=MAX_MESSAGE))


def serve(sock: socket.socket) -> int:
    header, buffers = wire.recv(sock, max_bytes=MAX_MESSAGE)
    init = wire.decode(header, buffers)
    state = RankState(init)
    try:
        _send(sock, {"ok": state.setup()})
    except BaseException as exc:
        _send(sock, _error(exc))
        return 1
    handlers = {"run": state.run, "ready": state.ready, "go": state.go, "result": state.result}
    while True:
        try:
            header, buffers = wire.recv(sock, max_bytes=MAX_MESSAGE)
        except (EOFError, OSError):
            break
        msg = wire.decode(header, buffers)
        cmd = msg.get("cmd")
        if cmd == "exit":
            break
        try:
            reply = {"ok": handlers[cmd](msg)}
        except BaseException as exc:  # student code may raise anything
            reply = _error(exc)
        try:
            _send(sock, reply)
        except wire.WireError as exc:
            _send(sock, _error(exc))
    try:
        import torch.distributed as dist
        if dist.is_initialized():
            dist.destroy_process_group()
    except BaseException:
        pass
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    sock = socket.socket(fileno=int(argv[0]))
    code = serve(sock)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)  # skip interpreter teardown: threads of a broken process group may hang it


if __name__ == "__main__":
    main()
