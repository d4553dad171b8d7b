"""Model parallelism in the harness: the grader's partition and schedule checks, and pipeline
runs on real rank processes (student pipelines, the judge's own naive baseline, timed trials)."""

from __future__ import annotations

import itertools
import json
import random

import numpy as np
import pytest

from builders import REPO
from handin.bench import pipeline, pipeline_checks, tasks
from handin.bench.harness import BenchError, loss_problems
from handin.bench.launcher import Launcher

SMALL = dict(d_in=16, width=32, depth=4, batch=32, lr=0.05)
GRADER = REPO / "graders" / "m10-model-parallel"


def _load_reference():
    import importlib.util
    spec = importlib.util.spec_from_file_location("m10_reference", GRADER / "reference.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


reference = _load_reference()   # the module's own partition, schedule checks and GPipe step


# ---------------------------------------------------------------- partition


def _brute_force(costs, k):
    n = len(costs)
    best = None
    for cuts in itertools.combinations(range(1, n), k - 1):
        starts = [0, *cuts]
        value = reference.max_stage_cost(costs, starts)
        best = value if best is None else min(best, value)
    return best


def test_partition_is_optimal_against_brute_force():
    rng = random.Random(7)
    for _ in range(300):
        n = rng.randint(1, 9)
        costs = [rng.randint(0, 50) for _ in range(n)]
        k = rng.randint(1, n)
        starts = reference.partition(costs, k)
        assert len(starts) == k and starts[0] == 0 and starts == sorted(set(starts))
        assert reference.max_stage_cost(costs, starts) == _brute_force(costs, k), (costs, k, starts)
    with pytest.raises(ValueError):
        reference.partition([1, 2], 3)


@pytest.mark.parametrize("answer,fragment", [
    ([0, 3], None),
    ([0, 2], "costliest stage of 7"),
    ([0], "expected 2 stage starts"),
    ([1, 3], "start at layer 0"),
    ([0, 0], "strictly increase"),
    ([0, 4], "strictly increase"),
    ("0,3", "list of 2 stage start"),
    ([0, 3.0], "list of 2 stage start"),
])
def test_partition_problems_name_what_is_wrong(answer, fragment):
    problems = reference.partition_problems([1, 2, 3, 4], 2, answer)
    if fragment is None:
        assert problems == []
    else:
        assert len(problems) == 1 and fragment in problems[0]


# ---------------------------------------------------------------- schedules


def _gpipe(p, m):
    """A GPipe timetable written differently from the solution: simulate stages greedily."""
    done, ticks, t = {}, [], 0
    while len(done) < 2 * p * m:
        tick = []
        for s in range(p):
            fwd = [mb for mb in range(m) if (s, "F", mb) not in done
                   and (s == 0 or done.get((s - 1, "F", mb), t) < t)]
            bwd = [mb for mb in range(m - 1, -1, -1) if (s, "B", mb) not in done
                   and all((s, "F", x) in done and done[(s, "F", x)] < t for x in range(m))
                   and (s == p - 1 or done.get((s + 1, "B", mb), t) < t)]
            if fwd:
                tick.append((s, "F", fwd[0]))
            elif bwd:
                tick.append((s, "B", bwd[0]))
        for entry in tick:
            done[entry] = t
        ticks.append(tick)
        t += 1
    return ticks


def test_gpipe_timetables_pass():
    for p, m in [(1, 1), (1, 3), (2, 1), (2, 4), (3, 3), (4, 8)]:
        assert reference.schedule_problems(_gpipe(p, m), p, m) == [], (p, m)
        assert reference.schedule_problems([[list(e) for e in tick] for tick in _gpipe(p, m)], p, m) == []


def test_broken_timetables_are_named():
    good = _gpipe(2, 3)

    def check(table):
        problems = reference.schedule_problems(table, 2, 3)
        assert problems
        return problems[0]

    assert "never runs" in check([[e for e in tick if e != (1, "B", 0)] for tick in good])
    assert "runs two things at once" in check([good[0] + [(0, "F", 1)]] + good[1:])
    assert "appears twice" in check(good + [[(0, "F", 0)]])
    swapped = [list(tick) for tick in good]
    swapped[0], swapped[1] = swapped[1], swapped[0]                 # stage 1 runs before stage 0 sent
    assert "before" in check(swapped)
    assert "ticks; a GPipe step" in check(good + [[]])              # an idle tick at the end
    assert "out of range" in check([[(2, "F", 0)]])
    assert "is not a (stage" in check([[("0", "F", 0)]])
    # 1F1B (PipeDream-flush) is a valid pipeline, but not GPipe: stage 0 backs up before its last forward
    one_f_one_b = [[(0, "F", 0)], [(0, "F", 1), (1, "F", 0)], [(1, "B", 0)], [(0, "B", 0), (1, "F", 1)],
                   [(0, "F", 2), (1, "B", 1)], [(0, "B", 1), (1, "F", 2)], [(1, "B", 2)], [(0, "B", 2)]]
    assert "not a GPipe schedule" in check(one_f_one_b)


def test_executed_schedule_checks():
    ok = [(0, "F", m, 8) for m in range(4)] + [(0, "B", m, 8) for m in (3, 2, 1, 0)]
    assert pipeline_checks.executed_schedule_problems(ok, 4, 1, 8, 0) == []
    interleaved = [(0, "F", 0, 8), (0, "F", 1, 8), (0, "B", 0, 8), (0, "F", 2, 8), (0, "B", 1, 8),
                   (0, "F", 3, 8), (0, "B", 2, 8), (0, "B", 3, 8)]
    assert "forward ran after a backward" in pipeline_checks.executed_schedule_problems(interleaved, 4, 1, 8, 0)[0]
    assert "ran forward 1 time" in pipeline_checks.executed_schedule_problems([(0, "F", 0, 32), (0, "B", 0, 32)],
                                                                       4, 1, 8, 0)[0]
    assert "rows" in pipeline_checks.executed_schedule_problems([(0, "F", m, 16) for m in range(4)], 4, 1, 8, 0)[0]
    assert "back-propagated" in pipeline_checks.executed_schedule_problems(ok[:6], 4, 1, 8, 0)[0]
    assert "step 1" in pipeline_checks.executed_schedule_problems(ok, 4, 2, 8, 0)[0]


# ---------------------------------------------------------------- the model as layers


def test_layers_carry_the_data_parallel_init_and_stages_keep_their_names():
    task = pipeline.check_task(tasks.make_task(**SMALL))
    net = tasks.build_model(task, 11)
    layers = pipeline.build_layers(task, 11)
    assert np.array_equal(layers[0].fc.weight.detach().numpy(), net.inp.weight.detach().numpy())
    assert np.array_equal(layers[-1].weight.detach().numpy(), net.head.weight.detach().numpy())
    costs = pipeline_checks.layer_costs(task)
    assert costs == [sum(p.numel() for p in layer.parameters()) for layer in layers]
    starts = reference.partition(costs, 2)
    names = [set(tasks.weights(pipeline.stage_of(layers, starts, r))) for r in range(2)]
    assert names[0].isdisjoint(names[1]) and names[0] | names[1] == set(tasks.weights(layers))
    with pytest.raises(tasks.TaskError):
        pipeline.check_task(tasks.make_task(tied=True, **SMALL))


# ---------------------------------------------------------------- rank processes


def _cells(extra: str = "") -> list[str]:
    nb = json.loads((REPO / "solutions" / "m10-model-parallel" / "solution.ipynb").read_text())
    cells = ["".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code"]
    return cells + ([extra] if extra else [])


@pytest.mark.slow
def test_the_grader_gpipe_on_judge_ranks_matches_the_unsplit_model():
    task = pipeline.check_task(tasks.make_task(**SMALL))
    judge = Launcher(None, None, 30.0, module=(str(GRADER), "reference"))   # the judge's own ranks: no notebook
    starts = reference.partition(pipeline_checks.layer_costs(task), 2)
    try:
        judge.handle({"op": "bench_pool", "world_size": 2, "threads": 1, "cores": None, "backend": "gloo"})
        want, losses = pipeline_checks.run_reference(task, 5, 3)
        for n_micro in (1, 4):
            replies = judge.handle({"op": "bench_run", "task": task, "mode": "gpipe", "seed": 5, "steps": 3,
                                    "options": {"n_micro": n_micro, "starts": starts, "step_fn": "gpipe_step"}})
            merged, problems = pipeline_checks.merge_stage_weights([r["weights"] for r in replies])
            assert problems == []
            for name in want:
                np.testing.assert_allclose(merged[name], want[name], rtol=1e-5, atol=1e-6)
            np.testing.assert_allclose(replies[-1]["losses"], losses, rtol=1e-5)
            assert replies[0]["losses"] == [None] * 3
            # recv is counted once although torch implements it with irecv
            assert pipeline_checks.p2p_bytes(replies[0]["comm"]) == (32 * 32 * 4 * 3,) * 2
        with pytest.raises(Exception, match="does not define `pipeline_step`"):
            judge.handle({"op": "bench_run", "task": task, "mode": "pipeline", "seed": 5, "steps": 1,
                          "options": {"n_micro": 2, "starts": starts}})
    finally:
        judge.close()


@pytest.mark.slow
def test_the_solution_pipeline_verifies_and_broken_ones_are_caught(start):
    bench = start(grader="m10-model-parallel", cells=_cells('''
def one_f_one_b(stage, inputs, targets, *, n_micro, loss_fn, act_shape, group=None):
    """Right gradients, but each micro-batch goes backward right after its forward (not GPipe)."""
    rank, world = dist.get_rank(group), dist.get_world_size(group)
    first, last = rank == 0, rank == world - 1
    xs = inputs.chunk(n_micro) if first else None
    ys = targets.chunk(n_micro) if last else None
    total = 0.0
    for m in range(n_micro):
        if first:
            x = xs[m]
        else:
            x = torch.empty(act_shape)
            dist.recv(x, rank - 1, group=group)
            x.requires_grad_()
        out = stage(x)
        if last:
            loss = loss_fn(out, ys[m]) / n_micro
            total += loss.item()
            loss.backward()
        else:
            dist.send(out.detach(), rank + 1, group=group)
            grad = torch.empty(act_shape)
            dist.recv(grad, rank + 1, group=group)
            out.backward(grad)
        if not first:
            dist.send(x.grad, rank - 1, group=group)
    return total if last else None
'''))
    task = bench.task(**SMALL)
    run = bench.pipeline_run(task, n_micro=4, steps=3)
    assert bench.check_pipeline(run, 4) == []
    assert loss_problems(run, bench.pipeline_reference(task, run.seed, 3)[1]) == []
    assert [r.samples for r in run.ranks] == [96, 96] and [r.batches for r in run.ranks] == [12, 12]
    assert [e[1] for e in run.ranks[0].events[:8]] == ["F"] * 4 + ["B"] * 4

    run = bench.run(task, world_size=2, mode="pipeline", steps=2, options={"n_micro": 4, "step_fn": "one_f_one_b"})
    problems = bench.check_pipeline(run, 4)
    assert problems and all("forward ran after a backward" in p for p in problems)
    assert bench.check_pipeline(run, 4, schedule=False) == []      # its weights are right


@pytest.mark.slow
def test_a_timed_pipeline_runs_against_the_judges_naive_ranks(start):
    bench = start(grader="m10-model-parallel", cells=_cells('''
def no_micro_batches(stage, inputs, targets, *, n_micro, loss_fn, act_shape, group=None):
    return pipeline_step(stage, inputs, targets, n_micro=1, loss_fn=loss_fn,
                         act_shape=(act_shape[0] * n_micro, act_shape[1]), group=group)
'''))
    task = bench.task(d_in=16, width=64, depth=4, batch=256, lr=0.02)
    # The mechanics, not the host: other processes on a busy test machine must not void the trials.
    rec = bench.pipeline_speedup(task, n_micro=4, steps=3, warmup=1, trials=2, defaults={"quiet_cores": 64.0})
    assert rec["verified"] and rec["problems"] == [] and len(rec["trials"]) == 2
    assert rec["mode"] == "pipeline" and rec["micro_batches"] == 4 and rec["ideal_speedup"] == 1.6
    assert rec["baseline_threads"] == 1 and rec["single_rank"] is None and rec["speedup"] > 0
    judge_pids = bench._judge.pids()
    assert len(judge_pids) == 2 and not set(judge_pids) & {r["pid"] for r in bench.pool_info["ranks"]}

    with pytest.raises(BenchError, match="ran forward"):
        bench.pipeline_speedup(task, n_micro=4, steps=3, warmup=1, trials=2, defaults={"quiet_cores": 64.0},
                               options={"step_fn": "no_micro_batches"}, name="naive in disguise")
    assert bench.records[-1]["verified"] is False
    bench.close()
    assert bench._judge is None
