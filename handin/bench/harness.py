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

import math
import secrets
import statistics
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..spec import BenchmarkSection
from . import hardware, tasks

# The [benchmark] section of assignment.toml without its profiles: one source of the defaults.
RUN_DEFAULTS: dict[str, Any] = BenchmarkSection().run_config()


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


def _int(value: Any, where: str) -> int:
    if type(value) is not int:
        raise BenchError(f"{where} is not an int")
    return value


class Bench:
    """Session-wide state of the harness in the judge; the ``bench`` fixture hands it out."""

    def __init__(self, channel: Any, config: dict | None = None):
        self.channel = channel
        self.config = dict(RUN_DEFAULTS)
        self.config_source = "suite defaults"
        if isinstance(config, dict) and config:
            section = BenchmarkSection.model_validate({k: v for k, v in config.items() if k in RUN_DEFAULTS})
            self.config.update(section.run_config())
            self.config_source = "assignment.toml"
        self.records: list[dict] = []
        self.current_test: str | None = None
        self._hw: dict[str, dict] = {}
        self.pool_info: dict | None = None

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
                seconds=float(rep.get("seconds") or 0.0) if isinstance(rep.get("seconds"), (int, float)) else 0.0))
        return out

    # ------------------------------------------------------------ untimed runs

    def run(self, task: dict, *, world_size: int = 2, mode: str = "allreduce", steps: int = 5,
            seed: int | None = None, threads: int = 1, bucket_cap_mb: float | None = None,
            per_rank_init: bool = False, calls: bool = False, options: dict | None = None) -> Run:
        """Train ``task`` on ``world_size`` ranks with the student's code (untimed)."""
        task = tasks.make_task(task)
        seed = secrets.randbits(62) if seed is None else seed
        self.pool(world_size, threads=threads, device=task["device"])
        opts = dict(options or {})
        opts.update(per_rank_init=per_rank_init, calls=calls)
        if bucket_cap_mb is not None:
            opts["bucket_cap_mb"] = float(bucket_cap_mb)
        replies = self._request("bench_run", task=task, mode=mode, seed=seed, steps=steps, options=opts)
        return Run(task, mode, seed, steps, world_size,
                   self._rank_results(replies, world_size, want_weights=True))

    def reference(self, task: dict, seed: int, steps: int) -> dict[str, np.ndarray]:
        """The grader's single-process training on the full global batches, in the judge."""
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
        problems += sample_problems(run)
        if communication and run.world_size > 1:
            problems += communication_problems(run)
        return problems

    # ------------------------------------------------------------ timed trials

    def _baseline(self, task: dict, seed: int, steps: int, warmup: int, cores: list[int] | None,
                  threads: int) -> Trial:
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

    def _parallel(self, task: dict, mode: str, seed: int, steps: int, warmup: int, world: int,
                  options: dict, cores: list[int] | None, kind: str = "parallel") -> tuple[Trial, Run]:
        self._request("bench_ready", task=task, mode=mode, steps=steps, warmup=warmup,
                      warmup_seed=secrets.randbits(62), options=options)
        with hardware.CpuMeter(cores) as meter:
            t0 = time.perf_counter()
            replies = self._request("bench_go", seed=seed)
            t1 = time.perf_counter()
        results = self._request("bench_result")
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
        trial = Trial(kind, t1 - t0, seed, run.weights(0), None, meter.busy_cores,
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

    def speedup(self, task: dict, *, mode: str = "allreduce", world_size: int | None = None,
                steps: int | None = None, warmup: int | None = None, trials: int | None = None,
                options: dict | None = None, name: str | None = None, defaults: dict | None = None) -> dict:
        """Time the student's ``mode`` on ``world_size`` ranks against the grader's baseline.

        Parameters come from assignment.toml's [benchmark] when the backend passed it, else
        from ``defaults`` (the suite's copy), else the built-in defaults; explicit arguments
        win over all. Returns the benchmark record (also kept for the report). Raises
        ``BenchError`` (a test failure) when any timed run does not verify.
        """
        cfg = dict(self.config)
        if self.config_source != "assignment.toml" and defaults:
            given = {k: v for k, v in defaults.items() if k in RUN_DEFAULTS}
            checked = BenchmarkSection.model_validate(given).run_config()
            cfg.update({k: checked[k] for k in given})
        task = tasks.make_task(task)
        device = task["device"]
        world = int(world_size or max(cfg["world_sizes"]))
        steps = int(steps or cfg["steps"])
        warmup = int(cfg["warmup"] if warmup is None else warmup)
        n_trials = int(trials or cfg["trials"])
        threads = int(cfg["threads_per_rank"])
        hw = self.hardware(device)
        plan = self.plan_cores(world, threads, device)
        flat = [c for group in plan for c in group] if plan else None
        base_threads = world * threads if cfg["baseline_threads"] == "total" else threads
        if device == "cuda":
            base_threads = threads
        opts = dict(options or {})
        flags: list[str] = []
        problems: list[str] = []
        record: dict[str, Any] = {
            "name": name or f"{mode} data parallel, {world} ranks",
            "test": self.current_test, "kind": "speedup", "mode": mode,
            "profile": hardware.profile(hw), "profiles_tried": hardware.profiles(hw),
            "hardware": {k: hw[k] for k in ("cpu_model", "cores_online", "cores_usable", "gpus", "device")},
            "backend": "nccl" if device == "cuda" else "gloo",
            "world_size": world, "threads_per_rank": threads, "baseline_threads": base_threads,
            "baseline": "the grader's single-process training loop, run by the judge",
            "cores": flat, "steps": steps, "warmup": warmup, "trials_wanted": n_trials,
            "config_source": self.config_source, "task": {k: v for k, v in task.items() if k != "data_seed"},
        }
        if plan is None and device == "cpu":
            flags.append(f"the hardware has {hw['cores_usable']} usable core(s) for {world} ranks × {threads} "
                         "thread(s): the run is oversubscribed and cannot be scored")
        if device == "cuda" and hw["gpu_count"] < world:
            flags.append(f"{world} ranks need {world} GPUs; the judge sees {hw['gpu_count']}")

        self.pool(world, threads=threads, device=device, cores=plan)
        budget = [float(cfg["quiet_wait"])]
        pairs: list[dict] = []
        discarded: list[dict] = []
        started = time.monotonic()
        attempts = 0
        while len(pairs) < n_trials and attempts < n_trials + int(cfg["max_extra_trials"]):
            if len(discarded) > int(cfg["max_extra_trials"]):
                break  # the host stays busy: what is left would not be trustworthy either
            attempts += 1
            quiet = self._wait_quiet(flat, budget, cfg["quiet_cores"])
            seed = secrets.randbits(62)
            a = self._baseline(task, seed, steps, warmup, flat, base_threads)
            disturbed = a.others_cores is not None and a.others_cores > cfg["quiet_cores"]
            if disturbed and attempts < n_trials + int(cfg["max_extra_trials"]):
                discarded.append({"attempt": attempts, "baseline_s": round(a.seconds, 6),
                                  "others_cores": _r(a.others_cores), "quiet_before": _r(quiet),
                                  "reason": "other processes used the CPUs during the baseline"})
                continue
            b, run = self._parallel(task, mode, seed, steps, warmup, world, opts, flat)
            trial_problems = list(b.extra["problems"])
            trial_problems += self.check(run, reference=a.weights)
            pairs.append({"trial": len(pairs) + 1, "baseline_s": round(a.seconds, 6),
                          "parallel_s": round(b.seconds, 6), "speedup": round(a.seconds / b.seconds, 4),
                          "baseline_others_cores": _r(a.others_cores), "parallel_busy_cores": _r(b.busy_cores),
                          "disturbed": disturbed, "verified": not trial_problems,
                          "rank_seconds": b.extra["rank_seconds"]})
            if trial_problems:
                problems += [f"trial {len(pairs)}: {p}" for p in trial_problems]
                break  # a wrong result is not timed further
            comm_summary = [r.comm for r in run.ranks]
            samples = [r.samples for r in run.ranks]
            record["comm_per_rank"] = [{"reduce_calls": c.get("reduce_calls"), "reduce_bytes": c.get("reduce_bytes")}
                                       for c in comm_summary]
            record["samples_per_rank"] = samples

        clean = [p for p in pairs if not p["disturbed"]]
        busy = len(clean) < n_trials
        if busy and not problems:
            flags.append(f"the host was busy: only {len(clean)} of {n_trials} trials had an undisturbed baseline "
                         f"(other processes used more than {cfg['quiet_cores']:g} cores during the rest)")

        single = None
        if cfg["single_rank_check"] and world > 1 and not problems and pairs and not busy:
            single = self._single_rank_check(task, mode, steps, warmup, opts, flat, world * threads,
                                             base_threads, cfg)
            problems += single.pop("problems")
            if single.get("flag"):
                flags.append(single.pop("flag"))

        ratios = [p["speedup"] for p in pairs]
        if ratios:
            sp = statistics.median(ratios)
            record.update({
                "speedup": round(sp, 4), "efficiency": round(sp / world, 4),
                "speedup_min": min(ratios), "speedup_max": max(ratios),
                "spread": round((max(ratios) - min(ratios)) / sp, 4) if sp > 0 else None,
                "baseline_median_s": round(statistics.median(p["baseline_s"] for p in pairs), 6),
                "parallel_median_s": round(statistics.median(p["parallel_s"] for p in pairs), 6),
            })
            cap = world if device == "cuda" else min(world, max(1, hw["cores_usable"] // max(1, threads)))
            if sp > cap:
                flags.append(f"speedup {sp:.2f}x is above what {world} ranks on this hardware allow "
                             f"({cap}x): a TA must look at it")
            if cfg["max_spread"] is not None and record["spread"] is not None and record["spread"] > cfg["max_spread"]:
                flags.append(f"the trials disagree too much (spread {record['spread']:.2f} > {cfg['max_spread']:g})")
        record.update({"trials": pairs, "discarded": discarded, "single_rank": single,
                       "verified": not problems, "problems": problems[:20], "flags": flags,
                       "seconds": round(time.monotonic() - started, 3)})
        self.records.append(record)
        if problems:
            raise BenchError("the timed run did not verify: " + "; ".join(problems[:3]))
        return record

    def _single_rank_check(self, task: dict, mode: str, steps: int, warmup: int, options: dict,
                           flat: list[int] | None, threads: int, base_threads: int, cfg: dict) -> dict:
        """The student's code on 1 rank with all the threads must not be much slower than the baseline.

        The baseline never runs student code, so a slowed-down single-rank path cannot inflate the
        speedup; but it says someone tried, and a TA should know. Two interleaved pairs (grader
        baseline, student's 1-rank run, same fresh seed); the better ratio counts.
        """
        self.pool(1, threads=threads, device=task["device"], cores=[flat] if flat else None)
        problems: list[str] = []
        pairs = []
        for _ in range(2):
            seed = secrets.randbits(62)
            a = self._baseline(task, seed, steps, warmup, flat, base_threads)
            c, run = self._parallel(task, mode, seed, steps, warmup, 1, options, flat, kind="single_rank")
            problems += [f"single rank: {p}" for p in c.extra["problems"]]
            problems += [f"single rank: {p}" for p in compare_weights(run.weights(0), a.weights, rtol=cfg["rtol"],
                                                                      atol=cfg["atol"])]
            pairs.append((c.seconds, a.seconds))
            if problems:
                break
        seconds, base = min(pairs, key=lambda p: p[0] / p[1])
        ratio = seconds / base
        out: dict[str, Any] = {"seconds": round(seconds, 6), "baseline_s": round(base, 6),
                               "ratio_to_baseline": round(ratio, 4), "problems": problems}
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
