"""Model parallelism: the grader's half of pipeline training.

A pipeline task is the same task dict as data parallelism (:mod:`handin.bench.tasks`),
with the model laid out as a flat sequence of *layers* — the input layer, the
residual blocks, the head — so that contiguous runs of layers can become *stages*
on different ranks. Layer ``i``'s parameters are named ``"<i>.<name>"`` both in the
unsplit model and in a stage, so the judge can put the stages' weights back together
and compare them with single-process training of the unsplit model.

Per rank, :func:`run_pipeline` is the grader's step loop around a *step function*:
the student's ``pipeline_step`` (mode ``pipeline``) or the grader's own GPipe step
(mode ``gpipe``; with one micro-batch it is naive model parallelism, the baseline of
the speedup). The grader builds the model, splits it with its own balanced
partition, hands rank 0 the inputs and the last rank the labels, zeroes the
gradients and steps the optimiser; the step function moves activations forward
and gradients backward between the stages. Hooks on the stage record what
actually ran: every forward (with its rows) and every backward into the stage's
output, in order, so the judge can check the schedule that was executed.

Also here: the grader's optimal partition and the checks of a schedule table
(what the student's ``gpipe_schedule`` returns).
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from . import tasks

STEP_FN = "pipeline_step"


def _torch():
    import torch
    return torch


# ---------------------------------------------------------------- model as layers


def check_task(task: dict) -> dict:
    task = tasks.make_task(task)
    if task["tied"] or task["frozen"]:
        raise tasks.TaskError("pipeline tasks have no tied or frozen parameters")
    return task


def build_layers(task: dict, seed: int, device: Any = None):
    """The unsplit model as ``nn.Sequential`` of layers named "0", "1", …, same init as ``tasks.build_model``."""
    torch = _torch()
    nn = torch.nn
    net = tasks.build_model(task, seed)

    class InputLayer(nn.Module):
        def __init__(self, fc, act):
            super().__init__()
            self.fc = fc
            self.act = act

        def forward(self, x):
            return self.act(self.fc(x))

    layers = [InputLayer(net.inp, net.act), *net.blocks, net.head]
    model = nn.Sequential(OrderedDict((str(i), layer) for i, layer in enumerate(layers)))
    return model.to(device) if device is not None else model


def layer_costs(task: dict) -> list[int]:
    """Parameters per layer: the cost the partition balances."""
    w, d_in, n_out = task["width"], task["d_in"], task["n_out"]
    norm = 2 * w if task["norm"] else 0
    return [d_in * w + w] + [w * w + w + norm] * task["depth"] + [w * n_out + n_out]


def partition(costs: list[int], n_stages: int) -> list[int]:
    """Start index of each of ``n_stages`` contiguous non-empty stages minimising the costliest stage.

    Dynamic programming over (layers used, stages used); ties go to the earliest
    boundary, so the answer is deterministic.
    """
    n = len(costs)
    if not 1 <= n_stages <= n:
        raise ValueError(f"cannot split {n} layers into {n_stages} non-empty stages")
    prefix = [0]
    for c in costs:
        prefix.append(prefix[-1] + c)
    inf = float("inf")
    # best[k][i]: the smallest max-stage cost of the first i layers in k stages; cut[k][i]: last stage's start
    best = [[inf] * (n + 1) for _ in range(n_stages + 1)]
    cut = [[0] * (n + 1) for _ in range(n_stages + 1)]
    best[0][0] = 0
    for k in range(1, n_stages + 1):
        for i in range(k, n + 1):
            for j in range(k - 1, i):
                value = max(best[k - 1][j], prefix[i] - prefix[j])
                if value < best[k][i]:
                    best[k][i], cut[k][i] = value, j
    starts, i = [], n
    for k in range(n_stages, 0, -1):
        i = cut[k][i]
        starts.append(i)
    return starts[::-1]


def max_stage_cost(costs: list[int], starts: list[int]) -> int:
    ends = list(starts[1:]) + [len(costs)]
    return max(sum(costs[a:b]) for a, b in zip(starts, ends))


def partition_problems(costs: list[int], n_stages: int, starts: Any) -> list[str]:
    """Problems with a student's partition (start indices) of ``costs`` into ``n_stages``."""
    if not isinstance(starts, (list, tuple)) or not all(type(s) is int for s in starts):
        return [f"expected a list of {n_stages} stage start indices (ints), got {starts!r:.200}"]
    starts = list(starts)
    if len(starts) != n_stages:
        return [f"expected {n_stages} stage starts, got {len(starts)}: {starts}"]
    if starts[0] != 0:
        return [f"the first stage must start at layer 0, got {starts}"]
    if any(b <= a for a, b in zip(starts, starts[1:])) or starts[-1] >= len(costs):
        return [f"stage starts must strictly increase and leave every stage non-empty "
                f"({len(costs)} layers): {starts}"]
    got, best = max_stage_cost(costs, starts), max_stage_cost(costs, partition(costs, n_stages))
    if got != best:
        return [f"costs {costs} in {n_stages} stages: your split {starts} has a costliest stage of {got}; "
                f"the best split has {best}"]
    return []


