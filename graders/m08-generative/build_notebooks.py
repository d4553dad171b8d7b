"""Build the m08-generative starter and solution notebooks from one cell list.

    .venv/bin/python graders/m08-generative/build_notebooks.py

Writes
  assignments/m08-generative/generative.ipynb   starter (bodies raise NotImplementedError)
  solutions/m08-generative/solution.ipynb       the same notebook with the bodies filled in

HIDDEN: this file contains the solution; it lives in graders/ so it is never shipped.
Both notebooks have exactly the same cells in the same order (the fixture notebooks in
tests/fixtures/m08-generative/ patch the solution's cells by their markers), no outputs,
and are validated with nbformat before they are written.
"""

from __future__ import annotations

from pathlib import Path

from handin.authoring import TODO, code, md, write_pair

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
STARTER_PATH = REPO / "assignments" / "m08-generative" / "generative.ipynb"
SOLUTION_PATH = REPO / "solutions" / "m08-generative" / "solution.ipynb"

METHOD_TODO = "        # YOUR CODE HERE\n        raise NotImplementedError\n"

CELLS = [
    md(r'''
# Module 3 — Deep generative models: autoencoders and variational autoencoders

An **autoencoder** squeezes each input through a narrow *bottleneck* and learns to
rebuild it from there; a **variational autoencoder** (VAE, Kingma & Welling 2014) turns
that idea into a probabilistic generative model that you can *sample* new data from.
In this assignment you build both, in PyTorch, for the 8×8 handwritten digits that ship
with scikit-learn (pixel values scaled to $[0, 1]$, each image flattened to a vector of
64 numbers):

1. **An autoencoder**: encoder, bottleneck, decoder, and a training loop that minimises
   the reconstruction error.
2. **A VAE**: the reparameterisation trick, the closed-form KL divergence between two
   Gaussians, the evidence lower bound (ELBO), the model and its training loop — and
   finally new digits decoded from random latent vectors.

**How this notebook is graded.** The autograder runs the whole notebook top to bottom
and then calls the functions and classes the notebook defines, and reads the trained
models in the variables `ae` and `vae`. Keep the names and signatures exactly as given;
you may add helper functions. If a cell raises an error the run goes on, but the names
that cell should have defined are missing — run *Restart & Run All* before you hand in.
The training data is in `data/digits_train.npz`; your models are scored on held-out
digits that you do not have: the autograder sends them through your encoder and decoder
and computes the scores itself. The notebook must not download anything, and the whole
run should take well under a minute.

Small checks after some cells print `not implemented yet` until you fill the code in;
`test_public.py` contains a few of the autograder's tests.
'''),
    code(r'''
import numpy as np
import torch
from torch import nn
import torch.nn.functional as F

# Use a GPU when there is one. Everything below works on either device: models are moved
# with .to(device), and the training loops move each batch to the device of the model.
device = torch.device("cuda" if torch.cuda.is_available() else "cpu")

data = np.load("data/digits_train.npz")
X_train = data["X"]            # float32 (n, 64): 8x8 images flattened row by row, values in [0, 1]
y_train = data["y"]            # int64 (n,): the digit shown (only for looking at the data)
print("training data:", X_train.shape, X_train.dtype, f"values in [{X_train.min():.0f}, {X_train.max():.0f}]")
print("device:", device)


def show_digits(images, title=None, ncols=8):
    """Plot the rows of `images` (n, 64), values in [0, 1], as a grid of 8x8 pictures."""
    import matplotlib.pyplot as plt

    images = np.clip(np.asarray(images, dtype=np.float32), 0.0, 1.0).reshape(-1, 8, 8)
    nrows = int(np.ceil(len(images) / ncols))
    grid = np.full((9 * nrows + 1, 9 * ncols + 1), 0.5)        # grey lines between the digits
    for i, image in enumerate(images):
        r, c = divmod(i, ncols)
        grid[1 + 9 * r:9 + 9 * r, 1 + 9 * c:9 + 9 * c] = image
    plt.figure(figsize=(ncols * 0.6, nrows * 0.6))
    plt.imshow(grid, cmap="gray_r", vmin=0.0, vmax=1.0, interpolation="nearest")
    plt.axis("off")
    if title:
        plt.title(title)
    plt.show()
'''),
    md(r'''
## Part 1 — an autoencoder

An autoencoder is two networks trained together: an **encoder** $f$ that maps an image
$x \in [0,1]^{64}$ to a short *code* $z = f(x) \in \mathbb{R}^{d}$ with $d \ll 64$, and a
**decoder** $g$ that maps the code back to a reconstruction $\hat x = g(z) \in [0,1]^{64}$.
Because everything the decoder knows about $x$ has to pass through the $d$ numbers of the
bottleneck, the network must learn a compact description of the digits.

### Task 1: the model

`Autoencoder(n_in=64, n_hidden=128, n_latent=8)` is an `nn.Module` with exactly four
`nn.Linear` layers, named as follows:

| layer | maps | followed by |
|---|---|---|
| `self.enc1` | `n_in → n_hidden` | ReLU |
| `self.enc2` | `n_hidden → n_latent` | nothing: the code is linear |
| `self.dec1` | `n_latent → n_hidden` | ReLU |
| `self.dec2` | `n_hidden → n_in` | sigmoid, so that $\hat x \in (0, 1)$ |

- `encode(x)` takes a float32 tensor `(n, n_in)` and returns the code `(n, n_latent)`;
- `decode(z)` takes codes `(n, n_latent)` and returns reconstructions `(n, n_in)`;
- `forward(x)` returns `decode(encode(x))` — the reconstruction goes **through** the
  bottleneck.

Add no other parameters (the autograder loads its own weights into your model with
`load_state_dict` and compares the outputs with its reference).
'''),
    code(r'''
class Autoencoder(nn.Module):
    def __init__(self, n_in=64, n_hidden=128, n_latent=8):
        super().__init__()
''' + METHOD_TODO + r'''
    def encode(self, x):
        """(n, n_in) images -> (n, n_latent) codes."""
''' + METHOD_TODO + r'''
    def decode(self, z):
        """(n, n_latent) codes -> (n, n_in) reconstructions in (0, 1)."""
''' + METHOD_TODO + r'''
    def forward(self, x):
        """Reconstruct x through the bottleneck."""
''' + METHOD_TODO, r'''
class Autoencoder(nn.Module):
    def __init__(self, n_in=64, n_hidden=128, n_latent=8):
        super().__init__()
        self.enc1 = nn.Linear(n_in, n_hidden)
        self.enc2 = nn.Linear(n_hidden, n_latent)
        self.dec1 = nn.Linear(n_latent, n_hidden)
        self.dec2 = nn.Linear(n_hidden, n_in)

    def encode(self, x):
        """(n, n_in) images -> (n, n_latent) codes."""
        return self.enc2(torch.relu(self.enc1(x)))

    def decode(self, z):
        """(n, n_latent) codes -> (n, n_in) reconstructions in (0, 1)."""
        return torch.sigmoid(self.dec2(torch.relu(self.dec1(z))))

    def forward(self, x):
        """Reconstruct x through the bottleneck."""
        return self.decode(self.encode(x))
'''),
    md(r'''
### Task 2: training

`train_autoencoder(model, X, epochs=..., lr=..., batch_size=..., seed=0)` trains `model`
in place on the images `X` (a float32 numpy array or tensor `(n, 64)`, values in
$[0, 1]$) with mini-batches and `torch.optim.Adam`, minimising the **mean squared
error** between the reconstruction and the input (`nn.MSELoss()`: the mean over the
pixels and the batch). Train on the device the model is on
(`next(model.parameters()).device`) and move each batch there.

Shuffle the data every epoch with `torch.randperm(n, generator=g)`, where `g` is a CPU
`torch.Generator` seeded once with `seed`, so that the same seed and the same initial
weights give exactly the same result. Choose good defaults for `epochs`, `lr` and
`batch_size`. Return the list of per-epoch **mean** training losses (one Python float
per epoch: the average of the batch losses weighted by the batch sizes).
'''),
    code(r'''
def train_autoencoder(model, X, epochs=20, lr=5e-3, batch_size=128, seed=0):
    """Train model in place to reconstruct X; return the list of per-epoch mean losses."""
''' + TODO, r'''
def train_autoencoder(model, X, epochs=20, lr=5e-3, batch_size=128, seed=0):
    """Train model in place to reconstruct X; return the list of per-epoch mean losses."""
    device = next(model.parameters()).device
    X = torch.as_tensor(np.asarray(X, dtype=np.float32))
    generator = torch.Generator().manual_seed(seed)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    loss_fn = nn.MSELoss()
    n = X.shape[0]
    history = []
    model.train()
    for _ in range(epochs):
        order = torch.randperm(n, generator=generator)
        total = 0.0
        for start in range(0, n, batch_size):
            x = X[order[start:start + batch_size]].to(device)
            optimizer.zero_grad()
            loss = loss_fn(model(x), x)
            loss.backward()
            optimizer.step()
            total += loss.item() * x.shape[0]
        history.append(total / n)
    return history
'''),
    md(r'''
### Train the autoencoder

This cell trains the autoencoder the autograder scores: it must leave a trained
`Autoencoder` with a bottleneck of **at most 8 dimensions** in the variable **`ae`**.
The autograder reconstructs held-out digits with `ae.decode(ae.encode(x))` and scores the
mean squared error per pixel (full marks from 0.020 down; PCA with 8 components gets
about 0.024).
'''),
    code(r'''
try:
    torch.manual_seed(0)
    ae = Autoencoder(64, 128, 8).to(device)
    ae_losses = train_autoencoder(ae, X_train)
    print(f"autoencoder MSE: first epoch {ae_losses[0]:.4f}, last epoch {ae_losses[-1]:.4f}")
    with torch.no_grad():
        originals = torch.as_tensor(X_train[:8]).to(device)
        reconstructions = ae(originals).cpu().numpy()
    show_digits(np.concatenate([X_train[:8], reconstructions]), "top: digits, bottom: reconstructions")
except NotImplementedError:
    print("not implemented yet")
'''),
    md(r'''
## Part 2 — a variational autoencoder

A VAE is a *latent-variable model*: to generate a digit, draw a latent vector from the
prior $p(z) = \mathcal N(0, I)$ and then the pixels from the decoder's distribution
$p_\theta(x \mid z)$. We use a **Bernoulli likelihood**: the decoder outputs one
probability $p_k = g_\theta(z)_k \in (0, 1)$ per pixel and

$$
\log p_\theta(x \mid z) = \sum_{k=1}^{64} \Big( x_k \log p_k + (1 - x_k) \log (1 - p_k) \Big),
$$

which is minus the binary cross-entropy summed over the pixels (our pixels are grey values
in $[0, 1]$ rather than 0/1; the formula is used as it is, as is common practice).

The encoder gives an approximate posterior $q_\phi(z \mid x) = \mathcal N\big(\mu_\phi(x),
\operatorname{diag}\sigma^2_\phi(x)\big)$; it outputs the mean $\mu$ and the **log-variance**
$\log \sigma^2$ (any real number, unlike $\sigma^2$ itself). Training maximises the
**evidence lower bound** on $\log p_\theta(x)$:

$$
\mathrm{ELBO}(x) = \mathbb E_{z \sim q_\phi(z \mid x)}\big[\log p_\theta(x \mid z)\big]
- \mathrm{KL}\big(q_\phi(z \mid x) \,\|\, p(z)\big) \;\le\; \log p_\theta(x).
$$

The expectation is estimated with one sample of $z$ per image. The KL term has a closed
form. All values are in *nats* per digit.

### Task 3: the reparameterisation trick

To back-propagate through the sampling of $z$, write the sample as a deterministic,
differentiable function of $\mu$, $\log\sigma^2$ and parameter-free noise
$\varepsilon \sim \mathcal N(0, I)$:

$$
z = \mu + \sigma \odot \varepsilon, \qquad \sigma = \exp\big(\tfrac12 \log \sigma^2\big).
$$

`reparameterize(mu, logvar, eps)` takes three tensors of the same shape `(n, d)` and
returns `z`. The noise `eps` is an argument (the caller draws it), so that the result is
reproducible.
'''),
    code(r'''
def reparameterize(mu, logvar, eps):
    """z = mu + sigma * eps with sigma = exp(logvar / 2); all of shape (n, d)."""
''' + TODO, r'''
def reparameterize(mu, logvar, eps):
    """z = mu + sigma * eps with sigma = exp(logvar / 2); all of shape (n, d)."""
    return mu + torch.exp(0.5 * logvar) * eps
'''),
    md(r'''
### Task 4: the KL divergence

For a diagonal Gaussian $q = \mathcal N(\mu, \operatorname{diag}\sigma^2)$ in $d$ dimensions
and the prior $p = \mathcal N(0, I)$,

$$
\mathrm{KL}(q \,\|\, p) = -\frac12 \sum_{j=1}^{d} \Big( 1 + \log\sigma_j^2 - \mu_j^2 - \sigma_j^2 \Big) \;\ge\; 0 .
$$

`gaussian_kl(mu, logvar)` takes the encoder's outputs for a batch, two tensors `(n, d)`,
and returns this KL **summed over the latent dimensions and averaged over the batch**:
a scalar tensor (0-dimensional), $\frac1n \sum_i \mathrm{KL}_i$. Keep it a torch
computation — it is part of the training loss.
'''),
    code(r'''
def gaussian_kl(mu, logvar):
    """Mean over the batch of KL(N(mu, exp(logvar)) || N(0, I)), summed over latent dims."""
''' + TODO, r'''
def gaussian_kl(mu, logvar):
    """Mean over the batch of KL(N(mu, exp(logvar)) || N(0, I)), summed over latent dims."""
    kl_per_example = -0.5 * torch.sum(1.0 + logvar - mu ** 2 - torch.exp(logvar), dim=1)
    return kl_per_example.mean()
'''),
    md(r'''
### Task 5: the ELBO

`elbo(x, x_prob, mu, logvar)` takes a batch of images `x` `(n, 64)`, the decoder's pixel
probabilities `x_prob` `(n, 64)` for one sample $z_i$ per image, and the encoder's `mu`
and `logvar` `(n, d)`, and returns the one-sample ELBO **averaged over the batch**, as a
scalar tensor:

$$
\frac1n \sum_{i=1}^{n} \Big[ \sum_{k=1}^{64} \big( x_{ik} \log p_{ik} + (1 - x_{ik}) \log(1 - p_{ik}) \big)
- \mathrm{KL}_i \Big].
$$

This is the quantity to *maximise*; the training loss is $-\mathrm{ELBO}$. Both terms are
**summed** over their dimensions (pixels, latent dimensions) and **averaged** over the
batch — the same convention as `gaussian_kl`. `F.binary_cross_entropy(x_prob, x,
reduction=...)` computes the Bernoulli term for you (it clips $\log$ at $-100$, so
probabilities of exactly 0 or 1 do no harm).
'''),
    code(r'''
def elbo(x, x_prob, mu, logvar):
    """Batch mean of sum_pixels log p(x | z) - KL(q(z | x) || p(z)) (Bernoulli likelihood)."""
''' + TODO, r'''
def elbo(x, x_prob, mu, logvar):
    """Batch mean of sum_pixels log p(x | z) - KL(q(z | x) || p(z)) (Bernoulli likelihood)."""
    log_likelihood = -F.binary_cross_entropy(x_prob, x, reduction="none").sum(dim=1)
    return log_likelihood.mean() - gaussian_kl(mu, logvar)
'''),
    md(r'''
### Try it

Quick checks on made-up numbers: $z$ equals $\mu$ when $\varepsilon = 0$, the KL of
the prior itself is 0 and every other KL is positive, and a decoder that predicts every
pixel perfectly well ($p = x$ for 0/1 images) with $q$ equal to the prior has an ELBO of about 0.
'''),
    code(r'''
def _check_vae_maths():
    g = torch.Generator().manual_seed(0)
    mu = torch.randn(4, 3, generator=g)
    logvar = torch.randn(4, 3, generator=g)
    print("z == mu when eps = 0:", torch.allclose(reparameterize(mu, logvar, torch.zeros(4, 3)), mu))
    print("KL(prior || prior) =", float(gaussian_kl(torch.zeros(4, 3), torch.zeros(4, 3))))
    print("KL of random Gaussians (positive):", float(gaussian_kl(mu, logvar)))
    x = (torch.rand(4, 64, generator=g) > 0.5).float()
    print("ELBO of a perfect decoder with q = prior:",
          float(elbo(x, x.clamp(1e-6, 1 - 1e-6), torch.zeros(4, 3), torch.zeros(4, 3))))


try:
    _check_vae_maths()
except NotImplementedError:
    print("not implemented yet")
'''),
    md(r'''
### Task 6: the model

`VAE(n_in=64, n_hidden=128, n_latent=8)` is an `nn.Module` with exactly five `nn.Linear`
layers:

| layer | maps | followed by |
|---|---|---|
| `self.enc1` | `n_in → n_hidden` | ReLU, giving the hidden features `h` |
| `self.enc_mu` | `n_hidden → n_latent` (from `h`) | nothing: this is $\mu$ |
| `self.enc_logvar` | `n_hidden → n_latent` (from `h`) | nothing: this is $\log\sigma^2$ |
| `self.dec1` | `n_latent → n_hidden` | ReLU |
| `self.dec2` | `n_hidden → n_in` | sigmoid: the pixel probabilities |

- `encode(x)` returns the pair `(mu, logvar)`, each `(n, n_latent)`;
- `decode(z)` returns the pixel probabilities `(n, n_in)`, values in $(0, 1)$;
- `forward(x, eps=None)` encodes `x`, draws `z` with `reparameterize` (with
  `eps = torch.randn_like(mu)` when `eps` is not given) and returns the triple
  `(x_prob, mu, logvar)` where `x_prob = decode(z)`.

Add no other parameters.
'''),
    code(r'''
class VAE(nn.Module):
    def __init__(self, n_in=64, n_hidden=128, n_latent=8):
        super().__init__()
''' + METHOD_TODO + r'''
    def encode(self, x):
        """(n, n_in) images -> (mu, logvar), each (n, n_latent)."""
''' + METHOD_TODO + r'''
    def decode(self, z):
        """(n, n_latent) latents -> (n, n_in) pixel probabilities."""
''' + METHOD_TODO + r'''
    def forward(self, x, eps=None):
        """(x_prob, mu, logvar) for one reparameterised sample z per image."""
''' + METHOD_TODO, r'''
class VAE(nn.Module):
    def __init__(self, n_in=64, n_hidden=128, n_latent=8):
        super().__init__()
        self.enc1 = nn.Linear(n_in, n_hidden)
        self.enc_mu = nn.Linear(n_hidden, n_latent)
        self.enc_logvar = nn.Linear(n_hidden, n_latent)
        self.dec1 = nn.Linear(n_latent, n_hidden)
        self.dec2 = nn.Linear(n_hidden, n_in)

    def encode(self, x):
        """(n, n_in) images -> (mu, logvar), each (n, n_latent)."""
        h = torch.relu(self.enc1(x))
        return self.enc_mu(h), self.enc_logvar(h)

    def decode(self, z):
        """(n, n_latent) latents -> (n, n_in) pixel probabilities."""
        return torch.sigmoid(self.dec2(torch.relu(self.dec1(z))))

    def forward(self, x, eps=None):
        """(x_prob, mu, logvar) for one reparameterised sample z per image."""
        mu, logvar = self.encode(x)
        if eps is None:
            eps = torch.randn_like(mu)
        return self.decode(reparameterize(mu, logvar, eps)), mu, logvar
'''),
    md(r'''
### Task 7: training

`train_vae(model, X, epochs=..., lr=..., batch_size=..., seed=0)` trains the VAE in place
on the images `X` (float32 numpy array or tensor `(n, 64)`, values in $[0, 1]$) with
mini-batches and `torch.optim.Adam`, minimising $-$`elbo` (one sample of $z$ per image).
As in `train_autoencoder`: train on the model's device, shuffle every epoch with
`torch.randperm(n, generator=g)` for a CPU generator `g` seeded once with `seed`, and
draw the noise from **the same generator**: `torch.randn(shape, generator=g)`, then move
it to the device. The same seed and initial weights must give exactly the same result.
Return the list of per-epoch **mean** losses ($-$ELBO in nats per digit, one Python float
per epoch, batch losses weighted by the batch sizes).
'''),
    code(r'''
def train_vae(model, X, epochs=20, lr=5e-3, batch_size=128, seed=0):
    """Train the VAE in place by maximising the ELBO; return the per-epoch mean losses (-ELBO)."""
''' + TODO, r'''
def train_vae(model, X, epochs=20, lr=5e-3, batch_size=128, seed=0):
    """Train the VAE in place by maximising the ELBO; return the per-epoch mean losses (-ELBO)."""
    device = next(model.parameters()).device
    X = torch.as_tensor(np.asarray(X, dtype=np.float32))
    generator = torch.Generator().manual_seed(seed)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    n = X.shape[0]
    history = []
    model.train()
    for _ in range(epochs):
        order = torch.randperm(n, generator=generator)
        total = 0.0
        for start in range(0, n, batch_size):
            x = X[order[start:start + batch_size]].to(device)
            mu, logvar = model.encode(x)
            eps = torch.randn(mu.shape, generator=generator).to(device)
            x_prob = model.decode(reparameterize(mu, logvar, eps))
            loss = -elbo(x, x_prob, mu, logvar)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total += loss.item() * x.shape[0]
        history.append(total / n)
    return history
'''),
    md(r'''
### Train the VAE and sample from it

This cell trains the VAE the autograder scores: it must leave a trained `VAE` in the
variable **`vae`**. The autograder computes the ELBO of held-out digits through your
`vae.encode` and `vae.decode` with its own noise (full marks from $-25.2$ nats per digit
up; a model that ignores its input and always predicts the mean image gets about
$-27.0$) and decodes $z \sim \mathcal N(0, I)$ with your decoder to show you samples of
your model in the report.
'''),
    code(r'''
try:
    torch.manual_seed(0)
    vae = VAE(64, 128, 8).to(device)
    vae_losses = train_vae(vae, X_train)
    print(f"-ELBO: first epoch {vae_losses[0]:.2f}, last epoch {vae_losses[-1]:.2f} nats per digit")
    with torch.no_grad():
        z = torch.randn(32, 8, generator=torch.Generator().manual_seed(1)).to(device)
        samples = vae.decode(z).cpu().numpy()
    show_digits(samples, "digits decoded from z ~ N(0, I)")
except NotImplementedError:
    print("not implemented yet")
'''),
]


if __name__ == "__main__":
    write_pair(CELLS, "m08", STARTER_PATH, SOLUTION_PATH, REPO)
