"""The OpenAPI 3.1 document of ``/api/v1``, served at ``/api/v1/openapi.json``."""

from __future__ import annotations

from functools import lru_cache


def _err(description: str) -> dict:
    return {"description": description,
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}


ERRORS = {
    "400": _err("bad request"), "401": _err("no or invalid token"),
    "404": _err("not found, or not visible to the caller"),
    "409": _err("attempts used up or the hand-in is closed"), "413": _err("upload too large"),
    "422": _err("not a notebook (the intake message; it costs no attempt)"), "429": _err("rate limited"),
}


def _params(*names: str) -> list[dict]:
    kinds = {"course": ("string", "course code"), "module": ("string", "module name, e.g. m02-feedforward"),
             "submission_id": ("integer", "submission id")}
    return [{"name": n, "in": "path", "required": True, "description": kinds[n][1],
             "schema": {"type": kinds[n][0]}} for n in names]


def _op(summary: str, responses: dict, *, params: tuple[str, ...] = (), errors: tuple[str, ...] = ("401", "404"),
        extra_params: tuple[dict, ...] = (), **extra) -> dict:
    return {"summary": summary, "parameters": _params(*params) + list(extra_params),
            "responses": {**responses, **{e: ERRORS[e] for e in errors}}, **extra}


def _json(schema_ref: str, description: str = "OK", array: bool = False) -> dict:
    schema = {"$ref": f"#/components/schemas/{schema_ref}"}
    if array:
        schema = {"type": "array", "items": schema}
    return {"description": description, "content": {"application/json": {"schema": schema}}}


