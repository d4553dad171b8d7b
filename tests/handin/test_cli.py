"""The handin command, end to end on a small real module."""

from __future__ import annotations

import csv
import json
import zipfile

import jsonschema
import pytest
from click.testing import CliRunner

from builders import write_notebook
from handin.cli import main
from handin.results import schema

GOOD = ["import numpy as np", "def double(x):\n    return 2 * x", "def scale(x):\n    return np.asarray(x) * 3",
        "def guess():\n    return None"]


@pytest.fixture
def runner():
    return CliRunner()


@pytest.mark.slow
def test_grade_writes_results_reports_and_csv(runner, toy_module, tmp_path):
    subs = tmp_path / "subs"
    subs.mkdir()
    write_notebook(subs / "alice.ipynb", GOOD)
    write_notebook(subs / "bob.ipynb", GOOD[:2])
    (subs / "carol.ipynb").write_text("{broken")
    out = tmp_path / "results"
    r = runner.invoke(main, ["grade", str(toy_module.paths.assignment_dir), str(subs), "--out", str(out), "-j", "2"])
    assert r.exit_code == 0, r.output
    assert "alice.ipynb" in r.output and "invalid" in r.output
    rows = {row["submission"]: row for row in csv.DictReader((out / "grades.csv").open())}
    assert rows["alice"]["score"] == "4.5" and rows["alice"]["grade"] == "A"
    assert rows["bob"]["status"] == "ok" and float(rows["bob"]["score"]) == 3.0
    assert rows["carol"]["status"] == "invalid" and rows["carol"]["passed"] == "no"
    for sub in ("alice", "bob", "carol"):
        doc = json.loads((out / sub / "results.json").read_text())
        jsonschema.validate(doc, schema())
        assert (out / sub / "student.html").is_file() and (out / sub / "ta.html").is_file()
    student_html = (out / "bob" / "student.html").read_text()
    assert "test_scale" in student_html


@pytest.mark.slow
def test_grade_applies_late_penalty(runner, tmp_path):
    from builders import TOY_TOML, make_toy_module
    a = make_toy_module(tmp_path / "c", toml=TOY_TOML + """
[deadline]
due = 2027-01-31T23:59:00+01:00
late_penalty_per_day = 10
max_late_days = 3
""")
    nb = write_notebook(tmp_path / "late.ipynb", GOOD)
    out = tmp_path / "r"
    r = runner.invoke(main, ["grade", str(a), str(nb), "--out", str(out), "--submitted-at", "2027-02-02T10:00:00+01:00"])
    assert r.exit_code == 0, r.output
    doc = json.loads((out / "late" / "results.json").read_text())
    assert doc["late"]["days_late"] == 2 and doc["late"]["penalty_percent"] == 20
    assert doc["score"] == pytest.approx(4.5 - 0.2 * 5)


def test_bad_spec_is_one_clear_message(runner, tmp_path):
    from builders import TOY_TOML, make_toy_module
    a = make_toy_module(tmp_path, toml=TOY_TOML.replace('memory = "2GiB"', 'memory = "much"'))
    nb = write_notebook(tmp_path / "x.ipynb", GOOD)
    r = runner.invoke(main, ["grade", str(a), str(nb)])
    assert r.exit_code == 2
    assert "assignment.toml: resources.memory: cannot read 'much' as a size" in r.output
    assert "Traceback" not in r.output


def test_submitted_at_needs_a_zone(runner, toy_module, tmp_path):
    nb = write_notebook(tmp_path / "x.ipynb", GOOD)
    r = runner.invoke(main, ["grade", str(toy_module.paths.assignment_dir), str(nb), "--submitted-at", "2027-01-01T10:00"])
    assert r.exit_code != 0 and "time zone" in r.output


def test_release_ships_public_tests_only(runner, toy_module, tmp_path):
    out = tmp_path / "dist"
    r = runner.invoke(main, ["release", str(toy_module.paths.assignment_dir), "--out", str(out)])
    assert r.exit_code == 0, r.output
    bundle = out / "toy"
    files = sorted(str(p.relative_to(bundle)) for p in bundle.rglob("*") if p.is_file())
    assert files == ["README.md", "data/numbers.txt", "starter.ipynb", "tests/conftest.py", "tests/test_public.py"]
    names = zipfile.ZipFile(out / "toy.zip").namelist()
    assert not any("hidden" in n or "helper" in n or "solution" in n for n in names)
    every_byte = b"".join(p.read_bytes() for p in bundle.rglob("*") if p.is_file())
    assert b"the hidden answer 4521" not in every_byte and b"test_hidden" not in every_byte


