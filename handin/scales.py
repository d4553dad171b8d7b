"""Grade scales: an ordered list of (label, minimum percent) and which labels pass."""

from __future__ import annotations

from dataclasses import dataclass

PRESETS = ("pass-fail", "a-f", "u345", "points")

# Default cut-offs (percent). The lowest passing band sits at the module's pass threshold.
_AF_DEFAULT = {"A": 90.0, "B": 80.0, "C": 70.0, "D": 60.0, "E": 50.0, "FX": 40.0, "F": 0.0}
_U345_DEFAULT = {"5": 85.0, "4": 70.0, "3": 50.0, "U": 0.0}


@dataclass(frozen=True)
class Grade:
    scale: str
    label: str | None
    passed: bool


@dataclass(frozen=True)
class Scale:
    name: str
    bands: tuple[tuple[str, float], ...]  # highest first; the last band starts at 0
    passing: frozenset[str]
    pass_threshold: float

    def grade(self, percent: float) -> Grade:
        if self.name == "points":
            return Grade(self.name, None, percent >= self.pass_threshold)
        for label, minimum in self.bands:
            if percent + 1e-9 >= minimum:
                return Grade(self.name, label, label in self.passing)
        label = self.bands[-1][0]
        return Grade(self.name, label, label in self.passing)


def make_scale(name: str, *, pass_threshold: float = 50.0,
               cutoffs: dict[str, float] | None = None) -> Scale:
    """Build a preset scale. ``cutoffs`` overrides the minimum percent of named labels.

    For ``a-f`` and ``u345`` the lowest passing band (E, 3) defaults to the pass
    threshold; other cut-offs keep their defaults unless given.
    """
    if name not in PRESETS:
        raise ValueError(f"unknown grade scale {name!r}; choose one of {', '.join(PRESETS)}")
    if not 0 <= pass_threshold <= 100:
        raise ValueError("pass_threshold must be a percent between 0 and 100")
    cutoffs = dict(cutoffs or {})
    if name == "pass-fail":
        table, passing = {"P": pass_threshold, "F": 0.0}, {"P"}
    elif name == "a-f":
        table, passing = dict(_AF_DEFAULT, E=pass_threshold), {"A", "B", "C", "D", "E"}
        table["FX"] = max(0.5 * pass_threshold, pass_threshold - 10.0)
    elif name == "u345":
        table, passing = dict(_U345_DEFAULT, **{"3": pass_threshold}), {"3", "4", "5"}
    else:
        table, passing = {}, set()
    unknown = set(cutoffs) - set(table)
    if unknown:
        raise ValueError(f"cutoffs name labels the {name} scale does not have: {', '.join(sorted(unknown))}")
    table.update({k: float(v) for k, v in cutoffs.items()})
    bands = tuple(table.items())
    minima = [m for _, m in bands]
    if any(not 0 <= m <= 100 for m in minima):
        raise ValueError("every cut-off must be a percent between 0 and 100")
    if minima != sorted(minima, reverse=True) or len(set(minima)) != len(minima):
        raise ValueError("cut-offs must strictly decrease from the best grade to the worst: "
                         + ", ".join(f"{k}={v:g}" for k, v in bands))
    if bands and bands[-1][1] != 0:
        raise ValueError(f"the lowest grade ({bands[-1][0]}) must start at 0")
    return Scale(name, bands, frozenset(passing), float(pass_threshold))
