"""The ``handin`` command: a thin layer over the library's functions.

This is the composition root: the only module in ``handin`` that knows the
``sandbox`` package exists.
"""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path

import click
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from .grading import GradeOptions, collect_submissions, grade_batch
from .release import ReleaseError, release
from .sandboxing import PROTECTIONS
from .spec import ModuleSpec, SpecError, load_module
from .validate import unmatched_points, unmatched_points_message, validate_module

console = Console(highlight=False)
err = Console(stderr=True, highlight=False, soft_wrap=True)

STATUS_STYLE = {"ok": "green", "cell_error": "yellow", "timeout": "magenta", "memory": "magenta",
                "crash": "red", "invalid": "red"}


def _load(module_dir: Path) -> ModuleSpec:
    try:
        return load_module(module_dir)
    except SpecError as exc:
        err.print(f"[red]error:[/red] {exc}")
        sys.exit(2)


def _backend(name: str, spec: ModuleSpec | None = None):
    import sandbox

    try:
        backend, why = sandbox.choose_backend(name, gpu=bool(spec and spec.resources.gpus))
    except (RuntimeError, ValueError) as exc:
        err.print(f"[red]error:[/red] {exc}")
        sys.exit(2)
    prot = backend.protections()
    missing = [k for k, on in prot.items() if not on]
    if missing:
        err.print(f"[yellow]warning:[/yellow] {why}; NOT active: "
                  + "; ".join(f"{k} ({PROTECTIONS[k]})" for k in missing)
                  + " — run as root with bubblewrap installed (see README) for full isolation")
    else:
        err.print(f"{why}; all protections active")
    return backend


def _parse_time(value: str | None) -> dt.datetime | None:
    if value is None:
        return None
    try:
        t = dt.datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not an ISO date-time, e.g. 2027-01-31T23:59:00+01:00")
    if t.tzinfo is None:
        raise click.BadParameter("give a time zone, e.g. 2027-01-31T23:59:00+01:00")
    return t


@click.group()
@click.version_option(package_name="handin")
def main() -> None:
    """handin: grade deep-learning notebooks against hidden tests, in sandboxes."""


@main.command()
@click.argument("module_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.argument("submissions", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=Path("results"),
              show_default=True, help="One folder per submission (results.json, student.html, ta.html) "
                                      "and grades.csv go here.")
@click.option("-j", "--jobs", type=click.IntRange(1, 64), default=1, show_default=True,
              help="Submissions graded at once.")
@click.option("--sandbox", "sandbox_name", type=click.Choice(["auto", "local", "docker"]), default="auto",
              show_default=True, help="Isolation backend; auto = docker when its engine and image are ready.")
@click.option("--wall-time", type=click.FloatRange(min=1), default=None,
              help="Override the module's wall-clock limit per submission (seconds).")
@click.option("--submitted-at", default=None, help="Hand-in time (ISO 8601 with zone) for the late penalty.")
def grade(module_dir: Path, submissions: tuple[Path, ...], out_dir: Path, jobs: int, sandbox_name: str,
          wall_time: float | None, submitted_at: str | None) -> None:
    """Grade every notebook in SUBMISSIONS (files or folders) against MODULE_DIR's hidden tests."""
    spec = _load(module_dir)
    unmatched = unmatched_points(spec)
    if unmatched:  # grading on would silently drop the test from the maximum
        err.print(f"[red]error:[/red] {escape(unmatched_points_message(unmatched))}; fix "
                  f"{escape(str(spec.paths.spec_file))} (`handin validate` checks the whole module)")
        sys.exit(2)
    files = collect_submissions(list(submissions))
    if not files:
        err.print("[red]error:[/red] no files to grade in " + ", ".join(map(str, submissions)))
        sys.exit(2)
    backend = _backend(sandbox_name, spec)
    options = GradeOptions(wall_seconds=wall_time, submitted_at=_parse_time(submitted_at))
    with Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), console=err, transient=False) as progress:
        task = progress.add_task(f"grading {spec.name}", total=len(files))
        results = grade_batch(spec, files, backend=backend, out_dir=out_dir, jobs=jobs, options=options,
                              on_done=lambda r: progress.advance(task))
    console.print(results_table(spec, results))
    console.print(f"results in {out_dir}/ (grades.csv, and per submission results.json, student.html, ta.html)")


