"""The wire format between the judge and the student process.

Only plain data crosses: None, bool, int, float, str, bytes, lists, tuples,
dicts, numpy arrays of numeric dtypes and torch tensors. Anything else the
student side holds is sent as a *handle* (an opaque id). Nothing is ever
pickled: the judge decodes a JSON header plus raw buffers, and builds arrays
with ``numpy.frombuffer`` from a whitelist of dtypes, so a hostile student
cannot make the judge construct an object of its choosing.

A frame is ``u64 header_len | header JSON | (u64 len | bytes)*``; the header
names how many buffers follow. Every length is checked against a cap before
anything is read.
"""

from __future__ import annotations

import json
import math
import socket
import struct
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

MAX_DEPTH = 64
DEFAULT_MAX_BYTES = 64 * 1024 * 1024

# dtype names accepted on decode. Object, void and string dtypes never cross.
NUMPY_DTYPES = frozenset(
    "bool int8 int16 int32 int64 uint8 uint16 uint32 uint64 float16 float32 float64 complex64 complex128".split()
)
TORCH_DTYPES = NUMPY_DTYPES | {"bfloat16"}

_U64 = struct.Struct("<Q")


class WireError(Exception):
    """A frame that is malformed, too large or of a type that may not cross."""


@dataclass(frozen=True)
class HandleRef:
    """An object that stays in the student process, named by id."""

    id: int
    type_name: str
    text: str


# ---------------------------------------------------------------- encoding


def encode(value: Any, *, on_unsafe: Callable[[Any], HandleRef] | None = None,
           max_bytes: int = DEFAULT_MAX_BYTES) -> bytes:
    """Encode ``value`` as one frame.

    ``on_unsafe`` turns a value that may not cross into a handle (student
    side); without it such a value is an error (judge side).
    """
    buffers: list[bytes] = []
    size = [0]

    def add_buffer(data: bytes) -> int:
        size[0] += len(data)
        if size[0] > max_bytes:
            raise WireError(f"message larger than the {max_bytes} byte cap")
        buffers.append(data)
        return len(buffers) - 1

    def enc(v: Any, depth: int) -> Any:
        if depth > MAX_DEPTH:
            raise WireError(f"value nested deeper than {MAX_DEPTH} levels")
        if v is None or isinstance(v, (bool, str)):
            return v
        if isinstance(v, int):
            # JSON ints are unbounded, but keep the judge safe from huge digit strings.
            if abs(v) >= 1 << 128:
                raise WireError("integer too large to cross")
            return v
        if isinstance(v, float):
            if math.isfinite(v):
                return v
            return {"__float__": repr(v)}
        if isinstance(v, HandleRef):
            return {"__handle__": v.id, "type": v.type_name, "text": v.text}
        if isinstance(v, (bytes, bytearray, memoryview)):
            return {"__bytes__": add_buffer(bytes(v))}
        if isinstance(v, np.generic) and v.dtype.name in NUMPY_DTYPES:
            return enc(v.item(), depth + 1)
        if isinstance(v, np.ndarray) and type(v) is np.ndarray and v.dtype.name in NUMPY_DTYPES:
            arr = np.ascontiguousarray(v)
            return {"__ndarray__": add_buffer(arr.tobytes()), "dtype": arr.dtype.name,
                    "shape": list(arr.shape)}
        tensor = _tensor_payload(v)
        if tensor is not None:
            dtype, shape, data = tensor
            return {"__tensor__": add_buffer(data), "dtype": dtype, "shape": shape}
        if type(v) in (list, tuple):
            items = [enc(x, depth + 1) for x in v]
            return items if type(v) is list else {"__tuple__": items}
        if type(v) is dict:
            return {"__dict__": [[enc(k, depth + 1), enc(x, depth + 1)] for k, x in v.items()]}
        if on_unsafe is not None:
            return enc(on_unsafe(v), depth + 1)
        raise WireError(f"a {type(v).__name__} cannot be sent to the student process")

    header = json.dumps({"v": enc(value, 0), "n": len(buffers)}, allow_nan=False).encode()
    if len(header) + size[0] > max_bytes:
        raise WireError(f"message larger than the {max_bytes} byte cap")
    parts = [_U64.pack(len(header)), header]
    for b in buffers:
        parts += [_U64.pack(len(b)), b]
    return b"".join(parts)


def _tensor_payload(v: Any) -> tuple[str, list[int], bytes] | None:
    """(dtype, shape, raw bytes) for a plain torch tensor or Parameter, else None."""
    torch = _torch()
    if torch is None or not isinstance(v, torch.Tensor):
        return None
    if type(v) not in (torch.Tensor, torch.nn.Parameter):
        return None  # subclasses may override behaviour; they stay as handles
    t = v.detach()
    if t.layout != torch.strided or t.is_quantized:
        return None
    t = t.to("cpu").contiguous()
    dtype = str(t.dtype).removeprefix("torch.")
    if dtype not in TORCH_DTYPES:
        return None
    if dtype == "bfloat16":
        data = t.view(torch.int16).numpy().tobytes()
    else:
        data = t.numpy().tobytes()
    return dtype, list(t.shape), data


def _torch():
    import sys
    return sys.modules.get("torch")


# ---------------------------------------------------------------- decoding


