"""Every course module end to end: `handin validate` passes, and each typical wrong submission
in tests/fixtures/<module>/ gets the status and score that tests/fixtures/<module>.expected.json
says, under the local sandbox and under docker (the same results in both).

Modules with suites of their own (m02's hostile fixtures, the timed m09 and m10) are graded
by those; every other module with an expected-results file is found here. A module with a
[benchmark] section (m01) is graded one submission at a time (two at once would disturb each
other's baselines); an entry's "speedup" lists the verdicts its timed test may get, and
"full_marks_on" names the hardware profile on which a scored speedup must earn every point.
To run one:

    .venv/bin/python -m pytest tests/test_module_fixtures.py -k "m03 and local"
"""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from handin.grading import grade_batch
from handin.results import schema
from handin.spec import load_module
from handin.validate import validate_module
from sandbox import get_backend

REPO = Path(__file__).resolve().parent.parent
FIXTURES = REPO / "tests" / "fixtures"
OWN_SUITES = {"m02-feedforward", "m09-data-parallel", "m10-model-parallel"}
MODULES = sorted(p.name.removesuffix(".expected.json") for p in FIXTURES.glob("*.expected.json")
                 if p.name.removesuffix(".expected.json") not in OWN_SUITES)
CASES = [(m, name) for m in MODULES for name in sorted(json.loads((FIXTURES / f"{m}.expected.json").read_text()))]

pytestmark = pytest.mark.slow


@pytest.fixture(scope="session")
def graded(tmp_path_factory, request):
    """Grades a module's fixture folder once per backend, on first use; results by file name."""
    done: dict[tuple[str, str], dict] = {}

    def grade(module: str, backend: str) -> dict:
        if (module, backend) not in done:
            if backend == "docker":
                request.getfixturevalue("docker_image")
            spec = load_module(REPO / "assignments" / module)
            expected = json.loads((FIXTURES / f"{module}.expected.json").read_text())
            out = tmp_path_factory.mktemp(f"{module}-{backend}")
            results = grade_batch(spec, [FIXTURES / module / n for n in expected],
                                  backend=get_backend(backend), out_dir=out, jobs=1 if spec.benchmark else 2)
            done[module, backend] = {r["submission"]["filename"]: r for r in results}
        return done[module, backend]

    return grade


@pytest.mark.parametrize("module", MODULES)
def test_the_module_validates(module, tmp_path):
    spec = load_module(REPO / "assignments" / module)
    v = validate_module(spec, backend=get_backend("local"), out_dir=tmp_path)
    failed = [f"{c.name}: {c.detail}\n" + "\n".join(c.lines) for c in v.checks if not c.ok]
    assert not failed, "\n".join(failed)


@pytest.mark.parametrize("backend", ["local", "docker"])
@pytest.mark.parametrize("module,name", CASES, ids=[f"{m}/{n}" for m, n in CASES])
def test_fixture_gets_its_score_and_status(graded, module, name, backend):
    r = graded(module, backend)[name]
    want = json.loads((FIXTURES / f"{module}.expected.json").read_text())[name]
    jsonschema.validate(r, schema())
    if want["status"] is not None:
        assert r["status"] == want["status"], r["status_reason"]
    assert want["score_min"] <= r["score"] <= want["score_max"], (r["score"], r["status_reason"],
                                                                  [(t["name"], t["status"], t["score"])
                                                                   for t in r["tests"]])
    if r["status"] != "invalid":
        assert all(r["environment"]["protections"].values())
    if "speedup" in want:
        (b,) = r["benchmarks"]
        assert b["status"] in want["speedup"], (b["status"], b.get("flags"), b.get("problems"))
        if b["status"] == "scored" and want.get("full_marks_on") == b["profile"]:
            assert r["score"] == r["max_score"], b
