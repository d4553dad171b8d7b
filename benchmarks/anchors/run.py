"""Side-by-side benchmark: the real otter-grader and nbgrader against handin, one assignment,
the same student code in each tool's format, correct, wrong, crashing, slow and hostile.

    .venv/bin/python benchmarks/anchors/run.py [--quick] [--repeats 3] [--wait-quiet 30]

Run it with handin's own virtual environment (it uses the docker SDK to read the containers'
CPU); otter-grader 7 and nbgrader 0.9 go into a virtual environment of their own,
/tmp/handin-anchors-venv (created with ``python3 -m venv`` + pip on first use, never handin's
.venv). Everything else happens in /tmp/handin-anchors-work (wiped at the start):

1. the sources (build_sources.py) -> ``otter assign`` + ``otter generate`` (autograder.zip);
   an nbgrader course (``nbgrader generate_assignment``); ``handin import otter|nbgrader``.
2. every submission of submissions.py written into otter's student notebook, nbgrader's
   released notebook and handin's two starters.
3. phase "single": every submission graded once per tool, one grading per call, the tools'
   order rotated per submission (otter run; nbgrader autograde --student; handin grade
   --sandbox local; handin grade --sandbox docker); ``--repeats`` more rounds of the
   non-hostile ones give the spread. Per call: wall time, CPU seconds (the rusage of the
   tool's process and the children it waited for, from os.wait4; for docker plus the
   container's cgroup cpuacct.usage, polled every 0.2 s while it runs), score, whether hidden
   test text reached anything the tool wrote or the side channel, processes left behind.
4. phase "batch": every submission at -j 1 and -j 2 per tool (otter: a pool of j ``otter
   run`` calls; nbgrader: j course copies, each one ``nbgrader autograde`` over its half;
   handin: one ``handin grade -j j``): total time, graded count (did the batch survive).

otter and nbgrader run under ``prlimit --as=4GiB`` (they have no memory limit of their own;
each process of the tool gets at most 4 GiB of address space), every call under a 120 s wall
clock (the process group is killed). Results: benchmarks/results/anchors.json (raw) and
anchors.md (tables).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
sys.path.insert(0, str(HERE))
import submissions as subs_mod  # noqa: E402

VENV = Path(os.environ.get("ANCHORS_VENV", "/tmp/handin-anchors-venv"))
WORK = Path(os.environ.get("ANCHORS_WORK", "/tmp/handin-anchors-work"))
HANDIN = REPO / ".venv" / "bin" / "handin"
TIMEOUT = 120.0
AS_CAP = 4 * 1024 ** 3
SETTLE = 3.0  # seconds waited before reading the fake-results notebook's score
TOOLS = ["otter", "nbgrader", "handin-local", "handin-docker"]
LEAK_DIR = Path(subs_mod.LEAK_DIR)


# ---- processes --------------------------------------------------------------------------------

def _sessions_of(sid: int) -> list[int]:
    out = []
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            stat = (d / "stat").read_text()
            fields = stat[stat.rindex(")") + 2:].split()
            if int(fields[3]) == sid:
                out.append(int(d.name))
        except (OSError, ValueError):
            pass
    return out


def _daemons() -> list[int]:
    out = []
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                if b"anchors-hostile-daemon" in (d / "cmdline").read_bytes():
                    out.append(int(d.name))
            except OSError:
                pass
    return out


class DockerCPU:
    """CPU of the containers a handin process starts: cgroup v1 cpuacct.usage, polled."""

    def __init__(self):
        try:
            import docker
            self.client = docker.from_env()
        except Exception:  # noqa: BLE001
            self.client = None

    def watch(self, pid: int, stop: threading.Event, into: dict) -> None:
        if self.client is None:
            return
        owner = f"{socket.gethostname()}:{pid}"
        while not stop.is_set():
            try:
                for c in self.client.containers.list(filters={"label": f"org.handin.owner={owner}"}):
                    for base in ("/sys/fs/cgroup/cpuacct/docker", "/sys/fs/cgroup/cpu,cpuacct/docker"):
                        f = Path(base) / c.id / "cpuacct.usage"
                        if f.exists():
                            into[c.id] = max(into.get(c.id, 0), int(f.read_text()) / 1e9)
                            break
                    else:
                        f = Path(f"/sys/fs/cgroup/system.slice/docker-{c.id}.scope/cpu.stat")
                        if f.exists():
                            usec = int(f.read_text().split()[1])
                            into[c.id] = max(into.get(c.id, 0), usec / 1e6)
            except Exception:  # noqa: BLE001
                pass
            stop.wait(0.2)


DOCKER_CPU = None


CGROUP_ROOT = Path("/sys/fs/cgroup/cpuacct")
_cg_n = 0
_cg_lock = threading.Lock()


def _new_cgroup() -> Path | None:
    """A cpuacct cgroup (v1) of its own for one call: every process the tool starts stays in it
    (the local sandbox uses no cgroups; docker's containers go to docker's own, read separately)."""
    global _cg_n
    with _cg_lock:
        _cg_n += 1
        n = _cg_n
    cg = CGROUP_ROOT / f"handin-anchors-{os.getpid()}-{n}"
    try:
        cg.mkdir()
        return cg
    except OSError:
        return None


def _drop_cgroup(cg: Path | None) -> None:
    if cg is None:
        return
    for _ in range(50):
        try:
            pids = [int(x) for x in (cg / "cgroup.procs").read_text().split()]
        except OSError:
            pids = []
        for q in pids:  # our own tool's leftovers (kernels, the hostile daemon)
            try:
                os.kill(q, signal.SIGKILL)
            except ProcessLookupError:
                pass
        try:
            cg.rmdir()
            return
        except OSError:
            time.sleep(0.1)


def run_cmd(cmd: list[str], *, cwd: Path, log: Path, env: dict | None = None, docker: bool = False,
            timeout: float = TIMEOUT, settle: float = 0.0) -> dict:
    """Run cmd in its own session and cpuacct cgroup; wall time, CPU (cgroup; wait4 as a cross-check),
    rc, timeout, leftovers."""
    global DOCKER_CPU
    cg = _new_cgroup()

    def enter():
        if cg is not None:
            with open(cg / "cgroup.procs", "w") as f:
                f.write(str(os.getpid()))
    with open(log, "wb") as out:
        t0 = time.perf_counter()
        p = subprocess.Popen(cmd, cwd=cwd, stdout=out, stderr=subprocess.STDOUT, env=env,
                             start_new_session=True, stdin=subprocess.DEVNULL, preexec_fn=enter)
        timed_out = threading.Event()

        def kill():
            timed_out.set()
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        timer = threading.Timer(timeout, kill)
        timer.start()
        stop, containers = threading.Event(), {}
        watcher = None
        if docker:
            DOCKER_CPU = DOCKER_CPU or DockerCPU()
            watcher = threading.Thread(target=DOCKER_CPU.watch, args=(p.pid, stop, containers), daemon=True)
            watcher.start()
        _, status, ru = os.wait4(p.pid, 0)
        wall = time.perf_counter() - t0
        timer.cancel()
        stop.set()
        if watcher:
            watcher.join()
        p.returncode = os.waitstatus_to_exitcode(status)
    left = [q for q in _sessions_of(p.pid) if q != p.pid]
    left_cmd = []
    for q in left[:3]:
        try:
            st = Path(f"/proc/{q}/stat").read_text()
            state, ppid = st[st.rindex(")") + 2:].split()[:2]
            comm = st[st.index("(") + 1:st.rindex(")")]
            cmdl = Path(f"/proc/{q}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")[:200]
            left_cmd.append(f"{comm} state={state} ppid={ppid} cmdline={cmdl!r}")
        except OSError:
            pass
    for q in left:  # what the tool left running in its session (kernels, ...)
        try:
            os.kill(q, signal.SIGKILL)
        except ProcessLookupError:
            pass
    in_cg_after = len((cg / "cgroup.procs").read_text().split()) if cg is not None else 0
    if settle:
        time.sleep(settle)  # what the notebook left running may still act on the results
    cg_cpu = None
    if cg is not None:
        try:
            cg_cpu = int((cg / "cpuacct.usage").read_text()) / 1e9
        except (OSError, ValueError):
            pass
    _drop_cgroup(cg)
    wait4_cpu = ru.ru_utime + ru.ru_stime
    return {"wall_s": round(wall, 3), "cpu_s": round(cg_cpu if cg_cpu is not None else wait4_cpu, 3),
            "cpu_source": "cgroup" if cg_cpu is not None else "wait4", "wait4_cpu_s": round(wait4_cpu, 3),
            "processes_alive_after_exit": in_cg_after,
            "container_cpu_s": round(sum(containers.values()), 3) if docker else None,
            "max_rss_mib": round(ru.ru_maxrss / 1024, 1), "rc": p.returncode, "timed_out": timed_out.is_set(),
            "left_in_session": len(left), "left_cmdlines": left_cmd}


def venv_env() -> dict:
    env = dict(os.environ)
    env["PATH"] = f"{VENV}/bin:" + env.get("PATH", "")
    env.pop("PYTHONPATH", None)
    env["PYTHONHASHSEED"] = "0"
    return env


def capped(cmd: list[str]) -> list[str]:
    return ["prlimit", f"--as={AS_CAP}", "--"] + cmd


# ---- setup ------------------------------------------------------------------------------------

def sh(cmd, cwd=None, env=None):
    r = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    if r.returncode:
        raise SystemExit(f"failed: {' '.join(map(str, cmd))}\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}")
    return r.stdout


def ensure_venv() -> None:
    if (VENV / "bin" / "otter").exists() and (VENV / "bin" / "nbgrader").exists():
        return
    sh(["python3", "-m", "venv", str(VENV)])
    sh([str(VENV / "bin" / "pip"), "install", "-q", "otter-grader>=7,<8", "nbgrader>=0.9,<0.10"])


def versions() -> dict:
    env = venv_env()
    v = {}
    for pkg in ("otter-grader", "nbgrader", "nbclient", "jupyter_client", "ipykernel", "numpy"):
        out = subprocess.run([str(VENV / "bin" / "pip"), "show", pkg], capture_output=True, text=True, env=env).stdout
        m = re.search(r"^Version: (.+)$", out, re.M)
        v[pkg] = m.group(1) if m else None
    v["handin"] = subprocess.run([str(HANDIN), "--version"], capture_output=True, text=True).stdout.strip()
    v["python_tools_venv"] = subprocess.run([str(VENV / "bin" / "python"), "--version"], capture_output=True, text=True).stdout.strip()
    # start-up alone: each tool's --version, 3 times (median)
    starts = {}
    for tool, cmd in (("handin", [str(HANDIN), "--version"]), ("otter", [str(VENV / "bin" / "otter"), "--version"]),
                      ("nbgrader", [str(VENV / "bin" / "nbgrader"), "--version"])):
        ts = []
        for _ in range(3):
            t = time.perf_counter()
            subprocess.run(cmd, capture_output=True, env=env)
            ts.append(time.perf_counter() - t)
        starts[tool] = round(statistics.median(ts), 2)
    v["startup_s"] = starts
    v["docker_image_id"] = subprocess.run(["docker", "image", "inspect", "handin-sandbox:cpu", "--format", "{{.Id}}"],
                                          capture_output=True, text=True).stdout.strip()
    return v


def setup() -> dict:
    if WORK.exists():
        shutil.rmtree(WORK)
    WORK.mkdir(parents=True)
    env = venv_env()
    timings = {}
    t = time.perf_counter()
    sh([str(VENV / "bin" / "python"), str(HERE / "build_sources.py")])
    # otter: assign, then generate the autograder zip from assign's output
    src = WORK / "otter_src"
    shutil.copytree(HERE / "sources" / "otter", src)
    sh([str(VENV / "bin" / "otter"), "assign", "--no-run-tests", "--no-pdfs", "stats.ipynb", "dist"], cwd=src, env=env)
    ag = src / "dist" / "autograder"
    sh([str(VENV / "bin" / "otter"), "generate", "-t", "tests", "-o", "autograder.zip", "heights.csv"], cwd=ag, env=env)
    timings["otter_assign_generate_s"] = round(time.perf_counter() - t, 1)
    # nbgrader: a course, the release
    t = time.perf_counter()
    course = WORK / "nbg_clean"
    (course / "source" / "stats").mkdir(parents=True)
    for f in (HERE / "sources" / "nbgrader" / "stats").iterdir():
        shutil.copy(f, course / "source" / "stats")
    write_nbgrader_config(course)
    sh([str(VENV / "bin" / "nbgrader"), "generate_assignment", "stats", "--force"], cwd=course, env=env)
    timings["nbgrader_generate_s"] = round(time.perf_counter() - t, 1)
    # handin: import both
    t = time.perf_counter()
    root = WORK / "course"
    sh([str(HANDIN), "import", "otter", str(HERE / "sources" / "otter" / "stats.ipynb"), "--module", "anchors_otter",
        "--root", str(root)])
    sh([str(HANDIN), "import", "nbgrader", str(HERE / "sources" / "nbgrader" / "stats" / "stats.ipynb"),
        "--module", "anchors_nbg", "--root", str(root)])
    timings["handin_import_s"] = round(time.perf_counter() - t, 1)
    templates = {
        "otter": src / "dist" / "student" / "stats.ipynb",
        "nbgrader": course / "release" / "stats" / "stats.ipynb",
        "handin": root / "assignments" / "anchors_otter" / "starter.ipynb",
        "handin_nbg": root / "assignments" / "anchors_nbg" / "starter.ipynb",
    }
    paths = subs_mod.write_all(templates, WORK / "subs")
    shutil.copytree(course, WORK / "nbg")
    write_nbgrader_config(WORK / "nbg")
    return {"timings": timings, "paths": paths, "autograder": ag / "autograder.zip",
            "module": root / "assignments" / "anchors_otter", "module_nbg": root / "assignments" / "anchors_nbg"}


def write_nbgrader_config(course: Path) -> None:
    (course / "nbgrader_config.py").write_text(
        f'c = get_config()\nc.CourseDirectory.course_id = "anchors"\nc.CourseDirectory.root = "{course}"\n')


# ---- reading each tool's results ------------------------------------------------------------------

def leaks_in(texts: dict[str, str]) -> list[str]:
    """Where a LEAKED>> line carrying hidden-test text shows up."""
    where = []
    for name, text in texts.items():
        for line in text.splitlines():
            if "LEAKED>>" in line and any(c in line for c in subs_mod.CANARIES):
                where.append(name)
                break
    return where


def side_channel() -> list[str]:
    hits = []
    if LEAK_DIR.exists():
        for f in LEAK_DIR.iterdir():
            text = f.read_text(errors="replace")
            if any(c in text for c in subs_mod.CANARIES):
                hits.append(f.name)
            f.unlink()
    return hits


def _read(p: Path, cap=2_000_000) -> str:
    try:
        return p.read_bytes()[:cap].decode("utf-8", "replace")
    except OSError:
        return ""


def nbgrader_score(course: Path, student: str) -> float | None:
    db = course / "gradebook.db"
    if not db.exists():
        return None
    try:
        con = sqlite3.connect(db, timeout=10)
        rows = con.execute(
            "SELECT g.auto_score, g.manual_score, gc.cell_type FROM grade g JOIN grade_cells gc ON gc.id = g.cell_id "
            "JOIN submitted_notebook sn ON sn.id = g.notebook_id JOIN submitted_assignment sa ON sa.id = sn.assignment_id "
            "WHERE sa.student_id = ?", (student,)).fetchall()
        con.close()
    except sqlite3.Error:
        return None
    rows = [r for r in rows if r[2] == "code"]
    if not rows or all(a is None and m is None for a, m, _ in rows):
        return None  # not graded (the rows nbgrader makes before it executes hold no score)
    return round(sum((m if m is not None else (a or 0.0)) for a, m, _ in rows), 3)


def otter_score(results: Path) -> float | None:
    try:
        data = json.loads(results.read_text())
    except (OSError, ValueError):
        return None
    if "score" in data and not data.get("tests"):
        return float(data["score"])
    tests = [t for t in data.get("tests", []) if "score" in t]
    return round(sum(float(t["score"]) for t in tests), 3) if tests else None


def handin_result(out: Path, sub_id: str) -> dict:
    r = out / sub_id / "results.json"
    try:
        data = json.loads(r.read_text())
    except (OSError, ValueError):
        return {"score": None, "status": None}
    return {"score": data.get("score"), "status": data.get("status"), "status_reason": data.get("status_reason")}


# ---- grading one submission -----------------------------------------------------------------------

class Bench:
    def __init__(self, env_info: dict):
        self.s = env_info
        self.env = venv_env()
        self.n = 0

    def _dir(self, tool: str, name: str) -> Path:
        self.n += 1
        d = WORK / "runs" / tool / f"{name}-{self.n:03d}"
        d.mkdir(parents=True)
        return d

    def grade_one(self, tool: str, name: str) -> dict:
        side_channel()  # clear
        fn = getattr(self, "_one_" + tool.replace("-", "_"))
        rec = fn(name)
        rec.update(tool=tool, submission=name, kind=subs_mod.SUBMISSIONS[name]["kind"])
        rec["side_channel_leak"] = bool(side_channel())
        d = _daemons()
        rec["daemons_left"] = len(d)
        for q in d:
            try:
                os.kill(q, signal.SIGKILL)
            except ProcessLookupError:
                pass
        return rec

    def _settle(self, name):
        return SETTLE if name == "hostile_fake_results" else 0.0

    def _one_otter(self, name: str) -> dict:
        d = self._dir("otter", name)
        shutil.copy(self.s["paths"][name]["otter"], d / "stats.ipynb")
        out = d / "out"
        out.mkdir()
        m = run_cmd(capped([str(VENV / "bin" / "otter"), "run", "-a", str(self.s["autograder"]), "-o", str(out),
                            "stats.ipynb"]), cwd=d, log=d / "log.txt", env=self.env, settle=self._settle(name))
        m["score"] = otter_score(out / "results.json")
        texts = {"log": _read(d / "log.txt"), "results.json": _read(out / "results.json")}
        m["leak_in_output"] = leaks_in(texts)
        return m

    def _one_nbgrader(self, name: str) -> dict:
        course = WORK / "nbg"
        sub = course / "submitted" / name / "stats"
        if sub.exists():
            shutil.rmtree(sub)
        sub.mkdir(parents=True)
        shutil.copy(self.s["paths"][name]["nbgrader"], sub / "stats.ipynb")
        shutil.copy(course / "release" / "stats" / "heights.csv", sub)
        d = self._dir("nbgrader", name)
        m = run_cmd(capped([str(VENV / "bin" / "nbgrader"), "autograde", "stats", "--student", name, "--force"]),
                    cwd=course, log=d / "log.txt", env=self.env, settle=self._settle(name))
        m["score"] = nbgrader_score(course, name)
        texts = {"log": _read(d / "log.txt"),
                 "autograded notebook": _read(course / "autograded" / name / "stats" / "stats.ipynb")}
        m["leak_in_output"] = leaks_in(texts)
        return m

    def _handin(self, name: str, sandbox: str) -> dict:
        d = self._dir("handin-" + sandbox, name)
        nb = d / f"{name}.ipynb"
        shutil.copy(self.s["paths"][name]["handin"], nb)
        out = d / "out"
        m = run_cmd([str(HANDIN), "grade", str(self.s["module"]), str(nb), "--sandbox", sandbox, "--out", str(out)],
                    cwd=d, log=d / "log.txt", docker=sandbox == "docker", settle=self._settle(name))
        m.update(handin_result(out, name))
        texts = {"log": _read(d / "log.txt")}
        for f in (out / name).glob("*") if (out / name).exists() else []:
            texts[f.name] = _read(f)
        m["leak_in_output"] = leaks_in(texts)
        return m

    def _one_handin_local(self, name):
        return self._handin(name, "local")

    def _one_handin_docker(self, name):
        return self._handin(name, "docker")

    # ---- batches ----

    def batch(self, tool: str, jobs: int, names: list[str]) -> dict:
        side_channel()
        t0 = time.perf_counter()
        if tool == "otter":
            def one(name):
                d = WORK / "batch" / f"otter-j{jobs}" / name
                d.mkdir(parents=True)
                shutil.copy(self.s["paths"][name]["otter"], d / "stats.ipynb")
                (d / "out").mkdir()
                m = run_cmd(capped([str(VENV / "bin" / "otter"), "run", "-a", str(self.s["autograder"]), "-o",
                                    str(d / "out"), "stats.ipynb"]), cwd=d, log=d / "log.txt", env=self.env)
                m["score"] = otter_score(d / "out" / "results.json")
                return m
            with ThreadPoolExecutor(jobs) as pool:
                ms = list(pool.map(one, names))
            graded = sum(m["score"] is not None for m in ms)
            cpu = sum(m["cpu_s"] for m in ms)
            per = {n: m["score"] for n, m in zip(names, ms)}
            calls = ms
        elif tool == "nbgrader":
            parts = [names[i::jobs] for i in range(jobs)]

            def one(k):
                course = WORK / "batch" / f"nbgrader-j{jobs}-{k}"
                shutil.copytree(WORK / "nbg_clean", course)
                write_nbgrader_config(course)
                for name in parts[k]:
                    sub = course / "submitted" / name / "stats"
                    sub.mkdir(parents=True)
                    shutil.copy(self.s["paths"][name]["nbgrader"], sub / "stats.ipynb")
                    shutil.copy(course / "release" / "stats" / "heights.csv", sub)
                m = run_cmd(capped([str(VENV / "bin" / "nbgrader"), "autograde", "stats", "--force"]), cwd=course,
                            log=course / "log.txt", env=self.env, timeout=TIMEOUT * len(parts[k]))
                m["scores"] = {n: nbgrader_score(course, n) for n in parts[k]}
                return m
            with ThreadPoolExecutor(jobs) as pool:
                ms = list(pool.map(one, range(jobs)))
            per = {n: s for m in ms for n, s in m["scores"].items()}
            graded = sum(s is not None for s in per.values())
            cpu = sum(m["cpu_s"] for m in ms)
            calls = ms
        else:
            sandbox = tool.split("-")[1]
            d = WORK / "batch" / f"{tool}-j{jobs}"
            (d / "subs").mkdir(parents=True)
            for name in names:
                shutil.copy(self.s["paths"][name]["handin"], d / "subs" / f"{name}.ipynb")
            m = run_cmd([str(HANDIN), "grade", str(self.s["module"]), str(d / "subs"), "-j", str(jobs), "--sandbox",
                         sandbox, "--out", str(d / "out")], cwd=d, log=d / "log.txt", docker=sandbox == "docker",
                        timeout=TIMEOUT * len(names))
            per = {n: handin_result(d / "out", n)["score"] for n in names}
            graded = sum(s is not None for s in per.values())
            cpu = m["cpu_s"] + (m["container_cpu_s"] or 0)
            calls = [m]
        wall = time.perf_counter() - t0
        for q in _daemons():
            os.kill(q, signal.SIGKILL)
        side_channel()
        return {"tool": tool, "jobs": jobs, "n": len(names), "wall_s": round(wall, 2), "cpu_s": round(cpu, 2),
                "graded": graded, "scores": per, "calls": calls,
                "notebooks_per_min": round(60 * len(names) / wall, 2)}


# ---- main ------------------------------------------------------------------------------------------

def loadavg() -> list[float]:
    return [float(x) for x in Path("/proc/loadavg").read_text().split()[:3]]


def wait_quiet(minutes: int) -> list:
    seen = []
    for _ in range(minutes):
        la = loadavg()
        seen.append([time.strftime("%H:%M:%S"), la[0]])
        if la[0] < 3:
            break
        print(f"load {la[0]}: waiting", flush=True)
        time.sleep(60)
    return seen


def med(xs):
    return round(statistics.median(xs), 3) if xs else None


def summarise(single: list[dict], batches: list[dict]) -> dict:
    out = {}
    for tool in TOOLS:
        rs = [r for r in single if r["tool"] == tool and r["kind"] in ("correct", "wrong", "crash")]
        walls = [r["wall_s"] for r in rs]
        cpus = [r["cpu_s"] + (r.get("container_cpu_s") or 0) for r in rs]
        out[tool] = {"n": len(rs), "median_wall_s": med(walls), "wall_min_max_s": [min(walls), max(walls)] if walls else None,
                     "median_cpu_s": med(cpus), "cpu_min_max_s": [round(min(cpus), 3), round(max(cpus), 3)] if cpus else None,
                     "batch": {b["jobs"]: {k: b[k] for k in ("wall_s", "cpu_s", "graded", "n", "notebooks_per_min")}
                               for b in batches if b["tool"] == tool}}
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="a handful of submissions, no batches (development)")
    ap.add_argument("--only", nargs="*", help="these submissions only")
    ap.add_argument("--tools", nargs="*", default=TOOLS)
    ap.add_argument("--repeats", type=int, default=0, help="extra rounds of correct_ref for the spread")
    ap.add_argument("--no-batch", action="store_true")
    ap.add_argument("--wait-quiet", type=int, default=0, help="minutes to wait for load < 3 first")
    ap.add_argument("--out", default=str(REPO / "benchmarks" / "results" / "anchors.json"))
    args = ap.parse_args()
    started = time.time()
    ensure_venv()
    quiet = wait_quiet(args.wait_quiet) if args.wait_quiet else []
    load_before = loadavg()
    s = setup()
    b = Bench(s)
    names = list(subs_mod.SUBMISSIONS)
    if args.only:
        names = args.only
    elif args.quick:
        names = ["correct_ref", "wrong_sample_var", "crash_top", "hostile_patch"]
    tools = args.tools
    single = []
    for i, name in enumerate(names):
        order = tools[i % len(tools):] + tools[:i % len(tools)]
        for tool in order:
            r = b.grade_one(tool, name)
            print(f"{name:22s} {tool:14s} wall {r['wall_s']:7.2f} cpu {r['cpu_s']:6.2f} "
                  f"ccpu {r.get('container_cpu_s')} score {r.get('score')} rc {r['rc']} to {r['timed_out']} "
                  f"leak {r['leak_in_output']}/{r['side_channel_leak']} left {r['left_in_session']}/{r['daemons_left']}",
                  flush=True)
            single.append(r)
    for k in range(args.repeats):
        order = tools[k % len(tools):] + tools[:k % len(tools)]
        for tool in order:
            r = b.grade_one(tool, "correct_ref")
            r["repeat"] = k + 1
            single.append(r)
            print(f"repeat {k + 1} {tool:14s} wall {r['wall_s']:7.2f} cpu {r['cpu_s']:6.2f}", flush=True)
    batches = []
    # the batches leave out the infinite loop: its cost is each tool's timeout (measured above), which
    # would otherwise dominate every batch time; whether a tool survives it is in the single phase
    batch_names = [n for n in names if n != "hostile_loop"]
    if not (args.quick or args.no_batch):
        for jobs in (2, 1):
            order = list(reversed(tools)) if jobs == 1 else tools
            for tool in order:
                if jobs == 1 and tool == "otter":
                    # otter run takes one submission per call: -j 1 is the single phase's calls, in a row
                    rs = [r for r in single if r["tool"] == "otter" and "repeat" not in r and r["submission"] in batch_names]
                    wall = sum(r["wall_s"] for r in rs)
                    batches.append({"tool": "otter", "jobs": 1, "n": len(rs), "wall_s": round(wall, 2),
                                    "cpu_s": round(sum(r["cpu_s"] for r in rs), 2),
                                    "graded": sum(r["score"] is not None for r in rs),
                                    "scores": {r["submission"]: r["score"] for r in rs},
                                    "notebooks_per_min": round(60 * len(rs) / wall, 2),
                                    "from_single_phase": True})
                    continue
                r = b.batch(tool, jobs, batch_names)
                print(f"batch {tool:14s} -j {jobs}: {r['wall_s']:.1f}s cpu {r['cpu_s']:.1f} graded {r['graded']}/{r['n']}",
                      flush=True)
                batches.append(r)
    result = {
        "benchmark": "anchors",
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started)),
        "duration_s": round(time.time() - started, 1),
        "machine": {"host": platform.node(), "cpu": _cpu(), "cpu_count": os.cpu_count(),
                    "memory_gib": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 1024 ** 3, 1),
                    "kernel": platform.release(), "python": platform.python_version()},
        "load_before": load_before, "load_after": loadavg(), "waited_for_quiet": quiet,
        "versions": versions(),
        "limits": {"per_grading_timeout_s": TIMEOUT, "otter_nbgrader_address_space_cap_bytes": AS_CAP,
                   "handin": "the module's own limits (imported defaults: 2 GiB memory, 1 CPU, 120 s wall, 60 s notebook)",
                   "nbgrader_cell_timeout_s": 30, "otter_cell_timeout_s": None},
        "cpu_measured": "cpuacct.usage of a cgroup v1 made for each call (the tool's process is put in it before "
                        "exec, so every process it starts is counted: kernels, the local sandbox's processes, a "
                        "notebook's detached daemon until it is killed after the call); handin-docker adds the "
                        "container's own cgroup cpuacct.usage, polled every 0.2 s while the call runs (the last "
                        "<0.2 s before removal is missed). wait4_cpu_s (rusage of the waited-for process tree) is "
                        "kept as a cross-check: it misses the local sandbox's processes",
        "setup": s["timings"],
        "submissions": {n: {k: v for k, v in subs_mod.SUBMISSIONS[n].items() if k in ("kind", "note", "expected")}
                        for n in names},
        "single": single,
        "batch_submissions": batch_names,
        "batches": batches,
        "summary": summarise(single, batches),
    }
    Path(args.out).write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps(result["summary"], indent=1))
    print("written", args.out)


def _cpu() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor()


if __name__ == "__main__":
    main()
