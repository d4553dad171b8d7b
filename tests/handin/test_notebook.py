import json

import pytest

from builders import write_notebook
from handin.notebook import IntakeError, parse_notebook, read_notebook_file, submission_id

CAPS = dict(max_bytes=1_000_000, max_cells=100)


def test_code_cells_in_order(tmp_path):
    p = write_notebook(tmp_path / "a.ipynb", ["x = 1", "y = x + 1"])
    nb = read_notebook_file(p, **CAPS)
    assert nb.code_cells == ("x = 1", "y = x + 1")
    assert len(nb.sha256) == 64


def test_list_sources_and_markdown(tmp_path):
    doc = {"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": [
        {"cell_type": "markdown", "source": ["# hi"], "metadata": {}},
        {"cell_type": "code", "source": ["a = 1\n", "b = 2"], "metadata": {}, "outputs": []}]}
    nb = parse_notebook(json.dumps(doc).encode(), **CAPS)
    assert nb.code_cells == ("a = 1\nb = 2",) and nb.n_cells == 2


@pytest.mark.parametrize("data,message", [
    (b"this is not json", "not JSON"),
    (b"", "empty"),
    (b"\xff\xfe\x00garbage", "not UTF-8"),
    (b"[1, 2]", "not an object"),
    (json.dumps({"nbformat": 3, "worksheets": []}).encode(), "nbformat 3"),
    (json.dumps({"nbformat": 5, "cells": []}).encode(), "expected 4"),
    (json.dumps({"nbformat": 4, "cells": {}}).encode(), "'cells'"),
    (json.dumps({"nbformat": 4, "cells": []}).encode(), "no code"),
    (json.dumps({"nbformat": 4, "cells": [{"cell_type": "code", "source": "   "}]}).encode(), "no code"),
    (json.dumps({"nbformat": 4, "cells": [{"cell_type": "bogus"}]}).encode(), "cell 1 has no valid cell_type"),
    (json.dumps({"nbformat": 4, "cells": [{"cell_type": "code", "source": "x = 1"},
                                          {"cell_type": "code", "source": 5}]}).encode(), "cell 2 has a source"),
    (json.dumps({"nbformat": 4, "cells": [{"cell_type": "code", "source": 5}]}).encode(), "not text"),
    (b"[" * 100000 + b"]" * 100000, "nested too deeply"),
])
def test_bad_input_gets_a_clear_message(data, message):
    with pytest.raises(IntakeError, match=message):
        parse_notebook(data, **CAPS)


def test_too_many_cells(tmp_path):
    p = write_notebook(tmp_path / "big.ipynb", ["x = 1"] * 10_000)
    with pytest.raises(IntakeError, match="10000 cells; the limit is 100"):
        read_notebook_file(p, max_bytes=10**8, max_cells=100)


def test_huge_file_is_refused_without_reading_it(tmp_path):
    p = tmp_path / "huge.ipynb"
    with p.open("wb") as fh:  # a sparse 1 GB file: refused from its size alone
        fh.truncate(1024**3)
    with pytest.raises(IntakeError, match=r"1\.0 GiB; the limit is"):
        read_notebook_file(p, **CAPS)


def test_wrong_file_type(tmp_path):
    p = tmp_path / "report.pdf"
    p.write_bytes(b"%PDF-1.4")
    with pytest.raises(IntakeError, match="expected a .ipynb file"):
        read_notebook_file(p, **CAPS)


@pytest.mark.parametrize("name", ["../../etc/passwd.ipynb", "..", "a/../../b.ipynb", "..\\..\\x.ipynb",
                                  "名前.ipynb", "", ".hidden.ipynb", "x" * 500 + ".ipynb", "a b;rm -rf.ipynb"])
def test_submission_ids_are_safe(name):
    sid = submission_id(name)
    assert "/" not in sid and "\\" not in sid and ".." not in sid
    assert sid and sid[0].isalnum() and len(sid) <= 100


def test_plain_names_are_kept_and_odd_ones_do_not_collide():
    assert submission_id("alice.ipynb") == "alice"
    assert submission_id("a b.ipynb") != submission_id("a_b.ipynb")
