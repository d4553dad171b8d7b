"""The judge's side of the harness: the ``bench`` fixture of the hidden suites.

The judge owns the launcher parameters, the data, the step count and the clock:

* ``bench.run(task, world_size=2, mode="allreduce", steps=5)`` trains on N ranks in
  the student sandbox (untimed) and returns every rank's final weights and its
  collective and sample counters; ``bench.reference(task, seed, steps)`` trains
  the same task single-process *in the judge* — the grader's own code — for the
  comparison.
* ``bench.speedup(task, mode=...)`` times baseline and parallel trials
  interleaved (ABAB…): the baseline (A) is the grader's single-process loop run
  here in the judge with the same total threads, pinned to the same cores, so no
  student code can slow it down; the parallel run (B) is the student's code on N
  ranks. For B the ranks warm up and wait at a barrier ("ready"), then the judge
  starts its clock and sends "go" with a fresh secret seed (``secrets``) that
  fixes the initial weights and the data order; the ranks train and answer with
  a sha256 of their final weights, and the judge stops its clock. Only then are
  the weights fetched, checked against the digest, against each other (exactly)
  and against A's weights for the same seed (the reference), together with the
  collective bytes and the samples each rank consumed. Trials in which other
  processes used the CPUs during the baseline are run again; what cannot be
  trusted is flagged for TA review instead of scored.

The thresholds that turn a speedup into points live in assignment.toml and are
applied on the host (:mod:`handin.bench.scoring`); the judge records what it
measured under ``benchmarks`` in its raw report.
"""

from __future__ import annotations

import importlib.util
import math
import secrets
import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from ..spec import BenchmarkSection
from . import hardware, pipeline, pipeline_checks, regression, tasks

# The [benchmark] section of assignment.toml without its profiles: one source of the defaults.
RUN_DEFAULTS: dict[str, Any] = {k: v for k, v in BenchmarkSection().run_config().items() if k != "cutoffs"}
REFERENCE_STEP = "gpipe_step"   # the pipeline step a module's reference defines (the naive baseline's)


class BenchError(AssertionError):
    """The student side answered with something malformed or inconsistent."""


@dataclass
class RankResult:
    rank: int
    weights: dict[str, np.ndarray]
    samples: int
    batches: int
    comm: dict
    calls: list[dict] | None
    seconds: float
    losses: list | None = None       # pipeline modes: the step function's loss per step (last rank)
    events: list | None = None       # pipeline modes: forwards and backwards through the stage, in order


@dataclass
class Run:
    task: dict
    mode: str
    seed: int
    steps: int
    world_size: int
    ranks: list[RankResult]

    def weights(self, rank: int = 0) -> dict[str, np.ndarray]:
        return self.ranks[rank].weights


class _Plan(NamedTuple):
    cfg: dict
    device: str
    world: int
    steps: int
    warmup: int
    trials: int
    threads: int
    hw: dict
    plan: list[list[int]] | None   # cores per rank
    flat: list[int] | None         # all those cores


@dataclass
class Trial:
    kind: str            # baseline | parallel | single_rank
    seconds: float
    seed: int
    weights: dict[str, np.ndarray] | None = None
    others_cores: float | None = None
    busy_cores: float | None = None
    extra: dict = field(default_factory=dict)


# ---------------------------------------------------------------- checks


def compare_weights(got: dict[str, np.ndarray], want: dict[str, np.ndarray], *, rtol: float = 1e-5,
                    atol: float = 1e-6, what: str = "final weights") -> list[str]:
    """Problems with ``got`` against the reference ``want`` (empty when they match)."""
    problems = []
    missing = sorted(set(want) - set(got))
    extra = sorted(set(got) - set(want))
    if missing:
        problems.append(f"{what}: parameters missing: {', '.join(missing[:5])}")
    if extra:
        problems.append(f"{what}: unexpected parameters: {', '.join(extra[:5])}")
    for name in sorted(set(want) & set(got)):
        g, w = got[name], want[name]
        if g.shape != w.shape:
            problems.append(f"{what}: {name} has shape {g.shape}, expected {w.shape}")
            continue
        if not np.all(np.isfinite(g)):
            problems.append(f"{what}: {name} has NaN or inf")
            continue
        if not np.allclose(g, w, rtol=rtol, atol=atol):
            diff = np.abs(g.astype(np.float64) - w.astype(np.float64))
            scale = np.abs(w.astype(np.float64)).max() or 1.0
            problems.append(f"{what}: {name} differs from the single-process reference "
                            f"(max abs diff {diff.max():.3g}, reference max |w| {scale:.3g}, "
                            f"rtol={rtol:g}, atol={atol:g})")
    return problems


def ranks_agree(run: Run) -> list[str]:
    """Every rank must end with exactly rank 0's weights."""
    problems = []
    base = run.ranks[0].weights
    for r in run.ranks[1:]:
        differ = [n for n in base if n not in r.weights or r.weights[n].shape != base[n].shape
                  or not np.array_equal(r.weights[n], base[n])]
        if differ:
            problems.append(f"rank {r.rank} ended with weights different from rank 0's "
                            f"({len(differ)} parameter(s), e.g. {differ[0]}): the ranks are out of sync")
    return problems


