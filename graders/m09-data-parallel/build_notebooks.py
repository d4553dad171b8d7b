"""Build the m09-data-parallel starter and solution notebooks from one cell list.

    .venv/bin/python graders/m09-data-parallel/build_notebooks.py

Writes
  assignments/m09-data-parallel/data_parallel.ipynb   starter (bodies raise NotImplementedError)
  solutions/m09-data-parallel/solution.ipynb          the same notebook with the bodies filled in

HIDDEN: this file contains the solution; it lives in graders/ so it is never shipped.
Both notebooks have the same cells in the same order (the fixture notebooks in
tests/fixtures/m09-data-parallel/ patch the solution's cells by their markers).
"""

from __future__ import annotations

from pathlib import Path

from handin.authoring import TODO, code, md, write_pair

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
STARTER_PATH = REPO / "assignments" / "m09-data-parallel" / "data_parallel.ipynb"
SOLUTION_PATH = REPO / "solutions" / "m09-data-parallel" / "solution.ipynb"

CELLS = [
    md(r'''
# Module 9 — Distributed deep learning: data parallelism

Data parallelism trains one model on several workers (*ranks*): every rank holds a full
copy of the model, computes gradients on its own slice of the global batch, and the
ranks **average their gradients** with an *all-reduce* before every optimiser step, so
that all copies stay identical — and identical to training on the whole batch in one
process.

You implement gradient averaging twice:

1. **`all_reduce_gradients(model, group)`** — after `loss.backward()`, average every
   gradient across the ranks with `torch.distributed.all_reduce`.
2. **`BucketedDataParallel(module, bucket_cap_mb, group)`** (for the higher grades) — a
   wrapper that groups gradients into *buckets* of at most `bucket_cap_mb` MiB and starts
   each bucket's all-reduce **asynchronously during the backward pass**, as soon as all
   of its gradients are ready, so communication overlaps with computation.

## How your code is graded

The grader owns the training: it starts the ranks (separate processes, `gloo` on CPU,
NCCL on GPUs), builds the model, hands each rank its share of every batch, runs the
forward and backward passes and the SGD step, and calls **your** function (or wraps the
model in **your** class) in between:

```python
for step in range(steps):
    x, y = my_share_of(global_batch[step])
    optimizer.zero_grad(set_to_none=True)
    loss = cross_entropy(model(x), y)        # model = BucketedDataParallel(net, ...) for part 2
    loss.backward()
    all_reduce_gradients(net, group)          # part 1 ... or: model.finish_gradient_synchronization()
    optimizer.step()
```

After training it compares every rank's weights with a single-process run on the same
global batches (to `rtol=1e-5`), checks that the ranks agree exactly, and counts the
bytes your code sends through `torch.distributed`. Then it **times** your data-parallel
training against its own single-process training with one rank's threads (strong
scaling: with 2 ranks a perfect split of the work is 2x); the speedup earns points. The rank processes import only your notebook's
*definitions* (imports, functions, classes, and assignments that call nothing), so keep
everything your functions need in those.

Some models have **frozen** parameters (`requires_grad=False`, no gradient) and **tied**
parameters (one `Parameter` used by two layers); `model.parameters()` lists a tied
parameter once.
'''),
    code(r'''
import torch
import torch.distributed as dist
import torch.nn as nn
'''),
    md(r'''
## Part 1 — averaging gradients with all-reduce

Average the gradient of every parameter that has one (`p.grad is not None`) across the
ranks of `group`: sum with `dist.all_reduce(..., group=group)` and divide by
`dist.get_world_size(group)`. Every rank calls this function at the same point of every
step. Sending all gradients as one flat tensor is faster than one call per parameter.
'''),
    code(r'''
def all_reduce_gradients(model, group=None):
    """Average the gradients of model's parameters across the ranks of group, in place."""
''' + TODO, r'''
def all_reduce_gradients(model, group=None):
    """Average the gradients of model's parameters across the ranks of group, in place."""
    grads = [p.grad for p in model.parameters() if p.grad is not None]
    if not grads:
        return
    world = dist.get_world_size(group)
    flat = torch.cat([g.reshape(-1) for g in grads])
    dist.all_reduce(flat, op=dist.ReduceOp.SUM, group=group)
    flat.div_(world)
    offset = 0
    for g in grads:
        n = g.numel()
        g.copy_(flat[offset:offset + n].view_as(g))
        offset += n
'''),
    md(r'''
## Part 2 — buckets that overlap with the backward pass

`BucketedDataParallel(module, bucket_cap_mb=1.0, group=None)` is an `nn.Module` that

* broadcasts rank 0's parameters to every rank when it is constructed (so all copies
  start equal even if they were initialised differently);
* puts the trainable parameters into buckets, in **reverse** order of
  `module.parameters()` (roughly the order their gradients become ready), closing a bucket
  before it would exceed `bucket_cap_mb × 2**20` bytes (a parameter larger than that gets a
  bucket of its own);
* registers a hook on each trainable parameter
  (`p.register_post_accumulate_grad_hook`) and, when the last gradient of a bucket is
  ready, starts that bucket's all-reduce with `async_op=True`;
* `forward(*args, **kwargs)` runs the wrapped module;
* `finish_gradient_synchronization()` waits for every bucket, divides by the world size
  and writes the averaged gradients back into each `p.grad`. It is called after
  `backward()` and before the optimiser step, every step.
'''),
    code(r'''
class BucketedDataParallel(nn.Module):
    def __init__(self, module, bucket_cap_mb=1.0, group=None):
        super().__init__()
        self.module = module
        # YOUR CODE HERE
        raise NotImplementedError

    def forward(self, *args, **kwargs):
        return self.module(*args, **kwargs)

    def finish_gradient_synchronization(self):
        # YOUR CODE HERE
        raise NotImplementedError
''', r'''
class BucketedDataParallel(nn.Module):
    def __init__(self, module, bucket_cap_mb=1.0, group=None):
        super().__init__()
        self.module = module
        self.group = group
        self.world = dist.get_world_size(group)
        with torch.no_grad():
            for t in list(module.parameters()) + list(module.buffers()):
                dist.broadcast(t, src=0, group=group)
        cap = int(bucket_cap_mb * 2**20)
        params = [p for p in module.parameters() if p.requires_grad]
        self.buckets, current, size = [], [], 0
        for p in reversed(params):
            nbytes = p.numel() * p.element_size()
            if current and size + nbytes > cap:
                self.buckets.append(current)
                current, size = [], 0
            current.append(p)
            size += nbytes
        if current:
            self.buckets.append(current)
        self.bucket_of = {p: i for i, bucket in enumerate(self.buckets) for p in bucket}
        self.ready = [0] * len(self.buckets)
        self.pending = {}
        for p in params:
            p.register_post_accumulate_grad_hook(self._grad_ready)

    def _grad_ready(self, p):
        i = self.bucket_of[p]
        self.ready[i] += 1
        if self.ready[i] == len(self.buckets[i]):
            self._launch(i)

    def _launch(self, i):
        flat = torch.cat([p.grad.reshape(-1) for p in self.buckets[i]])
        work = dist.all_reduce(flat, op=dist.ReduceOp.SUM, group=self.group, async_op=True)
        self.pending[i] = (work, flat)

    def forward(self, *args, **kwargs):
        return self.module(*args, **kwargs)

    def finish_gradient_synchronization(self):
        for i, bucket in enumerate(self.buckets):
            if i not in self.pending:  # a parameter of this bucket got no gradient this step
                for p in bucket:
                    if p.grad is None:
                        p.grad = torch.zeros_like(p)
                self._launch(i)
        for i in sorted(self.pending):
            work, flat = self.pending[i]
            work.wait()
            flat.div_(self.world)
            offset = 0
            for p in self.buckets[i]:
                n = p.numel()
                p.grad.copy_(flat[offset:offset + n].view_as(p.grad))
                offset += n
        self.pending = {}
        self.ready = [0] * len(self.buckets)
'''),
    md(r'''
## Check it on one process

With a single rank, averaging must leave every gradient as it was. (To try two ranks on
your own machine, put the two definitions in a `.py` file and start it with
`torchrun --nproc-per-node 2`.)
'''),
    code(r'''
def check_single_rank():
    """Part 1 and part 2 on a one-rank process group: gradients must not change."""
    if not dist.is_initialized():
        dist.init_process_group("gloo", store=dist.HashStore(), rank=0, world_size=1)
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 4))
    x, y = torch.randn(32, 8), torch.randint(0, 4, (32,))
    nn.functional.cross_entropy(net(x), y).backward()
    expected = [p.grad.clone() for p in net.parameters()]
    for p in net.parameters():
        p.grad = None
    nn.functional.cross_entropy(net(x), y).backward()
    all_reduce_gradients(net)
    assert all(torch.allclose(p.grad, g) for p, g in zip(net.parameters(), expected)), "part 1 changed the gradients"
    ddp = BucketedDataParallel(net, bucket_cap_mb=0.001)
    for p in net.parameters():
        p.grad = None
    nn.functional.cross_entropy(ddp(x), y).backward()
    ddp.finish_gradient_synchronization()
    assert all(torch.allclose(p.grad, g) for p, g in zip(net.parameters(), expected)), "part 2 changed the gradients"
    return "ok"
'''),
    code(r'''
try:
    print("single-rank check:", check_single_rank())
except NotImplementedError:
    print("single-rank check: not implemented yet")
'''),
]


if __name__ == "__main__":
    write_pair(CELLS, "m09", STARTER_PATH, SOLUTION_PATH, REPO)
