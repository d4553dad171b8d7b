"""Human-friendly sizes and durations, as written in assignment.toml."""

from __future__ import annotations

import re

_SIZE_UNITS = {
    "": 1, "b": 1,
    "k": 1000, "kb": 1000, "m": 1000**2, "mb": 1000**2, "g": 1000**3, "gb": 1000**3, "t": 1000**4, "tb": 1000**4,
    "kib": 1024, "mib": 1024**2, "gib": 1024**3, "tib": 1024**4,
}
_TIME_UNITS = {"ms": 0.001, "s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600, "d": 86400}


def parse_size(value: int | float | str) -> int:
    """``"3GiB"`` → 3221225472. Plain numbers are bytes."""
    if isinstance(value, bool):
        raise ValueError("expected a size such as 512MiB or 2GiB")
    if isinstance(value, (int, float)):
        if value < 0:
            raise ValueError("a size cannot be negative")
        return int(value)
    m = re.fullmatch(r"\s*([0-9]+(?:\.[0-9]+)?)\s*([A-Za-z]*)\s*", str(value))
    if not m or m.group(2).lower() not in _SIZE_UNITS:
        raise ValueError(f"cannot read {value!r} as a size; write e.g. 512MiB, 2GiB or 1GB")
    return int(float(m.group(1)) * _SIZE_UNITS[m.group(2).lower()])


def parse_duration(value: int | float | str) -> float:
    """``"1m30s"`` → 90.0. Plain numbers are seconds."""
    if isinstance(value, bool):
        raise ValueError("expected a duration such as 90s or 2m")
    if isinstance(value, (int, float)):
        if value < 0:
            raise ValueError("a duration cannot be negative")
        return float(value)
    text = str(value).strip().lower().replace(" ", "")
    parts = re.findall(r"([0-9]+(?:\.[0-9]+)?)(ms|sec|min|s|m|h|d)", text)
    if not parts or "".join(n + u for n, u in parts) != text:
        raise ValueError(f"cannot read {value!r} as a duration; write e.g. 90s, 2m or 1h30m")
    return float(sum(float(n) * _TIME_UNITS[u] for n, u in parts))


def format_size(n: int) -> str:
    for unit, factor in (("GiB", 1024**3), ("MiB", 1024**2), ("KiB", 1024)):
        if n >= factor:
            return f"{n / factor:.1f} {unit}"
    return f"{n} B"
