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
from functools import lru_cache

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
SHORTLIST = 3   # pairs compared exactly, per pair shown
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
    """The ``top`` most similar pairs among the submissions of ``a`` that count, most similar first.

    Every pair is first scored by the fingerprints it shares (set intersections: a course's
    thousands of pairs in a fraction of a second); copydetect's exact comparison, with the matched
    spans, runs on the likeliest ``SHORTLIST`` times ``top`` only.
    """
    from copydetect import compare_files

    membership(actor, a.course.code, STAFF)
    prints, skipped = _fingerprints(a)
    likely = sorted((p for p in itertools.combinations(prints, 2) if _shared(p)), key=_shared, reverse=True)
    scored = []
    for (s1, f1), (s2, f2) in likely[:top * SHORTLIST]:
        _, (share1, share2), (slices1, slices2) = compare_files(f1, f2)
        if max(share1, share2) > 0:
            scored.append(Pair(_side(s1, f1, share1, slices1), _side(s2, f2, share2, slices2)))
    scored.sort(key=lambda p: -p.score)
    return Report(a.module, len(prints), tuple(skipped), scored[:top])


def _fingerprints(a: Assignment) -> tuple[list[tuple[Submission, object]], list[str]]:
    """copydetect's fingerprint of each counted hand-in's code, the starter's own left out."""
    starter = starter_code(a)
    prints, skipped = [], []
    for sub in _counted(a):
        try:
            prints.append((sub, _fingerprint(code_of(stored(sub).read_bytes()), starter)))
        except Exception as exc:  # noqa: BLE001 - one unreadable hand-in must not hide every other pair
            skipped.append(f"#{sub.id} ({sub.user.display_name}): {_why(exc)}")
    return prints, skipped


@lru_cache(maxsize=4096)   # tens of milliseconds each: a page seen again, or a module with one new hand-in, is quick
def _fingerprint(code: str, starter: str | None = None):
    """``code``'s fingerprints, less those of ``starter`` (the starter notebook's code)."""
    from copydetect import CodeFingerprint

    boilerplate = list(_fingerprint(starter).hashes) if starter is not None else None
    return CodeFingerprint("notebook.py", NOISE, GUARANTEE - NOISE + 1, boilerplate=boilerplate, language="python",
                           fp=io.StringIO(code))


def _shared(pair) -> float:
    """The larger side's share of fingerprints found in the other: a cheap stand-in for copydetect's score."""
    (_, f1), (_, f2) = pair
    smaller = min(len(f1.hashes), len(f2.hashes))
    return len(f1.hashes & f2.hashes) / smaller if smaller else 0.0


def _side(sub: Submission, fp, share: float, slices) -> Side:
    from copydetect.utils import highlight_overlap

    # highlight_overlap escapes the code itself; only its own <mark> tags stay markup
    marked = highlight_overlap(fp.raw_code, slices, "<mark>", "</mark>", escape_html=True)[0] \
        if slices.size else Markup.escape(fp.raw_code)
    return Side(sub.id, sub.attempt, sub.user.display_name, sub.user_id, float(share), Markup(marked))


def _counted(a: Assignment) -> list[Submission]:
    """One submission per hand-in that counts (a group's counts once, whoever of it is asked about)."""
    return sorted((db.session.get(Submission, i) for i in grades.counted_ids(a)), key=lambda s: s.id)


def _why(exc: Exception) -> str:
    if isinstance(exc, (IntakeError, json.JSONDecodeError)):
        return str(exc)
    return getattr(exc, "message", None) or type(exc).__name__
