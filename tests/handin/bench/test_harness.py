"""The harness end to end without a sandbox: a real student process, real rank processes, gloo.

The judge side (handin.bench.harness.Bench) talks to a student process started here, which
spawns its ranks; the reference runs in this process. A few judge-side rules are tested
against a scripted fake student instead (no processes).
"""

from __future__ import annotations

import json
import time

import numpy as np
import pytest

from builders import REPO
from handin.bench import harness, tasks
from handin.bench.harness import Bench, BenchError
from handin.proxy import StudentError

pytestmark = pytest.mark.slow

SOLUTION_CELLS = None


def _solution_cells():
    global SOLUTION_CELLS
    if SOLUTION_CELLS is None:
        nb = json.loads((REPO / "solutions" / "m09-data-parallel" / "solution.ipynb").read_text())
        SOLUTION_CELLS = ["".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code"]
    return list(SOLUTION_CELLS)


SMALL = dict(d_in=16, width=32, depth=4, batch=32)


def test_the_solution_verifies_in_both_modes_with_tied_and_frozen_parameters(start):
    bench = start(_solution_cells())
    task = bench.task(tied=True, frozen=True, **SMALL)
    run = bench.run(task, world_size=2, mode="allreduce", steps=3)
    assert bench.check(run) == []
    assert [r.samples for r in run.ranks] == [48, 48]
    run = bench.run(task, world_size=2, mode="bucketed", steps=3, bucket_cap_mb=0.005, calls=True)
    assert bench.check(run) == []
    backward = [c for c in run.ranks[0].calls if c["phase"] == "backward" and c["op"] == "all_reduce"]
    assert backward and all(c["async"] for c in backward)
    run = bench.run(task, world_size=2, mode="bucketed", steps=3, per_rank_init=True)
    assert bench.check(run) == []
    broadcasts = [c for c in run.ranks[1].calls or [] if c["op"] == "broadcast"]
    assert broadcasts == []                       # calls are only logged when asked for
    assert run.ranks[1].comm["by_op"]["broadcast"]["calls"] > 0


def test_wrong_averaging_and_no_communication_are_caught(start):
    cells = _solution_cells() + ["""
def sums_only(model, group=None):
    for p in model.parameters():
        if p.grad is not None:
            dist.all_reduce(p.grad, group=group)

def silent(model, group=None):
    pass
"""]
    bench = start(cells)
    task = bench.task(**SMALL)
    run = bench.run(task, world_size=2, mode="allreduce", steps=3, options={"sync_fn": "sums_only"})
    problems = bench.check(run)
    assert problems and all("reference" in p for p in problems) and not harness.ranks_agree(run)
    run = bench.run(task, world_size=2, mode="allreduce", steps=3, options={"sync_fn": "silent"})
    problems = bench.check(run)
    assert any("out of sync" in p for p in problems)
    assert any("no reducing collective" in p for p in problems)


def test_errors_in_rank_code_reach_the_judge_and_the_ranks_restart(start):
    bench = start(["import torch\nimport torch.distributed as dist",
                   "def all_reduce_gradients(model, group=None):\n    raise NotImplementedError('todo')"])
    task = bench.task(**SMALL)
    with pytest.raises(StudentError) as err:
        bench.run(task, world_size=2, mode="allreduce", steps=2)
    assert "NotImplementedError" in str(err.value) and "todo" in str(err.value)
    with pytest.raises(StudentError, match="does not define `BucketedDataParallel`"):
        bench.run(task, world_size=2, mode="bucketed", steps=2)
    run = bench.run(task, world_size=2, mode="none", steps=2)     # fresh ranks, no student code
    assert len(run.ranks) == 2


def test_a_rank_stuck_in_a_collective_is_stopped_at_the_deadline(start):
    bench = start(["import torch\nimport torch.distributed as dist",
                   "def all_reduce_gradients(model, group=None):\n"
                   "    if dist.get_rank(group) == 0:\n"
                   "        dist.all_reduce(next(model.parameters()).grad, group=group)\n"], call_seconds=6)
    task = bench.task(**SMALL)
    with pytest.raises(StudentError, match="did not answer in time|died"):
        bench.run(task, world_size=2, mode="allreduce", steps=3)
    assert bench.channel.broken is None                       # the channel survives
    assert len(bench.run(task, world_size=2, mode="none", steps=1).ranks) == 2


def test_a_timed_run_records_interleaved_verified_trials(start):
    bench = start(_solution_cells())
    task = bench.task(d_in=16, width=32, depth=3, batch=256)
    # The mechanics, not the host: other processes on a busy test machine must not void the trials.
    rec = bench.speedup(task, mode="allreduce", steps=4, warmup=1, trials=2, defaults={"quiet_cores": 64.0})
    assert rec["verified"] and len(rec["trials"]) == 2 and rec["problems"] == []
    assert rec["profile"].startswith("cpu-") and rec["baseline_threads"] == 2 and rec["world_size"] == 2
    assert all(t["verified"] for t in rec["trials"]) and rec["speedup"] > 0
    assert rec["single_rank"]["ratio_to_baseline"] > 0
    assert bench.records[-1] is rec


def test_a_cached_result_from_the_warm_up_is_caught(start):
    cells = _solution_cells() + ['''
class _Cache:
    import handin.bench.tasks as _t
    _orig = _t.run_training
    _seen = {}
    def _fast(task, seed, steps, **kw):
        key = task["data_seed"]
        if key not in _Cache._seen:
            _Cache._seen[key] = _Cache._orig(task, seed, steps, **kw)
        return _Cache._seen[key]
    _t.run_training = _fast
''']
    bench = start(cells)
    with pytest.raises(BenchError, match="timed run failed: trial 1: .*reference"):
        bench.speedup(bench.task(**SMALL), mode="allreduce", steps=3, warmup=1, trials=2)
    assert not bench.records[-1]["verified"]


# ---------------------------------------------------------------- judge-side rules, scripted student


class FakeStudent:
    """Answers the bench_* operations with the reference weights (perfect data parallelism)."""

    def __init__(self, world=2, tamper=None, seconds=0.05):
        self.world, self.tamper, self.pending, self.committed = world, tamper, None, None
        self.broken = None
        self.seconds = seconds   # how long a timed run takes: far slower than the tiny baseline


    def request(self, op, **f):
        if op == "bench_pool":
            self.world = f["world_size"]
            return {"ranks": [{"rank": r} for r in range(self.world)], "start_seconds": 0.0}
        if op == "bench_ready":
            self.pending = f
            return [{"rank": r, "ready": True} for r in range(self.world)]
        if op == "bench_go":
            time.sleep(self.seconds)
            p = self.pending
            w = tasks.weights(tasks.run_training(tasks.make_task(p["task"]), f["seed"], p["steps"]).model)
            self.committed = w
            need = tasks.trainable_bytes(p["task"])
            comm = {"reduce_calls": p["steps"], "reduce_bytes": need * p["steps"],
                    "reduce_bytes_per_step": [need] * p["steps"]}
            local = p["task"]["batch"] // self.world
            return [{"rank": r, "digest": tasks.digest(w), "samples": local * p["steps"], "batches": p["steps"],
                     "comm": comm, "seconds": 0.1} for r in range(self.world)]
        if op == "bench_result":
            w = self.committed
            if self.tamper:
                w = self.tamper(w)
            return [{"rank": r, "weights": w} for r in range(self.world)]
        raise AssertionError(op)


def _quiet(monkeypatch, others=0.0):
    monkeypatch.setattr(harness.hardware, "others_load", lambda cores, seconds=0.3: others)

    class Meter:
        def __init__(self, cores, pids=None):
            pass

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.others_cores, self.busy_cores = others, 1.0
    monkeypatch.setattr(harness.hardware, "CpuMeter", Meter)


TINY = dict(d_in=8, width=16, depth=3, batch=16)


def test_weights_that_are_not_the_committed_ones_fail(monkeypatch):
    _quiet(monkeypatch)

    def tamper(w):
        w = {k: v.copy() for k, v in w.items()}
        w["inp.weight"][0, 0] += 1e-3
        return w
    bench = Bench(FakeStudent(tamper=tamper))
    with pytest.raises(BenchError, match="committed to"):
        bench.speedup(tasks.make_task(TINY), steps=2, warmup=0, trials=2)


def test_a_perfect_fake_scores_and_a_busy_host_is_flagged(monkeypatch):
    _quiet(monkeypatch)
    bench = Bench(FakeStudent())
    bench.config["single_rank_check"] = False
    rec = bench.speedup(tasks.make_task(TINY), steps=2, warmup=0, trials=3)
    assert rec["verified"] and len(rec["trials"]) == 3 and rec["flags"] == [] and rec["discarded"] == []

    _quiet(monkeypatch, others=1.5)
    bench = Bench(FakeStudent())
    bench.config.update(max_extra_trials=2, quiet_wait=0.0)
    rec = bench.speedup(tasks.make_task(TINY), steps=2, warmup=0, trials=3)
    assert len(rec["discarded"]) == 3 and rec["trials"] == []
    assert any("host was busy" in f for f in rec["flags"])


def test_a_speedup_beyond_the_hardware_is_flagged(monkeypatch):
    _quiet(monkeypatch)
    bench = Bench(FakeStudent(seconds=0.0))
    bench.config["single_rank_check"] = False
    real = Bench._baseline

    def slow_baseline(self, *a, **k):          # pretend the baseline took 10x longer
        t = real(self, *a, **k)
        t.seconds *= 1000
        return t
    monkeypatch.setattr(Bench, "_baseline", slow_baseline)
    rec = bench.speedup(tasks.make_task(TINY), steps=2, warmup=0, trials=2)
    assert any("above what 2 ranks" in f for f in rec["flags"])


def test_compare_weights_reports_shape_nan_and_missing():
    ref = {"a": np.zeros((2, 2), np.float32), "b": np.ones(3, np.float32)}
    assert harness.compare_weights(ref, ref) == []
    got = {"a": np.zeros((2, 3), np.float32), "b": np.array([1, np.nan, 1], np.float32), "c": ref["b"]}
    problems = harness.compare_weights(got, ref)
    assert any("shape" in p for p in problems) and any("NaN" in p for p in problems)
    assert any("unexpected" in p for p in problems)
    assert any("missing" in p for p in harness.compare_weights({"a": ref["a"]}, ref))


def test_run_parameters_from_assignment_toml_win_and_are_checked():
    bench = Bench(FakeStudent(), {"steps": 7, "trials": 2, "profiles": "ignored", "unknown": 1})
    assert bench.config_source == "assignment.toml" and bench.config["steps"] == 7 and "profiles" not in bench.config
    with pytest.raises(Exception):
        Bench(FakeStudent(), {"steps": 0})
    default = Bench(FakeStudent())
    assert default.config_source == "suite defaults" and default.config == harness.RUN_DEFAULTS


def test_suite_defaults_apply_only_without_the_toml(monkeypatch):
    _quiet(monkeypatch)
    seen = []
    real = Bench._parallel

    def spy(self, task, mode, seed, steps, *a, **k):
        seen.append(steps)
        return real(self, task, mode, seed, steps, *a, **k)
    monkeypatch.setattr(Bench, "_parallel", spy)
    bench = Bench(FakeStudent())
    bench.config["single_rank_check"] = False
    bench.speedup(tasks.make_task(TINY), warmup=0, trials=1, defaults={"steps": 3})
    bench = Bench(FakeStudent(), {"steps": 2, "single_rank_check": False})
    bench.speedup(tasks.make_task(TINY), warmup=0, trials=1, defaults={"steps": 3})
    assert seen == [3, 2]


def test_the_single_rank_check_skips_pairs_a_busy_host_disturbed(monkeypatch):
    """A busy host slows the student's 1-rank run like a slowed path would: such pairs do not count."""
    _quiet(monkeypatch, others=1.5)
    bench = Bench(FakeStudent(seconds=0.0))
    rec = bench._single_rank_check(tasks.make_task(TINY), "allreduce", 2, 0, {}, None, 2, 2,
                                   dict(bench.config, quiet_wait=0.0))
    assert rec["not_checked"] and rec["disturbed"] == 2 + bench.config["max_extra_trials"]
    assert "flag" not in rec and rec["problems"] == []
    _quiet(monkeypatch, others=0.0)
    rec = bench._single_rank_check(tasks.make_task(TINY), "allreduce", 2, 0, {}, None, 2, 2, bench.config)
    assert rec["disturbed"] == 0 and rec["ratio_to_baseline"] > 0 and "not_checked" not in rec


def test_a_busy_host_still_catches_a_wrong_result(monkeypatch):
    """Every baseline disturbed: the student's result is still verified once, so a wrong one fails."""
    _quiet(monkeypatch, others=1.5)

    def tamper(w):
        w = {k: v.copy() for k, v in w.items()}
        w["inp.weight"][0, 0] += 1e-3
        return w
    bench = Bench(FakeStudent(tamper=tamper))
    bench.config.update(max_extra_trials=2, quiet_wait=0.0, single_rank_check=False)
    with pytest.raises(BenchError, match="committed to"):
        bench.speedup(tasks.make_task(TINY), steps=2, warmup=0, trials=3)


def _fixed_ratios(monkeypatch, ratios):
    """Trials whose speedups are ``ratios`` in turn (the baseline's time scaled to the parallel's)."""
    it = iter(ratios)
    real_baseline, real_parallel = Bench._baseline, Bench._parallel

    def parallel(self, *a, **k):
        b, run = real_parallel(self, *a, **k)
        b.seconds = 1.0
        return b, run

    def baseline(self, *a, **k):
        t = real_baseline(self, *a, **k)
        t.seconds = next(it)
        return t
    monkeypatch.setattr(Bench, "_parallel", parallel)
    monkeypatch.setattr(Bench, "_baseline", baseline)


@pytest.mark.parametrize("ratios,added", [
    ([1.30, 1.31, 1.29, 1.30, 1.30, 1.31, 1.29], 0),          # clear of both thresholds: no more trials
    ([1.18, 1.22, 1.21, 1.19, 1.20, 1.22, 1.18, 1.21, 1.19], 4),   # on the target: 4 more, then it decides
])
def test_a_median_near_a_threshold_is_measured_more(monkeypatch, ratios, added):
    _quiet(monkeypatch)
    _fixed_ratios(monkeypatch, ratios)
    cut = {"metric": "speedup", "floor": 1.0, "target": 1.2}
    cutoffs = {name: cut for name in harness.hardware.profiles(harness.hardware.detect("cpu"))}
    bench = Bench(FakeStudent(seconds=0.0), {"trials": 3, "decision_trials": 4, "single_rank_check": False,
                                              "cutoffs": cutoffs})
    rec = bench.speedup(tasks.make_task(TINY), steps=2, warmup=0)
    assert len(rec["trials"]) == 3 + added and rec["decision_trials"] == added
    if added:
        assert rec["near_threshold"] == {"threshold": "target", "speedup": 1.2}
    assert bench.config_source == "assignment.toml" and "cutoffs" not in bench.config


def test_thresholds_reach_the_judge_with_the_run_config():
    from handin.spec import load_module
    spec = load_module(REPO / "assignments" / "m10-model-parallel")
    cfg = spec.benchmark.run_config()
    assert cfg["cutoffs"]["cpu-2"]["metric"] == "speedup" and cfg["reference"] == "reference.py"
    bench = Bench(FakeStudent(), cfg)
    assert bench.cutoffs == cfg["cutoffs"] and bench.reference_name == "reference.py"