@lru_cache(maxsize=1)
def document() -> dict:
    nullable_num = {"type": ["number", "null"]}
    return {
        "openapi": "3.1.0",
        "info": {"title": "handin API", "version": "1",
                 "description": "Hand in notebooks, follow their grading and read reports. Authenticate with "
                                "`Authorization: Bearer <token>` (`handin token create EMAIL`)."},
        "servers": [{"url": "/api/v1"}],
        "security": [{"bearer": []}],
        "paths": {
            "/courses": {"get": _op("Courses the caller is enrolled in", {"200": _json("Course", array=True)},
                                    errors=("401",))},
            "/courses/{course}/assignments": {"get": _op(
                "Assignments the caller may see, with deadline and attempts left",
                {"200": _json("Assignment", array=True)}, params=("course",))},
            "/courses/{course}/assignments/{module}/submissions": {"post": _op(
                "Hand in a notebook", {"202": _json("Queued", "accepted and queued for grading")},
                params=("course", "module"), errors=("400", "401", "404", "409", "413", "422", "429"),
                requestBody={"required": True, "content": {"multipart/form-data": {"schema": {
                    "type": "object", "required": ["file"],
                    "properties": {"file": {"type": "string", "format": "binary",
                                            "description": "the .ipynb notebook"}}}}}})},
            "/submissions/{submission_id}": {"get": _op("A submission's status and grade",
                                                        {"200": _json("Submission")}, params=("submission_id",))},
            "/submissions/{submission_id}/report": {"get": _op(
                "The student feedback report (HTML)",
                {"200": {"description": "the report", "content": {"text/html": {"schema": {"type": "string"}}}}},
                params=("submission_id",))},
            "/courses/{course}/gradebook.csv": {"get": _op(
                "The gradebook (TAs and teachers)",
                {"200": {"description": "one row per student and assignment",
                         "content": {"text/csv": {"schema": {"type": "string"}}}}}, params=("course",),
                errors=("400", "401", "404"))},
            "/courses/{course}/assignments/{module}/regrade": {"post": _op(
                "Queue an assignment's submissions again (teachers)",
                {"202": {"description": "queued", "content": {"application/json": {"schema": {
                    "type": "object", "properties": {"queued": {"type": "integer"},
                                                     "ids": {"type": "array", "items": {"type": "integer"}}}}}}}},
                params=("course", "module"),
                description="The attempt that counts for each student (the latest when none is graded); "
                            "`attempts=every` queues every attempt, superseded ones too.",
                extra_params=({"name": "attempts", "in": "query", "schema": {"enum": ["counted", "every"]}},))},
            "/courses/{course}/members": {"get": _op(
                "The course's members, teachers first (TAs and teachers)", {"200": _json("Member", array=True)},
                params=("course",), errors=("400", "401", "404"),
                description="`q` matches email or name (any case); `role` keeps one role.",
                extra_params=({"name": "q", "in": "query", "schema": {"type": "string"}},
                              {"name": "role", "in": "query", "schema": {"enum": ["student", "ta", "teacher"]}}))},
            "/courses/{course}/roster": {"post": _op(
                "Import the roster from CSV (teachers): all rows or none",
                {"200": _json("RosterImport", "imported"),
                 "422": {"description": "bad rows, each with its line; nothing was imported",
                         "content": {"application/json": {"schema": {"$ref": "#/components/schemas/RosterError"}}}}},
                params=("course",), errors=("400", "401", "404", "409", "413"),
                description="Header `email,name,role` and an optional `group` column (role: student, ta or "
                            "teacher), UTF-8. Members already in the course are updated, never duplicated; "
                            "new accounts get a one-time invitation link (returned here, shown once).",
                requestBody={"required": True, "content": {
                    "text/csv": {"schema": {"type": "string"}},
                    "multipart/form-data": {"schema": {"type": "object", "required": ["file"], "properties": {
                        "file": {"type": "string", "format": "binary", "description": "the CSV file"}}}}}})},
            "/courses/{course}/submissions": {"get": _op(
                "The course's submissions, newest first (TAs and teachers)",
                {"200": {"description": "one page of submissions; `X-Total-Count` counts them all, `Link` "
                                        "(rel=next) names the next page",
                         "content": {"application/json": {"schema": {"type": "array", "items": {
                             "$ref": "#/components/schemas/StaffSubmission"}}}}}},
                params=("course",), errors=("400", "401", "404"),
                description="Students removed from the course are listed with their submissions. `counted` keeps "
                            "the attempt that counts for the gradebook, per student and module.",
                extra_params=tuple({"name": n, "in": "query", "description": d, "schema": s} for n, d, s in (
                    ("module", "one module", {"type": "string"}),
                    ("student", "a student's email", {"type": "string"}),
                    ("q", "part of a student's email or name, any case", {"type": "string"}),
                    ("status", "one status", {"enum": ["queued", "running", "graded", "error"]}),
                    ("counted", "only the attempts that count", {"type": "boolean"}),
                    ("page", "from 1", {"type": "integer", "minimum": 1}),
                    ("per_page", "default 50", {"type": "integer", "minimum": 1, "maximum": 500}))))},
            "/submissions/{submission_id}/notebook": {"get": _op(
                "The handed-in notebook file (its student, their group, TAs and teachers)",
                {"200": {"description": "the .ipynb as stored",
                         "content": {"application/x-ipynb+json": {"schema": {"type": "string", "format": "binary"}}}}},
                params=("submission_id",))},
            "/submissions/{submission_id}/regrade-requests": {
                "post": _op(
                    "Ask for a regrade of a graded submission, or of one test in it (its student or group)",
                    {"201": _json("RegradeRequest", "the open request"),
                     "409": _err("not graded yet, the window is closed (or requests are off), or a request on "
                                 "the same test is open")},
                    params=("submission_id",), errors=("400", "401", "404"),
                    description="Open while the grades are unpublished and for the assignment's `regrade_days` "
                                "days after they are published. `test` names a test the student's report shows.",
                    requestBody={"required": True, "content": {"application/json": {"schema": {
                        "type": "object", "required": ["reason"], "properties": {
                            "reason": {"type": "string", "maxLength": 4000},
                            "test": {"type": "string", "description": "a test's name from the results"}}}}}}),
                "get": _op("The submission's regrade requests and their answers (its student or group)",
                           {"200": _json("RegradeRequest", array=True)}, params=("submission_id",))},
            "/courses/{course}/regrade-requests": {"get": _op(
                "The course's regrade requests, open ones first (TAs and teachers)",
                {"200": _json("RegradeRequest", array=True)}, params=("course",), errors=("400", "401", "404"),
                extra_params=({"name": "state", "in": "query",
                               "schema": {"enum": ["open", "accepted", "declined"]}},))},
            "/regrade-requests/{request_id}": {"post": _op(
                "Answer a regrade request (TAs and teachers of its course)",
                {"200": _json("RegradeRequest", "the answered request"),
                 "409": _err("already answered")},
                errors=("400", "401", "404"),
                extra_params=({"name": "request_id", "in": "path", "required": True, "schema": {"type": "integer"}},),
                description="`accepted` sets `points` as the submission's new points (an override with the "
                            "comment: the grade, report and gradebook follow); `declined` keeps the grade. The "
                            "comment is required and shown to the student.",
                requestBody={"required": True, "content": {"application/json": {"schema": {
                    "type": "object", "required": ["decision", "comment"], "properties": {
                        "decision": {"enum": ["accepted", "declined"]},
                        "comment": {"type": "string", "maxLength": 4000},
                        "points": {"type": "number", "minimum": 0,
                                   "description": "required when accepting"}}}}}})},
            "/courses/{course}/assignments/{module}": {"patch": _op(
                "Change an assignment's settings (teachers)", {"200": _json("Assignment", "the assignment now")},
                params=("course", "module"), errors=("400", "401", "404", "409"),
                description="Any of the fields; the others stay. `late` and the late penalty of every hand-in "
                            "follow a new deadline or late policy at once, without a regrade. `released: true` "
                            "makes the checks release makes (409 when they fail).",
                requestBody={"required": True, "content": {"application/json": {"schema": {
                    "$ref": "#/components/schemas/AssignmentSettings"}}}})},
            "/courses/{course}/assignments/{module}/extensions/{email}": {
                verb: _op(summary, {"200": _json("Extension", "the student's due date now")},
                          params=("course", "module"), errors=("400", "401", "404"),
                          extra_params=({"name": "email", "in": "path", "required": True,
                                         "description": "a student of the course", "schema": {"type": "string"}},),
                          description="Every hand-in's `late` follows at once (a group's due date is the latest "
                                      "any member has).", **body)
                for verb, summary, body in (
                    ("put", "Give a student their own due date for the assignment (teachers)",
                     {"requestBody": {"required": True, "content": {"application/json": {"schema": {
                         "type": "object", "required": ["due"], "properties": {
                             "due": {"type": "string", "format": "date-time",
                                     "description": "ISO 8601 with a zone"}}}}}}}),
                    ("delete", "Take a student's extension back (teachers)", {}))},
            "/courses/{course}/assignments/{module}/groups": {
                "post": _op("Make a group of students for the assignment (teachers)",
                            {"201": _json("Group", "the group"),
                             "409": _err("a member is in a group of this assignment already")},
                            params=("course", "module"), errors=("400", "401", "404"),
                            description="Members are students of the course (400 names the others). A member's "
                                        "hand-in is the group's: every member sees it and its grade.",
                            requestBody={"required": True, "content": {"application/json": {"schema": {
                                "type": "object", "required": ["members"], "properties": {
                                    "members": {"type": "array", "items": {"type": "string"}, "minItems": 1},
                                    "name": {"type": "string", "maxLength": 100,
                                             "description": "default group-N"}}}}}}),
                "get": _op("The assignment's groups (teachers)", {"200": _json("Group", array=True)},
                           params=("course", "module"))},
            "/courses/{course}": {"patch": _op(
                "Change the course's late-day budget (teachers)", {"200": _json("CourseSettings")},
                params=("course",), errors=("400", "401", "404"),
                description="Days each student may hand in late without penalty over the whole course; "
                            "every hand-in's lateness follows at once.",
                requestBody={"required": True, "content": {"application/json": {"schema": {
                    "type": "object", "required": ["late_days"],
                    "properties": {"late_days": {"type": "integer", "minimum": 0, "maximum": 365}}}}}})},
            "/courses/{course}/course-grades": {"get": _op(
                "Every student's course components and final grade, as courses/<code>/course.toml defines "
                "them (TAs and teachers)", {"200": _json("CourseGrade", array=True)}, params=("course",),
                description="Computed when asked from the module grades that count now (overrides and late "
                            "rules included) and the entered components. A final grade only once complete.")},
            "/courses/{course}/course-grades/me": {"get": _op(
                "The caller's own components and final grade (students)",
                {"200": _json("CourseGrade")}, params=("course",),
                description="`published` false: the grades are provisional.")},
            "/courses/{course}/course-grades.csv": {"get": _op(
                "Course grades for a registrar or an LMS gradebook (TAs and teachers)",
                {"200": {"description": "columns student, name, component, credits, grade, date: one row per "
                                        "completed component, and one for the course grade (the course's code)",
                         "content": {"text/csv": {"schema": {"type": "string"}}}}}, params=("course",))},
            "/courses/{course}/components/{code}/grades/{email}": {"put": _op(
                "Enter a student's result in an entered component (teachers; TAs where the definition allows)",
                {"200": {"description": "the component's result and the final grade now",
                         "content": {"application/json": {"schema": {"type": "object", "properties": {
                             "email": {"type": "string"},
                             "component": {"$ref": "#/components/schemas/ComponentResult"},
                             "final": {"$ref": "#/components/schemas/FinalResult"}}}}}},
                 "422": _err("the result is outside the component's scale (the reason says which are allowed)")},
                params=("course",), errors=("400", "401", "404"),
                extra_params=({"name": "code", "in": "path", "required": True, "schema": {"type": "string"},
                               "description": "the component's code, e.g. TEN1"},
                              {"name": "email", "in": "path", "required": True, "schema": {"type": "string"},
                               "description": "a student of the course"}),
                description="One field, by the component's scale: `grade` (a grade of its scale), `points` "
                            "(0 to its maximum) or `attended` (sessions, 0 to its count). null clears it. "
                            "Audited.",
                requestBody={"required": True, "content": {"application/json": {"schema": {
                    "type": "object", "minProperties": 1, "maxProperties": 1, "properties": {
                        "grade": {"type": ["string", "null"]}, "points": {"type": ["number", "null"]},
                        "attended": {"type": ["integer", "null"]}}}}}})},
            "/openapi.json": {"get": {"summary": "This document", "security": [],
                                      "responses": {"200": {"description": "OpenAPI 3.1"}}}},
        },
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {
                "Error": {"type": "object", "required": ["error"], "properties": {"error": {"type": "string"}}},
                "ComponentResult": {"type": "object", "required": ["grade", "complete"], "properties": {
                    "grade": {"type": ["string", "null"], "description": "null for points, or while incomplete"},
                    "points": {"type": "number"}, "attended": {"type": "integer"},
                    "complete": {"type": "boolean"}, "status": {"type": "string"},
                    "date": {"type": ["string", "null"], "format": "date-time"}}},
                "FinalResult": {"type": "object", "required": ["grade", "complete"], "properties": {
                    "grade": {"type": ["string", "null"], "description": "null until complete"},
                    "points": {"type": "number"}, "complete": {"type": "boolean"}, "status": {"type": "string"},
                    "date": {"type": ["string", "null"], "format": "date-time"}}},
                "CourseGrade": {"type": "object", "required": ["email", "components", "final"], "properties": {
                    "email": {"type": "string"}, "name": {"type": "string"}, "published": {"type": "boolean"},
                    "components": {"type": "object", "additionalProperties": {
                        "$ref": "#/components/schemas/ComponentResult"}},
                    "final": {"$ref": "#/components/schemas/FinalResult"}}},
                "Course": {"type": "object", "properties": {"code": {"type": "string"}, "title": {"type": "string"},
                                                            "role": {"enum": ["student", "ta", "teacher"]}}},
                "Assignment": {"type": "object", "properties": {
                    "module": {"type": "string"}, "title": {"type": "string"}, "released": {"type": "boolean"},
                    "due": {"type": ["string", "null"], "format": "date-time",
                            "description": "the caller's due date: their extension, or the course's"},
                    "course_due": {"type": ["string", "null"], "format": "date-time"},
                    "closes": {"type": ["string", "null"], "format": "date-time"},
                    "open": {"type": "boolean"}, "late": {"type": "boolean"},
                    "late_days_left": {"type": "integer", "description": "course late days the caller may spend"},
                    "group": {"type": ["object", "null"], "properties": {
                        "id": {"type": "integer"}, "name": {"type": "string"},
                        "members": {"type": "array", "items": {"type": "string"}}}},
                    "late_penalty_per_day": {"type": "number"}, "max_late_days": {"type": "number"},
                    "max_attempts": {"type": ["integer", "null"]}, "attempts_used": {"type": "integer"},
                    "attempts_left": {"type": ["integer", "null"]}, "counts": {"enum": ["last", "best", "chosen"]},
                    "group_size": {"type": "integer"}, "regrade_days": {"type": "number"},
                    "grades_published": {"type": "boolean"}}},
                "AssignmentSettings": {"type": "object", "minProperties": 1, "additionalProperties": False,
                                       "properties": {
                    "due": {"type": ["string", "null"], "format": "date-time",
                            "description": "ISO 8601 with a zone; null: no deadline"},
                    "late_penalty_per_day": {"type": "number", "minimum": 0, "maximum": 100},
                    "max_late_days": {"type": "number", "minimum": 0},
                    "max_attempts": {"type": ["integer", "null"], "minimum": 1, "description": "null: unlimited"},
                    "counts": {"enum": ["last", "best", "chosen"],
                               "description": "chosen: the student picks a graded attempt before the deadline"},
                    "released": {"type": "boolean"},
                    "group_size": {"type": "integer", "minimum": 1, "maximum": 20,
                                   "description": "largest group students may form by invitation; 1: alone"},
                    "regrade_days": {"type": "number", "minimum": 0, "maximum": 365,
                                     "description": "days after publishing to ask for a regrade; 0: off"}}},
                "Extension": {"type": "object", "properties": {
                    "module": {"type": "string"}, "email": {"type": "string"},
                    "due": {"type": ["string", "null"], "format": "date-time",
                            "description": "the student's own due date; null: none (the course's applies)"},
                    "course_due": {"type": ["string", "null"], "format": "date-time"}}},
                "Group": {"type": "object", "required": ["id", "name", "members"], "properties": {
                    "id": {"type": "integer"}, "name": {"type": "string"},
                    "members": {"type": "array", "items": {"type": "string"}},
                    "submissions": {"type": "integer", "description": "hand-ins of the group"}}},
                "CourseSettings": {"type": "object", "properties": {
                    "code": {"type": "string"}, "title": {"type": "string"},
                    "late_days": {"type": "integer", "description": "each student's late-day budget"}}},
                "Member": {"type": "object", "required": ["email", "name", "role", "group"], "properties": {
                    "email": {"type": "string"}, "name": {"type": "string"},
                    "role": {"enum": ["student", "ta", "teacher"]},
                    "group": {"type": ["string", "null"], "description": "the roster's group column; null when none"}}},
                "RosterImport": {"type": "object", "required": ["added", "updated", "invitations"], "properties": {
                    "added": {"type": "integer"}, "updated": {"type": "integer"}, "unchanged": {"type": "integer"},
                    "invitations": {"type": "array", "items": {"type": "object", "properties": {
                        "email": {"type": "string"},
                        "link": {"type": "string", "description": "one-time link to set a password"}}}}}},
                "RosterError": {"type": "object", "required": ["error", "rows"], "properties": {
                    "error": {"type": "string"},
                    "rows": {"type": "array", "items": {"type": "object", "properties": {
                        "line": {"type": "integer", "description": "1 is the header"},
                        "error": {"type": "string"}}}}}},
                "StaffSubmission": {"allOf": [{"$ref": "#/components/schemas/Submission"}, {
                    "type": "object", "required": ["student", "counts"], "properties": {
                        "student": {"type": "object", "properties": {"email": {"type": "string"},
                                                                     "name": {"type": "string"}}},
                        "counts": {"type": "boolean", "description": "the attempt that counts for the gradebook"}}}]},
                "RegradeRequest": {"type": "object", "required": ["id", "submission", "state", "reason"],
                                   "properties": {
                    "id": {"type": "integer"}, "submission": {"type": "integer"}, "course": {"type": "string"},
                    "module": {"type": "string"}, "attempt": {"type": "integer"},
                    "requester": {"type": ["string", "null"], "description": "the asking student's email"},
                    "test": {"type": ["string", "null"], "description": "null: the whole hand-in"},
                    "reason": {"type": "string"}, "state": {"enum": ["open", "accepted", "declined"]},
                    "created_at": {"type": "string", "format": "date-time"},
                    "decided_at": {"type": ["string", "null"], "format": "date-time"},
                    "decided_by": {"type": ["string", "null"]}, "comment": {"type": ["string", "null"]},
                    "points": nullable_num}},
                "Queued": {"type": "object", "required": ["id", "status"], "properties": {
                    "id": {"type": "integer"}, "status": {"const": "queued"}, "attempt": {"type": "integer"},
                    "url": {"type": "string"}}},
                "Submission": {"type": "object", "required": ["id", "status", "score", "max_score", "grade", "late"],
                               "properties": {
                    "id": {"type": "integer"}, "course": {"type": "string"}, "module": {"type": "string"},
                    "attempt": {"type": "integer"}, "filename": {"type": "string"}, "sha256": {"type": "string"},
                    "submitted_at": {"type": "string", "format": "date-time"},
                    "late": {"type": "boolean", "description": "late against the rules as they stand now "
                                                              "(deadline, extension, late days spent)"},
                    "days_late": {"type": "integer", "description": "whole days after the due date"},
                    "late_days_used": {"type": "integer", "description": "course late days spent on the module"},
                    "submitted_by": {"type": "string"}, "chosen": {"type": "boolean"},
                    "group": {"type": ["object", "null"]},
                    "status": {"enum": ["queued", "running", "graded", "error"]},
                    "run_status": {"type": ["string", "null"],
                                   "description": "ok, timeout, memory, crash, cell_error or invalid"},
                    "score": nullable_num, "max_score": nullable_num,
                    "grade": {"type": ["object", "null"], "properties": {"label": {"type": ["string", "null"]},
                                                                         "passed": {"type": "boolean"}}},
                    "graded_at": {"type": ["string", "null"], "format": "date-time"},
                    "override": {"type": ["object", "null"]}}},
            },
        },
    }