def communication_problems(run: Run, *, min_bytes_per_step: int | None = None) -> list[str]:
    """Each rank must reduce at least the trainable gradient bytes in every step."""
    if run.world_size < 1:
        return []
    need = tasks.trainable_bytes(run.task) if min_bytes_per_step is None else min_bytes_per_step
    problems = []
    for r in run.ranks:
        per_step = list(r.comm.get("reduce_bytes_per_step") or [])
        per_step += [0] * (run.steps - len(per_step))
        short = [s for s, b in enumerate(per_step[:run.steps]) if b < need]
        if r.comm.get("reduce_calls", 0) == 0:
            problems.append(f"rank {r.rank} made no reducing collective call (all_reduce, reduce_scatter) "
                            "through torch.distributed: the gradients were not averaged across ranks")
        elif short:
            problems.append(f"rank {r.rank} reduced fewer bytes than the {need} bytes of gradients in "
                            f"{len(short)} of {run.steps} steps (e.g. step {short[0]}: {per_step[short[0]]} bytes)")
    return problems


def sample_problems(run: Run) -> list[str]:
    local = run.task["batch"] // run.world_size
    problems = []
    for r in run.ranks:
        if r.samples != local * run.steps or r.batches != run.steps:
            problems.append(f"rank {r.rank} consumed {r.samples} samples in {r.batches} batches; the grader's "
                            f"sampler handed out {local} per step for {run.steps} steps")
    return problems


def pipeline_problems(run: Run, n_micro: int, *, schedule: bool = True) -> list[str]:
    """What each rank of a pipeline run did: its rows and micro-batches, the order of its forwards
    and backwards (GPipe: all forwards first), and the activations and gradients it sent on."""
    task, steps = run.task, run.steps
    rows = task["batch"] // n_micro
    act_bytes = task["batch"] * task["width"] * 4 * steps   # one direction, all steps (fp32)
    last = run.world_size - 1
    problems = []
    for r in run.ranks:
        if r.samples != task["batch"] * steps or r.batches != n_micro * steps:
            problems.append(f"rank {r.rank}'s stage ran forward on {r.samples} rows in {r.batches} call(s); "
                            f"{steps} step(s) of {n_micro} micro-batches of {rows} rows make "
                            f"{task['batch'] * steps} rows in {n_micro * steps} calls")
        if schedule and r.events is not None:
            problems += pipeline_checks.executed_schedule_problems(r.events, n_micro, steps, rows, r.rank)
        sent, _ = pipeline_checks.p2p_bytes(r.comm)
        need = act_bytes * ((r.rank < last) + (r.rank > 0))
        if sent < need:
            what = " and ".join(w for w, on in (("activations to the next stage", r.rank < last),
                                                 ("gradients to the previous stage", r.rank > 0)) if on)
            problems.append(f"rank {r.rank} sent {sent} bytes with send/isend; its {what} over {steps} step(s) "
                            f"are {need} bytes")
    return problems


def loss_problems(run: Run, want: list[float], rtol: float = 1e-4) -> list[str]:
    got = run.ranks[-1].losses or []
    if len(got) != len(want) or any(g is None for g in got):
        return [f"the last rank's pipeline_step returned {got!r:.120} as the loss of {len(want)} step(s); "
                "it must return the mean loss over the whole batch (a number)"]
    bad = [(i, g, w) for i, (g, w) in enumerate(zip(got, want)) if not math.isclose(g, w, rel_tol=rtol, abs_tol=1e-6)]
    if bad:
        i, g, w = bad[0]
        return [f"step {i}: the last rank returned loss {g:.6g}; the unsplit model's mean loss is {w:.6g}"]
    return []


# ---------------------------------------------------------------- the fixture


def _as_weights(value: Any, where: str) -> dict[str, np.ndarray]:
    if not isinstance(value, dict) or not value:
        raise BenchError(f"{where}: no weights came back")
    out = {}
    for name, arr in value.items():
        if not isinstance(name, str):
            raise BenchError(f"{where}: a parameter name is not a string")
        if hasattr(arr, "detach"):
            arr = arr.detach().cpu().numpy()
        if not isinstance(arr, np.ndarray) or arr.dtype.kind not in "fc":
            raise BenchError(f"{where}: {name} is not a float array")
        out[name] = arr
    return out


def _quartiles(values: list[float]) -> tuple[float, float]:
    """The first and third quartiles: the edges of the middle half (one value: itself)."""
    if len(values) < 2:
        return values[0], values[0]
    q1, _, q3 = statistics.quantiles(values, n=4, method="inclusive")
    return q1, q3


def _int(value: Any, where: str) -> int:
    if type(value) is not int:
        raise BenchError(f"{where} is not an int")
    return value


