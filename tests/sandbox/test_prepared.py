"""Prepared interpreters (sandbox.zygote) in the local sandbox: forked past their imports, and
still one fresh, unprivileged, isolated process per run and role.

The security tests in test_backends.py run under them too (their backend is shared by the
module, so every run after the first is forked); these check what forking adds to watch: that
nothing of one run reaches the next, that the forked process holds nothing of the host, and
that a dead zygote costs nothing but its start.
"""

from __future__ import annotations

import re

import pytest

from builders import make_toy_module, write_notebook
from handin.grading import GradeOptions, grade_file
from handin.spec import load_module
from sandbox import get_backend

pytestmark = pytest.mark.slow

GOOD = ["import numpy as np", "def double(x):\n    return 2 * x", "def scale(x):\n    return np.asarray(x) * 3",
        "def guess():\n    return None"]

# A judge that leaves a mark in its own interpreter and reports what it finds of an earlier one.
HIDDEN = '''
import os
import numpy as np
import numpy.random  # so that the judge's zygote has imported it, generator state and all
import pytest

def test_double(student):
    assert student.double(21) == 42

def test_marks(student):
    found = [getattr(np, "JUDGE_MARK", None), os.environ.get("JUDGE_MARK"), os.path.exists("/tmp/judge-mark")]
    np.JUDGE_MARK = "left by an earlier judge"
    os.environ["JUDGE_MARK"] = "1"
    open("/tmp/judge-mark", "w").write("x")
    assert False, "JUDGE " + repr(found) + " RAND " + str(np.random.randint(1 << 30))
'''

MARK = """
import os, sys, numpy as np
found = [getattr(np, 'STUDENT_MARK', None), os.environ.get('STUDENT_MARK'), os.path.exists('/tmp/student-mark'),
         os.path.exists('/home/student/student-mark'), os.path.exists('/dev/shm/student-mark')]
print('FOUND', found)
np.STUDENT_MARK = 'left by an earlier student'
os.environ['STUDENT_MARK'] = '1'
for path in ('/tmp/student-mark', '/home/student/student-mark', '/dev/shm/student-mark'):
    try:
        open(path, 'w').write('x')
    except OSError:
        pass
def double(x):
    return 2 * x
"""

PROBE = r"""
import os
status = dict(l.split(':', 1) for l in open('/proc/self/status') if ':' in l)
caps = {k: status[k].strip() for k in ('CapInh', 'CapPrm', 'CapEff', 'CapBnd', 'CapAmb')}
fds = {int(f): os.path.realpath('/proc/self/fd/' + f) for f in os.listdir('/proc/self/fd')}
cmdlines = []
for pid in os.listdir('/proc'):
    if pid.isdigit():
        try:
            cmdlines.append(open(f'/proc/{pid}/cmdline', 'rb').read().replace(b'\0', b' ').decode())
        except OSError:
            pass
print('PROBE', {'caps': caps, 'uid': status['Uid'].split(), 'nnp': status['NoNewPrivs'].strip(),
                'fds': fds, 'cmdlines': cmdlines, 'ppid': os.getppid()})
def double(x):
    return 2 * x
"""

# A notebook that writes a module in its home and imports it (``python -m``'s first sys.path entry).
WRITES_A_MODULE = ["open('mine.py', 'w').write('def double(x):\\n    return 2 * x\\n')", "from mine import double"]


@pytest.fixture(scope="module")
def backend():
    b = get_backend("local")
    yield b
    b.close()


@pytest.fixture
def module(tmp_path):
    return load_module(make_toy_module(tmp_path / "course", hidden=HIDDEN))


def grade(spec, tmp_path, cells, backend, name="sub"):
    nb = write_notebook(tmp_path / f"{name}.ipynb", cells)
    r = grade_file(spec, nb, backend=backend, out_dir=tmp_path / "out", options=GradeOptions())
    return r, (tmp_path / "out" / name / "student.log").read_text()


def judge_says(results) -> str:
    (t,) = [t for t in results["tests"] if t["name"].endswith("test_marks")]
    return t["output"]


def test_untimed_runs_are_forked_from_prepared_interpreters(module, tmp_path, backend):
    r, _ = grade(module, tmp_path, GOOD, backend)
    assert r["status"] == "ok", r["status_reason"]
    assert r["environment"]["interpreters"] == "prepared"  # CI runs as root with bubblewrap
    assert all(r["environment"]["protections"].values())