def decode(frame_header: bytes, buffers: list[bytes], *,
           resolve_handle: Callable[[HandleRef], Any] | None = None) -> Any:
    """Decode a frame read by :func:`recv`; handles go through ``resolve_handle``."""
    try:
        doc = json.loads(frame_header)
    except (ValueError, RecursionError) as exc:
        raise WireError(f"malformed header: {exc}") from None
    if not isinstance(doc, dict) or "v" not in doc:
        raise WireError("malformed header")

    def buf(i: Any) -> bytes:
        if type(i) is not int or not 0 <= i < len(buffers):
            raise WireError("bad buffer index")
        return buffers[i]

    def shape_of(s: Any) -> tuple[int, ...]:
        if type(s) is not list or len(s) > 32 or not all(type(d) is int and d >= 0 for d in s):
            raise WireError("bad array shape")
        return tuple(s)

    def dec(v: Any, depth: int) -> Any:
        if depth > MAX_DEPTH + 2:
            raise WireError("value nested too deeply")
        if v is None or type(v) in (bool, int, float, str):
            return v
        if type(v) is list:
            return [dec(x, depth + 1) for x in v]
        if type(v) is not dict or len(v) == 0:
            raise WireError("unexpected value in frame")
        if "__tuple__" in v:
            return tuple(dec(x, depth + 1) for x in _as_list(v["__tuple__"]))
        if "__dict__" in v:
            out = {}
            for pair in _as_list(v["__dict__"]):
                if type(pair) is not list or len(pair) != 2:
                    raise WireError("bad dict entry")
                key = dec(pair[0], depth + 1)
                try:
                    out[key] = dec(pair[1], depth + 1)
                except TypeError:
                    raise WireError("unhashable dict key") from None
            return out
        if "__float__" in v:
            if v["__float__"] not in ("nan", "inf", "-inf"):
                raise WireError("bad float")
            return float(v["__float__"])
        if "__bytes__" in v:
            return buf(v["__bytes__"])
        if "__ndarray__" in v:
            dtype = v.get("dtype")
            if dtype not in NUMPY_DTYPES:
                raise WireError(f"dtype {dtype!r} may not cross")
            shape = shape_of(v.get("shape"))
            data = buf(v["__ndarray__"])
            dt = np.dtype(dtype)
            if math.prod(shape) * dt.itemsize != len(data):
                raise WireError("array size does not match its shape")
            return np.frombuffer(data, dtype=dt).reshape(shape).copy()
        if "__tensor__" in v:
            return _decode_tensor(v.get("dtype"), shape_of(v.get("shape")), buf(v["__tensor__"]))
        if "__handle__" in v:
            ref = HandleRef(int(v["__handle__"]) if type(v["__handle__"]) is int else -1,
                            str(v.get("type", "?"))[:200], str(v.get("text", ""))[:500])
            if ref.id < 0:
                raise WireError("bad handle")
            if resolve_handle is None:
                raise WireError("handles are not accepted here")
            return resolve_handle(ref)
        raise WireError("unknown tagged value")

    if doc.get("n") != len(buffers):
        raise WireError("buffer count mismatch")
    return dec(doc["v"], 0)


def _as_list(v: Any) -> list:
    if type(v) is not list:
        raise WireError("expected a list")
    return v


def _decode_tensor(dtype: Any, shape: tuple[int, ...], data: bytes) -> Any:
    if dtype not in TORCH_DTYPES:
        raise WireError(f"tensor dtype {dtype!r} may not cross")
    import torch  # the judge imports torch lazily: only modules that use tensors pay for it

    np_dtype = np.dtype("int16" if dtype == "bfloat16" else dtype)
    if math.prod(shape) * np_dtype.itemsize != len(data):
        raise WireError("tensor size does not match its shape")
    arr = np.frombuffer(data, dtype=np_dtype).reshape(shape).copy()
    t = torch.from_numpy(arr)
    return t.view(torch.bfloat16) if dtype == "bfloat16" else t


# ---------------------------------------------------------------- framing


def send(sock: socket.socket, frame: bytes) -> None:
    sock.sendall(frame)


def recv(sock: socket.socket, *, max_bytes: int = DEFAULT_MAX_BYTES) -> tuple[bytes, list[bytes]]:
    """Read one frame: (header, buffers). Raises EOFError when the peer is gone."""
    total = 0

    def read_len() -> int:
        n = _U64.unpack(_read_exact(sock, 8))[0]
        if n > max_bytes - total:
            raise WireError(f"message larger than the {max_bytes} byte cap")
        return n

    hlen = read_len()
    header = _read_exact(sock, hlen)
    total += hlen
    try:
        count = json.loads(header).get("n", 0)
    except (ValueError, AttributeError, RecursionError):
        raise WireError("malformed header") from None
    if type(count) is not int or not 0 <= count <= 1_000_000:
        raise WireError("bad buffer count")
    buffers = []
    for _ in range(count):
        n = read_len()
        buffers.append(_read_exact(sock, n))
        total += n + 8
    return header, buffers


def _read_exact(sock: socket.socket, n: int) -> bytes:
    chunks = bytearray()
    while len(chunks) < n:
        chunk = sock.recv(min(n - len(chunks), 1 << 20))
        if not chunk:
            raise EOFError("peer closed the channel")
        chunks += chunk
    return bytes(chunks)
