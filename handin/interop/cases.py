"""Run test code written for otter-grader or nbgrader against a handin student.

Those tools run their tests inside the student's kernel, where the student's names are
simply globals. Here the test code runs in the judge process, and every free name it reads
is looked up once, before the code runs:

1. names the teacher's own notebook imports (``import numpy as np``): the judge imports
   them itself, so ``np.testing.assert_allclose`` is the judge's numpy, not the student's;
2. builtins;
3. anything else: the student's value of that name, through the ``student`` proxy (plain
   values come back as copies, functions and objects as handles into the student process).

So ``assert mean([1, 2, 3]) == 2`` runs the student's ``mean`` and compares in the judge.

This file imports nothing but the standard library: imported modules' public tests carry a
copy of it, since students run them without handin installed.
"""

from __future__ import annotations

import ast
import builtins
import contextlib
import doctest
import io
from typing import Any

MAX_SHOWN = 300


class CaseFailed(AssertionError):
    """A test case did not pass; the message says which statement and why."""


def free_names(source: str) -> list[str]:
    """Names the code reads (an over-approximation: every loaded name, in order of first use)."""
    seen: dict[str, None] = {}
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load):
            seen.setdefault(node.id, None)
    return list(seen)


def namespace(student: Any, source: str, imports: str = "") -> dict[str, Any]:
    """The globals the test code runs with (see the module docstring for the look-up order)."""
    ns: dict[str, Any] = {"__name__": "handin_case"}
    if imports:
        exec(compile(imports, "<the notebook's imports>", "exec"), ns)
    for name in free_names(source):
        if name in ns or hasattr(builtins, name):
            continue
        try:
            ns[name] = getattr(student, name)
        except AttributeError:
            pass  # the student did not define it: the code raises NameError where it reads it
    return ns


def _short(text: str) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= MAX_SHOWN else text[:MAX_SHOWN] + " …"


def run_source(student: Any, source: str, imports: str = "") -> None:
    """Run assertion-style test code (an nbgrader test cell, an otter assertion)."""
    ns = namespace(student, source, imports)
    try:
        exec(compile(source, "<test>", "exec"), ns)
    except AssertionError as exc:
        raise CaseFailed(f"assertion failed{': ' + _short(exc) if str(exc) else ''}") from None
    except Exception as exc:  # noqa: BLE001 - any error in the test code fails the case
        raise CaseFailed(f"{type(exc).__name__}: {_short(exc)}") from None


def run_function(student: Any, source: str, imports: str = "") -> None:
    """Run an exception-based otter test: one function whose parameters name what it needs."""
    tree = ast.parse(source)
    fn = next((n for n in tree.body if isinstance(n, ast.FunctionDef)), None)
    if fn is None:
        raise ValueError("an exception-based test case must define a function")
    params = [a.arg for a in fn.args.args]
    ns = namespace(student, source + "\n" + "\n".join(params), imports)
    try:
        exec(compile(ast.Module(body=[fn], type_ignores=[]), "<test>", "exec"), ns)
        ns[fn.name](*[ns.get(p) for p in params])
    except AssertionError as exc:
        raise CaseFailed(f"assertion failed{': ' + _short(exc) if str(exc) else ''}") from None
    except Exception as exc:  # noqa: BLE001
        raise CaseFailed(f"{type(exc).__name__}: {_short(exc)}") from None


def run_doctest(student: Any, code: str, imports: str = "") -> None:
    """Run OK-format (doctest) examples: each ``>>>`` statement, its printed output compared
    with the expected text as doctest compares it. A numpy scalar may also match by its
    ``str`` (outputs saved under numpy 1 read ``True`` where numpy 2 writes ``np.True_``);
    anything else by its ``repr`` only, so the string ``"2.5"`` does not pass for ``2.5``."""
    examples = doctest.DocTestParser().get_examples(code)
    ns = namespace(student, "\n".join(e.source for e in examples), imports)
    checker = doctest.OutputChecker()
    flags = doctest.NORMALIZE_WHITESPACE | doctest.ELLIPSIS
    for ex in examples:
        out = io.StringIO()
        shown: list[str] = []
        try:
            with contextlib.redirect_stdout(out):
                try:
                    expression = compile(ex.source, "<test>", "eval")
                except SyntaxError:
                    exec(compile(ex.source, "<test>", "exec"), ns)
                else:
                    value = eval(expression, ns)
                    if value is not None:
                        shown = [repr(value)]
                        if type(value).__module__ == "numpy" and not isinstance(value, str):
                            shown.append(str(value))   # np.True_ / np.float64(2.5) read as True / 2.5
        except Exception as exc:  # noqa: BLE001
            if ex.exc_msg is not None and checker.check_output(ex.exc_msg, f"{type(exc).__name__}: {exc}\n", flags):
                continue
            raise CaseFailed(f"{_short(ex.source)} raised {type(exc).__name__}: {_short(exc)}") from None
        printed = out.getvalue()
        candidates = [printed + v + "\n" for v in shown] or [printed]
        if not any(checker.check_output(ex.want, got, flags) for got in candidates):
            raise CaseFailed(f"{_short(ex.source)} gave {_short(candidates[0]) or 'no output'}, "
                             f"expected {_short(ex.want) or 'no output'}")
