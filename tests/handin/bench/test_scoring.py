"""Host side: [benchmark] in assignment.toml, thresholds → points, review flags, results.json, reports."""

from __future__ import annotations

import base64
import textwrap

import jsonschema
import pytest

from builders import REPO, TOY_TOML, make_toy_module
from handin.bench.plot import render_png
from handin.bench.scoring import apply_benchmarks, fraction
from handin.report import render_student_report, render_ta_report
from handin.results import build_results, schema
from handin.sandboxing import RunOutcome
from handin.spec import SpecError, load_module

M09 = REPO / "assignments" / "m09-data-parallel"
NODE = "test_speedup.py::test_speedup"


def _record(**over):
    rec = {
        "name": "all_reduce_gradients on 2 ranks", "test": NODE, "kind": "speedup", "mode": "allreduce",
        "profile": "cpu-2", "profiles_tried": ["cpu-2"],
        "hardware": {"cpu_model": "Test CPU", "cores_online": 2, "cores_usable": 2, "gpus": [], "device": "cpu"},
        "backend": "gloo", "world_size": 2, "threads_per_rank": 1, "baseline_threads": 1,
        "baseline": "the grader's single-process training loop, run by the judge", "steps": 12, "warmup": 3,
        "config_source": "assignment.toml", "speedup": 1.7, "efficiency": 0.85, "speedup_min": 1.6,
        "speedup_max": 1.8, "spread": 0.12, "baseline_median_s": 0.6, "parallel_median_s": 0.35,
        "trials": [{"trial": i, "baseline_s": 0.6, "parallel_s": 0.6 / s, "speedup": s, "verified": True,
                    "baseline_others_cores": 0.01, "parallel_busy_cores": 1.8, "disturbed": False}
                   for i, s in enumerate((1.6, 1.7, 1.8), 1)],
        "discarded": [], "single_rank": {"seconds": 0.62, "baseline_s": 0.6, "ratio_to_baseline": 1.03},
        "verified": True, "problems": [], "flags": [],
    }
    rec.update(over)
    return rec


def _raw_test(outcome="passed"):
    return {"nodeid": NODE, "name": "test_speedup", "marker_points": 6.0, "marker_visibility": "visible",
            "outcome": outcome, "fraction": 1.0, "message": "", "detail": ""}


def test_fraction_is_piecewise_linear_and_clamped():
    assert fraction(0.4, 0.5, 0.8) == 0.0 and fraction(0.5, 0.5, 0.8) == 0.0
    assert fraction(0.65, 0.5, 0.8) == pytest.approx(0.5)
    assert fraction(0.8, 0.5, 0.8) == 1.0 and fraction(50.0, 0.5, 0.8) == 1.0
    assert fraction(float("nan"), 0.5, 0.8) == 0.0


def test_the_m09_section_parses_and_the_suite_copy_matches():
    spec = load_module(M09)
    b = spec.benchmark
    assert b is not None and b.world_sizes == (2,) and b.baseline_threads == "per_rank"
    prof = b.profiles["cpu-2"]
    assert prof.metric == "speedup" and prof.floor < prof.target
    # The hidden suite carries a copy of the run parameters for backends that do not pass them.
    src = (REPO / "graders" / "m09-data-parallel" / "test_speedup.py").read_text()
    ns: dict = {}
    exec(src.split("SUITE_DEFAULTS = ", 1)[1].split("\n\n", 1)[0].join(["SUITE_DEFAULTS = ", ""]), ns)
    run = b.run_config()
    assert {k: run[k] for k in ns["SUITE_DEFAULTS"]} == {k: (list(v) if isinstance(v, tuple) else v)
                                                        for k, v in ns["SUITE_DEFAULTS"].items()}


@pytest.mark.parametrize("section, problem", [
    ("[benchmark.profiles.cpu-2]\nfloor = 1.2\ntarget = 1.0\n", "target must be above floor"),
    ("[benchmark.profiles.cpu2]\nfloor = 1.0\ntarget = 1.2\n", "profile 'cpu2'"),
    ("[benchmark]\nworld_sizes = [1]\n", "world sizes"),
    ("[benchmark]\nstep = 3\n", "benchmark.step: unknown key"),
    ("[benchmark]\nbaseline_threads = \"all\"\n", "benchmark.baseline_threads"),
])
def test_bad_benchmark_sections_are_reported(tmp_path, section, problem):
    toml = TOY_TOML + "\n" + section
    a = make_toy_module(tmp_path / "course", toml=textwrap.dedent(toml))
    with pytest.raises(SpecError) as err:
        load_module(a)
    assert problem in str(err.value)


def test_a_speedup_above_target_earns_full_points_and_a_message():
    spec = load_module(M09)
    tests, entries, review = apply_benchmarks(spec, [_raw_test()], [_record(speedup=1.3)])
    assert tests[0]["fraction"] == 1.0 and "speedup 1.30x on cpu-2" in tests[0]["credit_message"]
    assert entries[0]["status"] == "scored" and entries[0]["points_fraction"] == 1.0 and review is None
    prof = spec.benchmark.profiles["cpu-2"]
    middle = (prof.floor + prof.target) / 2
    tests, entries, _ = apply_benchmarks(spec, [_raw_test()], [_record(speedup=middle)])
    assert tests[0]["fraction"] == pytest.approx(0.5)


