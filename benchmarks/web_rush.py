"""A hand-in rush against the embedded defaults: N students upload at once, everything is graded once.

``handin serve`` runs on a fresh temporary instance on 127.0.0.1 (SQLite database, SQLite broker,
embedded workers). A course ``rush`` with m02 released gets ``--students`` students with API tokens
(made through the services, before the server starts). Then ``--students × --per-student`` uploads
leave at once from as many threads (a barrier releases them together; loopback only; each request
times out after ``--upload-timeout`` s). Each upload's bytes differ (a markdown cell names it), so
each one is a file of its own in the content-addressed store.

Checked: every upload answered 202 with an id; each id has its row and its file under
``uploads/``; every submission ends ``graded`` within ``--deadline`` s with the expected score;
exactly one results row and one grades row per submission, ``results.runs == 1`` (graded once) and
one ``grade.computed`` audit entry each; the API reports the same. Measured: upload latency
(p50/p95/p99), time from upload to graded (median, spread), grading time per job, throughput.

    .venv/bin/python benchmarks/web_rush.py                    # 100 students × 2, the m02 starter
    .venv/bin/python benchmarks/web_rush.py --notebook solution --students 10

Writes benchmarks/results/web_rush.json (``--out``) and prints a summary; exits 1 when a check fails.
The sandbox defaults to ``local``: ``auto`` picks docker where its engine and image are ready,
which grades m02 about 4× slower on a small host (``--sandbox auto`` to measure that instead).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import requests  # noqa: E402

MODULE = "m02-feedforward"
COURSE = "rush"
NOTEBOOKS = {
    "starter": (REPO / "assignments" / MODULE / "feedforward.ipynb", 0.0),
    "solution": (REPO / "solutions" / MODULE / "solution.ipynb", 29.0),
}
HANDIN = [sys.executable, "-m", "handin.cli"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100)."""
    xs = sorted(values)
    if not xs:
        return float("nan")
    k = max(0, min(len(xs) - 1, int(round(q / 100 * len(xs) + 0.5)) - 1))
    return xs[k]


def summary(values: list[float]) -> dict:
    if not values:
        return {"n": 0}
    return {"n": len(values), "min": round(min(values), 3), "p50": round(statistics.median(values), 3),
            "p95": round(percentile(values, 95), 3), "p99": round(percentile(values, 99), 3),
            "max": round(max(values), 3), "spread": round(max(values) - min(values), 3),
            "mean": round(statistics.fmean(values), 3)}


def unique_notebook(base: dict, label: str) -> bytes:
    nb = json.loads(json.dumps(base))
    nb["cells"].append({"cell_type": "markdown", "metadata": {}, "source": f"rush upload {label}"})
    return json.dumps(nb).encode()


def make_people(instance: Path, env: dict, n: int) -> list[tuple[str, str]]:
    """The course, its m02 assignment and ``n`` students with tokens, through the services."""
    os.environ.update({k: v for k, v in env.items() if k.startswith("HANDIN_")})
    from server.cli import make_app
    from server.extensions import db
    from server.services import accounts, catalog

    app = make_app(instance)
    people = []
    with app.app_context():
        course = accounts.ensure_course(COURSE, "Web rush")
        catalog.add_module(course, MODULE, released=True)
        for i in range(n):
            email = f"student{i:03d}@rush.handin"
            user, _ = accounts.add_user(email, course=course, role="student", name=f"Student {i:03d}",
                                        password="rush-password-" + str(i).rjust(4, "0"))
            people.append((email, accounts.create_token(user)))
        db.session.commit()
        db.session.remove()
        db.engine.dispose()
    return people


