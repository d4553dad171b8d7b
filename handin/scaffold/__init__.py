"""``handin new``: a new module's three folders, ready for ``handin validate`` straight away.

The files are templates in this package (``*.tmpl``), filled with the module's name, title
and course; the data files are generated (small, seeded) so nothing is downloaded.
"""

from __future__ import annotations

import re
import runpy
from dataclasses import dataclass
from pathlib import Path

import numpy as np

TEMPLATES = Path(__file__).parent
NAME = re.compile(r"^[a-z0-9][a-z0-9._-]*$")


class ScaffoldError(Exception):
    """The module cannot be created here; the message says why."""


@dataclass(frozen=True)
class Scaffold:
    module: str
    files: tuple[Path, ...]


def new_module(root: Path, module: str, *, title: str, course: str) -> Scaffold:
    """Write assignments/, solutions/ and graders/ for ``module`` under the course repository ``root``."""
    if not NAME.match(module):
        raise ScaffoldError(f"{module!r}: a module name is lower-case letters, digits, '.', '_' and '-', "
                            "e.g. m05-cnn")
    folders = [root / part / module for part in ("assignments", "solutions", "graders")]
    taken = [str(f) for f in folders if f.exists()]
    if taken:
        raise ScaffoldError(f"{', '.join(taken)} already exist(s); choose another name or remove it")
    a, s, g = folders
    for f in (a / "data", s, g / "data"):
        f.mkdir(parents=True)
    values = {"module": module, "title": title.replace('"', "'"), "course": course.replace('"', "'"),
              "starter": _starter_name(module)}
    written = []
    for template, target in (("assignment.toml.tmpl", a / "assignment.toml"),
                             ("build_notebooks.py.tmpl", g / "build_notebooks.py"),
                             ("test_public.py.tmpl", g / "test_public.py"),
                             ("test_hidden.py.tmpl", g / "test_hidden.py")):
        target.write_text(_fill((TEMPLATES / template).read_text(), values))
        written.append(target)
    written += _write_data(a / "data" / "train.npz", g / "data" / "heldout.npz")
    runpy.run_path(str(g / "build_notebooks.py"), run_name="__main__")
    written += [a / values["starter"], s / "solution.ipynb"]
    return Scaffold(module, tuple(written))


def _starter_name(module: str) -> str:
    stem = re.sub(r"^m\d+[-_.]", "", module).replace("-", "_").replace(".", "_") or "assignment"
    return f"{stem}.ipynb"


def _fill(text: str, values: dict[str, str]) -> str:
    for key, value in values.items():
        text = text.replace("{{" + key + "}}", value)
    return text


def _write_data(train: Path, heldout: Path) -> list[Path]:
    """A linear problem y = X w + noise: 200 training rows for students, 100 held out for the judge."""
    rng = np.random.default_rng(20270101)
    w = np.array([1.5, -2.0, 0.5])
    X = rng.normal(size=(300, 3))
    y = X @ w + 0.7 + 0.1 * rng.normal(size=300)
    np.savez(train, X=X[:200], y=y[:200])
    np.savez(heldout, X=X[200:], y=y[200:])
    return [train, heldout]
