"""Similar hand-ins for TAs: the counted submissions of a module compared pairwise with copydetect.

Only code cells are compared, and the starter notebook's own code is boilerplate: what every
student was given matches in every pair and must not make two hand-ins look alike. copydetect
(winnowed k-gram fingerprints over Python tokens, names and literals normalised away) gives each
side the share of its tokens found in the other; a pair ranks by the larger share.
"""

from __future__ import annotations

import io
import itertools
import json
from dataclasses import dataclass

from markupsafe import Markup

from handin.notebook import IntakeError, parse_notebook

from ..extensions import db
from ..models import Assignment, Submission, User
from . import catalog, grades
from .accounts import membership
from .notebooks import stored
from .submissions import STAFF

NOISE = 25        # copydetect's defaults: no match shorter than 25 tokens counts,
GUARANTEE = 30    # every match of 30 tokens or more is found
TOP = 20
_LIMIT = 50 * 1024 * 1024   # intake already bounded the stored files; this only keeps parse_notebook quiet


@dataclass(frozen=True)
class Side:
    submission_id: int
    attempt: int
    student: str
    user_id: int
    share: float                  # of this hand-in's code found in the other
    code: Markup                  # the code cells, matched spans in <mark>


@dataclass(frozen=True)
class Pair:
    left: Side
    right: Side

    @property
    def score(self) -> float:
        return max(self.left.share, self.right.share)


@dataclass(frozen=True)
class Report:
    module: str
    compared: int                 # hand-ins compared
    skipped: tuple[str, ...]      # hand-ins that could not be read, and why
    pairs: list[Pair]


def code_of(data: bytes) -> str:
    """The code cells of a notebook, one after another."""
    cells = parse_notebook(data, max_bytes=_LIMIT, max_cells=100_000).code_cells
    return "\n\n".join(c.rstrip() for c in cells if c.strip()) + "\n"


def starter_code(a: Assignment) -> str:
    spec = catalog.spec_for(a)
    path = spec.paths.assignment_dir / spec.assignment.starter
    try:
        return code_of(path.read_bytes())
    except (OSError, IntakeError):
        return ""


def most_similar(a: Assignment, *, actor: User, top: int = TOP) -> Report:
    """The ``top`` most similar pairs among the submissions of ``a`` that count, most similar first."""
    from copydetect import CodeFingerprint, compare_files
    from copydetect.utils import highlight_overlap

    membership(actor, a.course.code, STAFF)
    win = GUARANTEE - NOISE + 1

    def fingerprint(code: str, boilerplate=None) -> CodeFingerprint:
        return CodeFingerprint("notebook.py", NOISE, win, boilerplate=boilerplate, language="python",
                               fp=io.StringIO(code))

    boilerplate = list(fingerprint(starter_code(a)).hashes)
    prints, skipped = [], []
    for sub in _counted(a):
        try:
            prints.append((sub, fingerprint(code_of(stored(sub).read_bytes()), boilerplate)))
        except Exception as exc:  # noqa: BLE001 - one unreadable hand-in must not hide every other pair
            skipped.append(f"#{sub.id} ({sub.user.display_name}): {_why(exc)}")
    scored = []
    for (s1, f1), (s2, f2) in itertools.combinations(prints, 2):
        _, (share1, share2), slices = compare_files(f1, f2)
        if max(share1, share2) > 0:
            scored.append((max(share1, share2), s1, f1, s2, f2, share1, share2, slices))
    scored.sort(key=lambda t: -t[0])

    def side(sub: Submission, fp, share: float, slices) -> Side:
        # highlight_overlap escapes the code itself; only its own <mark> tags stay markup
        marked = highlight_overlap(fp.raw_code, slices, "<mark>", "</mark>", escape_html=True)[0] \
            if slices.size else Markup.escape(fp.raw_code)
        return Side(sub.id, sub.attempt, sub.user.display_name, sub.user_id, float(share), Markup(marked))

    pairs = [Pair(side(s1, f1, share1, slices[0]), side(s2, f2, share2, slices[1]))
             for _, s1, f1, s2, f2, share1, share2, slices in scored[:top]]
    return Report(a.module, len(prints), tuple(skipped), pairs)


def _counted(a: Assignment) -> list[Submission]:
    """One submission per hand-in that counts (a group's counts once, whoever of it is asked about)."""
    return sorted((db.session.get(Submission, i) for i in grades.counted_ids(a)), key=lambda s: s.id)


def _why(exc: Exception) -> str:
    if isinstance(exc, (IntakeError, json.JSONDecodeError)):
        return str(exc)
    return getattr(exc, "message", None) or type(exc).__name__
