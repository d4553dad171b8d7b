"""Real runs in both sandboxes (local and docker): isolation, limits and the status each failure gets.

Every test runs once per backend: the same submissions must get the same
scores and statuses whether they run in bubblewrap namespaces or a container.
"""

from __future__ import annotations

import os

import pytest

from builders import TOY_TOML, make_toy_module, write_notebook
from handin.grading import GradeOptions, grade_file
from handin.spec import load_module
from sandbox import get_backend

pytestmark = pytest.mark.slow

GOOD = ["import numpy as np", "def double(x):\n    return 2 * x", "def scale(x):\n    return np.asarray(x) * 3",
        "def guess():\n    return None"]


@pytest.fixture(scope="module", params=["local", "docker"])
def backend(request, docker_image):
    return get_backend(request.param)


def grade(spec, tmp_path, cells, backend, **opts):
    nb = write_notebook(tmp_path / "sub.ipynb", cells)
    return grade_file(spec, nb, backend=backend, out_dir=tmp_path / "out", options=GradeOptions(**opts))


def scores(results):
    return {t["name"].split("::")[-1]: t["score"] for t in results["tests"]}


def test_all_protections_active_on_ci(backend):
    """CI runs as root with bubblewrap and a Docker engine: every protection must be on there."""
    prot = backend.protections()
    if os.geteuid() != 0:
        pytest.fail("the test suite must run as root (CI does) to check uid separation")
    assert all(prot.values()), prot


def test_correct_submission_gets_full_marks(toy_module, tmp_path, backend):
    r = grade(toy_module, tmp_path, GOOD, backend)
    assert r["status"] == "ok", r["status_reason"]
    assert r["max_score"] == 5  # public 1 + test_double 2 (marker) + test_scale 1 + test_guess 1
    assert r["score"] == 4.5
    assert scores(r)["test_scale"] == 0.5  # credit(0.5) on a 1-point test
    assert r["environment"]["protections"]["uid_separation"] is True


def test_the_ta_report_says_where_the_time_went(toy_module, tmp_path, backend):
    r = grade(toy_module, tmp_path, GOOD, backend)
    phases = r["environment"]["phases"]
    sandbox = {"local": ("prepare", "run", "stop"), "docker": ("lease", "create", "start", "run", "copy_out")}
    assert set(phases) == {"intake", "judge_collect", "notebook", "tests", *sandbox[backend.name]}, phases
    assert all(v >= 0 for v in phases.values())
    assert phases["judge_collect"] <= phases["notebook"] <= phases["run"]     # collection overlaps the notebook
    assert phases["notebook"] + phases["tests"] <= phases["run"] + 0.05
    assert sum(phases[k] for k in sandbox[backend.name]) <= r["execution_time"] + 0.05
    if backend.name == "docker":   # the supervisor's and its reaped children's CPU: interpreters at least
        assert 0.2 < r["environment"]["container_cpu_seconds"] < r["execution_time"] * 2 + 1
    html = next((tmp_path / "out").glob("*/ta.html")).read_text()
    assert "Where the time went" in html and "the hidden tests, after the notebook" in html


def test_syntax_error_costs_only_its_own_cell(toy_module, tmp_path, backend):
    r = grade(toy_module, tmp_path, GOOD[:2] + ["def scale(x) return x"] + GOOD[3:], backend)
    assert r["status"] == "cell_error"
    assert r["notebook"]["error"]["cell_index"] == 2
    assert r["notebook"]["error"]["ename"] == "SyntaxError"
    s = scores(r)
    assert s["test_double"] == 2 and s["test_scale"] == 0 and s["test_guess"] == 1  # guess comes after it


def _stop_module(tmp_path):
    toml = TOY_TOML.replace("pass_threshold = 50", 'pass_threshold = 50\non_cell_error = "stop"')
    return load_module(make_toy_module(tmp_path / "stop-course", toml=toml))


# A failing cell between two correct answers (double before it, scale and guess after it).
FAILING_BETWEEN = GOOD[:2] + ["def helper():\n    return missing_name\nhelper()"] + GOOD[2:]


def test_a_failing_cell_between_two_answers_costs_neither_under_continue(toy_module, tmp_path, backend):
    r = grade(toy_module, tmp_path, FAILING_BETWEEN, backend)
    assert r["status"] == "cell_error", r["status_reason"]
    assert r["status_reason"].startswith("code cell 3 raised NameError") and "other cells ran" in r["status_reason"]
    nb = r["notebook"]
    assert nb["on_cell_error"] == "continue" and nb["cells_run"] == 5 and nb["cells_failed"] == 1
    assert [(e["cell_index"], e["ename"]) for e in nb["errors"]] == [(2, "NameError")]
    assert "missing_name" in nb["errors"][0]["traceback"]
    s = scores(r)
    assert s["test_double"] == 2 and s["test_scale"] == 0.5 and s["test_guess"] == 1
    assert r["score"] == 4.5  # as much as the same notebook without the failing cell
    html = (tmp_path / "out" / "sub" / "student.html").read_text()
    assert "Code cell 3 raised" in html and "missing_name" in html