def upload_all(port: int, jobs: list[tuple[str, str, bytes]], timeout: float) -> tuple[list[dict], float]:
    """Send every job at once (one thread each, released by a barrier); per job: status, id, latency."""
    url = f"http://127.0.0.1:{port}/api/v1/courses/{COURSE}/assignments/{MODULE}/submissions"
    out: list[dict] = [{} for _ in jobs]
    barrier = threading.Barrier(len(jobs) + 1)

    def one(i: int, token: str, label: str, data: bytes) -> None:
        session = requests.Session()
        try:
            barrier.wait(60)
            t0 = time.perf_counter()
            try:
                r = session.post(url, headers={"Authorization": f"Bearer {token}"},
                                 files={"file": (f"rush-{label}.ipynb", data, "application/x-ipynb+json")},
                                 timeout=timeout)
                body = r.json() if r.headers.get("content-type", "").startswith("application/json") else {}
                out[i] = {"label": label, "status": r.status_code, "id": body.get("id"),
                          "error": body.get("error"), "t0": t0, "t1": time.perf_counter()}
            except Exception as exc:  # noqa: BLE001 - a refused or timed-out request is a result too
                out[i] = {"label": label, "status": None, "id": None, "error": f"{type(exc).__name__}: {exc}",
                          "t0": t0, "t1": time.perf_counter()}
        finally:
            session.close()

    threads = [threading.Thread(target=one, args=(i, *job), daemon=True) for i, job in enumerate(jobs)]
    for t in threads:
        t.start()
    barrier.wait(60)
    start = time.perf_counter()
    for t in threads:
        t.join(timeout + 30)
    return out, start


def db_rows(instance: Path) -> dict[int, dict]:
    con = sqlite3.connect(f"file:{instance / 'handin.sqlite'}?mode=ro", uri=True, timeout=30)
    con.row_factory = sqlite3.Row
    try:
        rows = {r["id"]: dict(r) for r in con.execute(
            "SELECT s.id, s.status, s.sha256, s.size, s.submitted_at, s.started_at, s.finished_at, "
            "s.deliveries, s.error, u.email FROM submissions s JOIN users u ON u.id = s.user_id")}
        for r in rows.values():
            r.update(results=0, grades=0, audits=0, runs=None, score=None, graded_at=None)
        for r in con.execute("SELECT submission_id, runs, score, max_score, run_status, graded_at FROM results"):
            row = rows[r["submission_id"]]
            row["results"] += 1
            row.update(runs=r["runs"], score=r["score"], max_score=r["max_score"], run_status=r["run_status"],
                       graded_at=r["graded_at"])
        for r in con.execute("SELECT submission_id FROM grades"):
            rows[r["submission_id"]]["grades"] += 1
        for r in con.execute("SELECT target FROM audit_log WHERE action = 'grade.computed'"):
            sid = int(r["target"].split(":", 1)[1])
            if sid in rows:
                rows[sid]["audits"] += 1
        return rows
    finally:
        con.close()


def code_version() -> str:
    """The commit measured: git's, or a snapshot's .commit file (``git archive`` keeps no .git)."""
    try:
        return subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"], capture_output=True,
                              text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        marker = REPO / ".commit"
        return marker.read_text().strip() if marker.is_file() else "unknown"


