"""Host side: benchmark records from the judge → points, TA review flags, results.json entries.

The judge says what it measured (median speedup over interleaved trials, whether every
timed run verified, what looked wrong); the host turns that into points with the
thresholds of assignment.toml for the hardware profile the judge detected:

* verification failed            → the test failed in the judge; 0 points;
* flagged (speedup above N, busy host, oversubscribed, a slowed single-rank path, …)
                                  → 0 points, "held for TA review", listed under ``review``;
* no thresholds for the profile  → 0 points, "not scored on this hardware", listed under
                                    ``review`` so a TA can re-grade on matching hardware;
* otherwise                      → points rise linearly from ``floor`` (none) to ``target`` (full).

Nothing the judge sends can give more than the test's points: the fraction is clamped.
"""

from __future__ import annotations

import math
from typing import Any

from ..spec import BenchmarkProfile, ModuleSpec

_ENTRY_KEYS = ("name", "test", "kind", "mode", "profile", "hardware", "backend", "world_size", "threads_per_rank",
               "baseline_threads", "baseline", "cores", "steps", "warmup", "trials_wanted", "config_source",
               "task", "speedup", "efficiency", "speedup_min", "speedup_max", "spread", "baseline_median_s",
               "parallel_median_s", "trials", "discarded", "single_rank", "verified", "problems", "flags",
               "comm_per_rank", "samples_per_rank", "seconds", "profiles_tried", "micro_batches", "ideal_speedup",
               "decision_trials", "near_threshold", "iqr_spread")


def _num(x: Any) -> float | None:
    return float(x) if isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x) else None


def fraction(value: float, floor: float, target: float) -> float:
    """Piecewise linear: 0 at or below ``floor``, 1 at or above ``target``."""
    if not math.isfinite(value) or value <= floor:
        return 0.0
    if value >= target:
        return 1.0
    return (value - floor) / (target - floor)


def find_profile(spec: ModuleSpec, record: dict) -> tuple[str | None, BenchmarkProfile | None]:
    if spec.benchmark is None:
        return None, None
    tried = record.get("profiles_tried")
    names = [n for n in tried if isinstance(n, str)] if isinstance(tried, list) else []
    if isinstance(record.get("profile"), str) and record["profile"] not in names:
        names.append(record["profile"])
    for name in names:
        if name in spec.benchmark.profiles:
            return name, spec.benchmark.profiles[name]
    return None, None


def apply_benchmarks(spec: ModuleSpec, raw_tests: list[dict], records: Any) -> tuple[list[dict], list[dict], dict | None]:
    """(raw tests with benchmark fractions applied, results.json benchmark entries, review or None)."""
    records = [r for r in records if isinstance(r, dict)] if isinstance(records, list) else []
    tests = [dict(t) for t in raw_tests]
    by_id = {t.get("nodeid"): t for t in tests}
    reasons: list[str] = []
    entries: list[dict] = []

    # Which record scores a test: the profile's world size, else the largest world size timed.
    scoring: dict[str, dict] = {}
    for rec in records:
        test = rec.get("test")
        if not isinstance(test, str) or rec.get("kind") != "speedup":
            continue
        _, prof = find_profile(spec, rec)
        want = prof.world_size if prof is not None else None
        current = scoring.get(test)
        ws = rec.get("world_size") if isinstance(rec.get("world_size"), int) else 0
        if want is not None:
            if ws == want:
                scoring[test] = rec
        elif current is None or ws > (current.get("world_size") or 0):
            scoring[test] = rec

    for rec in records:
        entry = {k: rec[k] for k in _ENTRY_KEYS if k in rec}
        entry["flags"] = [str(f)[:1000] for f in rec.get("flags", []) if isinstance(f, str)][:20]
        entry["problems"] = [str(p)[:1000] for p in rec.get("problems", []) if isinstance(p, str)][:20]
        test = rec.get("test") if isinstance(rec.get("test"), str) else None
        t = by_id.get(test)
        scores = test is not None and scoring.get(test) is rec
        name, prof = find_profile(spec, rec)
        value_key = prof.metric if prof is not None else "speedup"
        value = _num(rec.get(value_key))
        entry.update({"status": "recorded", "points_fraction": None, "scored": False})
        if prof is not None:
            entry["thresholds"] = {"profile": name, "metric": prof.metric, "floor": prof.floor, "target": prof.target}
        if spec.benchmark is not None and rec.get("config_source") != "assignment.toml":
            entry["note"] = ("ran with the hidden suite's own parameters: this sandbox backend did not pass the "
                             "[benchmark] section of assignment.toml to the judge")
        if not scores:
            entries.append(entry)
            continue
        where = f"{rec.get('name', 'benchmark')}"
        if rec.get("verified") is not True:
            entry["status"] = "failed"
            if t is not None and t.get("outcome") == "passed":  # the suite must not pass what did not verify
                t.update(outcome="failed", message="the timed run did not verify against the reference")
        elif entry["flags"]:
            entry["status"] = "flagged"
            reasons += [f"{where}: {f}" for f in entry["flags"]]
            if t is not None and t.get("outcome") == "passed":
                t["fraction"] = 0.0
                # The reasons go to the TA (review, benchmarks); the student sees that it is held.
                t["credit_message"] = ("held for TA review: this measurement earns no points until a TA "
                                       "has looked at it")
        elif prof is None or value is None:
            entry["status"] = "not scored"
            have = ", ".join(sorted(spec.benchmark.profiles)) if spec.benchmark else "none"
            why = (f"not scored on this hardware: assignment.toml has no thresholds for profile "
                   f"{rec.get('profile')!s} (it has: {have or 'none'})")
            reasons.append(f"{where}: {why}; re-grade on matching hardware")
            if t is not None and t.get("outcome") == "passed":
                t["fraction"] = 0.0
                t["credit_message"] = why
        else:
            f = fraction(value, prof.floor, prof.target)
            entry.update(status="scored", scored=True, points_fraction=round(f, 6))
            if t is not None and t.get("outcome") == "passed":
                prior = t.get("fraction", 1.0)
                prior = float(prior) if isinstance(prior, (int, float)) and 0 <= prior <= 1 else 1.0
                t["fraction"] = min(prior, f)
                spread = _num(rec.get("spread"))
                t["credit_message"] = (
                    f"{prof.metric} {value:.2f}{'x' if prof.metric == 'speedup' else ''} on {name} "
                    f"(median of {len(rec.get('trials') or [])} interleaved trials"
                    + (f", spread {100 * spread:.0f}%" if spread is not None else "")
                    + f"): full points from {prof.target:g}, none at or below {prof.floor:g}")
        entries.append(entry)
    review = {"required": True, "reasons": reasons[:50]} if reasons else None
    return tests, entries, review
