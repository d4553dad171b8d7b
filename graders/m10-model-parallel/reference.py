"""The grader's own model parallelism for m10-model-parallel (HIDDEN: never shipped, never student-importable).

Read by the hidden tests (``import reference``) and by the speedup harness, which names this file in
``assignment.toml`` (``[benchmark] reference``): the judge calls :func:`partition` to split the model
for every pipeline run, and its own rank processes (judge uid, never student code) import this file
and run :func:`gpipe_step` with one micro-batch as the baseline of the timed test.
"""

from __future__ import annotations

from typing import Any, Callable


# ---------------------------------------------------------------- part 1: the balanced partition


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


# ---------------------------------------------------------------- part 2: the GPipe timetable


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


# ---------------------------------------------------------------- part 3: the GPipe step


def gpipe_step(stage, inputs, targets, *, n_micro: int, loss_fn: Callable, act_shape: tuple, group: Any = None):
    """GPipe on this rank: all micro-batches forward, then all backward in reverse order.

    Activations go to the next rank and gradients back to the previous one with
    point-to-point messages. Gradients accumulate in the stage's parameters as the
    gradient of the mean loss over the whole batch. Returns that loss on the last
    rank, None elsewhere. With ``n_micro=1`` this is naive model parallelism: one
    stage works at a time.
    """
    import torch
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
