"""The m09 module end to end: every demo submission, cheats included, graded in the real sandbox.

Graded one at a time (timings are the point here, and two gradings at once on a small
host would disturb each other's baselines — which the harness detects and flags).
"""

from __future__ import annotations

import json

import jsonschema
import pytest

from builders import REPO
from handin.grading import grade_batch
from handin.results import schema
from handin.spec import load_module
from sandbox import LocalBackend

FIXTURES = REPO / "tests" / "fixtures" / "m09-data-parallel"
EXPECTED = json.loads((REPO / "tests" / "fixtures" / "m09-data-parallel.expected.json").read_text())
SPEEDUP = "test_speedup.py::test_speedup"

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    spec = load_module(REPO / "assignments" / "m09-data-parallel")
    files = [FIXTURES / name for name in EXPECTED]
    out = tmp_path_factory.mktemp("m09-results")
    results = grade_batch(spec, files, backend=LocalBackend(), out_dir=out, jobs=1)
    return {r["submission"]["filename"]: r for r in results}, out


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_fixture_gets_its_score_and_speedup_verdict(graded, name):
    results, out = graded
    r, want = results[name], EXPECTED[name]
    jsonschema.validate(r, schema())
    assert r["status"] == want["status"], r["status_reason"]
    assert r["max_score"] == 20
    assert want["score_min"] <= r["score"] <= want["score_max"], (r["score"], r["output"])
    bench = [b for b in r["benchmarks"] if b.get("test") == SPEEDUP]
    assert len(bench) == 1
    b = bench[0]
    assert b["status"] in want["speedup"], (b["status"], b.get("flags"), b.get("problems"))
    speedup_test = next(t for t in r["tests"] if t["name"] == SPEEDUP)
    if b["status"] != "scored":
        assert speedup_test["score"] == 0
    if want.get("full_marks_on") == b["profile"] and b["status"] == "scored":
        assert r["score"] == 20, b
    if b["status"] == "flagged":
        assert r["review"]["required"]
    html = (out / r["submission"]["id"] / "ta.html").read_text()
    assert "Trial" in html or b["status"] in ("failed", "flagged")


def test_cheats_never_earn_speedup_points(graded):
    results, _ = graded
    for name, r in results.items():
        if name in ("correct.ipynb", "per_parameter.ipynb"):
            continue
        t = next(t for t in r["tests"] if t["name"] == SPEEDUP)
        assert t["score"] == 0, name


def test_every_timed_trial_of_the_solution_verified_and_ran_interleaved(graded):
    r = graded[0]["correct.ipynb"]
    b = next(b for b in r["benchmarks"] if b.get("test") == SPEEDUP)
    if b["status"] == "flagged" and any("busy" in f for f in b["flags"]):
        pytest.skip("the host was busy during this run")
    assert b["verified"] and b["trials"] and all(t["verified"] for t in b["trials"])
    assert [t["trial"] for t in b["trials"]] == list(range(1, len(b["trials"]) + 1))
    assert b["baseline_threads"] == b["world_size"] * b["threads_per_rank"]
    assert b["samples_per_rank"] == [12 * 8192 // 2] * 2
    assert r["environment"]["benchmark_profile"] == b["profile"]
