"""Model parallelism: the rank runtime of pipeline training.

A pipeline task is the same task dict as data parallelism (:mod:`handin.bench.tasks`),
with the model laid out as a flat sequence of *layers* — the input layer, the
residual blocks, the head — so that contiguous runs of layers can become *stages*
on different ranks. Layer ``i``'s parameters are named ``"<i>.<name>"`` both in the
unsplit model and in a stage, so the judge can put the stages' weights back together
and compare them with single-process training of the unsplit model.

Per rank, :func:`run_pipeline` is the grader's step loop around a *step function*
that the rank's own module defines: on the student's ranks the notebook's
``pipeline_step``; on the judge's ranks the module's reference (its grader folder),
whose GPipe step with one micro-batch is naive model parallelism, the baseline of the
speedup. The judge splits the model (the stage starts come with the run's options),
the loop builds it, hands rank 0 the inputs and the last rank the labels, zeroes the
gradients and steps the optimiser; the step function moves activations forward and
gradients backward between the stages. Hooks on the stage record what actually ran:
every forward (with its rows) and every backward into the stage's output, in order,
so the judge can check the schedule that was executed (:mod:`handin.bench.pipeline_checks`).

Student-readable (the rank runtime): nothing here partitions a model or schedules a step.
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


def check_starts(starts: Any, n_layers: int, world: int) -> list[int]:
    """The judge's stage starts, checked: ``world`` strictly increasing layer indices from 0."""
    if (not isinstance(starts, (list, tuple)) or len(starts) != world or not all(type(s) is int for s in starts)
            or starts[0] != 0 or any(b <= a for a, b in zip(starts, starts[1:])) or starts[-1] >= n_layers):
        raise tasks.TaskError(f"stage starts {starts!r:.80} do not split {n_layers} layers into {world} stages")
    return list(starts)


def run_pipeline(task: dict, seed: int, steps: int, *, rank: int, world: int, step_fn: Callable,
                 n_micro: int, starts: list[int], group: Any = None,
                 mark: Callable[[str, int], None] = tasks._noop, device: Any = None) -> PipelineTrained:
    """The grader's step loop on one rank of a ``world``-stage pipeline split at ``starts``."""
    torch = _torch()
    if task["batch"] % n_micro:
        raise tasks.TaskError(f"the batch of {task['batch']} does not split into {n_micro} micro-batches")
    model = build_layers(task, seed, device)
    stage = stage_of(model, check_starts(starts, len(model), world), rank)
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
