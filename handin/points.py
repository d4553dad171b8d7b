"""Exact points: splits, partial credit and late penalties add up without rounding drift.

Points are computed as :class:`fractions.Fraction` from the spec's numbers and the
judge's credit fractions, and rounded only when written out (``results.json``, the CSV,
the reports). Two points split over three tests are 2/3 each; a full pass adds up to
exactly 2, so its score equals ``max_score``.
"""

from __future__ import annotations

import math
from fractions import Fraction

DECIMALS = 6
_SIMPLE_DENOMINATOR = 1000           # 1/3, 2/7, 5/12 … of a point
_FLOAT_NOISE = Fraction(1, 10**12)   # how far float arithmetic may have drifted from one


def exact(value: int | float | Fraction) -> Fraction:
    """A number from a spec or the judge as an exact fraction: the decimal it is written as
    (``0.1`` → 1/10, ``0.9999999`` → 9999999/10⁷), or a simple fraction that float arithmetic
    only approximated (``2 / 3`` → 2/3)."""
    if isinstance(value, (int, Fraction)):
        return Fraction(value)
    if not math.isfinite(value):
        raise ValueError(f"not a finite number: {value!r}")
    decimal = Fraction(repr(float(value)))
    simple = decimal.limit_denominator(_SIMPLE_DENOMINATOR)
    return simple if abs(simple - decimal) < _FLOAT_NOISE else decimal


def shown(value: Fraction, cap: Fraction | None = None, decimals: int = DECIMALS) -> float:
    """``value`` rounded (to 6 decimals) for output. When ``value`` is below ``cap`` it is shown
    below ``cap`` too, so a score equals its max_score exactly when, and only when, it is full."""
    q = round(value, decimals)
    if cap is not None and value < cap:
        q = max(Fraction(0), min(q, round(cap, decimals) - Fraction(1, 10**decimals)))
    return float(q)


def text(value: float) -> str:
    """A score for a sentence: ``2``, ``0.666667``, ``1.999999`` (never rounded up to a whole)."""
    return f"{value:.{DECIMALS}f}".rstrip("0").rstrip(".")
