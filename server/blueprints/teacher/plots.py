"""The grade distribution of a module as a PNG (matplotlib's Agg canvas: no display, thread-safe)."""

from __future__ import annotations

import io

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

BINS = list(range(0, 101, 10))


def distribution_png(percents: list[float], *, title: str, cutoffs: list[tuple[str, float]]) -> bytes:
    """A histogram of ``percents`` in 10-point bins, with the scale's cut-offs as labelled lines."""
    fig = Figure(figsize=(6, 3), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    if percents:
        ax.hist([min(max(p, 0.0), 100.0) for p in percents], bins=BINS, color="#2557a7", edgecolor="white")
    else:
        ax.text(50, 0.5, "no grades yet", ha="center", va="center", color="#5b6472")
        ax.set_ylim(0, 1)
    top = ax.get_ylim()[1]
    for label, minimum in cutoffs:
        if 0 < minimum < 100:
            ax.axvline(minimum, color="#9a6700", linewidth=1, linestyle="--")
            ax.text(minimum, top, f" {label}", color="#9a6700", va="top", fontsize=8)
    ax.set_xlim(0, 100)
    ax.set_xlabel("percent of the points")
    ax.set_ylabel("students")
    ax.yaxis.get_major_locator().set_params(integer=True)
    n = len(percents)
    ax.set_title(f"{title}: {n} student{'s' if n != 1 else ''}", fontsize=10)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()
