"""Reference implementations and shared helpers for the m03-cnn hidden tests.

HIDDEN: this file is never shipped to students.

The numpy part is checked against torch itself (torch.nn.functional.conv2d, unfold and
max_pool2d in float64), so the numpy reference functions here only document the maths
and serve make_data.py's sanity checks. The torch part defines the network the notebook
asks for (the same layer layout, so state_dicts are interchangeable), the shift
augmentation and the training loop that make_data.py uses to pre-train the backbone
shipped in assignments/m03-cnn/data/.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
HELDOUT_PATH = HERE / "data" / "digits_heldout.npz"
TRAIN_NAME = "digits_train.npz"
BACKBONE_NAME = "backbone_digits04.pt"


# --------------------------------------------------------------------------- numpy part
def conv2d(x, w, b, stride=1, padding=0):
    """Cross-correlation (what deep-learning libraries call convolution), NCHW."""
    n, c, h, wd = x.shape
    f, _, kh, kw = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    ho = (h + 2 * padding - kh) // stride + 1
    wo = (wd + 2 * padding - kw) // stride + 1
    out = np.empty((n, f, ho, wo))
    for i in range(ho):
        for j in range(wo):
            patch = xp[:, :, i * stride:i * stride + kh, j * stride:j * stride + kw]
            out[:, :, i, j] = np.tensordot(patch, w, axes=([1, 2, 3], [1, 2, 3])) + b
    return out


def maxpool2d(x, size=2, stride=None):
    stride = size if stride is None else stride
    n, c, h, w = x.shape
    ho, wo = (h - size) // stride + 1, (w - size) // stride + 1
    out = np.empty((n, c, ho, wo))
    for i in range(ho):
        for j in range(wo):
            out[:, :, i, j] = x[:, :, i * stride:i * stride + size, j * stride:j * stride + size].max(axis=(2, 3))
    return out


# --------------------------------------------------------------------------- torch references
def torch_conv2d(x, w, b, stride, padding):
    import torch
    import torch.nn.functional as F

    t = F.conv2d(torch.as_tensor(x, dtype=torch.float64), torch.as_tensor(w, dtype=torch.float64),
                 torch.as_tensor(b, dtype=torch.float64), stride=stride, padding=padding)
    return t.numpy()


def torch_unfold(x, kh, kw, stride, padding):
    import torch
    import torch.nn.functional as F

    return F.unfold(torch.as_tensor(x, dtype=torch.float64), (kh, kw), stride=stride, padding=padding).numpy()


def torch_maxpool(x, size, stride):
    import torch
    import torch.nn.functional as F

    return F.max_pool2d(torch.as_tensor(x, dtype=torch.float64), size, stride=stride).numpy()


def torch_maxpool_backward(dout, x, size, stride):
    import torch
    import torch.nn.functional as F

    xt = torch.tensor(x, dtype=torch.float64, requires_grad=True)
    F.max_pool2d(xt, size, stride=stride).backward(torch.as_tensor(dout, dtype=torch.float64))
    return xt.grad.numpy()


def distinct_windows(shape, size, stride, seed, min_gap=1e-3):
    """Random float64 input whose every pooling window has a unique maximum (no ties).

    Values are a random permutation of well-separated numbers, so every window's maximum
    is unique by at least ``min_gap`` and argmax is unambiguous (torch's tie rule never
    matters).
    """
    rng = np.random.default_rng(seed)
    n = int(np.prod(shape))
    values = np.arange(n, dtype=np.float64) * min_gap * 10 + rng.uniform(0, min_gap, size=n)
    values = (values - values.mean()) / values.std()
    return rng.permutation(values).reshape(shape)


# --------------------------------------------------------------------------- torch part
def make_cnn(n_classes=10):
    """The notebook's CNN: features (conv-relu-pool-conv-relu-pool-flatten) and a linear head."""
    import torch
    from torch import nn

    class CNN(nn.Module):
        def __init__(self, n_classes):
            super().__init__()
            self.features = nn.Sequential(
                nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                nn.Flatten(),
            )
            self.head = nn.Linear(128, n_classes)

        def forward(self, x):
            return self.head(self.features(x))

    del torch
    return CNN(n_classes)