class PipelineBench:
    """Model parallelism (mixed into :class:`Bench`): untimed pipeline runs, checks and the timed
    pipeline-versus-naive comparison."""

    def pipeline_run(self, task: dict, *, n_micro: int, world_size: int = 2, steps: int = 3,
                     seed: int | None = None, threads: int = 1) -> Run:
        """Train ``task`` split into ``world_size`` stages with the student's ``pipeline_step`` (untimed)."""
        return self.run(pipeline.check_task(task), world_size=world_size, mode="pipeline", steps=steps,
                        seed=seed, threads=threads, options={"n_micro": int(n_micro)})

    def stage_starts(self, task: dict, world_size: int) -> list[int]:
        """Where each of ``world_size`` stages starts: the module's reference partition, in the judge."""
        return list(self.module_reference().partition(pipeline_checks.layer_costs(task), world_size))

    def pipeline_reference(self, task: dict, seed: int, steps: int) -> tuple[dict[str, np.ndarray], list[float]]:
        """The unsplit model trained in the judge on the full batches: (weights, loss per step)."""
        task = pipeline.check_task(task)
        return pipeline_checks.run_reference(task, seed, steps, _device(task))

    def check_pipeline(self, run: Run, n_micro: int, *, reference: dict[str, np.ndarray] | None = None,
                       schedule: bool = True) -> list[str]:
        """Every problem with a pipeline run: the stages' weights against the unsplit model, what ran."""
        ref = reference if reference is not None else self.pipeline_reference(run.task, run.seed, run.steps)[0]
        merged, problems = pipeline_checks.merge_stage_weights([r.weights for r in run.ranks])
        problems += compare_weights(merged, ref, rtol=self.config["rtol"], atol=self.config["atol"],
                                    what="the stages' final weights")
        return problems + pipeline_problems(run, n_micro, schedule=schedule)

    def _judge_request(self, op: str, **fields: Any) -> Any:
        if self._judge is None:
            from .launcher import Launcher
            ref = self.reference_path()
            self._judge = Launcher(None, None, float(getattr(self.channel, "call_seconds", 60.0)),
                                   module=(str(ref.parent), ref.stem))
        return self._judge.handle({"op": op, **fields})

    def pipeline_speedup(self, task: dict, *, n_micro: int | None = None, world_size: int | None = None,
                         steps: int | None = None, warmup: int | None = None, trials: int | None = None,
                         options: dict | None = None, name: str | None = None,
                         defaults: dict | None = None) -> dict:
        """Time the student's pipeline against the grader's naive model parallelism.

        Both split the model into the same ``world_size`` stages on ranks pinned to the same
        cores (or GPUs). The baseline (A) is the grader's own step with one micro-batch —
        one stage busy at a time — on rank processes the *judge* starts, which import no
        student code; the parallel run (B) is the student's ``pipeline_step`` with
        ``n_micro`` micro-batches on the student's ranks. A's weights are B's reference.
        """
        task = pipeline.check_task(task)
        cfg, device, world, steps, warmup, n_trials, threads, hw, plan, flat = self._plan(
            task, defaults, world_size, steps, warmup, trials)
        n_micro = int(n_micro or cfg["micro_batches"])
        record = self._record(
            name=name or f"GPipe with {n_micro} micro-batches on {world} stages", kind="speedup",
            mode="pipeline", task=task, hw=hw, world=world, threads=threads, base_threads=threads, flat=flat,
            baseline=(f"the grader's naive model parallelism: the same {world} stages on the judge's own ranks, "
                      "one micro-batch (one stage busy at a time)"),
            steps=steps, warmup=warmup, n_trials=n_trials)
        record["micro_batches"] = n_micro
        starts = self.stage_starts(task, world)
        opts = {**(options or {}), "n_micro": n_micro, "starts": starts}   # options: e.g. step_fn, the function's name
        record["ideal_speedup"] = round(world * n_micro / (n_micro + world - 1), 4)
        flags = self._hardware_flags(hw, plan, world, threads, device)
        backend = "nccl" if device == "cuda" else "gloo"
        devices = list(range(world)) if device == "cuda" else None
        started = time.monotonic()
        self._start_ranks(record, flags, started,
                          lambda: self.pool(world, threads=threads, device=device, cores=plan),
                          lambda: self._judge_request("bench_pool", world_size=world, threads=threads, cores=plan,
                                                      backend=backend, devices=devices))

        def baseline(seed: int) -> Trial:
            a, run = self._parallel(task, "gpipe", seed, steps, warmup, world,
                                    {"n_micro": 1, "starts": starts, "step_fn": REFERENCE_STEP}, flat,
                                    kind="baseline", via=self._judge_request, pids=self._judge.pids())
            merged, problems = pipeline_checks.merge_stage_weights([r.weights for r in run.ranks])
            problems += a.extra["problems"]
            if problems:
                raise RuntimeError("the grader's own baseline failed: " + "; ".join(problems[:3]))
            a.weights = merged
            return a

        def parallel(seed: int, a: Trial):
            b, run = self._parallel(task, "pipeline", seed, steps, warmup, world, opts, flat)
            return b, run, list(b.extra["problems"]) + self.check_pipeline(run, n_micro, reference=a.weights)

        pairs, discarded, problems = self._interleave(record, cfg, flat, n_trials, baseline, parallel)
        busy = self._busy_flag(pairs, n_trials, cfg, problems)
        if busy:
            flags.append(busy)
        # p stages cannot beat one-stage-at-a-time by more than p (p·m/(m+p−1) in theory)
        self._summarize(record, pairs, world, cfg, flags)
        return self._finish(record, pairs, discarded, problems, flags, None, started)


