"""Counting wrappers around ``torch.distributed`` collectives, installed in each rank.

Installed before the notebook's definitions are imported, so
``dist.all_reduce``, ``from torch.distributed import all_reduce`` and
``torch.distributed.distributed_c10d.all_reduce`` all count. Each call records
its operation, payload bytes, whether it was asynchronous, and where in the
grader's step loop it happened (``forward``, ``backward``, ``sync``, …).

This runs in the student's process, so it is a check against mistakes and lazy
shortcuts (an implementation that never communicates shows zero bytes), not
against a determined attacker: the weights the judge compares with its own
reference are what cannot be faked. Calls made straight on a C++
``ProcessGroup`` object, or by ``torch.nn.parallel.DistributedDataParallel``,
are not seen and count as no communication.
"""

from __future__ import annotations

import functools
from typing import Any

# op name → (positional index, keyword name) of the payload whose bytes count
PAYLOAD = {
    "all_reduce": (0, "tensor"), "broadcast": (0, "tensor"), "reduce": (0, "tensor"),
    "all_gather": (1, "tensor"), "all_gather_into_tensor": (1, "input_tensor"),
    "reduce_scatter": (1, "input_list"), "reduce_scatter_tensor": (1, "input"),
    "all_to_all": (1, "input_tensor_list"), "all_to_all_single": (1, "input"),
    "gather": (0, "tensor"), "scatter": (1, "scatter_list"),
    "send": (0, "tensor"), "recv": (0, "tensor"), "isend": (0, "tensor"), "irecv": (0, "tensor"),
    "barrier": (None, None), "batch_isend_irecv": (0, "p2p_op_list"),
    "all_reduce_coalesced": (0, "tensors"),
}
REDUCTIONS = ("all_reduce", "reduce", "reduce_scatter", "reduce_scatter_tensor", "all_reduce_coalesced")
ALWAYS_ASYNC = ("isend", "irecv", "batch_isend_irecv")

PHASE = "setup"
STEP = -1
LOG: list[dict] = []
ORIG: dict[str, Any] = {}
MAX_LOG = 200_000
_DEPTH = 0  # > 0 while a counted call runs (ranks call collectives from one thread)


def mark(phase: str, step: int) -> None:
    global PHASE, STEP
    PHASE, STEP = phase, step


def reset() -> None:
    LOG.clear()
    mark("setup", -1)


def _nbytes(obj: Any) -> int:
    try:
        import torch
    except ImportError:  # pragma: no cover
        return 0
    if isinstance(obj, torch.Tensor):
        return int(obj.numel()) * int(obj.element_size())
    if isinstance(obj, (list, tuple)):
        total = 0
        for item in obj:
            t = getattr(item, "tensor", item)  # P2POp
            total += _nbytes(t)
        return total
    return 0


def _wrap(name: str, orig: Any):
    index, keyword = PAYLOAD[name]

    @functools.wraps(orig)
    def counted(*args: Any, **kwargs: Any):
        global _DEPTH
        if _DEPTH:  # a collective that torch implements with another one (recv → irecv): count it once
            return orig(*args, **kwargs)
        payload = None
        if keyword is not None:
            payload = kwargs.get(keyword) if keyword in kwargs else (args[index] if len(args) > index else None)
        if len(LOG) < MAX_LOG:
            LOG.append({"op": name, "bytes": _nbytes(payload), "phase": PHASE, "step": STEP,
                        "async": bool(kwargs.get("async_op", False)) or name in ALWAYS_ASYNC})
        _DEPTH += 1
        try:
            return orig(*args, **kwargs)
        finally:
            _DEPTH -= 1

    counted.__handin_counted__ = True
    return counted


def install() -> None:
    """Wrap the collectives in ``torch.distributed`` and ``distributed_c10d`` (idempotent)."""
    import torch.distributed as dist
    import torch.distributed.distributed_c10d as c10d
    for name in PAYLOAD:
        orig = getattr(c10d, name, None) or getattr(dist, name, None)
        if orig is None or getattr(orig, "__handin_counted__", False):
            continue
        ORIG[name] = orig
        wrapped = _wrap(name, orig)
        for mod in (dist, c10d):
            if hasattr(mod, name):
                setattr(mod, name, wrapped)


def raw(name: str) -> Any:
    """The unwrapped collective, for the harness's own barriers (not counted)."""
    if name in ORIG:
        return ORIG[name]
    import torch.distributed as dist
    return getattr(dist, name)


def summary(log: list[dict] | None = None) -> dict:
    """Totals per op and per phase, and the reduction bytes of each step."""
    log = LOG if log is None else log
    by_op: dict[str, dict[str, int]] = {}
    by_phase: dict[str, int] = {}
    per_step: dict[int, int] = {}
    for c in log:
        o = by_op.setdefault(c["op"], {"calls": 0, "bytes": 0})
        o["calls"] += 1
        o["bytes"] += c["bytes"]
        by_phase[c["phase"]] = by_phase.get(c["phase"], 0) + 1
        if c["op"] in REDUCTIONS and c["step"] >= 0:
            per_step[c["step"]] = per_step.get(c["step"], 0) + c["bytes"]
    return {
        "calls": len(log),
        "by_op": by_op,
        "by_phase": by_phase,
        "reduce_bytes": sum(c["bytes"] for c in log if c["op"] in REDUCTIONS),
        "reduce_calls": sum(1 for c in log if c["op"] in REDUCTIONS),
        "reduce_bytes_per_step": [per_step.get(s, 0) for s in range(max(per_step, default=-1) + 1)],
        "truncated": len(log) >= MAX_LOG,
    }