def test_nothing_of_one_run_reaches_the_next(module, tmp_path, backend):
    seen = []
    for i in range(3):
        r, log = grade(module, tmp_path, [MARK], backend, name=f"run{i}")
        assert r["environment"]["interpreters"] == "prepared"
        seen.append((re.search(r"FOUND (.*)", log).group(1), judge_says(r)))
    for student, judge in seen:
        assert student == "[None, None, False, False, False]", student
        assert "JUDGE [None, None, False]" in judge, judge
    rands = {re.search(r"RAND (\d+)", judge).group(1) for _, judge in seen}
    assert len(rands) == 3  # every judge has generator states of its own, as a fresh interpreter


def test_the_forked_process_holds_nothing_of_the_host(module, tmp_path, backend):
    r, log = grade(module, tmp_path, [PROBE], backend)
    assert r["environment"]["interpreters"] == "prepared"
    probe = eval(re.search(r"PROBE (.*)", log).group(1))  # the test's own probe, printed as a literal
    assert set(probe["caps"].values()) == {"0000000000000000"}, probe["caps"]
    assert len(set(probe["uid"])) == 1 and probe["uid"][0] != "0" and probe["nnp"] == "1"
    # 0-3, and what the process opened itself: IPython's history, listdir's own descriptor
    assert {0, 1, 2, 3} <= set(probe["fds"]) and not [
        p for fd, p in probe["fds"].items() if fd > 3 and not p.startswith(("/home/student/", "/proc/"))], probe["fds"]
    # its sandbox's init (bwrap), the placeholder, its parent and itself: never the judge or the host's
    others = [c for c in probe["cmdlines"] if "bwrap" not in c.split(" ")[0]]
    assert len(probe["cmdlines"]) <= 4 and probe["ppid"] > 1 and not [c for c in others if "judge" in c or "pytest" in c], others
    assert r["score"] == 2  # test_double passed; the probe gained nothing else


def test_a_module_the_notebook_writes_imports_as_in_a_fresh_interpreter(module, tmp_path, backend):
    cells = WRITES_A_MODULE
    for b, name in ((backend, "forked"), (get_backend("local", prepared=False), "fresh")):
        r, log = grade(module, tmp_path, cells, b, name=name)
        assert r["score"] == 2, log


def test_killing_its_parent_is_refused_as_with_a_fresh_interpreter(module, tmp_path, backend):
    cells = ["def double(x):\n    return 2 * x", "import os, signal\nos.kill(os.getppid(), signal.SIGKILL)"]
    for b, name in ((backend, "forked"), (get_backend("local", prepared=False), "fresh")):
        r, log = grade(module, tmp_path, cells, b, name=name)
        assert r["status"] == "cell_error" and r["score"] == 2 and "PermissionError" in log, (name, log)


def test_a_dead_zygote_is_replaced_and_the_run_still_graded(module, tmp_path, backend):
    grade(module, tmp_path, GOOD, backend, name="first")
    for z in list(backend.zygotes._zygotes.values()):
        z.proc.kill()
        z.proc.wait()
    r, _ = grade(module, tmp_path, GOOD, backend, name="second")
    assert r["status"] == "ok" and r["score"] == 2
    assert r["environment"]["interpreters"] == "prepared"


def test_fresh_interpreters_when_asked_and_the_same_scores(module, tmp_path, backend):
    fresh = get_backend("local", prepared=False)
    a, _ = grade(module, tmp_path, GOOD, backend, name="forked")
    b, _ = grade(module, tmp_path, GOOD, fresh, name="fresh")
    assert (a["environment"]["interpreters"], b["environment"]["interpreters"]) == ("prepared", "fresh")
    assert [(t["name"], t["score"]) for t in a["tests"]] == [(t["name"], t["score"]) for t in b["tests"]]


def test_the_students_interpreter_never_holds_what_only_the_hidden_tests_import(tmp_path, backend):
    """A student can list sys.modules: the starter's imports are public, the graders' are not."""
    from handin.preload import module_imports
    hidden = HIDDEN.replace("import numpy as np", "import numpy as np\nimport scipy.linalg")
    spec = load_module(make_toy_module(tmp_path / "course", hidden=hidden))
    write_notebook(spec.starter, ["import json\ndef double(x):\n    raise NotImplementedError"])
    student, judge = module_imports(spec.starter, spec.paths.grader_dir)
    assert "scipy.linalg" in judge and "scipy.linalg" not in student
    assert "json" in student and "helper" not in judge  # a grader's own helper is never preloaded
    cells = ["import sys\nprint('LOADED', sorted(m for m in sys.modules if m.split('.')[0] in ('scipy', 'json')))",
             "def double(x):\n    return 2 * x"]
    r, log = grade(spec, tmp_path, cells, backend)
    assert r["environment"]["interpreters"] == "prepared"
    assert "'json'" in log and "scipy" not in log, log


