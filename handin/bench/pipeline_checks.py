"""Model parallelism, the judge's side: what it compares a pipeline run against.

Judge-only (never in the student's view, :mod:`handin.student_view`): the parameters per layer
that a module's reference partition balances, single-process training of the unsplit model
(the reference of every pipeline run), the stages' weights put back together, and the checks of
what ran (the executed schedule, the bytes sent). The rank runtime is :mod:`handin.bench.pipeline`;
a module's own partition and GPipe step live in its grader folder (``[benchmark] reference``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from . import tasks
from .pipeline import build_layers


def layer_costs(task: dict) -> list[int]:
    """Parameters per layer: the cost the partition balances."""
    w, d_in, n_out = task["width"], task["d_in"], task["n_out"]
    norm = 2 * w if task["norm"] else 0
    return [d_in * w + w] + [w * w + w + norm] * task["depth"] + [w * n_out + n_out]


def run_reference(task: dict, seed: int, steps: int, device: Any = None) -> tuple[dict[str, np.ndarray], list[float]]:
    """Single-process training of the unsplit model on the full batches: (weights, loss per step)."""
    import torch
    model = build_layers(task, seed, device)
    opt = torch.optim.SGD(list(model.parameters()), lr=task["lr"])
    sampler = tasks.ShardSampler(task, seed, steps, 0, 1, device)
    losses = []
    for step in range(steps):
        x, y = sampler.batch(step)
        opt.zero_grad(set_to_none=True)
        loss = torch.nn.functional.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
    return tasks.weights(model), losses


def merge_stage_weights(stages: list[dict[str, np.ndarray]]) -> tuple[dict[str, np.ndarray], list[str]]:
    """The unsplit model's weights from every rank's stage, and problems (a parameter on two ranks)."""
    merged: dict[str, np.ndarray] = {}
    problems = []
    for rank, w in enumerate(stages):
        for name, arr in w.items():
            if name in merged:
                problems.append(f"parameter {name} came back from more than one rank (rank {rank} too)")
            merged[name] = arr
    return merged, problems


def executed_schedule_problems(events: list, n_micro: int, steps: int, rows: int, rank: int) -> list[str]:
    """Per step: n_micro forwards of ``rows`` rows, then n_micro backwards; every forward before any backward."""
    by_step: dict[int, list] = {}
    for e in events:
        if isinstance(e, (list, tuple)) and len(e) == 4:
            by_step.setdefault(int(e[0]), []).append((str(e[1]), int(e[2]), int(e[3])))
    for step in range(steps):
        ev = by_step.get(step, [])
        f = [m for op, m, _ in ev if op == "F"]
        b = [m for op, m, _ in ev if op == "B"]
        sizes = sorted({r for op, _, r in ev if op == "F"})
        where = f"rank {rank}, step {step}"
        if len(f) != n_micro:
            return [f"{where}: the stage ran forward {len(f)} time(s) with gradients; GPipe with {n_micro} "
                    f"micro-batches runs it {n_micro} times"]
        if sizes != [rows]:
            return [f"{where}: micro-batches of {sizes} rows; {n_micro} micro-batches of the batch have {rows} rows"]
        if sorted(b) != list(range(n_micro)):
            return [f"{where}: backward reached the stage's output for micro-batch(es) {sorted(b)}; every one of "
                    f"0..{n_micro - 1} must be back-propagated once"]
        first_b = next(i for i, e in enumerate(ev) if e[0] == "B")
        if any(op == "F" for op, _, _ in ev[first_b:]):
            return [f"{where}: a forward ran after a backward ({' '.join(op + str(m) for op, m, _ in ev)}); "
                    "GPipe runs every micro-batch forward before the first backward"]
    return []


def p2p_bytes(comm: dict) -> tuple[int, int]:
    """(bytes sent, bytes received) through point-to-point calls, from a rank's counters."""
    by_op = comm.get("by_op") if isinstance(comm.get("by_op"), dict) else {}

    def total(*ops: str) -> int:
        return sum(int(by_op.get(o, {}).get("bytes", 0)) for o in ops if isinstance(by_op.get(o), dict))
    return total("send", "isend"), total("recv", "irecv")