def results_table(spec: ModuleSpec, results: list[dict]) -> Table:
    table = Table(title=f"{spec.assignment.title} ({spec.name})")
    for col in ("submission", "status", "score", "grade", "time", "note"):
        table.add_column(col, justify="right" if col in ("score", "time") else "left")
    for r in sorted(results, key=lambda r: r["submission"]["id"]):
        style = STATUS_STYLE.get(r["status"], "")
        grade_label = r["grade"]["label"] or ("pass" if r["grade"]["passed"] else "fail")
        table.add_row(r["submission"]["filename"], f"[{style}]{r['status']}[/{style}]",
                      f"{r['score']:g}/{r['max_score']:g}", grade_label, f"{r['execution_time']:.1f}s",
                      r.get("status_reason", "")[:70])
    return table


@main.command()
@click.argument("module_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--sandbox", "sandbox_name", type=click.Choice(["auto", "local", "docker"]), default="auto",
              show_default=True)
@click.option("-j", "--jobs", type=click.IntRange(1, 8), default=2, show_default=True)
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Keep the three gradings here (results.json, judge.log, student.log, ta.html per run); "
                   "default: a temporary folder, kept when a check fails.")
def validate(module_dir: Path, sandbox_name: str, jobs: int, out_dir: Path | None) -> None:
    """Check a module: spec, public tests, release bundle, reference gets full marks, starter fails,
    tests deterministic. A failed check says why and where the judge log of its run is."""
    import shutil

    spec = _load(module_dir)
    console.print(f"[green]✓[/green] {spec.paths.spec_file} is valid")
    backend = _backend(sandbox_name, spec)
    with console.status("grading the solution twice and the starter once…"):
        v = validate_module(spec, backend=backend, jobs=jobs, out_dir=out_dir)
    for c in v.checks:
        mark = "[yellow]–[/yellow]" if c.skipped else "[green]✓[/green]" if c.ok else "[red]✗[/red]"
        console.print(f"{mark} {escape(c.name)}: {escape(c.detail)}", soft_wrap=True)
        for line in c.lines:
            console.print(f"    {line}", markup=False, soft_wrap=True)
    if v.out_dir is not None:
        if v.ok and out_dir is None:
            shutil.rmtree(v.out_dir, ignore_errors=True)
        else:
            console.print(f"the gradings are in {v.out_dir}/ (solution, starter, solution-again: results.json, "
                          "judge.log, student.log, ta.html)", markup=False, soft_wrap=True)
    sys.exit(0 if v.ok else 1)


@main.command("release")
@click.argument("module_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=Path("dist"),
              show_default=True)
def release_cmd(module_dir: Path, out_dir: Path) -> None:
    """Write the student bundle: starter, public data and public tests — nothing hidden."""
    spec = _load(module_dir)
    try:
        bundle = release(spec, out_dir)
    except ReleaseError as exc:
        for line in str(exc).splitlines():
            err.print(f"[red]error:[/red] {escape(line)}")
        err.print("nothing was released")
        sys.exit(2)
    files = sorted(p.relative_to(bundle) for p in bundle.rglob("*") if p.is_file())
    console.print(f"wrote {bundle}/ and {out_dir / (spec.name + '.zip')}:")
    for f in files:
        console.print(f"  {f}")


@main.command("new")
@click.argument("module")
@click.option("--title", required=True, help="The assignment's title, shown to students.")
@click.option("--course", required=True, help="The course it belongs to (free text, e.g. 'WASP Deep Learning').")
@click.option("--root", type=click.Path(file_okay=False, path_type=Path), default=Path("."), show_default=True,
              help="The course repository (the folder holding assignments/, solutions/, graders/).")
def new_cmd(module: str, title: str, course: str, root: Path) -> None:
    """Start a module: assignments/, solutions/ and graders/ that `handin validate` passes at once."""
    from .scaffold import ScaffoldError, new_module

    try:
        made = new_module(root.resolve(), module, title=title, course=course)
    except ScaffoldError as exc:
        err.print(f"[red]error:[/red] {exc}")
        sys.exit(2)
    console.print(f"created module {module}:")
    for f in made.files:
        console.print(f"  {f.relative_to(root.resolve())}")
    console.print(f"next: edit graders/{module}/build_notebooks.py and run it, then "
                  f"`handin validate {root / 'assignments' / module}`")


@main.group("course")
def course_group() -> None:
    """Course definitions (courses/<code>/course.toml): components and the final grade's rule."""


