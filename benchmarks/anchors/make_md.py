"""Write benchmarks/results/anchors.md from anchors.json (run.py's raw results).

    python3 benchmarks/anchors/make_md.py [benchmarks/results/anchors.json]
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent.parent
TOOLS = ["otter", "nbgrader", "handin-local", "handin-docker"]
NAMES = {"otter": "otter-grader 7 (`otter run`)", "nbgrader": "nbgrader 0.9 (`nbgrader autograde`)",
         "handin-local": "handin (`--sandbox local`)", "handin-docker": "handin (`--sandbox docker`)"}
HOSTILE = ["hostile_read_tests", "hostile_patch", "hostile_fake_results", "hostile_loop", "hostile_memory",
           "hostile_kill_grader"]
HONEST = {"hostile_read_tests": 8, "hostile_patch": 0, "hostile_fake_results": 0, "hostile_loop": 8,
          "hostile_memory": 8, "hostile_kill_grader": 8}


def fmt(x, nd=1):
    return "–" if x is None else f"{x:.{nd}f}"


def score(r):
    s = r.get("score")
    return "no score" if s is None else f"{round(s, 2):g}/8"


def cell(r):
    bits = [score(r)]
    if r["timed_out"]:
        bits.append("killed at 120 s")
    elif r["rc"] not in (0, None):
        bits.append(f"tool exited {r['rc']}")
    leak = r["leak_in_output"] or (["side channel"] if r["side_channel_leak"] else [])
    if r["leak_in_output"] and r["side_channel_leak"]:
        leak = r["leak_in_output"] + ["side channel"]
    if leak:
        bits.append("hidden tests exposed (" + ", ".join(leak) + ")")
    alive = r.get("processes_alive_after_exit", r.get("daemons_left"))
    if alive:
        bits.append(f"{alive} process(es) it started still running after the tool exited")
    if r.get("left_in_session"):
        what = ", ".join(c.split(" cmdline=")[0] for c in r.get("left_cmdlines", [])) or "?"
        bits.append(f"the tool exited leaving {r['left_in_session']} process(es) of its session ({what})")
    return "; ".join(bits)


def main() -> None:
    src = Path(sys.argv[1]) if len(sys.argv) > 1 else REPO / "benchmarks" / "results" / "anchors.json"
    d = json.loads(src.read_text())
    single = [r for r in d["single"] if "repeat" not in r]
    by = {(r["tool"], r["submission"]): r for r in single}
    summ = d["summary"]
    batches = {(b["tool"], b["jobs"]): b for b in d["batches"]}
    L = []
    w = L.append
    w("# Anchors: otter-grader and nbgrader side by side with handin\n")
    w(f"Recorded {d['when']} by `benchmarks/anchors/run.py` ({d['duration_s'] / 60:.1f} min); raw data in "
      f"`anchors.json`. Machine: {d['machine']['cpu']}, {d['machine']['cpu_count']} cores, "
      f"{d['machine']['memory_gib']} GiB; load average {d['load_before'][0]:.2f} before, "
      f"{d['load_after'][0]:.2f} after (1 min; other jobs were running on the machine).\n")
    w("## Proposed README table\n")
    w("| | median wall / notebook | median CPU / notebook | batch -j 1 | batch -j 2 | reads hidden tests | "
      "patched checks | fake results file | infinite loop | kills its grader |")
    w("|---|---|---|---|---|---|---|---|---|---|")
    for t in TOOLS:
        s = summ[t]
        b1, b2 = batches.get((t, 1)), batches.get((t, 2))

        def thr(b):
            if not b:
                return "–"
            rate = 60 * b["graded"] / b["wall_s"] if b["wall_s"] else 0
            lost = "" if b["graded"] == b["n"] else f", {b['n'] - b['graded']} lost"
            return f"{rate:.1f} graded/min ({b['graded']}/{b['n']}{lost})"

        def short(name):
            r = by.get((t, name))
            if not r:
                return "–"
            if name == "hostile_read_tests":
                return "yes" if (r["leak_in_output"] or r["side_channel_leak"]) else "no"
            if name in ("hostile_patch", "hostile_fake_results"):
                return f"{score(r)} (honest 0/8)"
            if name == "hostile_loop":
                return "killed by our 120 s timeout" if r["timed_out"] else f"stopped, {score(r)}"
            if name == "hostile_kill_grader":
                return "grader killed" if r["rc"] not in (0, None) else f"grader survived, {score(r)}"
            return score(r)
        w(f"| {NAMES[t]} | {fmt(s['median_wall_s'])} s | {fmt(s['median_cpu_s'])} s | {thr(b1)} | {thr(b2)} | "
          f"{short('hostile_read_tests')} | {short('hostile_patch')} | {short('hostile_fake_results')} | "
          f"{short('hostile_loop')} | {short('hostile_kill_grader')} |")
    w("")
    n_plain = summ[TOOLS[0]]["n"]
    st = d["versions"].get("startup_s") or {}
    startup = ", ".join(f"{k} {v:.1f} s" for k, v in st.items()) or "not measured in this run"
    bn = d.get("batch_submissions") or list(d["submissions"])
    if any(r.get("cpu_source") == "cgroup" for r in single):
        cpu_how = "the `cpuacct.usage` of a cgroup made for the call (every process the tool starts)"
    else:
        cpu_how = ("user+sys of the tool's process tree from `wait4` (this run: it misses the local sandbox's "
                   "student and judge processes, so handin-local's CPU is understated)")
    nb = len(bn)
    but = " but the infinite loop (its cost is each tool's timeout, in the per-notebook table)" if "hostile_loop" not in bn else ""
    w(f"Per notebook: the {n_plain} correct, wrong and crashing submissions, one grading per call (wall: the tool's "
      f"command from start to exit; CPU: {cpu_how}, plus, for docker, the "
      f"container's cgroup `cpuacct.usage`). Batch: {nb} submissions, the hostile ones included{but}; -j 2 is two "
      "`otter run` calls at a time (otter grades one submission per call), two nbgrader course folders "
      "autograded at once (nbgrader has no -j; each folder gets half the students), `handin grade -j 2`. "
      "otter's -j 1 is the sum of its per-notebook calls. The per-notebook wall includes each tool's start-up "
      f"(each tool's `--version` alone takes {startup}).\n")
    w("## Per notebook and per batch\n")
    w("| tool | notebooks | median wall (min–max) | median CPU (min–max) | -j 1 batch wall / CPU | -j 2 batch wall / CPU |")
    w("|---|---|---|---|---|---|")
    for t in TOOLS:
        s = summ[t]
        b1, b2 = batches.get((t, 1)), batches.get((t, 2))
        bb = lambda b: "–" if not b else f"{b['wall_s']:.0f} s / {b['cpu_s']:.0f} s ({b['graded']}/{b['n']})"  # noqa: E731
        wl, cl = s["wall_min_max_s"] or [None, None], s["cpu_min_max_s"] or [None, None]
        w(f"| {t} | {s['n']} | {fmt(s['median_wall_s'])} s ({fmt(wl[0])}–{fmt(wl[1])}) | "
          f"{fmt(s['median_cpu_s'])} s ({fmt(cl[0])}–{fmt(cl[1])}) | {bb(b1)} | {bb(b2)} |")
    w("")
    for (t, j), b in sorted(batches.items()):
        missing = [n for n, sc in b["scores"].items() if sc is None]
        if missing:
            w(f"- {t} -j {j}: no score for {', '.join(missing)}")
    w("")
    w("## The hostile notebooks\n")
    w("| notebook | what it does | " + " | ".join(TOOLS) + " |")
    w("|---|---|" + "---|" * len(TOOLS))
    for n in HOSTILE:
        if not any((t, n) in by for t in TOOLS):
            continue
        note = d["submissions"][n]["note"]
        w(f"| {n} (honest {HONEST[n]}/8) | {note} | " + " | ".join(cell(by[(t, n)]) if (t, n) in by else "–" for t in TOOLS) + " |")
    w("")
    w("\"hidden tests exposed\": a line the notebook printed with hidden-test text in it reached something the tool "
      "writes (its log, results file, the executed/autograded notebook, handin's student/TA pages), or the notebook "
      "wrote the text to the host's /tmp (side channel: the grading process could write outside its own folder). "
      "\"tool exited -9\": the tool's own process was killed (by the notebook), so in a batch that is one call "
      "(nbgrader autograde over a course) every later submission is lost.\n")
    w("## Every score\n")
    w("| submission | kind | " + " | ".join(TOOLS) + " |")
    w("|---|---|" + "---|" * len(TOOLS))
    for n, meta in d["submissions"].items():
        w(f"| {n} | {meta['kind']} | " + " | ".join(
            (score(by[(t, n)]) + (f" ({by[(t, n)]['wall_s']:.1f} s)")) if (t, n) in by else "–" for t in TOOLS) + " |")
    w("")
    w("## Notes\n")
    w(f"- Load: 1/5/15-min averages {d['load_before']} before and {d['load_after']} after. "
      + (d.get("load_note", "") or ""))
    ws = by.get(("otter", "wrong_string")), by.get(("handin-local", "wrong_string"))
    if all(ws) and ws[0]["score"] != ws[1]["score"]:
        w(f"- wrong_string (`mean` returns `str(...)`): otter {score(ws[0])}, handin {score(ws[1])}. handin's imported "
          "expression test `mean([2.5])` → `2.5` passes on a string: handin.interop.cases.run_doctest compares "
          "the expected text with the value's `repr` *or* its `str` (meant for numpy 2's `np.True_`), and "
          "`str('2.5')` is `2.5`; real doctest (otter) sees `'2.5'` and fails it.")
    zs = [r for r in single if r["tool"] == "handin-local" and r.get("left_in_session")]
    if zs:
        w(f"- handin --sandbox local: after {len(zs)} of {sum(r['tool'] == 'handin-local' for r in single)} calls the "
          "`handin grade` process had exited while a process of its session was left: "
          f"{zs[0]['left_cmdlines'][0].split(' cmdline=')[0] if zs[0].get('left_cmdlines') else '?'} "
          "(a bwrap child it never waited for, reparented to pid 1 as a zombie).")
    w("- nbgrader's -j 1 batch is one `nbgrader autograde` over the course: hostile_kill_grader kills that process, "
      "so every student after it is lost (and with -j 2, the rest of its half). otter runs one submission per call, "
      "so it loses only the killer; handin's sandboxes keep the grader out of the student's reach.")
    w("- hostile_patch under nbgrader: the patches (numpy's comparisons, IPython's exception display) did not "
      "remove the `AssertionError` outputs from the test cells, which nbgrader scores on; under otter, replacing "
      "`otter.test_files.ok_test.run_doctest` in the kernel passes every case, hidden ones included.")
    w("- hostile_fake_results: under otter the detached process rewrote the results.json in `otter run -o DIR` "
      "after otter wrote it; under nbgrader it set `manual_score` to the maximum in the course's gradebook.db "
      "(both found from /proc/<parent>/ of the kernel). Under handin its writes stay in the sandbox.")
    w("")
    w("## Set-up and limits\n")
    v = d["versions"]
    w(f"- Versions: otter-grader {v.get('otter-grader')}, nbgrader {v.get('nbgrader')}, nbclient {v.get('nbclient')}, "
      f"ipykernel {v.get('ipykernel')}, numpy {v.get('numpy')} (their venv, {v.get('python_tools_venv')}); "
      f"{v.get('handin')}, image handin-sandbox:cpu {v.get('docker_image_id', '')[:19]}.")
    w(f"- Set-up times: {d['setup']}.")
    w(f"- Limits: every call under a {d['limits']['per_grading_timeout_s']:.0f} s wall clock (process group killed); "
      "otter and nbgrader under `prlimit --as=4GiB` (they have no memory limit of their own); nbgrader's own cell "
      "timeout is 30 s, otter has none; handin uses the imported module's limits (2 GiB, 1 CPU, 120 s wall, 60 s "
      "for the notebook).")
    w(f"- CPU: {d['cpu_measured']}.")
    Path(src.with_suffix(".md")).write_text("\n".join(L) + "\n")
    print("written", src.with_suffix(".md"))


if __name__ == "__main__":
    main()