def test_release_refuses_public_tests_that_import_hidden_code(runner, toy_module, tmp_path):
    public = toy_module.paths.grader_dir / "test_public.py"
    public.write_text("from helper import SECRET\n" + public.read_text())
    r = runner.invoke(main, ["release", str(toy_module.paths.assignment_dir), "--out", str(tmp_path / "d")])
    assert r.exit_code == 2
    assert "imports 'helper' from the hidden grader directory" in r.output
    assert not (tmp_path / "d" / "toy").exists()


def test_released_public_tests_run_with_plain_pytest(runner, toy_module, tmp_path):
    import subprocess
    import sys
    out = tmp_path / "dist"
    runner.invoke(main, ["release", str(toy_module.paths.assignment_dir), "--out", str(out)])
    bundle = out / "toy"
    starter = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"],
                             cwd=bundle, capture_output=True, text=True)
    assert starter.returncode == 1 and "1 failed" in starter.stdout
    sol = toy_module.paths.solution_dir / "solution.ipynb"
    solved = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"], cwd=bundle,
                            capture_output=True, text=True, env={"HANDIN_NOTEBOOK": str(sol), "PATH": "/usr/bin:/bin"})
    assert solved.returncode == 0, solved.stdout


@pytest.mark.parametrize("policy,passes", [("continue", True), ("stop", False)])
def test_released_public_tests_follow_the_modules_cell_error_policy(runner, tmp_path, policy, passes):
    import subprocess
    import sys
    from builders import TOY_TOML, make_toy_module
    toml = TOY_TOML.replace("pass_threshold = 50", f'pass_threshold = 50\non_cell_error = "{policy}"')
    a = make_toy_module(tmp_path / "course", toml=toml)
    runner.invoke(main, ["release", str(a), "--out", str(tmp_path / "dist")])
    bundle = tmp_path / "dist" / "toy"
    assert ("cells after it still run" in (bundle / "README.md").read_text()) is passes
    nb = write_notebook(tmp_path / "mine.ipynb", ["1 / 0", "def double(x):\n    return 2 * x"])
    run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-s", "-p", "no:cacheprovider", "tests"], cwd=bundle,
                         capture_output=True, text=True, env={"HANDIN_NOTEBOOK": str(nb), "PATH": "/usr/bin:/bin"})
    assert "code cell 1 raised ZeroDivisionError" in run.stdout
    assert (run.returncode == 0) is passes, run.stdout


@pytest.mark.slow
def test_validate_passes_a_good_module_and_fails_a_broken_one(runner, toy_module):
    r = runner.invoke(main, ["validate", str(toy_module.paths.assignment_dir)])
    # the toy's test_scale gives only half credit, so the solution cannot get full marks
    assert r.exit_code == 1
    assert "reference solution gets full marks" in r.output and "✗" in r.output
    assert "test_scale" in r.output
    assert "starter notebook does not pass: 0/5" in r.output
    assert "hidden tests are deterministic" in r.output


SPLIT_HIDDEN = '''
def test_part_a(student):
    assert student.double(1) == 2

def test_part_b(student):
    assert student.double(-3) == -6

def test_part_c(student):
    assert student.scale(2) == 6
'''


@pytest.mark.slow
def test_validate_passes_three_tests_sharing_two_points(runner, tmp_path):
    from builders import TOY_TOML, make_toy_module
    a = make_toy_module(tmp_path, toml=TOY_TOML + '\n[points]\n"test_part_*" = 2\n', hidden=SPLIT_HIDDEN)
    r = runner.invoke(main, ["validate", str(a)])
    assert "reference solution gets full marks: 3/3" in r.output, r.output  # 2 split three ways + public 1
    assert r.exit_code == 0, r.output
    out = tmp_path / "results"
    runner.invoke(main, ["grade", str(a), str(a.parent.parent / "solutions" / "toy" / "solution.ipynb"),
                         "--out", str(out)])
    doc = json.loads((out / "solution" / "results.json").read_text())
    parts = [t for t in doc["tests"] if "test_part_" in t["name"]]
    assert [t["max_score"] for t in parts] == [0.666667] * 3
    assert doc["score"] == doc["max_score"] == 3 and doc["percent"] == 100
    rows = list(csv.DictReader((out / "grades.csv").open()))
    assert rows[0]["score"] == rows[0]["max_score"] == "3.0"


