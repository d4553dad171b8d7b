"""Build the m10-model-parallel starter and solution notebooks from one cell list.

    .venv/bin/python graders/m10-model-parallel/build_notebooks.py

Writes
  assignments/m10-model-parallel/model_parallel.ipynb   starter (bodies raise NotImplementedError)
  solutions/m10-model-parallel/solution.ipynb           the same notebook with the bodies filled in

HIDDEN: this file contains the solution; it lives in graders/ so it is never shipped.
"""

from __future__ import annotations

from pathlib import Path

from handin.authoring import TODO, code, md, write_pair

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
STARTER_PATH = REPO / "assignments" / "m10-model-parallel" / "model_parallel.ipynb"
SOLUTION_PATH = REPO / "solutions" / "m10-model-parallel" / "solution.ipynb"

CELLS = [
    md(r'''
# Module 10 — Distributed deep learning: model parallelism

When a model does not fit on one device, *model parallelism* splits it: consecutive
layers form **stages**, each stage lives on its own rank (a process, usually with its own
GPU), and activations travel forward from stage to stage while gradients travel back.
Split naively, only one stage works at a time: while stage 1 runs, stage 0 waits. A
**pipeline** cuts every batch into *micro-batches* so that the stages work on different
micro-batches at the same time. GPipe runs every micro-batch forward through the
pipeline, then every micro-batch backward, and accumulates the gradients, so one
pipeline step computes exactly the gradient of the whole batch.

You implement:

1. **`partition_layers(costs, n_stages)`** — where to cut a sequence of layers into
   balanced stages;
2. **`gpipe_schedule(n_stages, n_micro)`** — the GPipe timetable: which stage runs which
   micro-batch forward or backward at every clock tick;
3. **`pipeline_step(stage, inputs, targets, *, n_micro, loss_fn, act_shape, group)`** — one
   training step of GPipe on one rank, with `torch.distributed` point-to-point messages.

## How your code is graded

Parts 1 and 2 are called directly. For part 3 the grader owns the training: it starts
the ranks (separate processes, `gloo` on CPU, NCCL on GPUs), builds the model, splits it
into stages, gives rank 0 the inputs and the last rank the labels, zeroes the gradients,
calls **your** `pipeline_step` once per step, and steps the optimiser. It then puts the
stages' weights back together and compares them with training the unsplit model in one
process (to `rtol=1e-5`), checks the loss your function returns, and records what ran:
every forward of the stage (with its rows) and every backward into its output, and the
bytes each rank sent. Finally it **times** your pipeline against its own naive model
parallelism (the same stages, one micro-batch) on the same cores; the speedup earns
points. The rank processes import only your notebook's *definitions* (imports,
functions, classes, and assignments that call nothing).
'''),
    code(r'''
import torch
import torch.distributed as dist
import torch.nn as nn
'''),
    md(r'''
## Part 1 — balanced stages

`costs[i]` is the cost of layer `i` (say its number of parameters). Split the layers
into `n_stages` **contiguous, non-empty** stages so that the costliest stage is as cheap
as possible — the pipeline runs at the pace of its slowest stage. Return the index of
the first layer of every stage: `[0, s1, s2, …]` (`n_stages` numbers, increasing).
When several splits are equally good, any of them is fine.

Example: `partition_layers([1, 2, 3, 4], 2) == [0, 3]` (costs 6 and 4).
'''),
    code(r'''
def partition_layers(costs, n_stages):
    """Start index of each of n_stages contiguous stages, minimising the costliest stage."""
''' + TODO, r'''
def partition_layers(costs, n_stages):
    """Start index of each of n_stages contiguous stages, minimising the costliest stage."""
    n = len(costs)
    if not 1 <= n_stages <= n:
        raise ValueError(f"cannot split {n} layers into {n_stages} non-empty stages")
    prefix = [0]
    for c in costs:
        prefix.append(prefix[-1] + c)

    def fits(limit):
        """Greedy: the fewest stages whose costs stay within limit (or None if a layer alone is over)."""
        starts, total = [0], 0
        for i, c in enumerate(costs):
            if c > limit:
                return None
            if total + c > limit:
                starts.append(i)
                total = 0
            total += c
        return starts

    # The best limit is the cost of some contiguous run of layers: search those candidates.
    candidates = sorted({prefix[j] - prefix[i] for i in range(n) for j in range(i + 1, n + 1)})
    lo, hi = 0, len(candidates) - 1
    while lo < hi:
        mid = (lo + hi) // 2
        starts = fits(candidates[mid])
        if starts is not None and len(starts) <= n_stages:
            hi = mid
        else:
            lo = mid + 1
    starts = fits(candidates[lo])
    # Fewer stages than asked: split the latest multi-layer stages until there are n_stages.
    i = n - 1
    while len(starts) < n_stages:
        if i not in starts and i > 0:
            starts.append(i)
            starts.sort()
        i -= 1
    return starts
'''),
    code(r'''
print(partition_layers([1, 2, 3, 4], 2))        # [0, 3]
print(partition_layers([5, 1, 1, 1, 1, 5], 3))  # [0, 1, 5]
'''),
    md(r'''
## Part 2 — the GPipe timetable

Time runs in clock ticks; in one tick a stage runs one micro-batch forward (`"F"`) or
backward (`"B"`) — all taking one tick. Return a list of ticks; tick `t` lists the
`(stage, op, micro)` tuples that run at tick `t` (an empty list if nothing runs).

- stage `s` can run `F` of micro-batch `m` once stage `s-1` has run it (in an earlier tick);
- stage `s` can run `B` of `m` once it has run `F` of `m` and stage `s+1` has run `B` of `m`;
- GPipe: every stage runs all its forwards before its first backward;
- nothing waits longer than it must: the whole step takes `2·(n_micro + n_stages − 1)` ticks.

The idle ticks are the pipeline's *bubble*: with `p` stages and `m` micro-batches a
stage is idle for a fraction `(p − 1)/(m + p − 1)` of the step.
'''),
    code(r'''
def gpipe_schedule(n_stages, n_micro):
    """ticks[t] = the (stage, "F" or "B", micro) that run at clock tick t, in a GPipe step."""
''' + TODO, r'''
def gpipe_schedule(n_stages, n_micro):
    """ticks[t] = the (stage, "F" or "B", micro) that run at clock tick t, in a GPipe step."""
    forward = n_micro + n_stages - 1
    ticks = [[] for _ in range(2 * forward)]
    for s in range(n_stages):
        for m in range(n_micro):
            ticks[s + m].append((s, "F", m))
            # backward runs last stage first and the last micro-batch first
            ticks[forward + (n_stages - 1 - s) + (n_micro - 1 - m)].append((s, "B", m))
    return ticks
'''),
    code(r'''
for t, tick in enumerate(gpipe_schedule(2, 3)):
    print(t, tick)
'''),
    md(r'''
## Part 3 — one pipeline step on one rank

Every rank calls `pipeline_step` at the same time with its own `stage` (an
`nn.Sequential` of its layers). Rank `r` receives activations from rank `r-1` and sends
its outputs to rank `r+1`; gradients flow the other way.

- `inputs`: the whole batch on rank 0 (`None` elsewhere); `targets`: the labels on the
  last rank (`None` elsewhere). Cut both into `n_micro` equal micro-batches with
  `.chunk(n_micro)`.
- `act_shape`: the shape of one micro-batch of activations between stages — use it to
  allocate receive buffers (`torch.empty(act_shape, device=...)`).
- Forward every micro-batch through `stage(x)` (call the stage itself, once per
  micro-batch), then backward every micro-batch in reverse order.
- On the last rank the loss of a micro-batch is `loss_fn(output, targets_chunk)`; scale it
  so that the accumulated gradients are those of the **mean loss over the whole batch**.
- Do not zero the gradients or step the optimiser: the grader does.
- Return the mean loss over the whole batch (a float) on the last rank, `None` elsewhere.

Use `dist.send`/`dist.recv` with `group=group` (ranks are `dist.get_rank(group)` and
`dist.get_world_size(group)`). `dist.isend` lets a stage go on computing while its
message is on its way — that is where the pipeline's speed comes from; wait on every
request before you return.
'''),
    code(r'''
def pipeline_step(stage, inputs, targets, *, n_micro, loss_fn, act_shape, group=None):
    """One GPipe training step of this rank's stage; the batch's mean loss on the last rank."""
''' + TODO, r'''
def pipeline_step(stage, inputs, targets, *, n_micro, loss_fn, act_shape, group=None):
    """One GPipe training step of this rank's stage; the batch's mean loss on the last rank."""
    rank, world = dist.get_rank(group), dist.get_world_size(group)
    first, last = rank == 0, rank == world - 1
    device = next(stage.parameters()).device
    xs = inputs.chunk(n_micro) if first else None
    ys = targets.chunk(n_micro) if last else None
    saved, pending, total = [], [], 0.0
    for m in range(n_micro):                      # all forwards
        if first:
            x = xs[m]
        else:
            x = torch.empty(act_shape, device=device)
            dist.recv(x, rank - 1, group=group)
            x.requires_grad_()
        out = stage(x)
        if last:
            out = loss_fn(out, ys[m]) / n_micro     # gradients of the whole batch's mean loss
            total += out.item()
        else:
            pending.append(dist.isend(out.detach().contiguous(), rank + 1, group=group))
        saved.append((x, out))
    for req in pending:
        req.wait()
    pending = []
    for m in reversed(range(n_micro)):            # all backwards, last micro-batch first
        x, out = saved[m]
        if last:
            out.backward()
        else:
            grad = torch.empty(act_shape, device=device)
            dist.recv(grad, rank + 1, group=group)
            out.backward(grad)
        if not first:
            pending.append(dist.isend(x.grad.contiguous(), rank - 1, group=group))
    for req in pending:
        req.wait()
    return total if last else None
'''),
    md(r'''
## Check it on one process

With a single rank the whole model is one stage: a step with 4 micro-batches must give
the gradients of one backward pass over the whole batch. (To try two stages on your own
machine, put the definitions in a `.py` file, split a model with `partition_layers` and
start it with `torchrun --nproc-per-node 2`.)
'''),
    code(r'''
def check_single_stage():
    """pipeline_step on a one-rank process group: the gradients of the whole batch."""
    if not dist.is_initialized():
        dist.init_process_group("gloo", store=dist.HashStore(), rank=0, world_size=1)
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(8, 16), nn.Tanh(), nn.Linear(16, 4))
    x, y = torch.randn(32, 8), torch.randint(0, 4, (32,))
    full = nn.functional.cross_entropy(net(x), y)
    full.backward()
    expected = [p.grad.clone() for p in net.parameters()]
    for p in net.parameters():
        p.grad = None
    loss = pipeline_step(net, x, y, n_micro=4, loss_fn=nn.functional.cross_entropy, act_shape=(8, 16))
    assert abs(loss - full.item()) < 1e-5, f"loss {loss} differs from the whole batch's {full.item()}"
    assert all(torch.allclose(p.grad, g, atol=1e-6) for p, g in zip(net.parameters(), expected)), \
        "the gradients differ from the whole batch's"
    return "ok"
'''),
    code(r'''
try:
    print("single-stage check:", check_single_stage())
except NotImplementedError:
    print("single-stage check: not implemented yet")
'''),
]


if __name__ == "__main__":
    write_pair(CELLS, "m10", STARTER_PATH, SOLUTION_PATH, REPO)