@course_group.command("check")
@click.option("--root", type=click.Path(file_okay=False, path_type=Path), default=Path("."), show_default=True,
              help="The course repository (holds courses/ and assignments/).")
def course_check(root: Path) -> None:
    """Check every course definition under ROOT/courses; each problem is one line naming file and key."""
    from .course import load_courses

    good, bad = load_courses(root)
    for c in good:
        parts = ", ".join(f"{k} ({v.scale.name}, {v.source})" for k, v in c.components.items())
        console.print(f"[green]ok[/green] {c.code}: {escape(parts)}; final {c.scale.name}: "
                      f"{escape(c.final.describe())}")
    for exc in bad:
        err.print(escape(str(exc)), markup=False)
    if bad or not good:
        err.print("[red]error:[/red] " + (f"{len(bad)} course definition(s) have problems" if bad else
                                          f"no course definitions in {root / 'courses'}"))
        sys.exit(2)


@main.group("import")
def import_group() -> None:
    """Bring an otter-grader or nbgrader assignment into handin as a module."""


def _import_options(fn):
    fn = click.option("--force", is_flag=True, help="Replace the module's folders if they exist.")(fn)
    fn = click.option("--root", type=click.Path(file_okay=False, path_type=Path), default=Path("."),
                      show_default=True, help="The course repository (assignments/, solutions/, graders/).")(fn)
    fn = click.option("--course", default="", help="The course it belongs to (free text).")(fn)
    fn = click.option("--title", default=None, help="The title students see (default: from the source).")(fn)
    fn = click.option("--module", "module", required=True, help="The module's name (its folder names).")(fn)
    return click.argument("source", type=click.Path(dir_okay=False, path_type=Path))(fn)


def _import(kind: str, source: Path, module: str, title: str | None, course: str, root: Path, force: bool) -> None:
    from .interop.module import ImportError_, write_module

    try:
        if kind == "otter":
            from .interop.otter import import_otter as read
        else:
            from .interop.nbgrader import import_nbgrader as read
        imported = read(source, module=module, title=title, course=course)
        written = write_module(imported, root.resolve(), force=force)
    except ImportError_ as exc:
        err.print(f"[red]error:[/red] {exc}")
        sys.exit(2)
    console.print(f"imported {source.name} ({imported.source_format}) as module {module}: "
                  f"{len(imported.cases)} tests ({written.public} public, {written.hidden} hidden), "
                  f"{written.points:g} points")
    for note in imported.notes:
        console.print(f"  note: {note}")
    for path in (written.assignment_dir, written.solution, written.grader_dir):
        console.print(f"  {path.relative_to(root.resolve())}")
    console.print(f"next: `handin validate {root / 'assignments' / module}`")


@import_group.command("otter")
@_import_options
def import_otter_cmd(source: Path, module: str, title: str | None, course: str, root: Path, force: bool) -> None:
    """An otter-grader source notebook (otter assign format) as module MODULE."""
    _import("otter", source, module, title, course, root, force)


@import_group.command("nbgrader")
@_import_options
def import_nbgrader_cmd(source: Path, module: str, title: str | None, course: str, root: Path, force: bool) -> None:
    """An nbgrader source notebook (cell metadata, BEGIN/END SOLUTION, HIDDEN TESTS) as module MODULE."""
    _import("nbgrader", source, module, title, course, root, force)


@main.group("export")
def export_group() -> None:
    """Package a module for another platform."""


@export_group.command("gradescope")
@click.argument("module_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=Path("dist"),
              show_default=True, help="Where to write <module>-gradescope.zip.")
def export_gradescope_cmd(module_dir: Path, out_dir: Path) -> None:
    """A Gradescope autograder zip (setup.sh, run_autograder) that grades with handin's judge."""
    from .interop.gradescope import ExportError, export_gradescope

    spec = _load(module_dir)
    try:
        target = export_gradescope(spec, out_dir)
    except ExportError as exc:
        err.print(f"[red]error:[/red] {exc}")
        sys.exit(2)
    console.print(f"wrote {target} ({target.stat().st_size / 2**20:.1f} MiB): upload it as the "
                  "assignment's autograder (Configure Autograder → Zip file upload)")


@main.group("sandbox")
def sandbox_group() -> None:
    """Build and check the Docker sandbox images."""


