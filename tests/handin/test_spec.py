import pytest

from handin.spec import SpecError, load_module
from handin.units import parse_duration, parse_size

from builders import TOY_TOML, make_toy_module


def test_toy_module_loads(toy_module):
    assert toy_module.name == "toy"
    assert toy_module.resources.memory == 2 * 1024**3
    assert toy_module.resources.wall_time == 40.0
    assert toy_module.resources.notebook_seconds == 15.0
    assert toy_module.scale.grade(55).label == "E"
    assert toy_module.starter.name == "starter.ipynb"
    assert toy_module.test_visibility("test_public.py::test_double_public", None) == "visible"
    assert toy_module.test_visibility("test_hidden.py::test_double", None) == "after_published"


def test_points_from_spec_markers_and_default(tmp_path):
    toml = TOY_TOML + '\n[points]\n"test_s*" = 6\n"test_hidden.py::test_double" = 5\n'
    spec = load_module(make_toy_module(tmp_path, toml=toml))
    ids = ["test_hidden.py::test_double", "test_hidden.py::test_scale", "test_hidden.py::test_sum"]
    assert spec.test_points(ids[1], "test_scale", None, ids) == 3  # glob split over two tests
    assert spec.test_points(ids[0], "test_double", 2.0, ids) == 5  # spec beats marker
    assert spec.test_points("t.py::test_other", "test_other", 2.0, ids) == 2  # marker
    assert spec.test_points("t.py::test_x", "test_x", None, ids) == 1  # default


def test_split_points_are_exact(tmp_path):
    from fractions import Fraction
    toml = TOY_TOML + '\n[points]\n"test_part_*" = 2\n"test_tenth" = 0.1\n'
    spec = load_module(make_toy_module(tmp_path, toml=toml))
    ids = ["t.py::test_part_a", "t.py::test_part_b", "t.py::test_part_c"]
    parts = [spec.test_points(i, i.split("::")[1], None, ids) for i in ids]
    assert parts == [Fraction(2, 3)] * 3 and sum(parts) == 2
    assert spec.test_points("t.py::test_tenth", "test_tenth", None, ids) == Fraction(1, 10)


def test_on_cell_error_policy(tmp_path):
    assert load_module(make_toy_module(tmp_path / "a")).grading.on_cell_error == "continue"  # the default
    stop = TOY_TOML.replace("pass_threshold = 50", 'pass_threshold = 50\non_cell_error = "stop"')
    assert load_module(make_toy_module(tmp_path / "b", toml=stop)).grading.on_cell_error == "stop"
    bad = TOY_TOML.replace("pass_threshold = 50", 'pass_threshold = 50\non_cell_error = "skip"')
    with pytest.raises(SpecError, match="grading.on_cell_error"):
        load_module(make_toy_module(tmp_path / "c", toml=bad))


@pytest.mark.parametrize("change,expected", [
    (("memory = \"2GiB\"", "memory = \"lots\""), "resources.memory: cannot read 'lots' as a size"),
    (("wall_time = \"40s\"", "wall_time = \"forever\""), "resources.wall_time: cannot read 'forever'"),
    (("scale = \"a-f\"", "scale = \"letters\""), "grading.scale"),
    (("cpus = 1", "cpus = 1\ncpu = 2"), "resources.cpu: unknown key"),
    (("module = \"toy\"", "module = \"other\""), "must match the directory name"),
    (("starter = \"starter.ipynb\"", "starter = \"missing.ipynb\""), "missing.ipynb does not exist"),
    (("notebook_time = \"15s\"", "notebook_time = \"50s\""), "notebook_time must be shorter"),
    (("public_tests = [\"test_public.py\"]", "public_tests = [\"test_nope.py\"]"), "test_nope.py does not exist"),
    (("[assignment]", "[assignment\n"), "not valid TOML"),
    (("title = \"Toy\"\n", ""), "assignment.title: required key is missing"),
])
def test_bad_specs_name_file_key_and_problem(tmp_path, change, expected):
    toml = TOY_TOML.replace(*change)
    assert toml != TOY_TOML
    a = make_toy_module(tmp_path, toml=toml)
    with pytest.raises(SpecError) as info:
        load_module(a)
    assert str(a / "assignment.toml") in str(info.value)
    assert expected in str(info.value)


def test_missing_spec_file(tmp_path):
    with pytest.raises(SpecError, match="no assignment.toml here"):
        load_module(tmp_path)


def test_deadline_needs_zone(tmp_path):
    a = make_toy_module(tmp_path, toml=TOY_TOML + "\n[deadline]\ndue = 2027-01-31T23:59:00\n")
    with pytest.raises(SpecError, match="time zone"):
        load_module(a)


@pytest.mark.parametrize("text,value", [("512MiB", 512 * 1024**2), ("2GiB", 2 * 1024**3), ("1GB", 10**9),
                                        (1024, 1024), ("1.5 KiB", 1536)])
def test_sizes(text, value):
    assert parse_size(text) == value


@pytest.mark.parametrize("text,value", [("90s", 90), ("2m", 120), ("1h30m", 5400), (12, 12.0), ("500ms", 0.5)])
def test_durations(text, value):
    assert parse_duration(text) == value
