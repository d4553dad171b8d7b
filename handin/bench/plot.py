"""The speedup/efficiency plot of a benchmark entry, as a base64 PNG (host side, matplotlib Agg).

Left: speedup against world size with the ideal (linear) line — for a pipeline, against
micro-batches with GPipe's ideal curve p·m/(m+p−1) — the median with its min–max range,
every trial, and the module's floor and target for the profile.
Right: the interleaved trials in order (baseline A, parallel B), so a TA sees drift
and noise at a glance.
"""

from __future__ import annotations

import base64
import io
import math
from typing import Any


def _num(x: Any) -> float | None:
    return float(x) if isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x) else None


def render_png(entry: dict, *, dpi: int = 90) -> bytes | None:
    """PNG bytes for a speedup entry, or None when it holds nothing to plot."""
    trials = [t for t in entry.get("trials") or [] if isinstance(t, dict)]
    world = entry.get("world_size")
    speedup = _num(entry.get("speedup"))
    if not trials or not isinstance(world, int) or world < 1 or speedup is None:
        return None
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(9.0, 3.6), dpi=dpi)
    FigureCanvasAgg(fig)
    ax, ax2 = fig.subplots(1, 2, gridspec_kw={"width_ratios": [1, 1.3]})

    micro = entry.get("micro_batches")
    pipeline = isinstance(micro, int) and micro >= 1 and _num(entry.get("ideal_speedup")) is not None
    if pipeline:
        # Model parallelism: the x axis is micro-batches; naive model parallelism is 1 micro-batch,
        # and GPipe's ideal over it is p·m/(m+p−1) for p stages.
        at = micro
        xs = [1, micro]
        curve = list(range(1, micro + 1))
        ax.plot(curve, [world * m / (m + world - 1) for m in curve], "--", color="#888",
                label=f"ideal GPipe, {world} stages")
        ax.plot([1], [1.0], "o", color="#555", label="baseline (naive, 1 micro-batch)")
        label = f"median {speedup:.2f}x ({speedup / _num(entry['ideal_speedup']):.0%} of ideal)"
    else:
        at = world
        xs = [1, world]
        ax.plot(xs, xs, "--", color="#888", label="ideal (linear)")
        ax.plot([1], [1.0], "o", color="#555", label="baseline (1 process)")
        label = f"median {speedup:.2f}x (eff. {speedup / world:.0%})"
    ratios = [_num(t.get("speedup")) for t in trials]
    ratios = [r for r in ratios if r is not None]
    ax.plot([at] * len(ratios), ratios, ".", color="#1f77b4", alpha=0.5, label="trials")
    lo, hi = _num(entry.get("speedup_min")), _num(entry.get("speedup_max"))
    yerr = [[speedup - lo], [hi - speedup]] if lo is not None and hi is not None else None
    ax.errorbar([at], [speedup], yerr=yerr, fmt="s", color="#d62728", capsize=4, label=label)
    th = entry.get("thresholds") if isinstance(entry.get("thresholds"), dict) else None
    if th and th.get("metric") in ("speedup", "efficiency"):
        scale = 1.0 if th["metric"] == "speedup" else world
        for key, style in (("floor", ":"), ("target", "-.")):
            v = _num(th.get(key))
            if v is not None:
                ax.axhline(v * scale, ls=style, color="#2ca02c", lw=1, label=f"{key} {v * scale:.2f}x")
    ax.set_xlabel(f"micro-batches ({world} stages)" if pipeline else "ranks")
    ax.set_ylabel("speedup over the baseline")
    ax.set_xticks(xs)
    ax.set_xlim(0.5, at + 0.5)
    top = max([_num(entry["ideal_speedup"]) if pipeline else world, speedup] + ratios + [hi or 0]) * 1.1
    ax.set_ylim(0, top)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="lower right" if pipeline else "upper left")

    idx = list(range(1, len(trials) + 1))
    ax2.plot(idx, [_num(t.get("baseline_s")) for t in trials], "o-", color="#555", label="baseline (A)")
    ax2.plot(idx, [_num(t.get("parallel_s")) for t in trials], "s-", color="#1f77b4", label=f"pipeline, {world} stages (B)" if pipeline else f"{world} ranks (B)")
    single = entry.get("single_rank") if isinstance(entry.get("single_rank"), dict) else None
    if single and _num(single.get("seconds")) is not None:
        ax2.axhline(single["seconds"], ls=":", color="#9467bd", label="student code, 1 rank")
    ax2.set_xlabel("trial (interleaved A, B)")
    ax2.set_ylabel("seconds")
    ax2.set_xticks(idx)
    ax2.set_ylim(bottom=0)
    ax2.grid(alpha=0.3)
    ax2.legend(fontsize=7)
    hw = entry.get("hardware") if isinstance(entry.get("hardware"), dict) else {}
    title = f"{entry.get('name', 'benchmark')} — {entry.get('profile', '?')}"
    if hw.get("cpu_model"):
        title += f" ({str(hw['cpu_model'])[:40]})"
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


def render_base64(entry: dict) -> str:
    png = render_png(entry)
    return base64.b64encode(png).decode("ascii") if png else ""
