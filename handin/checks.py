"""Checking helpers for hidden test suites: read what a submission returned, or fail the test.

Import them in a module's graders (they run in the judge process):

    from handin.checks import check_close, fail, get_dict, to_array, to_float

Every message names only what was asked for and the type or shape that came back: never an
expected value, and never an echo of what the submission returned (a submission could use
either to learn the hidden answers).
"""

from __future__ import annotations

import math
import sys

import numpy as np
import pytest

def fail(message):
    """Fail the current test with ``message`` only (no traceback, no introspection)."""
    pytest.fail(message, pytrace=False)


def _describe(value):
    name = type(value).__name__
    if name == "Remote":  # handin's handle to an object that stayed in the student process
        return "non-plain object (not data)"
    return name


_NUMERIC_SCALARS = (bool, int, float, np.bool_, np.integer, np.floating)


def _is_numeric_nest(value, depth=0):
    if isinstance(value, (list, tuple)):
        return depth < 4 and all(_is_numeric_nest(v, depth + 1) for v in value)
    return isinstance(value, _NUMERIC_SCALARS)


def to_array(value, what):
    """Convert a submission's return value to a float64 ndarray, or fail the test.

    Accepts numpy arrays/scalars, torch tensors, and (nested) lists/tuples of numbers.
    Anything else (strings, dicts, handles to objects in the student process, ...)
    fails with a message that names only the type.
    """
    # A tensor can only have come back if the wire decoder imported torch: never import it here
    # (seconds for a judge that compares only numpy values).
    torch = sys.modules.get("torch")
    if torch is not None and isinstance(value, torch.Tensor):
        value = value.detach().cpu().numpy()
    if isinstance(value, np.ndarray):
        if value.dtype.kind not in "biuf":  # bool arrays read as 0/1
            fail(f"{what} returned an array of dtype {value.dtype.str}, expected numbers")
        return value.astype(np.float64)
    if isinstance(value, (np.generic, int, float, list, tuple)):
        if isinstance(value, (list, tuple)) and not _is_numeric_nest(value):
            fail(f"{what} returned a {_describe(value)} that is not a nested list of numbers")
        try:
            return np.asarray(value, dtype=np.float64)
        except (TypeError, ValueError, OverflowError):
            fail(f"{what} returned a {_describe(value)} that cannot be read as a numeric array")
    fail(f"{what} returned a {_describe(value)}, expected a numpy array")


def to_float(value, what):
    """A scalar loss / error value: python or numpy number, 0-d array or 0-d tensor."""
    if isinstance(value, (bool, np.bool_)):
        fail(f"{what} returned a bool, expected a float")
    arr = to_array(value, what)
    if arr.ndim != 0 and arr.size != 1:
        fail(f"{what} returned an array of shape {arr.shape}, expected a scalar float")
    result = float(arr.reshape(()))
    if not math.isfinite(result):
        fail(f"{what} returned a non-finite value")
    return result


def check_close(value, expected, what, rtol=1e-5, atol=1e-7):
    """Fail unless ``value`` (from the submission) matches ``expected`` elementwise."""
    actual = to_array(value, what)
    expected = np.asarray(expected, dtype=np.float64)
    if actual.shape != expected.shape:
        fail(f"{what} has shape {actual.shape}, expected {expected.shape}")
    if not np.all(np.isfinite(actual)):
        fail(f"{what} contains NaN or inf")
    if not np.allclose(actual, expected, rtol=rtol, atol=atol):
        diff = float(np.max(np.abs(actual - expected)))
        fail(f"{what} differs from the reference (max abs diff {diff:.3g})")
    return actual


def get_dict(value, keys, what):
    if not isinstance(value, dict):
        fail(f"{what} returned a {_describe(value)}, expected a dict")
    missing = [k for k in keys if k not in value]
    if missing:
        fail(f"{what} is missing key(s) {', '.join(sorted(map(str, missing)))}")
    return value
