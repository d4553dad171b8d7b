"""The grader-owned task: model, data, sampler, training loop, digest (no processes)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from handin.bench import tasks


def test_make_task_fills_defaults_and_rejects_unknown_or_bad_keys():
    t = tasks.make_task(width=32)
    assert t["width"] == 32 and t["depth"] == tasks.TASK_DEFAULTS["depth"]
    with pytest.raises(tasks.TaskError, match="unknown task key"):
        tasks.make_task(widht=3)
    with pytest.raises(tasks.TaskError):
        tasks.make_task(batch=0)
    with pytest.raises(tasks.TaskError):
        tasks.make_task(act="softplus")
    with pytest.raises(tasks.TaskError, match="depth"):
        tasks.make_task(tied=True, depth=2)
    with pytest.raises(tasks.TaskError):
        tasks.make_task(norm="yes")


def test_model_weights_come_from_the_seed():
    t = tasks.make_task(d_in=8, width=16, depth=3)
    a = tasks.weights(tasks.build_model(t, 7))
    b = tasks.weights(tasks.build_model(t, 7))
    c = tasks.weights(tasks.build_model(t, 8))
    d = tasks.weights(tasks.build_model(t, 7, rank_offset=1))
    assert all(np.array_equal(a[k], b[k]) for k in a)
    assert not np.array_equal(a["inp.weight"], c["inp.weight"])
    assert not np.array_equal(a["inp.weight"], d["inp.weight"])


def test_tied_and_frozen_parameters():
    t = tasks.make_task(d_in=8, width=16, depth=4, tied=True, frozen=True)
    model = tasks.build_model(t, 0)
    names = [n for n, _ in model.named_parameters()]
    assert "blocks.3.fc.weight" not in names            # tied to blocks.0.fc: listed once
    assert model.blocks[3].fc.weight is model.blocks[0].fc.weight
    frozen = [n for n, p in model.named_parameters() if not p.requires_grad]
    assert frozen == ["inp.bias", "blocks.1.fc.weight"]
    layout = tasks.parameter_layout(t)
    assert [n for n, _, _ in layout] == names
    assert tasks.trainable_bytes(t) == sum(b for _, b, trainable in layout if trainable)


def test_sampler_hands_each_rank_its_slice_and_counts():
    t = tasks.make_task(d_in=4, batch=8, pool=50, data_seed=3)
    whole = tasks.ShardSampler(t, 11, 3, 0, 1)
    parts = [tasks.ShardSampler(t, 11, 3, r, 2) for r in range(2)]
    for step in range(3):
        x, y = whole.batch(step)
        xs = torch.cat([p.batch(step)[0] for p in parts])
        assert torch.equal(x, xs) and y.shape == (8,)
    assert whole.samples == 24 and all(p.samples == 12 and p.batches == 3 for p in parts)
    with pytest.raises(IndexError):
        whole.batch(3)
    with pytest.raises(tasks.TaskError, match="does not split"):
        tasks.ShardSampler(t, 11, 3, 0, 3)
    other = tasks.ShardSampler(t, 12, 3, 0, 1)
    assert not torch.equal(other.batch(0)[0], tasks.ShardSampler(t, 11, 3, 0, 1).batch(0)[0])


def _two_rank_emulation(task, seed, steps):
    """What correct data parallelism computes: average of the two half-batch gradients."""
    models = [tasks.build_model(task, seed) for _ in range(2)]
    opts = [torch.optim.SGD(list(m.parameters()), lr=task["lr"]) for m in models]
    samplers = [tasks.ShardSampler(task, seed, steps, r, 2) for r in range(2)]
    for step in range(steps):
        for m, o, s in zip(models, opts, samplers):
            o.zero_grad()
            x, y = s.batch(step)
            torch.nn.functional.cross_entropy(m(x), y).backward()
        for ps in zip(*(m.parameters() for m in models)):
            if ps[0].grad is not None:
                g = (ps[0].grad + ps[1].grad) / 2
                for p in ps:
                    p.grad.copy_(g)
        for o in opts:
            o.step()
    return tasks.weights(models[0])


@pytest.mark.parametrize("shape", [dict(), dict(tied=True, frozen=True), dict(norm=True, act="gelu")])
def test_data_parallel_arithmetic_matches_the_reference_within_fp32_tolerance(shape):
    task = tasks.make_task(d_in=16, width=32, depth=4, batch=64, lr=0.05, data_seed=5, **shape)
    ref = tasks.weights(tasks.run_training(task, 9, 6).model)
    dp = _two_rank_emulation(task, 9, 6)
    init = tasks.weights(tasks.build_model(task, 9))
    for name in ref:
        np.testing.assert_allclose(dp[name], ref[name], rtol=1e-5, atol=1e-6)
    moved = [n for n in ref if not np.array_equal(ref[n], init[n])]
    if shape.get("frozen"):
        assert "inp.bias" not in moved and "blocks.1.fc.weight" not in moved
    assert len(moved) >= len(ref) - 2


def test_digest_commits_to_names_shapes_and_bytes():
    w = {"a": np.ones((2, 3), np.float32), "b": np.zeros(4, np.float32)}
    d = tasks.digest(w)
    assert d == tasks.digest(dict(reversed(list(w.items()))))
    assert d != tasks.digest({"a": w["a"].reshape(3, 2), "b": w["b"]})
    w2 = {k: v.copy() for k, v in w.items()}
    w2["b"][0] = 1e-30
    assert d != tasks.digest(w2)
    assert d != tasks.digest({"a": w["a"], "c": w["b"]})
