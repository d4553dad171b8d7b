"""Hidden tests: the GPipe timetable (HIDDEN, not shipped)."""

import pytest
from reference import schedule_problems

SHAPES = [(1, 1), (2, 1), (1, 4), (2, 3), (3, 2), (4, 8), (2, 8)]


def _problems(student, *, length):
    problems = []
    for stages, micro in SHAPES:
        found = schedule_problems(student.gpipe_schedule(stages, micro), stages, micro)
        if not length:
            found = [p for p in found if "ticks; a GPipe step" not in p]
        problems += [f"gpipe_schedule({stages}, {micro}): {p}" for p in found]
    return problems


@pytest.mark.points(2)
def test_schedule_valid(student):
    """GPipe schedule is a valid order of forward and backward steps."""
    problems = _problems(student, length=False)
    if problems:
        pytest.fail("\n".join(problems[:4]), pytrace=False)


@pytest.mark.points(1)
def test_schedule_length(student):
    """GPipe schedule has the right number of steps."""
    problems = _problems(student, length=True)
    if problems:
        pytest.fail("\n".join(problems[:4]), pytrace=False)