def test_a_failing_cell_between_two_answers_stops_the_rest_under_stop(tmp_path, backend):
    r = grade(_stop_module(tmp_path), tmp_path, FAILING_BETWEEN, backend)
    assert r["status"] == "cell_error"
    assert r["status_reason"].startswith("execution stopped at code cell 3: NameError")
    assert r["notebook"]["on_cell_error"] == "stop" and len(r["notebook"]["errors"]) == 1
    s = scores(r)
    assert s["test_double"] == 2 and s["test_scale"] == 0 and s["test_guess"] == 0


def test_every_failing_cell_is_recorded_and_a_timeout_still_ends_the_run(toy_module, tmp_path, backend):
    cells = ["import numpy as np", "1 / 0", "def double(x):\n    return 2 * x", "import not_a_module",
             "while True:\n    pass", "def scale(x):\n    return np.asarray(x) * 3"]
    r = grade(toy_module, tmp_path, cells, backend)
    assert r["status"] == "timeout" and "code cell 5" in r["status_reason"]
    assert [(e["cell_index"], e["ename"]) for e in r["notebook"]["errors"]] == [
        (1, "ZeroDivisionError"), (3, "ModuleNotFoundError"), (4, "NotebookTimeout")]
    assert r["notebook"]["error"]["cell_index"] == 1 and r["notebook"]["cells_failed"] == 2
    s = scores(r)
    assert s["test_double"] == 2 and s["test_scale"] == 0  # defined before the timeout / after it


def test_infinite_loop_is_interrupted_and_earlier_names_count(toy_module, tmp_path, backend):
    r = grade(toy_module, tmp_path, GOOD[:2] + ["while True:\n    pass"] + GOOD[2:], backend)
    assert r["status"] == "timeout"
    assert scores(r)["test_double"] == 2
    assert scores(r)["test_scale"] == 0


def test_loop_that_swallows_the_interrupt_is_killed_at_wall_time(toy_module, tmp_path, backend):
    cells = GOOD[:2] + ["import signal\nsignal.signal(signal.SIGALRM, signal.SIG_IGN)\nwhile True:\n    pass"]
    r = grade(toy_module, tmp_path, cells, backend, wall_seconds=12)
    assert r["status"] == "timeout"
    assert r["score"] == 0
    assert r["execution_time"] < 30


def test_memory_bomb_gets_memory_status(toy_module, tmp_path, backend):
    cells = GOOD[:2] + ["hog = []\nwhile True:\n    hog.append(bytearray(100 * 1024 * 1024))"]
    r = grade(toy_module, tmp_path, cells, backend)
    assert r["status"] == "memory", r["status_reason"]
    assert scores(r)["test_double"] == 2


def test_fork_bomb_is_contained(toy_module, tmp_path, backend):
    cells = ["import os\npids = []\ntry:\n    while True:\n        pid = os.fork()\n        if pid == 0:\n"
             "            while True:\n                try: os.fork()\n                except OSError: pass\n"
             "        pids.append(pid)\nexcept OSError as e:\n    print('fork refused:', e)"] + GOOD
    r = grade(toy_module, tmp_path, cells, backend)
    # Children that keep trying to fork eat the CPU: the run may end at its wall clock,
    # but it ends, it is recorded, and the judge still reports every test.
    assert r["status"] in ("ok", "cell_error", "crash", "timeout")
    assert r["execution_time"] < toy_module.resources.wall_time + 15
    assert len(r["tests"]) == 4


def test_student_cannot_read_hidden_tests_or_reach_network(toy_module, tmp_path, backend):
    grader = toy_module.paths.grader_dir
    probe = f"""
import os, socket
found = []
for root in [{str(grader)!r}, {str(toy_module.paths.solution_dir)!r}, '/grader', '/out']:
    try:
        found.append((root, os.listdir(root)))
    except OSError as e:
        found.append((root, type(e).__name__))
try:
    socket.create_connection(('1.1.1.1', 53), timeout=3)
    net = 'connected'
except OSError as e:
    net = type(e).__name__
print('PROBE', found, net)
def guess():
    return repr(found) + net
"""
    r = grade(toy_module, tmp_path, GOOD[:3] + [probe], backend)
    log = (tmp_path / "out" / "sub" / "student.log").read_text()
    assert "PROBE" in log
    assert "test_hidden.py" not in log and "helper.py" not in log and "solution.ipynb" not in log
    assert "connected" not in log
    assert scores(r)["test_guess"] == 1  # the probe gained nothing: guess() is not the secret


def test_fake_results_gain_nothing(toy_module, tmp_path, backend):
    cells = ["""
import json, os, signal
fake = {"score": 100, "max_score": 100, "tests": []}
print(json.dumps(fake))
for path in ['results.json', '/tmp/results.json', '/out/raw.json', '../out/raw.json']:
    try:
        open(path, 'w').write(json.dumps(fake))
    except OSError as e:
        print('write refused', path, type(e).__name__)
def double(x):
    return 0
"""]
    r = grade(toy_module, tmp_path, cells, backend)
    assert r["status"] == "ok"
    assert r["score"] == 0


