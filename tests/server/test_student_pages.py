"""The student's pages: assignments, the starter bundle, the upload form, live status, report, grades."""

from __future__ import annotations

import io
import zipfile

import pytest

from server.extensions import db
from server.models import Assignment, Submission
from server.services import jobs
from webtools import M02, SOLUTION, STARTER, upload


def _form_upload(client, path=STARTER, filename=None, data=None):
    payload = data if data is not None else path.read_bytes()
    return client.post(f"/courses/c1/assignments/{M02}/submissions",
                       data={"notebook": (io.BytesIO(payload), filename or path.name)},
                       content_type="multipart/form-data")


def test_course_page_lists_released_assignments_with_attempts(client, world, app):
    with app.app_context():
        db.session.query(Assignment).filter_by(module=M02).update({"max_attempts": 3})
        db.session.commit()
    world.login(client, "alice")
    html = client.get("/courses/c1/").get_data(as_text=True)
    assert "Feed-forward networks from scratch" in html and "2027-02-05" in html
    assert "m09-data-parallel" not in html
    page = client.get(f"/courses/c1/assignments/{M02}/").get_data(as_text=True)
    assert 'id="attempts-left">3<' in page and 'enctype="multipart/form-data"' in page


def test_starter_bundle_holds_no_hidden_material(client, world):
    world.login(client, "alice")
    r = client.get(f"/courses/c1/assignments/{M02}/starter.zip")
    assert r.status_code == 200 and r.mimetype == "application/zip"
    names = zipfile.ZipFile(io.BytesIO(r.data)).namelist()
    assert any(n.endswith("feedforward.ipynb") for n in names)
    assert not any("solution" in n or "reference.py" in n or "test_hidden" in n for n in names), names
    assert client.get("/courses/c1/assignments/m09-data-parallel/starter.zip").status_code == 404


def test_form_upload_queues_and_redirects_to_the_live_page(client, world, app):
    world.login(client, "alice")
    r = _form_upload(client)
    assert r.status_code == 303 and "/submissions/" in r.headers["Location"]
    page = client.get(r.headers["Location"]).get_data(as_text=True)
    assert 'id="status">queued<' in page and "data-status-url" in page
    sub_id = int(r.headers["Location"].rstrip("/").split("/")[-1])
    s = client.get(f"/submissions/{sub_id}/status.json").get_json()
    assert s["status"] == "queued" and s["attempt"] == 1


@pytest.mark.parametrize("filename,data,needle", [
    ("notes.txt", b"hello", "expected a .ipynb file"),
    ("broken.ipynb", b"{", "not JSON"),
])
def test_form_upload_of_a_non_notebook_says_why_and_stores_nothing(client, world, app, filename, data, needle):
    world.login(client, "alice")
    r = _form_upload(client, filename=filename, data=data)
    assert r.status_code == 303
    page = client.get(r.headers["Location"]).get_data(as_text=True)
    assert needle in page
    with app.app_context():
        assert db.session.query(Submission).count() == 0


def test_form_upload_with_no_file_says_so(client, world):
    world.login(client, "alice")
    r = client.post(f"/courses/c1/assignments/{M02}/submissions", data={}, content_type="multipart/form-data")
    assert r.status_code == 302
    assert "choose your notebook file" in client.get(r.headers["Location"]).get_data(as_text=True)


def test_closed_assignment_shows_no_form(client, world, app):
    import datetime as dt
    with app.app_context():
        db.session.query(Assignment).filter_by(module=M02).update(
            {"due": dt.datetime(2020, 1, 1, tzinfo=dt.timezone.utc), "late_penalty_per_day": 0.0, "max_late_days": 0.0})
        db.session.commit()
    world.login(client, "alice")
    page = client.get(f"/courses/c1/assignments/{M02}/").get_data(as_text=True)
    assert "Hand-in is closed" in page and 'id="upload"' not in page
    r = _form_upload(client)
    assert "hand-in closed" in client.get(r.headers["Location"]).get_data(as_text=True)


@pytest.mark.slow
def test_graded_submission_report_and_grades_page(client, world, app):
    from server.services import grades
    from server.services.jobs import run_job

    sub_id = upload(client, world, "alice", SOLUTION).get_json()["id"]
    with app.app_context():
        assert run_job(sub_id) == "graded"
    world.login(client, "alice")
    page = client.get(f"/submissions/{sub_id}").get_data(as_text=True)
    assert 'id="status">graded<' in page and 'id="score">29 / 29<' in page and 'id="report"' in page
    report = client.get(f"/submissions/{sub_id}/report")
    text = report.get_data(as_text=True)
    assert report.status_code == 200 and "29" in text
    assert "script-src" not in report.headers["Content-Security-Policy"]
    grades_page = client.get("/courses/c1/grades").get_data(as_text=True)
    assert "29 / 29" in grades_page and "provisional" in grades_page
    # Hidden tests' messages show only after publishing.
    with app.app_context():
        sub = db.session.get(Submission, sub_id)
        hidden = [t for t in sub.result.doc["tests"] if t["visibility"] == "after_published"]
        assert hidden
        before = grades.student_results(sub)
        assert all(t["visibility"] != "visible" for t in before["tests"] if t["name"] == hidden[0]["name"])
        from server.services import accounts
        grades.set_published(sub.assignment, True, actor=accounts.require_user(world.emails["teacher"]))
        after = grades.student_results(db.session.get(Submission, sub_id))
        assert all(t["visibility"] == "visible" for t in after["tests"])
    assert "provisional" not in client.get("/courses/c1/grades").get_data(as_text=True)


def test_only_students_read_your_grades_and_staff_read_about_their_test_hand_ins(client, world):
    for who, says in (("alice", "Your grades"), ("ta", "Your own test hand-ins"), ("teacher", "Your own test hand-ins")):
        world.login(client, who)
        course, grades = (client.get(url).get_data(as_text=True) for url in ("/courses/c1/", "/courses/c1/grades"))
        assert says in course and says in grades, who
        if who != "alice":
            assert "Your grade" not in course and "Your grade" not in grades
            assert 'href="/courses/c1/teach/gradebook.csv"' in grades


def test_every_page_has_an_icon_and_favicon_ico_is_served(client, world):
    r = client.get("/favicon.ico")
    assert r.status_code == 200 and r.data.startswith(b"\x00\x00\x01\x00") and "icon" in r.mimetype
    for page in ("/login", "/no-such-page"):
        assert '<link rel="icon" href="/favicon.ico">' in client.get(page).get_data(as_text=True)


def test_the_report_frame_sizes_to_its_report_without_letting_it_run_script(client, world, app):
    sub_id = upload(client, world, "alice").get_json()["id"]
    with app.app_context():
        results = {"status": "ok", "score": 1, "max_score": 2, "grade": {"label": "F", "passed": False}}
        assert jobs.store_result(sub_id, jobs.claim(sub_id), results, report_dir="") == "graded"
    world.login(client, "alice")
    page = client.get(f"/submissions/{sub_id}").get_data(as_text=True)
    assert f'<iframe class="report" id="report" sandbox="allow-same-origin" src="/submissions/{sub_id}/report"' in page
    assert "allow-scripts" not in page and '<script src="/static/handin.js" defer></script>' in page
    script = client.get("/static/handin.js").get_data(as_text=True)
    assert 'querySelectorAll("iframe.report")' in script and "scrollHeight" in script
    report = client.get(f"/submissions/{sub_id}/report")
    assert "default-src 'none'" in report.headers["Content-Security-Policy"]      # still no script in it
    assert "script-src" not in report.headers["Content-Security-Policy"]