@pytest.mark.slow
def test_validate_catches_a_flaky_test(runner, tmp_path):
    from builders import TOY_HIDDEN, make_toy_module
    flaky = TOY_HIDDEN.replace('credit(0.5, "half credit")', "") + (
        "\nimport os\ndef test_flaky(student):\n    assert os.urandom(1)[0] % 2 == 0 or os.urandom(1)[0] % 2 == 0"
        "\n\ndef test_flaky2(student):\n    assert os.urandom(1)[0] < 128\n\ndef test_flaky3(student):\n"
        "    assert os.urandom(1)[0] < 128\n")
    a = make_toy_module(tmp_path, hidden=flaky)
    results = []
    for _ in range(3):  # flaky tests are flaky: the check must fire in at least one of three validations
        r = runner.invoke(main, ["validate", str(a)])
        results.append(r.output)
        if "different results on a second run" in r.output:
            break
    assert any("different results on a second run" in o for o in results), results[-1]


def test_release_refuses_public_data_copied_into_graders_with_one_message(runner, toy_module, tmp_path):
    # Issue 13, 3: a copy of the public data in graders/ made _check_bundle crash (FileNotFoundError).
    data = toy_module.paths.assignment_dir / "data" / "numbers.txt"
    copy = toy_module.paths.grader_dir / "data" / "numbers.txt"
    copy.parent.mkdir()
    copy.write_bytes(data.read_bytes())
    r = runner.invoke(main, ["release", str(toy_module.paths.assignment_dir), "--out", str(tmp_path / "d")])
    assert r.exit_code == 2, r.output
    assert r.exception is None or isinstance(r.exception, SystemExit)
    assert "Traceback" not in r.output
    assert f"{copy} would be shipped as data/numbers.txt" in r.output
    assert "public_data" in r.output  # says how a hidden test reads public data instead
    assert not (tmp_path / "d" / "toy").exists() and not (tmp_path / "d" / "toy.zip").exists()


@pytest.mark.parametrize("breakage,message", [
    ("no starter", "starter.ipynb does not exist"),
    ("no data", "data does not exist"),
    ("no public test", "test_public.py does not exist"),
    ("bad starter", "the starter is not a notebook"),
])
def test_release_problems_are_one_message_and_exit_2(runner, toy_module, tmp_path, breakage, message):
    import shutil
    a = toy_module.paths.assignment_dir
    if breakage == "no starter":
        (a / "starter.ipynb").unlink()
    elif breakage == "no data":
        shutil.rmtree(a / "data")
    elif breakage == "no public test":
        (toy_module.paths.grader_dir / "test_public.py").unlink()
    else:
        (a / "starter.ipynb").write_text("{not json")
    r = runner.invoke(main, ["release", str(a), "--out", str(tmp_path / "d")])
    assert r.exit_code == 2, r.output
    assert isinstance(r.exception, SystemExit) and "Traceback" not in r.output
    assert message in r.output.replace("\n", ""), r.output
    assert not (tmp_path / "d" / "toy").exists()


def test_grade_refuses_points_that_name_no_test(runner, tmp_path):
    # Issue 13, 4: a [points] typo graded with the test silently dropped from the maximum.
    from builders import TOY_TOML, make_toy_module
    from handin.spec import load_module
    from handin.validate import unmatched_points, unmatched_points_message
    a = make_toy_module(tmp_path / "c", toml=TOY_TOML + '\n[points]\n"test_dubble" = 2\n')
    nb = write_notebook(tmp_path / "x.ipynb", GOOD)
    r = runner.invoke(main, ["grade", str(a), str(nb), "--out", str(tmp_path / "r")])
    assert r.exit_code == 2, r.output
    assert unmatched_points_message(unmatched_points(load_module(a))) in r.output.replace("\n", "")
    assert "no test matches 'test_dubble'" in r.output
    assert not (tmp_path / "r").exists()


UNIMPORTABLE = '''
from solution_helpers import answer   # lives in solutions/: the judge cannot import it

def test_secret(student):
    assert student.double(answer) == 2 * answer
'''


