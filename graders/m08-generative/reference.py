"""Reference implementations and shared helpers for the m08-generative hidden tests.

HIDDEN: this file is never shipped to students.

The reference maths runs in float64 on CPU copies of what the judge sent. Models live in
the student process; the judge loads its own weights into fresh student models
(``load_state_dict``) and compares their outputs with the formulas here. What comes back
is read with handin.checks, which fails a test with a short message that never contains
expected values (and never echoes what came back).
"""

from __future__ import annotations

import io
import math
from pathlib import Path

import numpy as np
import torch
from handin.checks import fail, to_array, to_float
from handin.proxy import StudentError

HERE = Path(__file__).resolve().parent
HELDOUT_PATH = HERE / "data" / "digits_heldout.npz"
N_IN, N_HIDDEN, N_LATENT = 64, 32, 4      # the sizes of the models the judge loads its weights into

AE_LAYERS = {"enc1": ("n_in", "n_hidden"), "enc2": ("n_hidden", "n_latent"),
             "dec1": ("n_latent", "n_hidden"), "dec2": ("n_hidden", "n_in")}
VAE_LAYERS = {"enc1": ("n_in", "n_hidden"), "enc_mu": ("n_hidden", "n_latent"),
              "enc_logvar": ("n_hidden", "n_latent"), "dec1": ("n_latent", "n_hidden"),
              "dec2": ("n_hidden", "n_in")}


# --------------------------------------------------------------------------- data
def load_heldout() -> np.ndarray:
    with np.load(HELDOUT_PATH) as d:
        return d["X"].astype(np.float32)


def load_public(public_data: Path) -> np.ndarray:
    with np.load(public_data / "data" / "digits_train.npz") as d:
        return d["X"].astype(np.float32)


# --------------------------------------------------------------------------- weights
def layer_shapes(layers, n_in, n_hidden, n_latent):
    """{"enc1.weight": (out, in), "enc1.bias": (out,), ...} in nn.Linear's layout."""
    size = {"n_in": n_in, "n_hidden": n_hidden, "n_latent": n_latent}
    shapes = {}
    for name, (fan_in, fan_out) in layers.items():
        shapes[f"{name}.weight"] = (size[fan_out], size[fan_in])
        shapes[f"{name}.bias"] = (size[fan_out],)
    return shapes


def state_dict(layers, n_in, n_hidden, n_latent, seed):
    """Fixed float32 weights in nn.Linear's layout, uniform(-2/sqrt(fan_in), 2/sqrt(fan_in)).

    Twice PyTorch's default scale, so that the latent layers give outputs of order 1 and
    the decoder's probabilities spread over (0, 1) instead of sitting at 0.5.
    """
    g = torch.Generator().manual_seed(seed)
    out = {}
    for key, shape in layer_shapes(layers, n_in, n_hidden, n_latent).items():
        fan_in = shape[1] if len(shape) == 2 else out[key.replace(".bias", ".weight")].shape[1]
        bound = 2.0 / math.sqrt(fan_in)
        out[key] = (torch.rand(shape, generator=g, dtype=torch.float32) * 2 - 1) * bound
    return out


def linear(sd, name, x):
    return x @ sd[f"{name}.weight"].double().T + sd[f"{name}.bias"].double()


def ae_encode(sd, x):
    return linear(sd, "enc2", torch.relu(linear(sd, "enc1", x.double())))


def ae_decode(sd, z):
    return torch.sigmoid(linear(sd, "dec2", torch.relu(linear(sd, "dec1", z.double()))))


def vae_encode(sd, x):
    h = torch.relu(linear(sd, "enc1", x.double()))
    return linear(sd, "enc_mu", h), linear(sd, "enc_logvar", h)


def vae_decode(sd, z):
    return ae_decode(sd, z)


# --------------------------------------------------------------------------- VAE maths
def reparameterize(mu, logvar, eps):
    return mu.double() + torch.exp(0.5 * logvar.double()) * eps.double()


def kl_per_example(mu, logvar):
    mu, logvar = mu.double(), logvar.double()
    return -0.5 * torch.sum(1.0 + logvar - mu ** 2 - torch.exp(logvar), dim=1)