@sandbox_group.command("build")
@click.option("--gpu", is_flag=True, help="Build the GPU image (its CUDA base image must be present).")
@click.option("--base", default=None, help="Base image for the GPU build (default: a PyTorch CUDA runtime image).")
@click.option("--rebuild", is_flag=True, help="Build even when nothing changed.")
def sandbox_build(gpu: bool, base: str | None, rebuild: bool) -> None:
    """Build the sandbox image (cached: a rebuild with nothing changed takes seconds)."""
    from sandbox.docker import engine
    from sandbox.images import ImageBuildError, build_image

    client = engine()
    if client is None:
        err.print("[red]error:[/red] no Docker engine answers; start one (as root: .ci/docker-engine.sh)")
        sys.exit(2)
    try:
        info = build_image(client, gpu=gpu, base=base, rebuild=rebuild, progress=lambda line: err.print(line))
    except ImageBuildError as exc:
        err.print(f"[red]error:[/red] {exc}")
        sys.exit(1)
    what = "built" if info.built else "up to date"
    console.print(f"{info.tag} {what} ({info.size / 1e9:.2f} GB, {info.seconds:.1f} s)")


@sandbox_group.command("doctor")
def sandbox_doctor() -> None:
    """What works, what is missing, and how to fix it."""
    from sandbox.doctor import diagnose

    ok = True
    for check in diagnose():
        mark = {"ok": "[green]✓[/green]", "warn": "[yellow]![/yellow]", "fail": "[red]✗[/red]"}[check.level]
        console.print(f"{mark} {check.name}: {check.detail}")
        if check.fix and check.level != "ok":
            console.print(f"    fix: {check.fix}")
        ok &= check.level != "fail"
    sys.exit(0 if ok else 1)


# ---------------------------------------------------------------- the web platform (server/)

_instance_option = click.option(
    "--instance", type=click.Path(file_okay=False, path_type=Path), envvar="HANDIN_INSTANCE", default=None,
    help="Instance folder (database, broker, secret key, uploads, reports); also HANDIN_INSTANCE; default ./instance.")


def _server_app(instance: Path | None, **overrides):
    from server.cli import make_app, upgrade

    try:
        app = make_app(instance, **overrides)
        upgrade(app)
    except Exception as exc:  # a database that cannot be reached or migrated: one message, not a traceback
        err.print(f"[red]error:[/red] the database cannot be opened or upgraded: {type(exc).__name__}: {exc}")
        sys.exit(2)
    return app


def _service(fn):
    """Run a service call in an app context; its user errors become one message and exit 2."""
    from server.extensions import db
    from server.services.errors import ServiceError

    try:
        result = fn()
        db.session.commit()
        return result
    except ServiceError as exc:
        db.session.rollback()
        err.print(f"[red]error:[/red] {exc.message}")
        sys.exit(2)


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=click.IntRange(0, 65535), default=8000, show_default=True)
@_instance_option
@click.option("--no-worker", is_flag=True, help="Do not start grading workers here (run `handin worker` elsewhere).")
@click.option("--concurrency", type=click.IntRange(1, 64), default=None,
              help="Jobs the embedded cpu worker runs at once (default: cores / 2).")
