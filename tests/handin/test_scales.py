import pytest

from handin.scales import make_scale


@pytest.mark.parametrize("percent,label,passed", [
    (100, "A", True), (90, "A", True), (89.99, "B", True), (80, "B", True), (70, "C", True),
    (60, "D", True), (50, "E", True), (49.9, "FX", False), (40, "FX", False), (39, "F", False), (0, "F", False),
])
def test_a_f_defaults(percent, label, passed):
    g = make_scale("a-f").grade(percent)
    assert (g.label, g.passed) == (label, passed)


def test_a_f_custom_cutoffs_and_threshold():
    s = make_scale("a-f", pass_threshold=40, cutoffs={"A": 95})
    assert s.grade(94).label == "B"
    assert s.grade(41).label == "E" and s.grade(41).passed
    assert s.grade(35).label == "FX"


@pytest.mark.parametrize("percent,label", [(85, "5"), (84, "4"), (70, "4"), (69, "3"), (50, "3"), (49, "U")])
def test_u345(percent, label):
    g = make_scale("u345").grade(percent)
    assert g.label == label and g.passed == (label != "U")


def test_pass_fail_uses_threshold():
    s = make_scale("pass-fail", pass_threshold=60)
    assert s.grade(60).label == "P" and s.grade(60).passed
    assert s.grade(59.9).label == "F" and not s.grade(59.9).passed


def test_points_scale_has_no_label():
    g = make_scale("points", pass_threshold=30).grade(31)
    assert g.label is None and g.passed


@pytest.mark.parametrize("kwargs,msg", [
    ({"name": "letters"}, "unknown grade scale"),
    ({"name": "a-f", "cutoffs": {"Z": 3}}, "does not have"),
    ({"name": "a-f", "cutoffs": {"A": 70}}, "strictly decrease"),
    ({"name": "a-f", "cutoffs": {"F": 5}}, "must start at 0"),
    ({"name": "pass-fail", "pass_threshold": 120}, "between 0 and 100"),
])
def test_bad_scales_are_explained(kwargs, msg):
    name = kwargs.pop("name")
    with pytest.raises(ValueError, match=msg):
        make_scale(name, **kwargs)
