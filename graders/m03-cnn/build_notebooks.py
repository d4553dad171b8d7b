"""Build the m03-cnn starter and solution notebooks from one cell list.

    .venv/bin/python graders/m03-cnn/build_notebooks.py

Writes
  assignments/m03-cnn/cnn.ipynb          starter (bodies raise NotImplementedError)
  solutions/m03-cnn/solution.ipynb       the same notebook with the bodies filled in

HIDDEN: this file contains the solution; it lives in graders/ so it is never shipped.
Both notebooks have exactly the same cells in the same order (the fixture notebooks in
tests/fixtures/m03-cnn/ patch cells found by marker strings), no outputs, and are
validated with nbformat before they are written.
"""

from __future__ import annotations

from pathlib import Path

from handin.authoring import TODO, code, md, write_pair

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
STARTER_PATH = REPO / "assignments" / "m03-cnn" / "cnn.ipynb"
SOLUTION_PATH = REPO / "solutions" / "m03-cnn" / "solution.ipynb"

CELLS = [
    md(r'''
# Module 3 — Convolutional neural networks

In this assignment you take a convolutional network apart and put it back together:

1. **Convolution and pooling in numpy.** A 2-D convolution layer written with plain loops,
   the same layer written as one matrix product (*im2col*), and max-pooling with its
   backward pass. The autograder compares them with PyTorch's own `conv2d`, `unfold` and
   `max_pool2d` on random inputs with strides and padding.
2. **A small CNN in PyTorch** for the 8×8 handwritten digits that ship with
   scikit-learn, trained with **data augmentation** (random shifts by one pixel).
3. **Transfer learning.** A feature extractor pre-trained on the digits 0–4 is provided;
   you fine-tune it on the digits 5–9 from only **a handful of labelled images per class**,
   and the autograder checks that pre-training beats training from scratch.

All arrays follow PyTorch's **NCHW** layout: a batch of images has shape
`(N, C, H, W)` = (batch, channels, height, width), and a bank of filters has shape
`(F, C, KH, KW)` = (filters, input channels, kernel height, kernel width).

**How this notebook is graded.** The autograder runs the whole notebook top to bottom and
then calls the functions (and reads the variable `model`) that it defines. Keep the names
and signatures exactly as given; you may add helper functions. A cell that raises an error
is recorded and the run continues, but names it should have defined will be missing — run
*Restart & Run All* before you hand in. Your trained models are scored on held-out digits
you do not have: they are **shifted by up to one pixel** and slightly noisy, the way real
scans are not perfectly centred. The notebook must not download anything and should run in
well under a minute on a laptop CPU (it uses a GPU if there is one).

Small checks after each part print `not implemented yet` until you fill the functions in;
`test_public.py` contains a few of the autograder's tests.
'''),
    code(r'''
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
torch.backends.cudnn.deterministic = True      # the same seed gives the same model, also on a GPU
torch.backends.cudnn.benchmark = False

data = np.load("data/digits_train.npz")
X_train, y_train = data["X"], data["y"]   # X: float32 (n, 8, 8), pixel values 0..16; y: int64 labels 0..9
print("training data:", X_train.shape, X_train.dtype, y_train.shape, y_train.dtype, "| device:", device)
'''),
    md(r'''
## Part 1 — convolution and pooling in numpy

Work in float64 numpy in this part. None of the functions may modify its inputs.

### Task 1: convolution with loops

A convolution layer with `F` filters slides each filter over the (zero-padded) input and
takes a dot product at every position. With stride $s$ and padding $p$,

$$
\mathrm{out}[n, f, i, j] = b_f + \sum_{c=0}^{C-1} \sum_{u=0}^{K_H-1} \sum_{v=0}^{K_W-1}
   w[f, c, u, v]\; x_p[n, c,\; i s + u,\; j s + v],
$$

where $x_p$ is `x` with $p$ rows/columns of zeros added on **every** side. The output has
height $H_o = \lfloor (H + 2p - K_H)/s \rfloor + 1$ and width
$W_o = \lfloor (W + 2p - K_W)/s \rfloor + 1$.

Note the `+ u` and `+ v`: the filter is **not flipped**. Mathematicians call this
*cross-correlation* (true convolution would use $x_p[\dots, is - u, js - v]$); deep-learning
libraries, PyTorch included, compute cross-correlation and call it convolution, and so do we.

`conv2d_naive(x, w, b, stride=1, padding=0)` takes `x` `(N, C, H, W)`, `w` `(F, C, KH, KW)`
and `b` `(F,)` (integer `stride` and `padding`, the same in both directions) and returns
`(N, F, Ho, Wo)`. Write it with explicit loops (over output positions at least);
`np.pad` adds the zeros.
'''),
    code(r'''
def conv2d_naive(x, w, b, stride=1, padding=0):
    """Cross-correlation of x (N, C, H, W) with filters w (F, C, KH, KW) plus bias b (F,), with loops."""
''' + TODO, r'''
def conv2d_naive(x, w, b, stride=1, padding=0):
    """Cross-correlation of x (N, C, H, W) with filters w (F, C, KH, KW) plus bias b (F,), with loops."""
    n, c, h, wd = x.shape
    f, _, kh, kw = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    ho = (h + 2 * padding - kh) // stride + 1
    wo = (wd + 2 * padding - kw) // stride + 1
    out = np.zeros((n, f, ho, wo))
    for i in range(ho):
        for j in range(wo):
            patch = xp[:, :, i * stride:i * stride + kh, j * stride:j * stride + kw]   # (N, C, KH, KW)
            for k in range(f):
                out[:, k, i, j] = np.sum(patch * w[k], axis=(1, 2, 3)) + b[k]
    return out
'''),
    md(r'''
### Task 2: convolution as a matrix product (im2col)

Loops in Python are slow. The trick every library uses: copy each receptive field (the
`C × KH × KW` input values one output position sees) into a column of a matrix, and the
whole layer becomes a single matrix product.

`im2col(x, kh, kw, stride=1, padding=0)` returns an array `cols` of shape
`(N, C*KH*KW, L)` with `L = Ho*Wo` — exactly the layout of `torch.nn.functional.unfold`:

$$
\mathrm{cols}[n,\; (c K_H + u) K_W + v,\; i W_o + j] = x_p[n, c,\; i s + u,\; j s + v].
$$

So a row index runs over `(c, u, v)` with `v` fastest, and a column index over the output
positions `(i, j)` in row-major order. Loops over the kernel offsets `(u, v)` are fine
(each one copies a strided slice of $x_p$).

`conv2d_im2col(x, w, b, stride=1, padding=0)` computes the same result as `conv2d_naive`
with `im2col`: reshape the filters to a `(F, C*KH*KW)` matrix, multiply, add the bias and
reshape to `(N, F, Ho, Wo)`.
'''),
    code(r'''
def im2col(x, kh, kw, stride=1, padding=0):
    """Receptive fields of x (N, C, H, W) as columns: (N, C*kh*kw, Ho*Wo), the layout of F.unfold."""
''' + TODO + r'''

def conv2d_im2col(x, w, b, stride=1, padding=0):
    """The same as conv2d_naive, computed as a matrix product with im2col."""
''' + TODO, r'''
def im2col(x, kh, kw, stride=1, padding=0):
    """Receptive fields of x (N, C, H, W) as columns: (N, C*kh*kw, Ho*Wo), the layout of F.unfold."""
    n, c, h, w = x.shape
    xp = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    ho = (h + 2 * padding - kh) // stride + 1
    wo = (w + 2 * padding - kw) // stride + 1
    cols = np.empty((n, c, kh, kw, ho, wo), dtype=xp.dtype)
    for u in range(kh):
        for v in range(kw):
            cols[:, :, u, v] = xp[:, :, u:u + stride * ho:stride, v:v + stride * wo:stride]
    return cols.reshape(n, c * kh * kw, ho * wo)


def conv2d_im2col(x, w, b, stride=1, padding=0):
    """The same as conv2d_naive, computed as a matrix product with im2col."""
    n, _, h, wd = x.shape
    f, _, kh, kw = w.shape
    ho = (h + 2 * padding - kh) // stride + 1
    wo = (wd + 2 * padding - kw) // stride + 1
    cols = im2col(x, kh, kw, stride, padding)                # (N, C*KH*KW, L)
    out = w.reshape(f, -1) @ cols + b[:, None]               # (N, F, L)
    return out.reshape(n, f, ho, wo)
'''),
    md(r'''
### Task 3: max-pooling, forward and backward

`maxpool2d(x, size=2, stride=None)` takes the maximum over every `size × size` window of
each channel separately; the windows start every `stride` pixels (`stride=None` means
`stride = size`, non-overlapping windows). There is no padding: the output is
`(N, C, Ho, Wo)` with $H_o = \lfloor (H - \mathrm{size})/\mathrm{stride} \rfloor + 1$
(leftover rows and columns at the bottom/right are dropped), and likewise $W_o$.

`maxpool2d_backward(dout, x, size=2, stride=None)` returns the gradient of the loss with
respect to `x` (shape of `x`) given the gradient `dout` with respect to the output (shape
of the output). The maximum passes its gradient to the input that attained it and every
other input of the window gets nothing:
`dx[n, c, argmax of window (i, j)] += dout[n, c, i, j]`. With overlapping windows
(`stride < size`) an input can be the maximum of several windows: its gradients **add up**.
(The tests use inputs without ties.)
'''),
    code(r'''
def maxpool2d(x, size=2, stride=None):
    """Max over size x size windows of x (N, C, H, W), every `stride` pixels (default: size)."""
''' + TODO + r'''

def maxpool2d_backward(dout, x, size=2, stride=None):
    """Gradient w.r.t. x of maxpool2d(x, size, stride), given dout, the gradient w.r.t. its output."""
''' + TODO, r'''
def maxpool2d(x, size=2, stride=None):
    """Max over size x size windows of x (N, C, H, W), every `stride` pixels (default: size)."""
    stride = size if stride is None else stride
    n, c, h, w = x.shape
    ho, wo = (h - size) // stride + 1, (w - size) // stride + 1
    out = np.empty((n, c, ho, wo), dtype=x.dtype)
    for i in range(ho):
        for j in range(wo):
            window = x[:, :, i * stride:i * stride + size, j * stride:j * stride + size]
            out[:, :, i, j] = window.max(axis=(2, 3))
    return out


def maxpool2d_backward(dout, x, size=2, stride=None):
    """Gradient w.r.t. x of maxpool2d(x, size, stride), given dout, the gradient w.r.t. its output."""
    stride = size if stride is None else stride
    n, c, h, w = x.shape
    ho, wo = dout.shape[2], dout.shape[3]
    dx = np.zeros(x.shape, dtype=np.float64)
    rows, chans = np.arange(n)[:, None], np.arange(c)[None, :]
    for i in range(ho):
        for j in range(wo):
            window = x[:, :, i * stride:i * stride + size, j * stride:j * stride + size].reshape(n, c, -1)
            flat = window.argmax(axis=2)                      # first maximum in row-major order
            u, v = np.divmod(flat, size)
            dx[rows, chans, i * stride + u, j * stride + v] += dout[:, :, i, j]
    return dx
'''),
    md(r'''
### Try it

PyTorch computes all of this too, so you can check yourself: the cell below compares your
functions with `F.conv2d`, `F.unfold` and `F.max_pool2d` (and its autograd backward) on
random inputs. All differences should be around `1e-15`.
'''),
    code(r'''
def _check_numpy_part():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2, 3, 7, 6))
    w = rng.normal(size=(4, 3, 3, 2))
    b = rng.normal(size=4)
    t = lambda a: torch.tensor(a, dtype=torch.float64)
    for stride, padding in [(1, 0), (2, 1)]:
        want = F.conv2d(t(x), t(w), t(b), stride=stride, padding=padding).numpy()
        print(f"stride {stride}, padding {padding}:",
              "conv2d_naive", np.abs(conv2d_naive(x, w, b, stride, padding) - want).max(),
              "| im2col", np.abs(im2col(x, 3, 2, stride, padding)
                                 - F.unfold(t(x), (3, 2), stride=stride, padding=padding).numpy()).max(),
              "| conv2d_im2col", np.abs(conv2d_im2col(x, w, b, stride, padding) - want).max())
    xt = t(x).requires_grad_()
    out = F.max_pool2d(xt, 3, stride=2)
    dout = rng.normal(size=out.shape)
    out.backward(t(dout))
    print("maxpool2d", np.abs(maxpool2d(x, 3, 2) - out.detach().numpy()).max(),
          "| maxpool2d_backward", np.abs(maxpool2d_backward(dout, x, 3, 2) - xt.grad.numpy()).max())


try:
    _check_numpy_part()
except NotImplementedError:
    print("not implemented yet")
'''),
    md(r'''
## Part 2 — a CNN for the digits

### Task 4: the network

`CNN(n_classes=10)` is an `nn.Module` with exactly two attributes holding layers:

* **`self.features`**: an `nn.Sequential` of, in this order,
  `nn.Conv2d(1, 16, 3, padding=1)`, `nn.ReLU()`, `nn.MaxPool2d(2)`,
  `nn.Conv2d(16, 32, 3, padding=1)`, `nn.ReLU()`, `nn.MaxPool2d(2)`, `nn.Flatten()`.
  An 8×8 image becomes 16×8×8, then 16×4×4, 32×4×4, 32×2×2 and finally a vector of 128
  features.
* **`self.head`**: `nn.Linear(128, n_classes)`.

`forward(x)` takes a float32 tensor `(n, 1, 8, 8)` and returns the logits `(n, n_classes)`
(no softmax). Keep this exact layout and add no other parameters: the autograder loads
weights into your model with `load_state_dict`, and Part 3 loads a pre-trained
`features`.
'''),
    code(r'''
class CNN(nn.Module):
    def __init__(self, n_classes=10):
        super().__init__()
        # YOUR CODE HERE
        raise NotImplementedError

    def forward(self, x):
        # YOUR CODE HERE
        raise NotImplementedError
''', r'''
class CNN(nn.Module):
    def __init__(self, n_classes=10):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Flatten(),
        )
        self.head = nn.Linear(128, n_classes)

    def forward(self, x):
        return self.head(self.features(x))
'''),
    md(r'''
### Task 5: data augmentation

We have only ~1400 training images, and the held-out digits are not always centred. We
can teach the network that a digit moved by a pixel is still the same digit by showing it
randomly shifted copies during training: **data augmentation**. An augmentation must keep
the label true. A small shift does; a horizontal flip does not (a mirrored 2 is no longer a
proper 2, and a digit rotated by 180° can even turn into another one: 6 and 9), so no flips
here.

`augment(x, generator)` takes a batch `x` (a float tensor `(n, 1, 8, 8)`, on any device)
and a `torch.Generator` and returns a **new** tensor of the same shape in which every image
is shifted by its own random offset `(dy, dx)`, each drawn uniformly from `{-1, 0, 1}`
(all nine offsets, including no shift): the content moves `dy` pixels down and `dx` pixels
right, pixels pushed over the border are dropped and the vacated row/column is **zero**
(no wrap-around). Draw the offsets with the generator (e.g.
`torch.randint(0, 3, (n, 2), generator=generator)`, on the CPU), so that the same seed
gives the same shifts; do not modify `x`. `F.pad` followed by cropping is one way to do it.

`preprocess(X)` is **provided — do not change it** (the pre-trained backbone in Part 3
expects exactly these inputs): raw pixels `(n, 8, 8)` or `(n, 64)`, values 0..16, become a
float32 tensor `(n, 1, 8, 8)` with values in [0, 1].
'''),
    code(r'''
def preprocess(X):
    """Raw pixels (n, 8, 8) or (n, 64), values 0..16 -> float32 tensor (n, 1, 8, 8) in [0, 1]. Do not change."""
    return torch.as_tensor(np.asarray(X, dtype=np.float32) / 16.0).reshape(-1, 1, 8, 8)


def augment(x, generator):
    """Shift every image of x (n, 1, 8, 8) by its own random (dy, dx) in {-1, 0, 1}^2, zero fill."""
''' + TODO, r'''
def preprocess(X):
    """Raw pixels (n, 8, 8) or (n, 64), values 0..16 -> float32 tensor (n, 1, 8, 8) in [0, 1]. Do not change."""
    return torch.as_tensor(np.asarray(X, dtype=np.float32) / 16.0).reshape(-1, 1, 8, 8)


def augment(x, generator):
    """Shift every image of x (n, 1, 8, 8) by its own random (dy, dx) in {-1, 0, 1}^2, zero fill."""
    n, c, h, w = x.shape
    offsets = torch.randint(0, 3, (n, 2), generator=generator).to(x.device)   # crop offsets 0..2
    padded = F.pad(x, (1, 1, 1, 1))                                           # zeros around each image
    rows = offsets[:, 0, None] + torch.arange(h, device=x.device)             # (n, h)
    cols = offsets[:, 1, None] + torch.arange(w, device=x.device)             # (n, w)
    batch = torch.arange(n, device=x.device)[:, None, None, None]
    chan = torch.arange(c, device=x.device)[None, :, None, None]
    return padded[batch, chan, rows[:, None, :, None], cols[:, None, None, :]]
'''),
    md(r'''
### Task 6: training and prediction

`train_cnn(model, X, y, epochs=15, lr=3e-3, batch_size=32, seed=0, params=None)` trains
`model` in place on `X` (already preprocessed: float32 `(n, 1, 8, 8)`, a numpy array or a
tensor) and integer labels `y`, with mini-batches, `nn.CrossEntropyLoss` (or
`F.cross_entropy`) and `torch.optim.Adam`. Every mini-batch goes through `augment` before
the forward pass. Use one `torch.Generator` seeded with `seed` for both the shuffling
(`torch.randperm(n, generator=...)` every epoch) and the augmentation, so that the same
seed and the same initial weights give the same result. Train on `device` (move the model
there with `model.to(device)` and each batch with `.to(device)`). `params` is what the
optimiser updates — by default all of `model.parameters()`; Part 3 passes only some.
Return the list of per-epoch **mean** training losses (one Python float per epoch).

`predict(model, X)` takes **raw** pixels `X` (numpy `(n, 8, 8)`, values 0..16 — the
autograder sends raw pixels), applies `preprocess`, runs the model in evaluation mode
without tracking gradients (on the device the model's parameters are on) and returns the
predicted labels as a numpy `int64` array of shape `(n,)`.
'''),
    code(r'''
def train_cnn(model, X, y, epochs=15, lr=3e-3, batch_size=32, seed=0, params=None):
    """Train model in place with shift augmentation; return the list of per-epoch mean losses."""
''' + TODO + r'''

def predict(model, X):
    """Predicted labels (numpy int64, shape (n,)) for raw-pixel inputs X (n, 8, 8)."""
''' + TODO, r'''
def train_cnn(model, X, y, epochs=15, lr=3e-3, batch_size=32, seed=0, params=None):
    """Train model in place with shift augmentation; return the list of per-epoch mean losses."""
    X = torch.as_tensor(np.asarray(X, dtype=np.float32))
    y = torch.as_tensor(np.asarray(y, dtype=np.int64))
    model.to(device)
    generator = torch.Generator().manual_seed(seed)
    optimizer = torch.optim.Adam(model.parameters() if params is None else params, lr=lr)
    n = X.shape[0]
    history = []
    model.train()
    for _ in range(epochs):
        order = torch.randperm(n, generator=generator)
        total = 0.0
        for start in range(0, n, batch_size):
            idx = order[start:start + batch_size]
            xb = augment(X[idx], generator).to(device)
            optimizer.zero_grad()
            loss = F.cross_entropy(model(xb), y[idx].to(device))
            loss.backward()
            optimizer.step()
            total += loss.item() * len(idx)
        history.append(total / n)
    return history


def predict(model, X):
    """Predicted labels (numpy int64, shape (n,)) for raw-pixel inputs X (n, 8, 8)."""
    model.eval()
    model_device = next(model.parameters()).device
    with torch.no_grad():
        logits = model(preprocess(X).to(model_device))
    return logits.argmax(dim=1).cpu().numpy().astype(np.int64)
'''),
    md(r'''
### Train the final model

This cell trains the model the autograder scores: it must leave a trained `CNN(10)` in the
variable **`model`**. It is scored by its accuracy on the shifted, noisy held-out digits
(full marks from 90%). The last lines show why augmentation matters: the accuracy on a
shifted copy of the training images.
'''),
    code(r'''
try:
    torch.manual_seed(0)
    model = CNN(10)
    losses = train_cnn(model, preprocess(X_train), y_train)
    print(f"loss: first epoch {losses[0]:.3f}, last epoch {losses[-1]:.4f}")
    print(f"training accuracy: {np.mean(predict(model, X_train) == y_train):.4f}")
    shifted = augment(preprocess(X_train), torch.Generator().manual_seed(1)).numpy() * 16.0
    print(f"accuracy on randomly shifted training images: {np.mean(predict(model, shifted) == y_train):.4f}")
except NotImplementedError:
    print("not implemented yet")
'''),
    md(r'''
## Part 3 — transfer learning

`data/backbone_digits04.pt` holds the weights of a `CNN.features` (the state_dict of the
`nn.Sequential`, keys `"0.weight"`, `"0.bias"`, `"3.weight"`, `"3.bias"`) that was trained,
with a 5-way head, on the digits **0–4** only. Now suppose we must recognise the digits
**5–9** but have labels for only **5 or 10 images of each**. Instead of learning the
features from 25 images, we reuse the pre-trained ones and learn only a new head.

### Task 7: the transfer model

`transfer_model(pretrained=True, seed=0)` seeds PyTorch with `torch.manual_seed(seed)`,
builds a `CNN(5)` (so the new head is freshly initialised) and, if `pretrained`, loads the
backbone weights into `model.features`
(`torch.load(BACKBONE_PATH, map_location="cpu", weights_only=True)`). With
`pretrained=False` it returns the freshly initialised network (the from-scratch baseline).
Return the model (on the CPU).

### Task 8: fine-tuning

`fine_tune(model, X, y, epochs=30, seed=0)` adapts a transfer model to the new task in
place: `X` is preprocessed `(n, 1, 8, 8)` (e.g. 25 images, 5 per digit), `y` holds labels
0–4 (digit 5 is label 0, …, digit 9 is label 4). `epochs` is the **training budget**: train
for exactly that many epochs (passes over `X`, e.g. `train_cnn(..., epochs=epochs)`) and
return the per-epoch losses, one per epoch.

The standard recipe with so few labels: **freeze** the backbone (`requires_grad_(False)`
on its parameters) and train only the head, with `train_cnn`
(`params=model.head.parameters()`); a higher learning rate than in Part 2 (e.g. `1e-2`)
lets the head learn within a budget of 30 epochs. Training all layers is allowed too, but
gently, with a small learning rate at least for the backbone (e.g. parameter groups: `1e-3`
for `model.features`, `1e-2` for `model.head`): the backbone must stay close to the
pre-trained weights (the autograder checks that it moves by less than half of its
norm). Fine-tuning must **start from** the pre-trained weights: never re-initialise them.

**How the autograder judges transfer.** It calls your `fine_tune` twice with the same
25 labelled images (5 per digit), the same `seed` and `epochs=30`: once on
`transfer_model(pretrained=True)` and once on the same network whose features it has
replaced with freshly initialised (random) ones. Both are scored on held-out digits 5–9,
for four draws of the 25 images. Pre-training must pay off: the pre-trained network must
be more accurate on average, with full marks from a margin of 4 percentage points.
'''),
    code(r'''
BACKBONE_PATH = "data/backbone_digits04.pt"


def transfer_model(pretrained=True, seed=0):
    """CNN(5) with a fresh head (seeded) and, if pretrained, the backbone trained on digits 0-4."""
''' + TODO + r'''

def fine_tune(model, X, y, epochs=30, seed=0):
    """Fine-tune a transfer model in place for `epochs` epochs on few labelled images (labels 0..4); return the losses."""
''' + TODO, r'''
BACKBONE_PATH = "data/backbone_digits04.pt"


def transfer_model(pretrained=True, seed=0):
    """CNN(5) with a fresh head (seeded) and, if pretrained, the backbone trained on digits 0-4."""
    torch.manual_seed(seed)
    model = CNN(5)
    if pretrained:
        model.features.load_state_dict(torch.load(BACKBONE_PATH, map_location="cpu", weights_only=True))
    return model


def fine_tune(model, X, y, epochs=30, seed=0):
    """Fine-tune a transfer model in place for `epochs` epochs on few labelled images (labels 0..4); return the losses."""
    for p in model.features.parameters():
        p.requires_grad_(False)
    return train_cnn(model, X, y, epochs=epochs, lr=1e-2, batch_size=25, seed=seed,
                     params=model.head.parameters())
'''),
    md(r'''
### Try it

Five labelled images per class of the digits 5–9 from the training data, and the other
training images of 5–9 to measure accuracy: your `fine_tune` with a budget of 30 epochs on
the pre-trained backbone against the same `fine_tune` on a randomly initialised network
(what the autograder does, on its own held-out digits), for four draws of the 25 images.
Few labels and a small budget are the situation transfer learning is for: features that
already exist are worth a lot there. On these tiny 8×8 images the advantage shrinks with
more labels and unlimited training (a CNN trained from scratch with shift augmentation
catches up); with real photographs and backbones trained on millions of images it stays
dramatic.
'''),
    code(r'''
try:
    for seed in range(4):
        rng = np.random.default_rng(seed)
        few = np.concatenate([rng.choice(np.flatnonzero(y_train == d), 5, replace=False) for d in range(5, 10)])
        rest = np.setdiff1d(np.flatnonzero(y_train >= 5), few)
        acc = {}
        for pretrained in (True, False):
            tm = transfer_model(pretrained=pretrained, seed=seed)
            fine_tune(tm, preprocess(X_train[few]), y_train[few] - 5, epochs=30, seed=seed)
            acc[pretrained] = np.mean(predict(tm, X_train[rest]) == y_train[rest] - 5)
        print(f"draw {seed}: accuracy on the other training images of 5-9: pre-trained {acc[True]:.3f}, "
              f"from scratch {acc[False]:.3f}, margin {acc[True] - acc[False]:+.3f}")
except NotImplementedError:
    print("not implemented yet")
'''),
]


if __name__ == "__main__":
    write_pair(CELLS, "m03", STARTER_PATH, SOLUTION_PATH, REPO)