def test_flagged_unscorable_and_unverified_records_earn_nothing():
    spec = load_module(M09)
    tests, entries, review = apply_benchmarks(spec, [_raw_test()], [_record(speedup=3.1, flags=["speedup above 2x"])])
    assert tests[0]["fraction"] == 0.0 and "held for TA review" in tests[0]["credit_message"]
    assert "speedup above" not in tests[0]["credit_message"]          # the reasons go to the TA
    assert entries[0]["status"] == "flagged" and review["required"] and "speedup above 2x" in review["reasons"][0]

    tests, entries, review = apply_benchmarks(spec, [_raw_test()], [_record(profile="cpu-16", profiles_tried=["cpu-16"])])
    assert tests[0]["fraction"] == 0.0 and "not scored on this hardware" in tests[0]["credit_message"]
    assert "cpu-16" in tests[0]["credit_message"] and "cpu-2" in tests[0]["credit_message"]
    assert entries[0]["status"] == "not scored" and review["required"]

    tests, entries, _ = apply_benchmarks(spec, [_raw_test()], [_record(verified=False, problems=["ranks differ"])])
    assert tests[0]["outcome"] == "failed" and entries[0]["status"] == "failed"


def test_a_module_without_a_benchmark_section_does_not_guess(toy_module):
    tests, entries, review = apply_benchmarks(toy_module, [_raw_test()], [_record()])
    assert tests[0]["fraction"] == 0.0 and "no thresholds" in tests[0]["credit_message"]
    assert review["required"]


def test_gpu_profiles_look_up_the_model_first(tmp_path):
    toml = TOY_TOML + "\n[benchmark.profiles.gpu-8]\nfloor = 2.0\ntarget = 6.0\n" \
                      "[benchmark.profiles.gpu-8-h100]\nmetric = \"efficiency\"\nfloor = 0.5\ntarget = 0.8\n"
    spec = load_module(make_toy_module(tmp_path / "c", toml=textwrap.dedent(toml)))
    rec = _record(profile="gpu-8", profiles_tried=["gpu-8-h100", "gpu-8"], world_size=8, speedup=6.0, efficiency=0.75)
    tests, entries, _ = apply_benchmarks(spec, [_raw_test()], [rec])
    assert entries[0]["thresholds"]["profile"] == "gpu-8-h100" and tests[0]["fraction"] == pytest.approx(25 / 30)


def _results(spec, rec, test_outcome="passed"):
    raw = {"version": 1, "notebook": {"available": True, "cells_run": 3, "cells_total": 3, "error": None},
           "tests": [_raw_test(test_outcome)], "collection_errors": [], "pytest_exit_code": 0,
           "benchmarks": [rec]}
    outcome = RunOutcome(raw=raw, wall_seconds=20.0, environment={"backend": "local"}, protections={})
    return build_results(spec, submission={"id": "s1", "filename": "s1.ipynb"}, outcome=outcome)


def test_results_json_carries_benchmarks_profile_and_review():
    spec = load_module(M09)
    r = _results(spec, _record(flags=["the host was busy"]))
    jsonschema.validate(r, schema())
    assert r["environment"]["benchmark_profile"] == "cpu-2"
    assert r["review"]["required"] and "Held for TA review" in r["output"]
    t = next(t for t in r["tests"] if t["name"] == NODE)
    assert t["score"] == 0.0 and t["max_score"] == 6.0
    r = _results(spec, _record())
    jsonschema.validate(r, schema())
    assert r["review"] is None and next(t for t in r["tests"] if t["name"] == NODE)["score"] == 6.0


def test_reports_show_trials_plot_and_hardware_but_students_no_flags():
    spec = load_module(M09)
    r = _results(spec, _record(flags=["its single-rank path may be slowed on purpose"]))
    ta = render_ta_report(r)
    st = render_student_report(r)
    for html in (ta, st):
        assert "data:image/png;base64," in html and "cpu-2" in html and "Test CPU" in html
        assert "Baseline (s)" in html and "1.80x" in html
    assert "slowed on purpose" in ta and "TA review required" in ta
    assert "slowed on purpose" not in st and "held for review" in st


def test_students_do_not_see_benchmarks_of_hidden_tests():
    spec = load_module(M09)
    r = _results(spec, _record())
    for t in r["tests"]:
        t["visibility"] = "after_published"
    assert "data:image/png" not in render_student_report(r)
    assert "data:image/png" in render_ta_report(r)


def test_plot_is_a_png_and_survives_odd_entries():
    png = render_png(_record())
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    assert render_png(_record(trials=[])) is None
    assert render_png({"kind": "speedup", "speedup": "fast"}) is None
    thresholds = dict(_record(), thresholds={"metric": "efficiency", "floor": 0.5, "target": 0.8})
    assert render_png(thresholds).startswith(b"\x89PNG")
    base64.b64decode(base64.b64encode(png))
    pipeline = dict(_record(), mode="pipeline", micro_batches=8, ideal_speedup=1.7778, single_rank=None)
    assert render_png(pipeline).startswith(b"\x89PNG") and render_png(pipeline) != png


@pytest.mark.parametrize("baseline_threads,words", [
    (1, "one process with 1 thread: strong scaling"),
    (2, "one process with 2 threads, the same total threads"),
])
def test_reports_say_in_words_what_the_baseline_was(baseline_threads, words):
    spec = load_module(M09)
    r = _results(spec, _record(baseline_threads=baseline_threads))
    for html in (render_student_report(r), render_ta_report(r)):
        assert "your 2 ranks with 1 thread each against the grader&#39;s own training loop in " + words in html


def test_a_partitioned_descent_is_described_as_gradient_descent():
    spec = load_module(M09)
    r = _results(spec, _record(baseline_threads=1, mode="partitions"))
    assert ("your partition_gradient and aggregate on 2 ranks with 1 thread each against the grader&#39;s own "
            "gradient descent over all the rows at once in one process with 1 thread: strong scaling") \
        in render_student_report(r)
