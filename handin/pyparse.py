"""``ast.parse`` one thread at a time.

CPython 3.11's ast module keeps its recursion depth in state that threads share: two threads
parsing at once (a batch grades with -j 2, each grading reads the suite's titles and the
module's imports) can fail with "SystemError: AST constructor recursion depth mismatch".
Everything in handin that parses Python in the grading process goes through here.
"""

from __future__ import annotations

import ast
import threading

_LOCK = threading.Lock()


def parse(source: str, filename: str = "<unknown>") -> ast.Module:
    with _LOCK:
        return ast.parse(source, filename=filename)
