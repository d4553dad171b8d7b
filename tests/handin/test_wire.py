import json
import math
import socket
import struct

import numpy as np
import pytest
import torch

from handin import wire


def roundtrip(value, **kw):
    frame = wire.encode(value, **kw)
    a, b = socket.socketpair()
    with a, b:
        wire.send(a, frame)
        header, buffers = wire.recv(b)
    return wire.decode(header, buffers, resolve_handle=lambda ref: ref)


@pytest.mark.parametrize("value", [None, True, False, 0, -7, 2**100, 1.5, "héllo", b"\x00\xff", [1, [2, "x"]],
                                   (1, (2.0, None)), {"a": 1, 2: "b", (1, 2): [3]}, []])
def test_plain_values_round_trip(value):
    assert roundtrip(value) == value
    assert type(roundtrip(value)) is type(value)


def test_non_finite_floats_round_trip():
    out = roundtrip([math.nan, math.inf, -math.inf])
    assert math.isnan(out[0]) and out[1] == math.inf and out[2] == -math.inf


@pytest.mark.parametrize("dtype", ["float32", "float64", "int64", "uint8", "bool", "complex64"])
def test_numpy_arrays_round_trip(dtype):
    arr = (np.arange(24).reshape(2, 3, 4) % 3).astype(dtype)
    out = roundtrip(arr)
    assert out.dtype == arr.dtype and out.shape == arr.shape
    np.testing.assert_array_equal(out, arr)
    out[0, 0, 0] = 1  # decoded arrays are writable copies


def test_noncontiguous_array_and_numpy_scalar():
    arr = np.arange(12.0).reshape(3, 4).T
    np.testing.assert_array_equal(roundtrip(arr), arr)
    assert roundtrip(np.float32(2.5)) == 2.5


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.int64, torch.bfloat16, torch.float16])
def test_tensors_round_trip_detached(dtype):
    t = torch.arange(6, dtype=torch.float32).reshape(2, 3).to(dtype)
    if dtype.is_floating_point:
        t.requires_grad_(True)
    out = roundtrip(t)
    assert isinstance(out, torch.Tensor) and out.dtype == dtype and not out.requires_grad
    assert torch.equal(out, t.detach())


def test_parameter_crosses_as_tensor():
    p = torch.nn.Parameter(torch.ones(3))
    out = roundtrip(p)
    assert type(out) is torch.Tensor and torch.equal(out, torch.ones(3))


def test_unsafe_values_rejected_without_handle_factory():
    with pytest.raises(wire.WireError):
        wire.encode(lambda: 1)
    with pytest.raises(wire.WireError):
        wire.encode(np.array([object()], dtype=object))


def test_unsafe_values_become_handles_with_factory():
    made = []

    def factory(obj):
        made.append(obj)
        return wire.HandleRef(len(made), type(obj).__name__, "x")

    out = roundtrip({"f": print, "arr": np.zeros(2, dtype=object)}, on_unsafe=factory)
    assert isinstance(out["f"], wire.HandleRef) and out["f"].type_name == "builtin_function_or_method"
    assert isinstance(out["arr"], wire.HandleRef)


def test_size_cap_on_encode_and_receive():
    with pytest.raises(wire.WireError):
        wire.encode(np.zeros(1000), max_bytes=1000)
    frame = wire.encode(np.zeros(1000))
    a, b = socket.socketpair()
    with a, b:
        wire.send(a, frame)
        with pytest.raises(wire.WireError):
            wire.recv(b, max_bytes=1000)


def test_huge_declared_length_is_refused_before_reading():
    a, b = socket.socketpair()
    with a, b:
        a.sendall(struct.pack("<Q", 2**60))
        with pytest.raises(wire.WireError):
            wire.recv(b)


def test_eof_is_reported():
    a, b = socket.socketpair()
    a.close()
    with b, pytest.raises(EOFError):
        wire.recv(b)


def _frame(doc, buffers=()):
    header = json.dumps(doc).encode()
    return header, list(buffers)


@pytest.mark.parametrize("doc,buffers", [
    ({"v": {"__ndarray__": 0, "dtype": "object", "shape": [1]}, "n": 1}, [b"\x00" * 8]),
    ({"v": {"__ndarray__": 0, "dtype": "float64", "shape": [3]}, "n": 1}, [b"\x00" * 8]),
    ({"v": {"__ndarray__": 5, "dtype": "float64", "shape": [1]}, "n": 1}, [b"\x00" * 8]),
    ({"v": {"__tensor__": 0, "dtype": "qint8", "shape": [1]}, "n": 1}, [b"\x00"]),
    ({"v": {"__pickle__": "gASVAAAA"}, "n": 0}, []),
    ({"v": {"__float__": "1e308*10"}, "n": 0}, []),
    ({"v": {"__dict__": [[[1], 2]]}, "n": 0}, []),
    ({"v": 1, "n": 3}, []),
    ({"nope": 1}, []),
])
def test_hostile_frames_are_rejected(doc, buffers):
    header, bufs = _frame(doc, buffers)
    with pytest.raises(wire.WireError):
        wire.decode(header, bufs, resolve_handle=lambda r: r)


def test_deep_nesting_is_rejected():
    v = []
    for _ in range(wire.MAX_DEPTH + 5):
        v = [v]
    with pytest.raises(wire.WireError):
        wire.encode(v)
    header = ("{\"v\": " + "[" * 5000 + "]" * 5000 + ", \"n\": 0}").encode()
    with pytest.raises(wire.WireError):
        wire.decode(header, [])


def test_handles_refused_where_not_expected():
    header, bufs = _frame({"v": {"__handle__": 3, "type": "X", "text": ""}, "n": 0})
    with pytest.raises(wire.WireError):
        wire.decode(header, bufs)