@pytest.mark.slow
def test_validate_reports_a_test_file_that_does_not_import(runner, tmp_path):
    # Issue 13, 2: blamed a public test and claimed points and determinism were fine.
    from builders import TOY_TOML, make_toy_module
    a = make_toy_module(tmp_path, toml=TOY_TOML + '\n[points]\n"test_secret" = 2\n', hidden=UNIMPORTABLE)
    out = tmp_path / "v"
    r = runner.invoke(main, ["validate", str(a), "--sandbox", "local", "--out", str(out)])
    assert r.exit_code == 1, r.output
    assert "✗ hidden tests can be collected" in r.output
    assert "test_hidden.py: ModuleNotFoundError: No module named 'solution_helpers'" in r.output
    assert f"full judge log: {out / 'solution' / 'judge.log'}" in r.output
    assert (out / "solution" / "judge.log").is_file()
    assert "solution_helpers" in (out / "solution" / "judge.log").read_text()
    for claim in ("every points entry names a hidden test", "hidden tests are deterministic",
                  "starter notebook does not pass", "reference solution gets full marks"):
        assert f"✓ {claim}" not in r.output, claim
    assert "test_public.py" not in r.output  # no public test is blamed for it


RAISES_UNDER_THE_SOLUTION = '''
import numpy as np

def test_reads_data(student):
    np.loadtxt("/nowhere/train.txt")

def test_double(student):
    assert student.double(21) == 42
'''


@pytest.mark.slow
def test_validate_says_why_a_check_failed_and_where_the_judge_log_is(runner, tmp_path):
    # Issue 13, 1: only "not full: <test id>", with no reason and no log.
    from builders import make_toy_module
    a = make_toy_module(tmp_path, hidden=RAISES_UNDER_THE_SOLUTION)
    r = runner.invoke(main, ["validate", str(a), "--sandbox", "local"])
    assert r.exit_code == 1, r.output
    assert "✗ reference solution gets full marks: 2/3" in r.output
    line = next(ln for ln in r.output.splitlines() if "test_hidden.py::test_reads_data" in ln)
    assert "FileNotFoundError" in line and "/nowhere/train.txt" in line
    log = next(ln for ln in r.output.splitlines() if "full judge log:" in ln).split("full judge log: ")[1]
    log = log.split(",")[0].strip()
    assert log.endswith("/solution/judge.log") and "FileNotFoundError" in open(log).read()
    assert "✓ release bundle holds nothing hidden" in r.output


@pytest.mark.slow
def test_validate_runs_the_release_bundle_check(runner, toy_module):
    copy = toy_module.paths.grader_dir / "data" / "numbers.txt"
    copy.parent.mkdir()
    copy.write_bytes((toy_module.paths.assignment_dir / "data" / "numbers.txt").read_bytes())
    r = runner.invoke(main, ["validate", str(toy_module.paths.assignment_dir), "--sandbox", "local"])
    assert r.exit_code == 1
    assert "✗ release bundle holds nothing hidden" in r.output
    assert "would be shipped as data/numbers.txt" in r.output


PUBLIC_DATA_HIDDEN = '''
def test_reads_public_data(student, public_data):
    numbers = (public_data / "data" / "numbers.txt").read_text().split()
    assert student.double(int(numbers[-1])) == 6
'''


@pytest.mark.slow
@pytest.mark.parametrize("sandbox_name", ["local", "docker"])
def test_hidden_tests_read_public_data_through_the_fixture(runner, tmp_path, sandbox_name, request):
    from builders import make_toy_module
    if sandbox_name == "docker":
        request.getfixturevalue("docker_image")   # the real engine and image (built when missing)
    a = make_toy_module(tmp_path, hidden=PUBLIC_DATA_HIDDEN)
    sol = a.parent.parent / "solutions" / "toy" / "solution.ipynb"
    out = tmp_path / "r"
    r = runner.invoke(main, ["grade", str(a), str(sol), "--out", str(out), "--sandbox", sandbox_name])
    assert r.exit_code == 0, r.output
    doc = json.loads((out / "solution" / "results.json").read_text())
    assert doc["environment"]["backend"] == sandbox_name
    t = next(t for t in doc["tests"] if t["name"].endswith("test_reads_public_data"))
    assert t["status"] == "passed", t


@pytest.mark.slow
def test_public_data_without_bubblewrap(tmp_path):
    """Without namespaces the judge sees host paths: public_data is a folder of links to the data."""
    from builders import make_toy_module
    from handin.grading import grade_file
    from handin.spec import load_module
    from sandbox.local import LocalBackend
    spec = load_module(make_toy_module(tmp_path, hidden=PUBLIC_DATA_HIDDEN))
    backend = LocalBackend()
    backend._protections = dict(backend.protections(), network_isolated=False, filesystem_hidden=False,
                                uid_separation=False, pid_isolated=False)
    doc = grade_file(spec, spec.solution, backend=backend, out_dir=None)
    t = next(t for t in doc["tests"] if t["name"].endswith("test_reads_public_data"))
    assert t["status"] == "passed", t