def when(value: str | None) -> dt.datetime | None:
    return None if value is None else dt.datetime.fromisoformat(str(value)).replace(tzinfo=dt.timezone.utc)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--students", type=int, default=100)
    ap.add_argument("--per-student", type=int, default=2)
    ap.add_argument("--notebook", default="starter",
                    help="starter (fast, 0/29), solution (29/29) or a path (score not checked)")
    ap.add_argument("--sandbox", default="local", choices=["local", "auto", "docker"])
    ap.add_argument("--concurrency", type=int, default=None,
                    help="the embedded cpu worker's jobs at once (default: serve's own, cores / 2)")
    ap.add_argument("--upload-timeout", type=float, default=120.0)
    ap.add_argument("--deadline", type=float, default=3600.0, help="seconds for everything to be graded")
    ap.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "web_rush.json")
    ap.add_argument("--keep", action="store_true", help="keep the temporary instance (kept anyway when a check fails)")
    args = ap.parse_args()
    if not 1 <= args.students * args.per_student <= 2000:
        ap.error("between 1 and 2000 uploads")

    nb_path, expected = NOTEBOOKS.get(args.notebook, (Path(args.notebook), None))
    base = json.loads(nb_path.read_text())
    instance = Path(tempfile.mkdtemp(prefix="handin-rush-"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("HANDIN_")}
    env.update(HANDIN_INSTANCE=str(instance), HANDIN_SANDBOX=args.sandbox, HANDIN_COURSE_ROOT=str(REPO),
               PYTHONPATH=str(REPO))
    checks: dict[str, bool] = {}
    notes: list[str] = []
    serve = None
    load_start = os.getloadavg()
    try:
        t = time.perf_counter()
        subprocess.run(HANDIN + ["db", "upgrade"], env=env, cwd=REPO, check=True, capture_output=True)
        people = make_people(instance, env, args.students)
        setup_s = time.perf_counter() - t
        print(f"instance {instance}: {len(people)} students with tokens in {setup_s:.1f} s", flush=True)

        port = free_port()
        argv = HANDIN + ["serve", "--host", "127.0.0.1", "--port", str(port)]
        if args.concurrency:
            argv += ["--concurrency", str(args.concurrency)]
        serve_log = open(instance / "serve.log", "wb")
        serve = subprocess.Popen(argv, env=env, cwd=REPO, stdout=serve_log, stderr=subprocess.STDOUT,
                                 start_new_session=True)
        deadline = time.monotonic() + 60
        while not port_answers(port):
            if serve.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"handin serve did not start:\n{(instance / 'serve.log').read_text()}")
            time.sleep(0.1)
        # The embedded workers start with the server; give them a moment to connect to the broker.
        deadline = time.monotonic() + 60
        while b"ready." not in (instance / "worker.log").read_bytes() and time.monotonic() < deadline:
            time.sleep(0.2)

        jobs = [(token, f"{email.split('@')[0]}-{k + 1}", None)
                for email, token in people for k in range(args.per_student)]
        jobs = [(token, label, unique_notebook(base, label)) for token, label, _ in jobs]
        print(f"{len(jobs)} uploads at once ...", flush=True)
        answers, start = upload_all(port, jobs, args.upload_timeout)
        burst_end = max(a.get("t1", start) for a in answers)
        latencies = [a["t1"] - a["t0"] for a in answers if "t1" in a]
        accepted = [a for a in answers if a.get("status") == 202 and a.get("id")]
        by_status: dict[str, int] = {}
        for a in answers:
            by_status[str(a.get("status"))] = by_status.get(str(a.get("status")), 0) + 1
        print(f"uploads answered in {burst_end - start:.1f} s: {by_status}", flush=True)
        checks["every upload got 202 with an id"] = len(accepted) == len(jobs)
        ids = [a["id"] for a in accepted]
        checks["ids are distinct"] = len(set(ids)) == len(ids)
        failures = [a for a in answers if a.get("status") != 202][:5]
        if failures:
            notes.append(f"refused uploads (first 5): {failures}")

        # Wait until nothing is queued or running (or the deadline).
        t_grade0 = time.monotonic()
        progress = []
        loads = []
        while True:
            loads.append(os.getloadavg()[0])
            rows = db_rows(instance)
            mine = [rows[i] for i in ids if i in rows]
            done = sum(r["status"] in ("graded", "error") for r in mine)
            progress.append((round(time.monotonic() - t_grade0, 1), done))
            if done == len(ids) or time.monotonic() - t_grade0 > args.deadline:
                break
            if len(progress) % 15 == 1:
                print(f"  {done}/{len(ids)} graded after {time.monotonic() - t_grade0:.0f} s", flush=True)
            time.sleep(2.0)
        all_done_s = time.monotonic() - t_grade0

        rows = db_rows(instance)
        token_of = {label.rsplit("-", 1)[0]: token for token, label, _ in jobs}
        stored = [i for i in ids if i in rows]
        checks["every accepted upload has its row"] = len(stored) == len(ids)
        checks["every row has its file in uploads/ (right size)"] = all(
            (p := instance / "uploads" / rows[i]["sha256"][:2] / f"{rows[i]['sha256']}.ipynb").is_file()
            and p.stat().st_size == rows[i]["size"] for i in stored)
        checks["each upload is its own file"] = len({rows[i]["sha256"] for i in stored}) == len(stored)
        checks["every submission graded"] = all(rows[i]["status"] == "graded" for i in stored) and bool(stored)
        checks["one results row and one grades row each"] = all(
            rows[i]["results"] == 1 and rows[i]["grades"] == 1 for i in stored)
        checks["graded exactly once (results.runs == 1, one grade.computed)"] = all(
            rows[i]["runs"] == 1 and rows[i]["audits"] == 1 for i in stored)
        if expected is not None:
            checks[f"every score {expected:g}/29"] = all(
                rows[i]["score"] == expected and rows[i]["max_score"] == 29.0 for i in stored)
        api_ok = 0
        with requests.Session() as s:
            for i in stored:
                token = token_of[rows[i]["email"].split("@")[0]]
                r = s.get(f"http://127.0.0.1:{port}/api/v1/submissions/{i}",
                          headers={"Authorization": f"Bearer {token}"}, timeout=30)
                doc = r.json()
                api_ok += r.status_code == 200 and doc["status"] == rows[i]["status"] \
                    and doc["score"] == rows[i]["score"]
        checks["the API reports the same status and score"] = api_ok == len(stored)
        errors: dict[str, int] = {}
        for i in stored:
            if rows[i]["error"]:
                first = rows[i]["error"].strip().splitlines()[0][:300]
                errors[first] = errors.get(first, 0) + 1
        if errors:
            notes.append({"platform errors (first line: count)": errors})
        deliveries = {}
        for i in stored:
            deliveries[str(rows[i]["deliveries"])] = deliveries.get(str(rows[i]["deliveries"]), 0) + 1

        submitted = {i: when(rows[i]["submitted_at"]) for i in stored}
        graded = {i: when(rows[i]["graded_at"]) for i in stored if rows[i]["graded_at"]}
        to_graded = [(graded[i] - submitted[i]).total_seconds() for i in graded]
        per_job = [(when(rows[i]["finished_at"]) - when(rows[i]["started_at"])).total_seconds()
                   for i in stored if rows[i]["finished_at"] and rows[i]["started_at"]]
        wait = [(when(rows[i]["started_at"]) - submitted[i]).total_seconds()
                for i in stored if rows[i]["started_at"]]
        span = (max(graded.values()) - min(submitted.values())).total_seconds() if graded else float("nan")

        serve_text = (instance / "serve.log").read_text(errors="replace")
        backend_line = next((ln.strip() for ln in serve_text.splitlines() if ln.startswith("sandbox ")), "?")
        worker_text = (instance / "worker.log").read_text(errors="replace")
        concurrency = args.concurrency or max(1, (os.cpu_count() or 2) // 2)
        result = {
            "benchmark": "web_rush",
            "when": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "commit": code_version(),
            "host": {"cpu_count": os.cpu_count(), "python": platform.python_version(),
                     "machine": platform.machine(), "system": f"{platform.system()} {platform.release()}",
                     "loadavg_at_start": [round(x, 2) for x in load_start],
                     "loadavg_at_end": [round(x, 2) for x in os.getloadavg()],
                     "loadavg_1min_while_grading": {"mean": round(statistics.fmean(loads), 2),
                                                    "max": round(max(loads), 2)}},
            "setup": {"server": "handin serve (waitress, 16 threads)", "database": "SQLite (instance)",
                      "broker": "SQLite (kombu SQLAlchemy transport, embedded)",
                      "workers": f"embedded: cpu,gpu × {concurrency} + timed × 1",
                      "sandbox": args.sandbox, "sandbox_backend": backend_line,
                      "students": args.students, "uploads_per_student": args.per_student,
                      "uploads": len(jobs), "notebook": str(nb_path.relative_to(REPO)) if nb_path.is_relative_to(REPO)
                      else str(nb_path), "module": MODULE, "client": "one thread per upload, loopback, barrier start"},
            "uploads": {
                "answers": by_status,
                "latency_s": summary(latencies),
                "burst_s": round(burst_end - start, 3),
                "throughput_per_s": round(len(accepted) / (burst_end - start), 2) if burst_end > start else None,
            },
            "grading": {
                "all_graded_after_s": round(all_done_s, 1),
                "time_to_graded_s": summary(to_graded),
                "queue_wait_s": summary(wait),
                "per_job_s": summary(per_job),
                "first_upload_to_last_graded_s": round(span, 1),
                "throughput_per_min": round(len(graded) / span * 60, 2) if graded and span > 0 else None,
                "deliveries": deliveries,
                "worker_log_errors": sum("ERROR" in ln for ln in worker_text.splitlines()),
            },
            "checks": checks,
            "passed": all(checks.values()),
            "notes": notes,
        }
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=2) + "\n")
        print(json.dumps({k: result[k] for k in ("uploads", "grading", "checks", "passed")}, indent=2))
        print(f"written {args.out}")
        if not result["passed"]:
            args.keep = True                    # keep the evidence
        return 0 if result["passed"] else 1
    finally:
        if serve is not None and serve.poll() is None:
            os.killpg(serve.pid, signal.SIGTERM)
            try:
                serve.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(serve.pid, signal.SIGKILL)
                serve.wait()
        if args.keep:
            print(f"instance kept: {instance}")
        else:
            shutil.rmtree(instance, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