def gaussian_kl(mu, logvar):
    """Sum over latent dimensions, mean over the batch."""
    return float(kl_per_example(mu, logvar).mean())


def log_likelihood_per_example(x, x_prob):
    """Bernoulli log-likelihood summed over pixels; log clipped at -100 like F.binary_cross_entropy."""
    x, p = x.double(), x_prob.double()
    log_p = torch.clamp(torch.log(p), min=-100.0)
    log_1mp = torch.clamp(torch.log1p(-p), min=-100.0)
    return torch.sum(x * log_p + (1.0 - x) * log_1mp, dim=1)


def elbo_per_example(x, x_prob, mu, logvar):
    return log_likelihood_per_example(x, x_prob) - kl_per_example(mu, logvar)


def elbo(x, x_prob, mu, logvar):
    """Batch mean of (sum over pixels of the Bernoulli log-likelihood - KL summed over latents)."""
    return float(elbo_per_example(x, x_prob, mu, logvar).mean())


# --------------------------------------------------------------------------- fixed inputs
def digit_like(n, seed):
    """(n, 64) float32 in [0, 1] that look like the digits: many exact 0s, some 1s, greys."""
    g = torch.Generator().manual_seed(seed)
    x = torch.rand((n, 64), generator=g)
    x[x < 0.4] = 0.0
    x[x > 0.9] = 1.0
    return x


def probabilities(n, seed, low=0.02, high=0.98):
    """(n, 64) float32 pixel probabilities, kept within [low, high]."""
    g = torch.Generator().manual_seed(seed)
    return torch.sigmoid(1.5 * torch.randn((n, 64), generator=g)).clamp(low, high)


def gaussians(n, d, seed):
    """mu (n, d) ~ N(0, 1) and logvar (n, d) uniform in [-3, 2] (sigma from 0.22 to 2.7)."""
    g = torch.Generator().manual_seed(seed)
    mu = torch.randn((n, d), generator=g)
    logvar = torch.rand((n, d), generator=g) * 5.0 - 3.0
    return mu, logvar


# --------------------------------------------------------------------------- samples image
def samples_png(images, ncols=8) -> bytes:
    """A grid of 8x8 images (rows of ``images``, values in [0, 1]) as PNG bytes (matplotlib, Agg)."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    images = np.clip(np.asarray(images, dtype=np.float64), 0.0, 1.0).reshape(-1, 8, 8)
    nrows = int(math.ceil(len(images) / ncols))
    grid = np.ones((nrows * 9 + 1, ncols * 9 + 1)) * 0.5          # grey 1-pixel gaps
    for i, image in enumerate(images):
        r, c = divmod(i, ncols)
        grid[1 + 9 * r:9 + 9 * r, 1 + 9 * c:9 + 9 * c] = image
    fig = Figure(figsize=(ncols * 0.5, nrows * 0.5), dpi=80)
    FigureCanvasAgg(fig)
    ax = fig.add_axes((0, 0, 1, 1))
    ax.imshow(grid, cmap="gray_r", vmin=0.0, vmax=1.0, interpolation="nearest")
    ax.axis("off")
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


# --------------------------------------------------------------------------- talking to the student's models


def check_layers(model, layers, what):
    """The model has exactly the named nn.Linear layers of ``layers`` (for sizes 64, 32, 4)."""
    expected = layer_shapes(layers, N_IN, N_HIDDEN, N_LATENT)
    for key, shape in expected.items():
        layer, attr = key.split(".")
        try:
            tensor = getattr(getattr(model, layer), attr)
        except StudentError:
            fail(f"{what} has no layer `{layer}` (an nn.Linear)")
        value = to_array(tensor, f"{what}.{key}")
        if value.shape != shape:
            fail(f"{what}.{key} has shape {value.shape}, expected {shape}")
    try:
        params = list(model.parameters())
    except TypeError:
        fail(f"{what}.parameters() is not iterable")
    n_params = sum(to_array(p, f"{what}.parameters()").size for p in params)
    expected_n = sum(math.prod(s) for s in expected.values())
    if n_params != expected_n:
        names = ", ".join(layers)
        fail(f"{what} has {n_params} parameters, expected {expected_n} ({names} only)")


def fresh_model(student, cls_name, layers, seed):
    """A student model of sizes (64, 32, 4) holding the judge's weights, and those weights."""
    sd = state_dict(layers, N_IN, N_HIDDEN, N_LATENT, seed)
    model = getattr(student, cls_name)(N_IN, N_HIDDEN, N_LATENT)
    model.load_state_dict({k: v.clone() for k, v in sd.items()})
    return model, sd