def stage_of(model, starts: list[int], rank: int):
    """Rank ``rank``'s stage: the layers from its start to the next stage's, keeping their names."""
    torch = _torch()
    names = list(model._modules)
    end = starts[rank + 1] if rank + 1 < len(starts) else len(names)
    return torch.nn.Sequential(OrderedDict((names[i], model._modules[names[i]]) for i in range(starts[rank], end)))


# ---------------------------------------------------------------- what ran


@dataclass
class StageLog:
    """Forward calls (with rows) and backward passes into the stage's output, in order."""

    step: int = -1
    events: list[tuple[int, str, int, int]] = field(default_factory=list)  # (step, "F"|"B", micro, rows)
    samples: int = 0      # rows through the stage's training forwards
    batches: int = 0      # training forwards (micro-batches)
    _count: int = 0
    MAX = 100_000

    def attach(self, stage) -> None:
        stage.register_forward_hook(self._forward)

    def begin(self, step: int) -> None:
        self.step, self._count = step, 0

    def _forward(self, module, inputs, output) -> None:
        x = inputs[0] if inputs else None
        rows = int(x.shape[0]) if hasattr(x, "shape") and len(x.shape) else 0
        micro, step = self._count, self.step
        self._count += 1
        if not module.training or not getattr(output, "requires_grad", False):
            return  # evaluation, or under no_grad: not a training forward
        self.samples += rows
        self.batches += 1
        if len(self.events) < self.MAX:
            self.events.append((step, "F", micro, rows))

        def backward(grad, micro=micro, step=step):
            if len(self.events) < self.MAX:
                self.events.append((step, "B", micro, rows))
        output.register_hook(backward)

    def as_lists(self) -> list[list]:
        return [list(e) for e in self.events]


@dataclass
class PipelineTrained:
    model: Any            # this rank's stage (parameters named as in the unsplit model)
    losses: list[float | None]
    log: StageLog

    @property
    def sampler(self) -> StageLog:
        """What the rank reports as consumed: the stage's rows and micro-batches, as counted by its hook."""
        return self.log