class Bench(PipelineBench):
    """Session-wide state of the harness in the judge; the ``bench`` fixture hands it out."""

    def __init__(self, channel: Any, config: dict | None = None, grader_dir: Path | str | None = None):
        self.channel = channel
        self.grader_dir = Path(grader_dir) if grader_dir is not None else None
        self._reference: Any = None
        config = dict(config) if isinstance(config, dict) else {}
        self.reference_name = config.pop("reference", None)   # where the module's code is, not how to time
        cutoffs = config.pop("cutoffs", None)                   # the profiles' thresholds (scored on the host)
        self.cutoffs: dict[str, dict] = cutoffs if isinstance(cutoffs, dict) else {}
        self.config = dict(RUN_DEFAULTS)
        self.config_source = "suite defaults"
        if config:
            section = BenchmarkSection.model_validate({k: v for k, v in config.items() if k in RUN_DEFAULTS})
            self.config.update((k, v) for k, v in section.run_config().items() if k in RUN_DEFAULTS)
            self.config_source = "assignment.toml"
        self.records: list[dict] = []
        self.current_test: str | None = None
        self._hw: dict[str, dict] = {}
        self.pool_info: dict | None = None
        self._judge: Any = None  # the judge's own ranks (handin.bench.launcher.Launcher), for baselines

    def reference_path(self) -> Path:
        name = self.reference_name
        if not name or self.grader_dir is None:
            raise BenchError("this module names no reference code: add `reference = \"reference.py\"` (a file "
                             "in its grader folder) to the [benchmark] section of assignment.toml")
        return self.grader_dir / name

    def module_reference(self) -> Any:
        """The module's own code for baselines and partitions (``[benchmark] reference``, a file in its
        grader folder), loaded here in the judge: the student's side never sees it."""
        if self._reference is None:
            path = self.reference_path()
            loaded = sys.modules.get(path.stem)  # the hidden tests' own ``import reference``
            if loaded is not None and Path(getattr(loaded, "__file__", "") or "").resolve() == path.resolve():
                self._reference = loaded
            else:
                spec = importlib.util.spec_from_file_location(f"handin_reference_{path.stem}", path)
                module = importlib.util.module_from_spec(spec)
                spec.loader.exec_module(module)
                self._reference = module
        return self._reference

    def close(self) -> None:
        """Stop the judge's own ranks (the student's stop with the student process)."""
        if self._judge is not None:
            judge, self._judge = self._judge, None
            judge.close()

    # ------------------------------------------------------------ plumbing

    def _request(self, op: str, **fields: Any) -> Any:
        return self.channel.request(op, **fields)

    def hardware(self, device: str = "cpu") -> dict:
        if device not in self._hw:
            self._hw[device] = hardware.detect(device)
        return self._hw[device]

    def task(self, **overrides: Any) -> dict:
        """A task dict with a fresh random data seed (pool) unless one is given."""
        overrides.setdefault("data_seed", secrets.randbits(62))
        return tasks.make_task(**overrides)

    def regression_task(self, **overrides: Any) -> dict:
        """A regression task (:mod:`handin.bench.regression`) with a fresh random data seed."""
        overrides.setdefault("data_seed", secrets.randbits(62))
        return regression.check_task(**overrides)

    def plan_cores(self, world: int, threads: int, device: str = "cpu") -> list[list[int]] | None:
        usable = self.hardware(device)["cores"]
        if world * threads > len(usable):
            return None
        return [usable[r * threads:(r + 1) * threads] for r in range(world)]

    def pool(self, world_size: int, *, threads: int = 1, device: str = "cpu",
             cores: list[list[int]] | None | str = "plan") -> dict:
        """Start (or keep) ``world_size`` ranks in the student sandbox."""
        if cores == "plan":
            cores = self.plan_cores(world_size, threads, device)
        backend = "nccl" if device == "cuda" else "gloo"
        devices = list(range(world_size)) if device == "cuda" else None
        info = self._request("bench_pool", world_size=world_size, threads=threads, cores=cores,
                             backend=backend, devices=devices)
        if not isinstance(info, dict) or not isinstance(info.get("ranks"), list) or len(info["ranks"]) != world_size:
            raise BenchError("the ranks did not start as asked")
        self.pool_info = info
        return info

    def _rank_results(self, replies: Any, world: int, *, want_weights: bool) -> list[RankResult]:
        if not isinstance(replies, list) or len(replies) != world:
            raise BenchError(f"expected answers from {world} ranks")
        out = []
        for rank, rep in enumerate(replies):
            if not isinstance(rep, dict) or rep.get("rank") != rank:
                raise BenchError(f"rank {rank} answered out of turn")
            comm = rep.get("comm") if isinstance(rep.get("comm"), dict) else {}
            calls = rep.get("calls") if isinstance(rep.get("calls"), list) else None
            out.append(RankResult(
                rank=rank,
                weights=_as_weights(rep.get("weights"), f"rank {rank}") if want_weights else {},
                samples=_int(rep.get("samples", -1), f"rank {rank}'s sample count"),
                batches=_int(rep.get("batches", -1), f"rank {rank}'s batch count"),
                comm=comm, calls=calls,
                seconds=float(rep.get("seconds") or 0.0) if isinstance(rep.get("seconds"), (int, float)) else 0.0,
                losses=rep.get("losses") if isinstance(rep.get("losses"), list) else None,
                events=rep.get("events") if isinstance(rep.get("events"), list) else None))
        return out

    # ------------------------------------------------------------ untimed runs

    def run(self, task: dict, *, world_size: int = 2, mode: str = "allreduce", steps: int = 5,
            seed: int | None = None, threads: int = 1, bucket_cap_mb: float | None = None,
            per_rank_init: bool = False, calls: bool = False, options: dict | None = None) -> Run:
        """Train ``task`` on ``world_size`` ranks with the student's code (untimed)."""
        task = regression.checked(task, mode)
        seed = secrets.randbits(62) if seed is None else seed
        self.pool(world_size, threads=threads, device=task["device"])
        opts = dict(options or {})
        opts.update(per_rank_init=per_rank_init, calls=calls)
        if mode == "pipeline" and "starts" not in opts:   # the judge splits the model
            opts["starts"] = self.stage_starts(pipeline.check_task(task), world_size)
        if bucket_cap_mb is not None:
            opts["bucket_cap_mb"] = float(bucket_cap_mb)
        replies = self._request("bench_run", task=task, mode=mode, seed=seed, steps=steps, options=opts)
        return Run(task, mode, seed, steps, world_size,
                   self._rank_results(replies, world_size, want_weights=True))

    def reference(self, task: dict, seed: int, steps: int) -> dict[str, np.ndarray]:
        """The grader's single-process training on the full global batches, in the judge."""
        if regression.is_regression(task):
            return self.module_reference().descend(regression.check_task(task), seed, steps)
        task = tasks.make_task(task)
        device = _device(task)
        trained = tasks.run_training(task, seed, steps, device=device)
        return tasks.weights(trained.model)

    def check(self, run: Run, *, reference: dict[str, np.ndarray] | None = None,
              communication: bool = True) -> list[str]:
        """Every problem with ``run``: reference, rank agreement, samples, communication."""
        ref = reference if reference is not None else self.reference(run.task, run.seed, run.steps)
        problems = ranks_agree(run)
        problems += compare_weights(run.weights(0), ref, rtol=self.config["rtol"], atol=self.config["atol"],
                                    what="rank 0's final weights")
        if regression.is_regression(run.task):   # the grader's loop does the communication
            return problems + regression.row_problems(run.task, run.ranks, run.steps)
        problems += sample_problems(run)
        if communication and run.world_size > 1:
            problems += communication_problems(run)
        return problems

    # ------------------------------------------------------------ timed trials

    def _baseline(self, task: dict, seed: int, steps: int, warmup: int, cores: list[int] | None,
                  threads: int) -> Trial:
        if regression.is_regression(task):
            return self._regression_baseline(task, seed, steps, warmup, cores, threads)
        import torch
        device = _device(task)
        old_threads = torch.get_num_threads()
        before = hardware.pin_process(cores) if cores else None
        torch.set_num_threads(threads)
        try:
            tasks.data_pool(task, device)
            if warmup:
                tasks.run_training(task, secrets.randbits(62), warmup, device=device)
            _synchronize(device)
            with hardware.CpuMeter(cores) as meter:
                t0 = time.perf_counter()
                trained = tasks.run_training(task, seed, steps, device=device)
                w = tasks.weights(trained.model)
                tasks.digest(w)  # the ranks hash their weights inside the clock too
                t1 = time.perf_counter()
        finally:
            torch.set_num_threads(old_threads)
            hardware.unpin_process(before)
        return Trial("baseline", t1 - t0, seed, w, meter.others_cores, meter.busy_cores)

    def _regression_baseline(self, task: dict, seed: int, steps: int, warmup: int, cores: list[int] | None,
                             threads: int) -> Trial:
        descend = self.module_reference().descend
        before = hardware.pin_process(cores) if cores else None
        try:
            with regression.blas_threads(threads):
                regression.data_set(task)
                if warmup:
                    descend(task, secrets.randbits(62), warmup)
                with hardware.CpuMeter(cores) as meter:
                    t0 = time.perf_counter()
                    w = descend(task, seed, steps)
                    tasks.digest(w)  # the ranks hash their weights inside the clock too
                    t1 = time.perf_counter()
        finally:
            hardware.unpin_process(before)
        return Trial("baseline", t1 - t0, seed, w, meter.others_cores, meter.busy_cores)

    def _parallel(self, task: dict, mode: str, seed: int, steps: int, warmup: int, world: int,
                  options: dict, cores: list[int] | None, kind: str = "parallel", via: Any = None,
                  pids: list[int] | None = None) -> tuple[Trial, Run]:
        """One timed run on the ranks: ready (warm-up, barrier), clock, go, clock, then the weights.

        ``via`` sends the requests (default: to the student's ranks); ``pids`` are processes
        whose CPU time counts as the judge's own (its own ranks) in the CPU accounting.
        """
        request = via or self._request
        request("bench_ready", task=task, mode=mode, steps=steps, warmup=warmup,
                warmup_seed=secrets.randbits(62), options=options)
        with hardware.CpuMeter(cores, pids) as meter:
            t0 = time.perf_counter()
            replies = request("bench_go", seed=seed)
            t1 = time.perf_counter()
        results = request("bench_result")
        ranks = self._rank_results(replies, world, want_weights=False)
        if not isinstance(results, list) or len(results) != world:
            raise BenchError("the ranks' weights did not come back")
        problems = []
        for r, rep_go, rep_w in zip(ranks, replies, results):
            if not isinstance(rep_w, dict) or rep_w.get("rank") != r.rank:
                raise BenchError(f"rank {r.rank}'s weights came back out of turn")
            r.weights = _as_weights(rep_w.get("weights"), f"rank {r.rank}")
            if tasks.digest(r.weights) != rep_go.get("digest"):
                problems.append(f"rank {r.rank}: the weights sent after the clock stopped are not the ones it "
                                "committed to (sha256) when it said it was done")
        run = Run(task, mode, seed, steps, world, ranks)
        trial = Trial(kind, t1 - t0, seed, run.weights(0), meter.others_cores, meter.busy_cores,
                      {"problems": problems, "rank_seconds": [r.seconds for r in ranks]})
        return trial, run

    def _wait_quiet(self, cores: list[int] | None, budget: list[float], quiet: float) -> float | None:
        """Wait (from the shared ``budget`` of seconds) until others leave the cores alone."""
        while True:
            t = time.monotonic()
            load = hardware.others_load(cores, 0.25)
            if load is None or load <= quiet or budget[0] <= 0:
                return load
            time.sleep(0.5)
            budget[0] -= time.monotonic() - t

    def _plan(self, task: dict, defaults: dict | None, world_size: int | None, steps: int | None,
              warmup: int | None, trials: int | None) -> "_Plan":
        """The run parameters of a timed comparison (explicit arguments win over the config) and its cores."""
        cfg = self._config(defaults)
        device = task["device"]
        world = int(world_size or max(cfg["world_sizes"]))
        threads = int(cfg["threads_per_rank"])
        plan = self.plan_cores(world, threads, device)
        return _Plan(cfg, device, world, int(steps or cfg["steps"]), int(cfg["warmup"] if warmup is None else warmup),
                     int(trials or cfg["trials"]), threads, self.hardware(device), plan,
                     [c for group in plan for c in group] if plan else None)

    def _config(self, defaults: dict | None) -> dict:
        cfg = dict(self.config)
        if self.config_source != "assignment.toml" and defaults:
            given = {k: v for k, v in defaults.items() if k in RUN_DEFAULTS}
            checked = BenchmarkSection.model_validate(given).run_config()
            cfg.update({k: checked[k] for k in given})
        return cfg

    def _record(self, *, name: str, kind: str, mode: str, task: dict, hw: dict, world: int, threads: int,
                base_threads: int, baseline: str, flat: list[int] | None, steps: int, warmup: int,
                n_trials: int) -> dict[str, Any]:
        device = task["device"]
        return {
            "name": name, "test": self.current_test, "kind": kind, "mode": mode,
            "profile": hardware.profile(hw), "profiles_tried": hardware.profiles(hw),
            "hardware": {k: hw[k] for k in ("cpu_model", "cores_online", "cores_usable", "gpus", "device")},
            "backend": "nccl" if device == "cuda" else "gloo",
            "world_size": world, "threads_per_rank": threads, "baseline_threads": base_threads,
            "baseline": baseline, "cores": flat, "steps": steps, "warmup": warmup, "trials_wanted": n_trials, "decision_trials": 0,
            "config_source": self.config_source, "task": {k: v for k, v in task.items() if k != "data_seed"},
        }

    def _hardware_flags(self, hw: dict, plan: Any, world: int, threads: int, device: str) -> list[str]:
        flags = []
        if plan is None and device == "cpu":
            flags.append(f"the hardware has {hw['cores_usable']} usable core(s) for {world} ranks × {threads} "
                         "thread(s): the run is oversubscribed and cannot be scored")
        if device == "cuda" and hw["gpu_count"] < world:
            flags.append(f"{world} ranks need {world} GPUs; the judge sees {hw['gpu_count']}")
        return flags

    def _interleave(self, record: dict, cfg: dict, flat: list[int] | None, n_trials: int,
                    baseline: Any, parallel: Any) -> tuple[list[dict], list[dict], list[str]]:
        """Timed (A, B) pairs, ABAB…, each with a fresh secret seed: (pairs, discarded, problems).

        ``baseline(seed)`` → Trial A (judge-owned code; its weights are the reference);
        ``parallel(seed, a)`` → (Trial B, Run, problems) for the student's code.
        A pair whose baseline other processes disturbed is run again (up to
        ``max_extra_trials``); a pair that does not verify stops the timing. While the median
        cannot be told from a threshold of this host's profile (:meth:`_near_cutoff`), pairs
        are added one at a time, up to ``decision_trials``.
        """
        budget = [float(cfg["quiet_wait"])]
        pairs: list[dict] = []
        discarded: list[dict] = []
        problems: list[str] = []
        attempts = 0
        extra = int(cfg["max_extra_trials"])
        wanted, decision = n_trials, int(cfg.get("decision_trials") or 0)
        checked = False   # whether the student's result has verified once
        try:
            while True:
                if len(pairs) >= wanted:
                    near = self._near_cutoff(record, pairs) if wanted - n_trials < decision else None
                    if near is None:
                        break
                    wanted += 1
                    record.update(decision_trials=wanted - n_trials, near_threshold=near)
                if attempts >= wanted + extra or len(discarded) > extra:
                    break  # the host stays busy: what is left would not be trustworthy either
                attempts += 1
                quiet = self._wait_quiet(flat, budget, cfg["quiet_cores"])
                seed = secrets.randbits(62)
                a = baseline(seed)
                disturbed = a.others_cores is not None and a.others_cores > cfg["quiet_cores"]
                if disturbed and attempts < wanted + extra:
                    if not checked:   # a busy host does not hide a wrong result: verify once anyway
                        _, _, trial_problems = parallel(seed, a)
                        if trial_problems:
                            problems += [f"trial 1: {p}" for p in trial_problems]
                            break
                        checked = True
                    discarded.append({"attempt": attempts, "baseline_s": round(a.seconds, 6),
                                      "others_cores": _r(a.others_cores), "quiet_before": _r(quiet),
                                      "reason": "other processes used the CPUs during the baseline"})
                    continue
                b, run, trial_problems = parallel(seed, a)
                checked = True
                pairs.append({"trial": len(pairs) + 1, "baseline_s": round(a.seconds, 6),
                              "parallel_s": round(b.seconds, 6), "speedup": round(a.seconds / b.seconds, 4),
                              "baseline_others_cores": _r(a.others_cores), "parallel_busy_cores": _r(b.busy_cores),
                              "disturbed": disturbed, "verified": not trial_problems,
                              "rank_seconds": b.extra["rank_seconds"]})
                if trial_problems:
                    problems += [f"trial {len(pairs)}: {p}" for p in trial_problems]
                    break  # a wrong result is not timed further
                record["comm_per_rank"] = [{"reduce_calls": r.comm.get("reduce_calls"),
                                            "reduce_bytes": r.comm.get("reduce_bytes")} for r in run.ranks]
                record["samples_per_rank"] = [r.samples for r in run.ranks]
        except Exception as exc:  # a rank raised, died or hung, or the judge's own ranks failed
            problems.append(f"the timed run could not finish: {type(exc).__name__}: {str(exc)[:2000]}")
        return pairs, discarded, problems

    def _near_cutoff(self, record: dict, pairs: list[dict]) -> dict | None:
        """The threshold of this host's profile that the trials cannot yet tell the median from: it
        lies within the middle half of the per-pair speedups, or within 3 % of their median."""
        if len(pairs) < 3 or not all(p["verified"] for p in pairs):
            return None
        cut = next((self.cutoffs[n] for n in record.get("profiles_tried") or [] if n in self.cutoffs), None)
        if not isinstance(cut, dict):
            return None
        ratios = [p["speedup"] for p in pairs]
        median = statistics.median(ratios)
        q1, q3 = _quartiles(ratios)
        scale = record["world_size"] if cut.get("metric") == "efficiency" else 1
        for name in ("target", "floor"):
            value = float(cut[name]) * scale
            if q1 <= value <= q3 or abs(median - value) <= 0.03 * value:
                return {"threshold": name, "speedup": round(value, 4)}
        return None

    def _summarize(self, record: dict, pairs: list[dict], cap: float, cfg: dict, flags: list[str]) -> None:
        ratios = [p["speedup"] for p in pairs]
        if not ratios:
            return
        sp = statistics.median(ratios)
        q1, q3 = _quartiles(ratios)
        record.update({
            "speedup": round(sp, 4), "efficiency": round(sp / record["world_size"], 4),
            "speedup_min": min(ratios), "speedup_max": max(ratios),
            "spread": round((max(ratios) - min(ratios)) / sp, 4) if sp > 0 else None,
            # the middle half's width: unlike the range, it does not grow with the number of trials
            "iqr_spread": round((q3 - q1) / sp, 4) if sp > 0 else None,
            "baseline_median_s": round(statistics.median(p["baseline_s"] for p in pairs), 6),
            "parallel_median_s": round(statistics.median(p["parallel_s"] for p in pairs), 6),
        })
        if sp > cap:
            flags.append(f"speedup {sp:.2f}x is above what {record['world_size']} ranks on this hardware allow "
                         f"({cap:g}x): a TA must look at it")
        if cfg["max_spread"] is not None and record["iqr_spread"] is not None and record["iqr_spread"] > cfg["max_spread"]:
            flags.append(f"the trials disagree too much (the middle half of the speedups spans "
                         f"{record['iqr_spread']:.2f} of the median > {cfg['max_spread']:g})")

    def _start_ranks(self, record: dict, flags: list[str], started: float, *starts: Any) -> None:
        """Run each start; when one fails, the record says why and :meth:`_finish` raises."""
        try:
            for start in starts:
                start()
        except Exception as exc:
            self._finish(record, [], [], [f"the ranks did not start: {type(exc).__name__}: {str(exc)[:2000]}"],
                         flags, None, started)

    def _finish(self, record: dict, pairs: list[dict], discarded: list[dict], problems: list[str],
                flags: list[str], single: dict | None, started: float) -> dict:
        record.update({"trials": pairs, "discarded": discarded, "single_rank": single,
                       "verified": not problems, "problems": problems[:20], "flags": flags,
                       "seconds": round(time.monotonic() - started, 3)})
        self.records.append(record)
        if problems:
            raise BenchError("the timed run failed: " + "; ".join(problems[:3]))
        return record

    def _busy_flag(self, pairs: list[dict], n_trials: int, cfg: dict, problems: list[str]) -> str | None:
        clean = [p for p in pairs if not p["disturbed"]]
        if len(clean) < n_trials and not problems:
            return (f"the host was busy: only {len(clean)} of {n_trials} trials had an undisturbed baseline "
                    f"(other processes used more than {cfg['quiet_cores']:g} cores during the rest)")
        return None

    def speedup(self, task: dict, *, mode: str = "allreduce", world_size: int | None = None,
                steps: int | None = None, warmup: int | None = None, trials: int | None = None,
                options: dict | None = None, name: str | None = None, defaults: dict | None = None) -> dict:
        """Time the student's ``mode`` on ``world_size`` ranks against the grader's baseline.

        Parameters come from assignment.toml's [benchmark] when the backend passed it, else
        from ``defaults`` (the suite's copy), else the built-in defaults; explicit arguments
        win over all. Returns the benchmark record (also kept for the report). Raises
        ``BenchError`` (a test failure) when any timed run does not verify.
        """
        task = regression.checked(task, mode)
        cfg, device, world, steps, warmup, n_trials, threads, hw, plan, flat = self._plan(
            task, defaults, world_size, steps, warmup, trials)
        base_threads = world * threads if cfg["baseline_threads"] == "total" else threads
        if device == "cuda":
            base_threads = threads
        opts = dict(options or {})
        if mode == regression.MODE:
            default_name = f"gradient descent over {task['partitions']} partitions on {world} ranks"
            baseline = "the grader's own gradient descent on all the rows at once, one process, run by the judge"
        else:
            default_name = f"{mode} data parallel, {world} ranks"
            baseline = "the grader's single-process training loop, run by the judge"
        record = self._record(name=name or default_name, kind="speedup", mode=mode,
                              task=task, hw=hw, world=world, threads=threads, base_threads=base_threads,
                              baseline=baseline, flat=flat, steps=steps, warmup=warmup, n_trials=n_trials)
        flags = self._hardware_flags(hw, plan, world, threads, device)
        started = time.monotonic()
        self._start_ranks(record, flags, started, lambda: self.pool(world, threads=threads, device=device, cores=plan))

        def parallel(seed: int, a: Trial):
            b, run = self._parallel(task, mode, seed, steps, warmup, world, opts, flat)
            return b, run, list(b.extra["problems"]) + self.check(run, reference=a.weights)

        pairs, discarded, problems = self._interleave(
            record, cfg, flat, n_trials,
            lambda seed: self._baseline(task, seed, steps, warmup, flat, base_threads), parallel)
        busy = self._busy_flag(pairs, n_trials, cfg, problems)
        if busy:
            flags.append(busy)
        single = None
        if cfg["single_rank_check"] and world > 1 and not problems and pairs and not busy:
            single = self._single_rank_check(task, mode, steps, warmup, opts, flat, world * threads,
                                             base_threads, cfg)
            problems += single.pop("problems")
            if single.get("flag"):
                flags.append(single.pop("flag"))
        cap = world if device == "cuda" else min(world, max(1, hw["cores_usable"] // max(1, threads)))
        self._summarize(record, pairs, cap, cfg, flags)
        return self._finish(record, pairs, discarded, problems, flags, single, started)

    def _single_rank_check(self, task: dict, mode: str, steps: int, warmup: int, options: dict,
                           flat: list[int] | None, threads: int, base_threads: int, cfg: dict) -> dict:
        """The student's code on 1 rank with all the threads must not be much slower than the baseline.

        The baseline never runs student code, so a slowed-down single-rank path cannot inflate the
        speedup; but it says someone tried, and a TA should know. Two interleaved pairs (grader
        baseline, student's 1-rank run, same fresh seed); the better ratio counts.
        """
        self.pool(1, threads=threads, device=task["device"], cores=[flat] if flat else None)
        problems: list[str] = []
        pairs, disturbed = [], 0
        budget = [float(cfg["quiet_wait"])]
        for _ in range(2 + int(cfg["max_extra_trials"])):
            if len(pairs) == 2:
                break
            # Other jobs on the cores slow the student's run as much as a slowed-down path would:
            # a pair counts only when the host was quiet before it and during its baseline.
            before = self._wait_quiet(flat, budget, cfg["quiet_cores"])
            seed = secrets.randbits(62)
            a = self._baseline(task, seed, steps, warmup, flat, base_threads)
            c, run = self._parallel(task, mode, seed, steps, warmup, 1, options, flat, kind="single_rank")
            problems += [f"single rank: {p}" for p in c.extra["problems"]]
            problems += [f"single rank: {p}" for p in compare_weights(run.weights(0), a.weights, rtol=cfg["rtol"],
                                                                      atol=cfg["atol"])]
            if problems:
                pairs.append((c.seconds, a.seconds))
                break
            if any(x is not None and x > cfg["quiet_cores"] for x in (before, a.others_cores)):
                disturbed += 1
                continue
            pairs.append((c.seconds, a.seconds))
        if not pairs:
            return {"seconds": None, "baseline_s": None, "ratio_to_baseline": None, "problems": problems,
                    "disturbed": disturbed,
                    "not_checked": "the host stayed busy: the submission's own 1-rank run was not compared"}
        seconds, base = min(pairs, key=lambda p: p[0] / p[1])
        ratio = seconds / base
        out: dict[str, Any] = {"seconds": round(seconds, 6), "baseline_s": round(base, 6),
                               "ratio_to_baseline": round(ratio, 4), "problems": problems, "disturbed": disturbed}
        if ratio > cfg["single_rank_slack"]:
            out["flag"] = (f"the submission's own 1-rank run is {ratio:.1f}x slower than the grader's "
                           f"single-process baseline (slack {cfg['single_rank_slack']:g}x): its "
                           "single-rank path may be slowed on purpose (the speedup itself is measured "
                           "against the grader's baseline and is not affected)")
        return out


def _device(task: dict):
    if task["device"] == "cuda":
        import torch
        return torch.device("cuda", 0)
    return None


def _synchronize(device: Any) -> None:
    if device is not None:
        import torch
        torch.cuda.synchronize(device)


def _r(x: float | None, nd: int = 3) -> float | None:
    return None if x is None or not math.isfinite(x) else round(x, nd)