def serve(host: str, port: int, instance: Path | None, no_worker: bool, concurrency: int | None) -> None:
    """Serve the web platform: migrations applied, demo course seeded on first start, workers started."""
    import os

    from server.cli import seed_if_new, serve as run

    app = _server_app(instance)
    seed_if_new(app, console.print)
    run(app, host=host, port=port, worker=not no_worker, concurrency=concurrency or max(1, (os.cpu_count() or 2) // 2),
        say=lambda line: console.print(line))


@main.command()
@_instance_option
@click.option("--queues", default="cpu,gpu,timed", show_default=True,
              help="Comma-separated queues to take jobs from: cpu, gpu, timed.")
@click.option("--concurrency", type=click.IntRange(1, 64), default=1, show_default=True,
              help="Jobs at once (use 1 for the timed queue: one timed job per group of cores).")
@click.option("--name", default=None, help="Worker name (default: from the queues and pid).")
def worker(instance: Path | None, queues: str, concurrency: int, name: str | None) -> None:
    """Take grading jobs from the broker (HANDIN_BROKER_URL) and grade them on this host."""
    from server.cli import run_worker
    from server.services.catalog import QUEUES

    wanted = [q.strip() for q in queues.split(",") if q.strip()]
    bad = [q for q in wanted if q not in QUEUES]
    if bad or not wanted:
        raise click.BadParameter(f"queues must be among {', '.join(QUEUES)}", param_hint="--queues")
    app = _server_app(instance)
    run_worker(app, queues=wanted, concurrency=concurrency, name=name)


@main.group("user")
def user_group() -> None:
    """Manage the platform's accounts."""


@user_group.command("add")
@click.argument("email")
@click.option("--course", required=True, help="Course code (created when new).")
@click.option("--role", type=click.Choice(["student", "ta", "teacher"]), required=True)
@click.option("--name", default="", help="Display name.")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input instead of generating one.")
@_instance_option
def user_add(email: str, course: str, role: str, name: str, password_stdin: bool, instance: Path | None) -> None:
    """Add EMAIL to COURSE with ROLE. A new account gets a one-time invitation link to choose its password,
    mailed when mail is configured (HANDIN_SMTP_HOST), else printed; no password is ever printed."""
    from server.extensions import db
    from server.services import accounts, notify

    password = sys.stdin.readline().rstrip("\n") if password_stdin else None
    app = _server_app(instance)
    with app.app_context():
        user, made = _service(lambda: accounts.add_user(email, course=accounts.ensure_course(course), role=role,
                                                        name=name, password=password))
        link = accounts.issue_link(user, "invite") if made and not password_stdin else None
        db.session.commit()
        console.print(f"{user.email}: {role} in {course}")
        if link is not None:
            mailed = notify.account_links([(user.email, link, "invite")])
            click.echo(f"invitation mailed to {user.email}" if mailed else f"invitation link: {link}")


@user_group.command("reset-password")
@click.argument("email")
@_instance_option
def user_reset_password(email: str, instance: Path | None) -> None:
    """A one-time link (valid a day) for EMAIL to set a new password, mailed when mail is configured, else
    printed; older reset links stop working."""
    from server.services import accounts, notify

    app = _server_app(instance)
    with app.app_context():
        link = _service(lambda: accounts.reset_link(email))
        mailed = notify.account_links([(email, link, "reset")])
    click.echo(f"mailed to {email}" if mailed else link)


@main.group("roster")
def roster_group() -> None:
    """A course's members."""


@roster_group.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--course", required=True, help="Course code (created when new).")
@_instance_option
def roster_import(file: Path, course: str, instance: Path | None) -> None:
    """Add or update the members listed in FILE (CSV: email,name,role[,group]); all rows or none.

    New accounts get a one-time invitation link (links use HANDIN_PUBLIC_URL), mailed to them when mail is
    configured (HANDIN_SMTP_HOST), else printed here.
    """
    from server.services import accounts, notify, roster

    def run():
        try:
            return roster.import_csv(accounts.ensure_course(course), file.read_bytes(), actor=None)
        except roster.RosterRejected as exc:
            for row in exc.rows:
                err.print(f"{file}:{row.line}: {row.error}", highlight=False, markup=False)
            raise

    app = _server_app(instance)
    with app.app_context():
        report = _service(run)
        mailed = notify.account_links((i.email, i.link, "invite") for i in report.invitations)
    console.print(f"{course}: {report.added} added, {report.updated} updated, {report.unchanged} unchanged")
    for invitation in report.invitations:
        click.echo(f"{invitation.email} {'mailed' if invitation.email in mailed else invitation.link}")


@main.group("token")
def token_group() -> None:
    """API tokens (Authorization: Bearer …)."""


@token_group.command("create")
@click.argument("email")
@_instance_option
def token_create(email: str, instance: Path | None) -> None:
    """Print a new API token for EMAIL (stored hashed; shown once)."""
    from server.services import accounts

    app = _server_app(instance)
    with app.app_context():
        token = _service(lambda: accounts.create_token(accounts.require_user(email)))
    click.echo(token)


@token_group.command("revoke")
@click.argument("email")
@_instance_option
def token_revoke(email: str, instance: Path | None) -> None:
    """Revoke every API token of EMAIL."""
    from server.services import accounts

    app = _server_app(instance)
    with app.app_context():
        n = _service(lambda: accounts.revoke_tokens(accounts.require_user(email)))
    console.print(f"revoked {n} token(s) of {email}")


@main.group("db")
def db_group() -> None:
    """The platform's database."""


@db_group.command("upgrade")
@_instance_option
def db_upgrade(instance: Path | None) -> None:
    """Apply the database migrations (SQLite in the instance folder, or HANDIN_DATABASE_URL)."""
    _server_app(instance)
    console.print("database is up to date")


if __name__ == "__main__":
    main()