def run_pipeline(task: dict, seed: int, steps: int, *, rank: int, world: int, step_fn: Callable,
                 n_micro: int, group: Any = None, mark: Callable[[str, int], None] = tasks._noop,
                 device: Any = None) -> PipelineTrained:
    """The grader's step loop on one rank of a ``world``-stage pipeline."""
    torch = _torch()
    if task["batch"] % n_micro:
        raise tasks.TaskError(f"the batch of {task['batch']} does not split into {n_micro} micro-batches")
    model = build_layers(task, seed, device)
    starts = partition(layer_costs(task), world)
    stage = stage_of(model, starts, rank)
    del model
    log = StageLog()
    log.attach(stage)
    opt = torch.optim.SGD(list(stage.parameters()), lr=task["lr"])
    sampler = tasks.ShardSampler(task, seed, steps, 0, 1, device)   # the whole global batch
    act_shape = (task["batch"] // n_micro, task["width"])
    first, last = rank == 0, rank == world - 1
    losses: list[float | None] = []
    for step in range(steps):
        x, y = sampler.batch(step)
        opt.zero_grad(set_to_none=True)
        log.begin(step)
        mark("pipeline", step)
        loss = step_fn(stage, x if first else None, y if last else None, n_micro=n_micro,
                       loss_fn=torch.nn.functional.cross_entropy, act_shape=act_shape, group=group)
        mark("step", step)
        opt.step()
        losses.append(_as_float(loss) if last else None)
    mark("done", steps)
    return PipelineTrained(stage, losses, log)


def _as_float(value: Any) -> float | None:
    try:
        v = float(value.detach()) if hasattr(value, "detach") else float(value)
    except (TypeError, ValueError, RuntimeError):
        return None
    return v if np.isfinite(v) else None


def run_reference(task: dict, seed: int, steps: int, device: Any = None) -> tuple[dict[str, np.ndarray], list[float]]:
    """Single-process training of the unsplit model on the full batches: (weights, loss per step)."""
    torch = _torch()
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


# ---------------------------------------------------------------- the grader's GPipe step


def gpipe_step(stage, inputs, targets, *, n_micro: int, loss_fn: Callable, act_shape: tuple, group: Any = None):
    """GPipe on this rank: all micro-batches forward, then all backward in reverse order.

    Activations go to the next rank and gradients back to the previous one with
    point-to-point messages. Gradients accumulate in the stage's parameters as the
    gradient of the mean loss over the whole batch. Returns that loss on the last
    rank, None elsewhere. With ``n_micro=1`` this is naive model parallelism: one
    stage works at a time.
    """
    torch = _torch()
    import torch.distributed as dist
    rank, world = dist.get_rank(group), dist.get_world_size(group)
    first, last = rank == 0, rank == world - 1
    device = next(stage.parameters()).device
    xs = inputs.chunk(n_micro) if first else None
    ys = targets.chunk(n_micro) if last else None
    kept, sends, total = [], [], 0.0
    for m in range(n_micro):
        if first:
            x = xs[m]
        else:
            x = torch.empty(act_shape, device=device)
            dist.recv(x, rank - 1, group=group)
            x.requires_grad_()
        out = stage(x)
        if last:
            out = loss_fn(out, ys[m]) / n_micro
            total += float(out.detach())
        else:
            sends.append(dist.isend(out.detach().contiguous(), rank + 1, group=group))
        kept.append((x, out))
    for work in sends:
        work.wait()
    sends = []
    for m in reversed(range(n_micro)):
        x, out = kept[m]
        if last:
            out.backward()
        else:
            grad = torch.empty(act_shape, device=device)
            dist.recv(grad, rank + 1, group=group)
            out.backward(grad)
        if not first:
            sends.append(dist.isend(x.grad.contiguous(), rank - 1, group=group))
    for work in sends:
        work.wait()
    return total if last else None


# ---------------------------------------------------------------- checks (judge side)


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


def schedule_problems(table: Any, n_stages: int, n_micro: int) -> list[str]:
    """Check a GPipe timetable: ``table[t]`` lists the ``(stage, "F"|"B", micro)`` run at clock tick ``t``.

    Each stage runs one thing per tick; F(s, m) needs F(s-1, m) in an earlier tick,
    B(s, m) needs F(s, m) and B(s+1, m) earlier; every stage runs all its forwards
    before its first backward (GPipe); and with unit-time steps it takes exactly
    2·(micro-batches + stages − 1) ticks, the length of a GPipe step.
    """
    if not isinstance(table, (list, tuple)):
        return [f"expected a list of clock ticks, got {type(table).__name__}"]
    when: dict[tuple[int, str, int], int] = {}
    for t, tick in enumerate(table):
        if not isinstance(tick, (list, tuple)):
            return [f"tick {t}: expected a list of (stage, op, micro) entries"]
        busy = set()
        for entry in tick:
            if (not isinstance(entry, (list, tuple)) or len(entry) != 3 or type(entry[0]) is not int
                    or entry[1] not in ("F", "B") or type(entry[2]) is not int):
                return [f"tick {t}: {entry!r:.80} is not a (stage, 'F' or 'B', micro-batch) entry"]
            s, op, m = entry
            if not (0 <= s < n_stages and 0 <= m < n_micro):
                return [f"tick {t}: {tuple(entry)} is out of range ({n_stages} stages, {n_micro} micro-batches)"]
            if s in busy:
                return [f"tick {t}: stage {s} runs two things at once"]
            busy.add(s)
            if (s, op, m) in when:
                return [f"{op}({s}, {m}) appears twice (ticks {when[(s, op, m)]} and {t})"]
            when[(s, op, m)] = t
    problems = []
    for s in range(n_stages):
        for m in range(n_micro):
            for op in "FB":
                if (s, op, m) not in when:
                    problems.append(f"{op}({s}, {m}) never runs")
    if problems:
        return problems[:5]
    for (s, op, m), t in sorted(when.items(), key=lambda kv: kv[1]):
        needs = []
        if op == "F" and s > 0:
            needs.append((s - 1, "F", m))
        if op == "B":
            needs.append((s, "F", m))
            if s < n_stages - 1:
                needs.append((s + 1, "B", m))
        for need in needs:
            if when[need] >= t:
                problems.append(f"{op}({s}, {m}) at tick {t} runs before {need[1]}({need[0]}, {need[2]}) "
                                f"(tick {when[need]}) has finished")
    if problems:
        return problems[:5]
    for s in range(n_stages):
        last_f = max(when[(s, "F", m)] for m in range(n_micro))
        first_b = min(when[(s, "B", m)] for m in range(n_micro))
        if first_b < last_f:
            return [f"stage {s} starts a backward (tick {first_b}) before its last forward (tick {last_f}): "
                    "that is not a GPipe schedule"]
    length = len(table)
    want = 2 * (n_micro + n_stages - 1)
    if length != want:
        return [f"the schedule takes {length} ticks; a GPipe step of {n_micro} micro-batches over {n_stages} "
                f"stages takes {want} (idle ticks only where a stage waits for its input)"]
    return []


def p2p_bytes(comm: dict) -> tuple[int, int]:
    """(bytes sent, bytes received) through point-to-point calls, from a rank's counters."""
    by_op = comm.get("by_op") if isinstance(comm.get("by_op"), dict) else {}

    def total(*ops: str) -> int:
        return sum(int(by_op.get(o, {}).get("bytes", 0)) for o in ops if isinstance(by_op.get(o), dict))
    return total("send", "isend"), total("recv", "irecv")
