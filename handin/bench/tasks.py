"""Grader-owned training tasks: model, data, loss, optimiser and the step loop.

The same code runs in three places: in every rank process (around the student's
gradient synchronisation), in the judge for the single-process baseline and
reference, and in the platform's tests. A task is a plain dict (it crosses the
judge–student channel) checked by :func:`make_task`.

Everything a trial computes is a function of the task and one *seed*: the
initial weights and the order of the samples. The judge picks the seed at the
moment it starts its clock, so nothing can be computed ahead.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

TASK_DEFAULTS: dict[str, Any] = {
    "d_in": 64,          # input features
    "width": 64,         # hidden width
    "depth": 4,          # residual blocks
    "n_out": 10,         # classes
    "norm": False,       # LayerNorm in each block
    "act": "tanh",       # tanh | gelu | relu (smooth ones keep fp32 runs comparable: no ReLU kinks)
    "tied": False,       # the last block reuses the first block's Linear (a tied parameter)
    "frozen": False,     # one block's weight and the input bias do not train
    "batch": 64,         # global batch (split evenly across ranks)
    "pool": 2048,        # samples in the data pool
    "lr": 0.05,
    "data_seed": 0,      # the pool (inputs and labels); the order comes from the trial's seed
    "device": "cpu",     # cpu | cuda
}
ACTIVATIONS = ("tanh", "gelu", "relu")
SEED_MASK = (1 << 62) - 1


class TaskError(ValueError):
    pass


def make_task(task: dict | None = None, **overrides: Any) -> dict:
    """A complete, checked task dict (defaults filled in)."""
    t = dict(TASK_DEFAULTS)
    for source in (task or {}), overrides:
        for key, value in source.items():
            if key not in TASK_DEFAULTS:
                raise TaskError(f"unknown task key {key!r}")
            t[key] = value
    for key in ("d_in", "width", "depth", "n_out", "batch", "pool"):
        if type(t[key]) is not int or not 1 <= t[key] <= 1 << 20:
            raise TaskError(f"task {key} must be a positive int, got {t[key]!r}")
    for key in ("norm", "tied", "frozen"):
        if type(t[key]) is not bool:
            raise TaskError(f"task {key} must be true or false")
    if t["act"] not in ACTIVATIONS:
        raise TaskError(f"task act must be one of {ACTIVATIONS}")
    if t["device"] not in ("cpu", "cuda"):
        raise TaskError("task device must be cpu or cuda")
    if (t["tied"] or t["frozen"]) and t["depth"] < 3:
        raise TaskError("tied or frozen parameters need depth >= 3")
    if not isinstance(t["lr"], (int, float)) or not 0 < float(t["lr"]) < 10:
        raise TaskError("task lr must be a positive number")
    t["lr"] = float(t["lr"])
    if type(t["data_seed"]) is not int:
        raise TaskError("task data_seed must be an int")
    t["data_seed"] &= SEED_MASK
    return t


# ---------------------------------------------------------------- model


def _torch():
    import torch
    return torch


def build_model(task: dict, seed: int, *, rank_offset: int = 0, device: Any = None):
    """The task's model with weights drawn from ``seed`` (``rank_offset`` > 0: a different draw)."""
    torch = _torch()
    nn = torch.nn

    act = {"relu": nn.ReLU, "gelu": nn.GELU, "tanh": nn.Tanh}[task["act"]]

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(task["width"], task["width"])
            self.norm = nn.LayerNorm(task["width"]) if task["norm"] else nn.Identity()
            self.act = act()

        def forward(self, h):
            return h + self.act(self.norm(self.fc(h)))

    class TaskNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.inp = nn.Linear(task["d_in"], task["width"])
            self.blocks = nn.ModuleList(Block() for _ in range(task["depth"]))
            self.head = nn.Linear(task["width"], task["n_out"])
            self.act = act()
            if task["tied"]:
                self.blocks[-1].fc = self.blocks[0].fc   # one Parameter, used twice per step
            if task["frozen"]:
                self.blocks[1].fc.weight.requires_grad_(False)
                self.inp.bias.requires_grad_(False)

        def forward(self, x):
            h = self.act(self.inp(x))
            for block in self.blocks:
                h = block(h)
            return self.head(h)

    model = TaskNet()
    g = torch.Generator().manual_seed((int(seed) + 7919 * int(rank_offset)) & SEED_MASK)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("bias") or "norm" in name:
                p.copy_(torch.randn(p.shape, generator=g) * 0.02 + (1.0 if "norm.weight" in name else 0.0))
            else:
                fan_in = p.shape[-1]
                p.copy_(torch.randn(p.shape, generator=g) * (1.0 / fan_in) ** 0.5)
    if device is not None:
        model = model.to(device)
    return model


