"""Course definitions: the five in courses/ load; a broken one is refused with one line per problem."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from builders import REPO
from handin.cli import main
from handin.course import CourseDefError, load_course, load_courses
from handin.course_grade import Entered, ModuleOutcome, evaluate

CODES = ("chalmers-dl", "ddl", "ep236u", "id2223", "wasp-dl")

GOOD = """
code = "c9"
title = "C9"
credits = 7.5
scale = "a-f"
[components.LAB1]
title = "Labs"
credits = 3.0
scale = "pass-fail"
from = "modules"
modules = ["m02-feedforward"]
[components.TEN1]
title = "Exam"
credits = 4.5
scale = "a-f"
from = "entered"
[final]
rule = "grade-of"
component = "TEN1"
requires = ["LAB1"]
"""


def write(tmp_path, text: str, code: str = "c9"):
    folder = tmp_path / "courses" / code
    folder.mkdir(parents=True)
    (folder / "course.toml").write_text(text)
    return folder / "course.toml"


def problems(tmp_path, text: str) -> list[str]:
    with pytest.raises(CourseDefError) as info:
        load_course(write(tmp_path, text), root=REPO)
    return info.value.problems


def test_the_five_courses_load_and_handin_course_check_passes():
    good, bad = load_courses(REPO)
    assert [c.code for c in good] == list(CODES) and bad == []
    result = CliRunner().invoke(main, ["course", "check", "--root", str(REPO)])
    assert result.exit_code == 0, result.output
    for code in CODES:
        assert f"ok {code}" in result.output


def test_a_good_definition_loads(tmp_path):
    course = load_course(write(tmp_path, GOOD), root=REPO)
    assert course.modules == ("m02-feedforward",)
    assert course.final.describe() == "TEN1's grade, once LAB1 is passed"


@pytest.mark.parametrize("change, message", [
    (('"m02-feedforward"]', '"m99-nothing"]'), "components.LAB1.modules[0]: unknown module 'm99-nothing'"),
    (('scale = "a-f"\nfrom = "entered"', 'scale = "u345"\nfrom = "entered"'),
     "final.component: TEN1's scale is u345, the course's is a-f (scale mismatch)"),
    (('requires = ["LAB1"]', 'requires = ["LAB2"]'), "final.requires[0]: unknown component 'LAB2'"),
    (("credits = 4.5", "credits = 4.0"), "credits: the components' credits add up to 7, the course has 7.5"),
    (('rule = "grade-of"', 'rule = "all-passed"'), "final.rule: all-passed gives P or F; the course's scale is a-f"),
    (('from = "entered"', 'from = "typed"'), "components.TEN1.from: Input should be 'modules', 'entered' or"),
    (('title = "Exam"', 'title = "Exam"\npoints = 3'), "components.TEN1.points: not used by a component on scale a-f"),
    (('code = "c9"', 'code = "c8"'), "code: 'c8' must match the folder name 'c9'"),
    (('scale = "pass-fail"', 'scale = "u345"'), "components.LAB1.scale: from modules, a component is pass-fail"),
])
def test_each_problem_is_named(tmp_path, change, message):
    old, new = change
    assert old in GOOD
    found = problems(tmp_path, GOOD.replace(old, new, 1))
    assert any(p.startswith(message) for p in found), found


def test_a_points_rule_that_can_never_pass_is_refused(tmp_path):
    text = """
code = "c9"
title = "C9"
credits = 5
scale = "pass-fail"
[components.EXAM]
title = "Exam"
scale = "points"
points = 40
from = "entered"
[final]
rule = "points"
components = ["EXAM"]
cutoffs = { P = 51, F = 0 }
"""
    assert problems(tmp_path, text) == ["final.cutoffs: P needs 51 points of 40: it could never be given"]


def test_a_cycle_and_a_requirement_without_a_pass_are_refused(tmp_path):
    text = """
code = "c9"
title = "C9"
credits = 5
scale = "pass-fail"
[components.A]
title = "A"
scale = "points"
from = "components"
components = ["B"]
[components.B]
title = "B"
scale = "points"
from = "components"
components = ["A"]
[final]
rule = "all-passed"
components = ["A"]
requires = ["B"]
"""
    found = problems(tmp_path, text)
    assert "components.A.components[0]: B is made of A itself (a cycle)" in found
    assert "final.requires[0]: B has points, not a pass: the rule could never be met" in found


def test_course_check_names_the_file_and_fails(tmp_path):
    write(tmp_path, GOOD.replace("m02-feedforward", "m99"))
    (tmp_path / "assignments").mkdir()
    result = CliRunner().invoke(main, ["course", "check", "--root", str(tmp_path)])
    assert result.exit_code == 2
    assert "course.toml: components.LAB1.modules[0]: unknown module 'm99'" in result.output


def test_entries_outside_the_scale_are_refused():
    course = load_course(REPO / "courses" / "chalmers-dl", root=REPO)
    att, prj = course.components["ATT"], course.components["PRJ"]
    assert prj.check_entry(grade="A") == "'A' is not on PRJ's scale: one of 5, 4, 3, U"
    assert prj.check_entry(grade="4") is None
    assert att.check_entry(attended=21) == "ATT takes 0 to 20 sessions attended"
    assert att.check_entry(grade="P") == "ATT takes 'attended' only"


def test_evaluation_follows_the_rule_of_each_kind():
    ddl = load_course(REPO / "courses" / "ddl", root=REPO)
    modules = {m: ModuleOutcome(m, True, True, 5.0, 10.0) for m in ddl.components["COL"].modules}
    grade = evaluate(ddl, modules, {"PRJ": Entered(points=20), "EXAM": Entered(points=21)})
    assert (grade.components["COL"].points, grade.components["PRE"].points) == (15, 35)
    assert (grade.final.grade, grade.final.points, grade.final.complete) == ("6", 56, True)
    waiting = evaluate(ddl, modules, {"PRJ": Entered(points=20)})
    assert (waiting.final.complete, waiting.final.status) == (False, "waiting for EXAM")
