"""The timed modules end to end: every demo submission, cheats included, graded in the real sandbox.

m09-data-parallel (2 ranks against the grader's single process) and m10-model-parallel
(a 2-stage pipeline against the grader's naive model parallelism). Each module's fixtures
are graded one at a time (timings are the point here, and two gradings at once on a small
host would disturb each other's baselines — which the harness detects and flags).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import jsonschema
import pytest

from builders import REPO
from handin.grading import grade_batch
from handin.results import schema
from handin.spec import load_module
from sandbox import LocalBackend, get_backend

pytestmark = pytest.mark.slow


@dataclass(frozen=True)
class Timed:
    module: str
    speedup_test: str
    max_score: int

    @property
    def fixtures(self):
        return REPO / "tests" / "fixtures" / self.module

    @property
    def expected(self) -> dict:
        return json.loads((REPO / "tests" / "fixtures" / f"{self.module}.expected.json").read_text())


M09 = Timed("m09-data-parallel", "test_speedup.py::test_speedup", 20)
M10 = Timed("m10-model-parallel", "test_speedup.py::test_pipeline_speedup", 20)
MODULES = {m.module: m for m in (M09, M10)}
CASES = [(m.module, name) for m in MODULES.values() for name in sorted(m.expected)]


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    cache: dict[str, tuple[dict, object]] = {}

    def get(module: str):
        if module not in cache:
            m = MODULES[module]
            spec = load_module(REPO / "assignments" / module)
            out = tmp_path_factory.mktemp(f"{module}-results")
            results = grade_batch(spec, [m.fixtures / name for name in m.expected], backend=LocalBackend(),
                                  out_dir=out, jobs=1)
            cache[module] = ({r["submission"]["filename"]: r for r in results}, out)
        return cache[module]
    return get


def _bench(m: Timed, r: dict) -> dict:
    bench = [b for b in r["benchmarks"] if b.get("test") == m.speedup_test]
    assert len(bench) == 1
    return bench[0]


@pytest.mark.parametrize("module,name", CASES)
def test_fixture_gets_its_score_and_speedup_verdict(graded, module, name):
    m = MODULES[module]
    results, out = graded(module)
    r, want = results[name], m.expected[name]
    jsonschema.validate(r, schema())
    assert r["status"] == want["status"], r["status_reason"]
    assert r["max_score"] == m.max_score
    assert want["score_min"] <= r["score"] <= want["score_max"], (r["score"], r["output"])
    b = _bench(m, r)
    assert b["status"] in want["speedup"], (b["status"], b.get("flags"), b.get("problems"))
    speedup_test = next(t for t in r["tests"] if t["name"] == m.speedup_test)
    if b["status"] != "scored":
        assert speedup_test["score"] == 0
    if want.get("full_marks_on") == b["profile"] and b["status"] == "scored":
        assert r["score"] == m.max_score, b
    if b["status"] == "flagged":
        assert r["review"]["required"]
        if want.get("honest"):   # an honest pipeline is held only because something else kept the host busy
            assert all("busy" in f for f in b["flags"]), b["flags"]
    html = (out / r["submission"]["id"] / "ta.html").read_text()
    assert "Trial" in html or b["status"] in ("failed", "flagged")


@pytest.mark.parametrize("module", sorted(MODULES))
def test_cheats_never_earn_speedup_points(graded, module):
    m = MODULES[module]
    results, _ = graded(module)
    for name, r in results.items():
        if m.expected[name].get("honest"):
            continue
        t = next(t for t in r["tests"] if t["name"] == m.speedup_test)
        assert t["score"] == 0, name


def _solution_bench(graded, m: Timed) -> tuple[dict, dict]:
    r = graded(m.module)[0]["correct.ipynb"]
    b = _bench(m, r)
    if b["status"] == "flagged" and any("busy" in f for f in b["flags"]):
        pytest.skip("the host was busy during this run")
    assert b["verified"] and b["trials"] and all(t["verified"] for t in b["trials"])
    assert [t["trial"] for t in b["trials"]] == list(range(1, len(b["trials"]) + 1))
    assert r["environment"]["benchmark_profile"] == b["profile"]
    return r, b


def test_m09_solution_trials_verified_against_a_one_rank_baseline(graded):
    _, b = _solution_bench(graded, M09)
    assert b["baseline_threads"] == b["threads_per_rank"]     # strong scaling: one process, one rank's threads
    assert b["samples_per_rank"] == [12 * 8192 // 2] * 2


def test_m10_solution_trials_verified_against_naive_model_parallelism(graded):
    _, b = _solution_bench(graded, M10)
    assert b["mode"] == "pipeline" and b["micro_batches"] == 8
    assert b["ideal_speedup"] == pytest.approx(2 * 8 / 9, abs=1e-3)
    assert "naive model parallelism" in b["baseline"]
    assert b["baseline_threads"] == b["threads_per_rank"]      # one thread per stage on both sides
    assert b["samples_per_rank"] == [8 * 2048] * 2             # every stage sees every row of every step


@pytest.mark.parametrize("module", sorted(MODULES))
def test_answers_taken_from_the_platform_score_only_their_own_work_under_docker(module, docker_image, tmp_path):
    """The cheat that takes whatever the platform's package holds (graded under local above) gets
    the same under docker: the student's side there sees the same allowlist."""
    m = MODULES[module]
    want = m.expected["platform_answers.ipynb"]
    spec = load_module(REPO / "assignments" / module)
    (r,) = grade_batch(spec, [m.fixtures / "platform_answers.ipynb"], backend=get_backend("docker"),
                       out_dir=tmp_path, jobs=1)
    assert r["status"] == want["status"], r["status_reason"]
    assert want["score_min"] <= r["score"] <= want["score_max"], (r["score"], r["output"])
    assert _bench(m, r)["status"] in want["speedup"]