def trainable_bytes(task: dict) -> int:
    """Bytes of gradient one step produces (each trainable Parameter once)."""
    model = build_model(task, 0)
    return sum(p.numel() * p.element_size() for p in model.parameters() if p.requires_grad)


def parameter_layout(task: dict) -> list[tuple[str, int, bool]]:
    """(name, bytes, trainable) of each Parameter, in ``parameters()`` order (tied ones once)."""
    model = build_model(task, 0)
    return [(n, p.numel() * p.element_size(), p.requires_grad) for n, p in model.named_parameters()]


# ---------------------------------------------------------------- data

_POOLS: dict[tuple, tuple] = {}


def data_pool(task: dict, device: Any = None):
    """(X, y): the pool of samples, from the task's data seed (cached per process)."""
    torch = _torch()
    key = (task["data_seed"], task["pool"], task["d_in"], task["n_out"], str(device))
    if key not in _POOLS:
        g = torch.Generator().manual_seed(task["data_seed"])
        X = torch.randn(task["pool"], task["d_in"], generator=g)
        teacher = torch.randn(task["d_in"], task["n_out"], generator=g)
        y = (X @ teacher).argmax(dim=1)
        if device is not None:
            X, y = X.to(device), y.to(device)
        _POOLS.clear()
        _POOLS[key] = (X, y)
    return _POOLS[key]


def batch_indices(task: dict, seed: int, steps: int):
    """steps × batch sample indices: the global batches of one trial, in order."""
    torch = _torch()
    g = torch.Generator().manual_seed((int(seed) * 2654435761 + 12345) & SEED_MASK)
    return torch.randint(task["pool"], (steps, task["batch"]), generator=g)


class ShardSampler:
    """Hands each rank its contiguous slice of every global batch, and counts what it handed out."""

    def __init__(self, task: dict, seed: int, steps: int, rank: int, world: int, device: Any = None):
        if task["batch"] % world:
            raise TaskError(f"the global batch {task['batch']} does not split over {world} ranks")
        self.X, self.y = data_pool(task, device)
        self.indices = batch_indices(task, seed, steps)
        self.local = task["batch"] // world
        self.rank = rank
        self.steps = steps
        self.samples = 0
        self.batches = 0

    def batch(self, step: int):
        if not 0 <= step < self.steps:
            raise IndexError(f"step {step} outside 0..{self.steps - 1}")
        idx = self.indices[step, self.rank * self.local:(self.rank + 1) * self.local]
        if self.X.device.type != "cpu":
            idx = idx.to(self.X.device)
        self.samples += int(idx.numel())
        self.batches += 1
        return self.X[idx], self.y[idx]


# ---------------------------------------------------------------- training


def _noop(phase: str, step: int) -> None:
    pass


@dataclass
class Trained:
    model: Any
    sampler: ShardSampler


def run_training(task: dict, seed: int, steps: int, *, rank: int = 0, world: int = 1,
                 prepare: Callable[[Any], Any] | None = None,
                 sync: Callable[[Any], None] | None = None,
                 mark: Callable[[str, int], None] = _noop,
                 per_rank_init: bool = False, device: Any = None) -> Trained:
    """The grader's step loop. ``prepare`` may wrap the model (a student's DDP class);
    ``sync`` runs after ``backward()`` and before the optimiser step (gradient averaging).
    ``mark(phase, step)`` tells the collective counters where in the step we are.
    """
    torch = _torch()
    model = build_model(task, seed, rank_offset=rank if per_rank_init else 0, device=device)
    mark("prepare", -1)
    net = prepare(model) if prepare is not None else model
    opt = torch.optim.SGD([p for p in model.parameters()], lr=task["lr"])
    sampler = ShardSampler(task, seed, steps, rank, world, device)
    loss_fn = torch.nn.functional.cross_entropy
    for step in range(steps):
        x, y = sampler.batch(step)
        opt.zero_grad(set_to_none=True)
        mark("forward", step)
        loss = loss_fn(net(x), y)
        mark("backward", step)
        loss.backward()
        mark("sync", step)
        if sync is not None:
            sync(net)
        mark("step", step)
        opt.step()
    mark("done", steps)
    return Trained(model, sampler)


def weights(model) -> dict[str, np.ndarray]:
    """Every Parameter (tied ones once) as a float32 numpy array, by name."""
    return {name: p.detach().to("cpu").contiguous().numpy().copy() for name, p in model.named_parameters()}


def digest(weights_by_name: dict[str, Any]) -> str:
    """A commitment to final weights: sha256 over names, dtypes, shapes and bytes in name order."""
    h = hashlib.sha256()
    for name in sorted(weights_by_name):
        arr = np.ascontiguousarray(np.asarray(weights_by_name[name]))
        h.update(name.encode() + b"\0" + arr.dtype.str.encode() + b"\0" + repr(arr.shape).encode() + b"\0")
        h.update(arr.tobytes())
    return h.hexdigest()