def test_killing_every_process_only_ends_the_student(toy_module, tmp_path, backend):
    cells = GOOD + ["""
import os, signal
for pid in range(1, 4000):
    if pid != os.getpid():
        try: os.kill(pid, signal.SIGKILL)
        except OSError: pass
os.kill(-1, signal.SIGKILL)
"""]
    r = grade(toy_module, tmp_path, cells, backend)
    assert r["status"] == "crash"  # it can only take down its own sandbox
    assert len(r["tests"]) == 4  # the judge survived and reported every test
    assert r["score"] == 0


def test_student_exiting_mid_tests_is_a_crash(toy_module, tmp_path, backend):
    cells = ["import os\ndef double(x):\n    os._exit(3)"]
    r = grade(toy_module, tmp_path, cells, backend)
    assert r["status"] == "crash"
    assert r["score"] == 0


def test_hanging_call_fails_that_test_only_when_interruptible(toy_module, tmp_path, backend):
    cells = GOOD + ["def double(x):\n    while True: pass"]
    r = grade(toy_module, tmp_path, cells, backend)
    s = scores(r)
    assert s["test_double"] == 0 and s["test_scale"] == 0.5 and s["test_guess"] == 1
    assert r["status"] == "ok"


def test_output_is_capped(toy_module, tmp_path, backend):
    cells = ["import sys\nfor _ in range(200):\n    sys.stdout.write('x' * 100_000)"] + GOOD
    r = grade(toy_module, tmp_path, cells, backend)
    log = (tmp_path / "out" / "sub" / "student.log").read_text()
    assert len(log) < toy_module.resources.max_output + 1000
    assert "more bytes of output not kept" in log
    assert r["score"] == 4.5


def test_batch_goes_on_after_hostile_submissions(toy_module, tmp_path, backend):
    from handin.grading import grade_batch
    subs = tmp_path / "subs"
    subs.mkdir()
    write_notebook(subs / "a_bomb.ipynb", ["hog = []\nwhile True:\n    hog.append(bytearray(10**8))"])
    (subs / "b_junk.ipynb").write_text("not json")
    write_notebook(subs / "c_good.ipynb", GOOD)
    results = grade_batch(toy_module, sorted(subs.iterdir()), backend=backend, out_dir=tmp_path / "out", jobs=2)
    by = {r["submission"]["id"]: r for r in results}
    assert by["a_bomb"]["status"] == "memory"
    assert by["b_junk"]["status"] == "invalid"
    assert by["c_good"]["score"] == 4.5
    assert (tmp_path / "out" / "grades.csv").read_text().count("\n") == 4


def test_python_stays_visible_when_the_checkout_is_under_tmp(toy_module, tmp_path):
    """The sandbox's own /tmp tmpfs must not hide a venv or checkout that lives under /tmp."""
    import sys
    from handin.grading import make_request
    from handin.notebook import Notebook
    from sandbox import local

    req = make_request(toy_module, Notebook(("x = 1",), 1, "0" * 64, 1), "t", GradeOptions())
    layout = {"student_config": tmp_path / "s.json", "judge_config": tmp_path / "j.json", "out": tmp_path}
    for role in ("student", "judge"):
        argv = local._bwrap_argv(layout, req, role)
        tmpfs_at = argv.index("/tmp", argv.index("--tmpfs"))
        bind_at = max(i for i, a in enumerate(argv) if a == sys.prefix)
        assert tmpfs_at < bind_at, role


LOOPBACK_HIDDEN = '''
import socket

import pytest


@pytest.mark.points(1)
def test_student_cannot_reach_the_judges_loopback(student):
    """The judge listens on loopback (as its own rank processes do for a timed baseline)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    port = server.getsockname()[1]
    assert student.knock(port) == "refused"
'''
KNOCK = ("import socket\n"
         "def knock(port):\n"
         "    try:\n"
         "        socket.create_connection(('127.0.0.1', port), timeout=2).close()\n"
         "        return 'connected'\n"
         "    except OSError as exc:\n"
         "        return 'refused'\n")


def test_the_judges_loopback_ports_and_the_students(tmp_path, backend):
    """Local: the student and the judge each have a network namespace of their own. Docker: one
    container is one namespace, so the student can reach the judge's loopback ports (where the
    judge's own ranks of a pipeline baseline listen): a known gap, kept visible by this test."""
    spec = load_module(make_toy_module(tmp_path / "course", hidden=LOOPBACK_HIDDEN))
    r = grade(spec, tmp_path, [KNOCK], backend)
    want = 0 if backend.name == "docker" else 1
    assert scores(r)["test_student_cannot_reach_the_judges_loopback"] == want, r["tests"]