def trained_model(student, name):
    """The notebook's trained model ``name`` moved to the CPU in eval mode (the judge sends CPU tensors)."""
    if name not in student:
        fail(f"the notebook does not define `{name}` (did the cell that trains it fail?)")
    model = getattr(student, name)
    try:
        model.cpu()
        model.eval()
    except Exception:
        fail(f"`{name}` must be a trained model (an nn.Module)")
    return model


def pair(value, what):
    if not isinstance(value, (tuple, list)) or len(value) != 2:
        fail(f"{what} must return a pair (mu, logvar)")
    return value


def triple(value, what):
    if not isinstance(value, (tuple, list)) or len(value) != 3:
        fail(f"{what} must return a triple (x_prob, mu, logvar)")
    return value


def check_probabilities(value, shape, what):
    """A (n, 64) array of pixel probabilities: right shape, finite, within [0, 1]."""
    p = to_array(value, what)
    if p.shape != shape:
        fail(f"{what} has shape {p.shape}, expected {shape}")
    if not np.all(np.isfinite(p)):
        fail(f"{what} contains NaN or inf")
    if p.min() < 0.0 or p.max() > 1.0:
        fail(f"{what} must be pixel probabilities in [0, 1] (is the sigmoid missing?)")
    return p


def losses(value, epochs, what):
    if not isinstance(value, (list, tuple)):
        fail(f"{what} returned a {type(value).__name__}, expected a list of per-epoch losses")
    if len(value) != epochs:
        fail(f"{what}(..., epochs={epochs}) returned {len(value)} losses, expected {epochs}")
    return [to_float(v, f"{what} (a per-epoch loss)") for v in value]


def weights(model, layers):
    return [to_array(getattr(getattr(model, name), "weight"), f"{name}.weight") for name in layers]


def check_training(student, train_name, cls_name, layers, X, seed, first_range, what_loss):
    """Shared check of train_autoencoder / train_vae: loss goes down, training is reproducible."""
    model, sd = fresh_model(student, cls_name, layers, seed)
    history = losses(getattr(student, train_name)(model, X.copy(), epochs=4, seed=0), 4, train_name)
    low, high = first_range
    if not low <= history[0] <= high:
        fail(f"the first epoch's loss is {history[0]:.3g}; expected {what_loss}")
    if not history[-1] < history[0]:
        fail(f"the training loss did not decrease over 4 epochs of {train_name}")

    initial = [sd[f"{name}.weight"].numpy().astype(np.float64) for name in layers]
    runs = []
    for _ in range(2):
        model, _ = fresh_model(student, cls_name, layers, seed)
        runs.append((losses(getattr(student, train_name)(model, X.copy(), epochs=2, seed=0), 2, train_name),
                     weights(model, layers)))
    (losses_a, weights_a), (losses_b, weights_b) = runs
    if all(np.array_equal(w, w0) for w, w0 in zip(weights_a, initial)):
        fail(f"{train_name} did not change the model's weights")
    if not np.allclose(losses_a, losses_b, rtol=1e-6, atol=1e-7):
        fail(f"{train_name} is not deterministic: two runs with seed=0 returned different losses")
    for w_a, w_b in zip(weights_a, weights_b):
        if w_a.shape != w_b.shape or not np.allclose(w_a, w_b, rtol=1e-5, atol=1e-6):
            fail(f"{train_name} is not deterministic: two runs with seed=0 ended with different weights")