STATE_SHAPES = {
    "features.0.weight": (16, 1, 3, 3), "features.0.bias": (16,),
    "features.3.weight": (32, 16, 3, 3), "features.3.bias": (32,),
    "head.weight": (None, 128), "head.bias": (None,),
}


def reference_state_dict(n_classes=10, seed=4321):
    """Fixed weights in the CNN's state_dict layout (PyTorch's default uniform init ranges)."""
    import torch

    g = torch.Generator().manual_seed(seed)
    out = {}
    for name, shape in STATE_SHAPES.items():
        shape = tuple(n_classes if s is None else s for s in shape)
        fan_in = {"features.0": 9, "features.3": 144, "head": 128}[name.rsplit(".", 1)[0]]
        bound = 1.0 / math.sqrt(fan_in)
        out[name] = (torch.rand(shape, generator=g, dtype=torch.float32) * 2 - 1) * bound
    return out


def reference_logits(sd, x):
    import torch
    import torch.nn.functional as F

    with torch.no_grad():
        h = F.max_pool2d(F.relu(F.conv2d(x, sd["features.0.weight"], sd["features.0.bias"], padding=1)), 2)
        h = F.max_pool2d(F.relu(F.conv2d(h, sd["features.3.weight"], sd["features.3.bias"], padding=1)), 2)
        return h.flatten(1) @ sd["head.weight"].T + sd["head.bias"]


def shifts_of(img):
    """The 9 shifts by (dy, dx) in {-1, 0, 1}^2 of a (C, H, W) array, vacated pixels zero."""
    c, h, w = img.shape
    padded = np.pad(img, ((0, 0), (1, 1), (1, 1)))
    out = {}
    for dy in (-1, 0, 1):
        for dx in (-1, 0, 1):
            # content moves down by dy and right by dx: out[y, x] = img[y - dy, x - dx]
            out[dy, dx] = padded[:, 1 - dy:1 - dy + h, 1 - dx:1 - dx + w]
    return out


def augment(x, generator):
    """Shift each image by a random (dy, dx) in {-1, 0, 1}^2 with zero fill (torch, NCHW)."""
    import torch
    import torch.nn.functional as F

    n, _, h, w = x.shape
    padded = F.pad(x, (1, 1, 1, 1))
    offsets = torch.randint(0, 3, (n, 2), generator=generator)
    out = torch.empty_like(x)
    for i in range(n):
        oy, ox = int(offsets[i, 0]), int(offsets[i, 1])
        out[i] = padded[i, :, oy:oy + h, ox:ox + w]
    return out


def train(model, X, y, epochs, lr, batch_size, seed, params=None):
    """Adam + cross-entropy with shift augmentation; returns per-epoch mean losses."""
    import torch
    import torch.nn.functional as F

    X = torch.as_tensor(X, dtype=torch.float32)
    y = torch.as_tensor(y, dtype=torch.int64)
    g = torch.Generator().manual_seed(seed)
    opt = torch.optim.Adam(model.parameters() if params is None else params, lr=lr)
    history = []
    model.train()
    for _ in range(epochs):
        order = torch.randperm(len(X), generator=g)
        total = 0.0
        for start in range(0, len(X), batch_size):
            idx = order[start:start + batch_size]
            opt.zero_grad()
            loss = F.cross_entropy(model(augment(X[idx], g)), y[idx])
            loss.backward()
            opt.step()
            total += loss.item() * len(idx)
        history.append(total / len(X))
    return history


def preprocess(X):
    import torch

    return torch.as_tensor(np.asarray(X, dtype=np.float32) / 16.0).reshape(-1, 1, 8, 8)


# --------------------------------------------------------------------------- data
def load_heldout():
    with np.load(HELDOUT_PATH) as d:
        return d["X"].astype(np.float32), d["y"].astype(np.int64)


def load_train(public_data):
    with np.load(Path(public_data) / "data" / TRAIN_NAME) as d:
        return d["X"].astype(np.float32), d["y"].astype(np.int64)


def few_shot(X, y, seed, per_class=10, classes=range(5, 10)):
    """``per_class`` examples of each class in ``classes`` from (X, y); labels become 0..len-1."""
    rng = np.random.default_rng(seed)
    idx = np.concatenate([rng.choice(np.flatnonzero(y == c), per_class, replace=False) for c in classes])
    idx = rng.permutation(idx)
    return X[idx], (y[idx] - min(classes)).astype(np.int64)