# ---------------------------------------------------------------- docker: prepared containers


@pytest.fixture(scope="module")
def docker_backend(docker_image):
    b = get_backend("docker")
    b.prepare_ahead = 1  # as a web worker keeps it
    yield b
    b.close()


def _prepared_containers(backend):
    from sandbox.docker import LABEL, OWNER_LABEL, owner_id
    return [c for c in backend.client.containers.list(all=True, filters={"label": f"{LABEL}=prepared"})
            if c.labels.get(OWNER_LABEL) == owner_id()]


def _wait_for_prepared(backend, n=1, timeout=60.0):
    import time
    deadline = time.monotonic() + timeout
    while sum(map(len, backend.prepared._ready.values())) < n and time.monotonic() < deadline:
        time.sleep(0.1)  # in the pool once its container has started
    return _prepared_containers(backend)


def test_a_prepared_container_serves_one_run_and_nothing_of_it_reaches_the_next(module, tmp_path, docker_backend):
    first, _ = grade(module, tmp_path, [MARK], docker_backend, name="cold")
    assert first["environment"]["interpreters"] == "forked"  # none was ready: created for this run
    seen, used = [], set()
    for i in range(2):
        (waiting,) = _wait_for_prepared(docker_backend)  # refilled in the background after each run
        assert waiting.id not in used
        used.add(waiting.id)
        r, log = grade(module, tmp_path, [MARK], docker_backend, name=f"prepared{i}")
        assert r["environment"]["interpreters"] == "prepared" and "ready" in r["environment"]["phases"]
        assert r["score"] == 2 and all(r["environment"]["protections"].values())
        seen.append((re.search(r"FOUND (.*)", log).group(1), judge_says(r)))
        assert waiting.id not in {c.id for c in _prepared_containers(docker_backend)}  # removed after its run
    for student, judge in [(re.search(r"FOUND (.*)", _log(tmp_path, "cold")).group(1), judge_says(first)), *seen]:
        assert student == "[None, None, False, False, False]", student
        assert "JUDGE [None, None, False]" in judge, judge
    assert len({re.search(r"RAND (\d+)", j).group(1) for _, j in seen}) == 2


def test_the_prepared_processes_hold_no_privilege(module, tmp_path, docker_backend):
    grade(module, tmp_path, GOOD, docker_backend, name="cold")  # a kind of run is prepared once seen
    _wait_for_prepared(docker_backend)
    r, log = grade(module, tmp_path, [PROBE], docker_backend)
    assert r["environment"]["interpreters"] == "prepared"
    probe = eval(re.search(r"PROBE (.*)", log).group(1))
    caps = {k: int(v, 16) for k, v in probe["caps"].items()}
    # none held; the bounding set is the container's (SETUID, SETGID, KILL), inert under no_new_privs
    assert caps["CapPrm"] == caps["CapEff"] == caps["CapAmb"] == caps["CapInh"] == 0, probe["caps"]
    assert caps["CapBnd"] & ~0xE0 == 0, probe["caps"]
    assert probe["uid"][0] != "0" and probe["nnp"] == "1"
    assert not [c for c in probe["cmdlines"] if "handin.judge" in c], probe["cmdlines"]
    _wait_for_prepared(docker_backend)
    cells = WRITES_A_MODULE
    r, log = grade(module, tmp_path, cells, docker_backend, name="writes_a_module")
    assert r["environment"]["interpreters"] == "prepared" and r["score"] == 2, log


def test_closing_the_backend_removes_its_prepared_containers(module, tmp_path, docker_image):
    b = get_backend("docker")
    b.prepare_ahead = 1
    grade(module, tmp_path, GOOD, b)
    _wait_for_prepared(b)
    (mine,) = [p.container.id for ready in b.prepared._ready.values() for p in ready]
    assert mine in {c.id for c in _prepared_containers(b)}
    b.close()
    assert mine not in {c.id for c in _prepared_containers(b)}
    assert b.prepared._ready == {}


def _log(tmp_path, name):
    return (tmp_path / "out" / name / "student.log").read_text()
