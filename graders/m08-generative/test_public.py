"""Public tests for m08-generative (shipped to students).

These are a few of the autograder's tests. The autograder runs your notebook top to
bottom and gives each test a ``student`` object: ``student.gaussian_kl(mu, logvar)``
calls the ``gaussian_kl`` your notebook defined. The hidden tests check the rest in the
same way, comparing with a reference implementation on fixed inputs, and score your
trained ``ae`` and ``vae`` on held-out digits.
"""

import numpy as np
import pytest
import torch


def _array(value, what):
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu().numpy()
    try:
        return np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        pytest.fail(f"{what} did not return a numeric array or tensor", pytrace=False)


@pytest.mark.points(1)
def test_reparameterize_simple_cases(student):
    """Reparameterisation: z = mu when eps = 0, and mu + eps when logvar = 0."""
    mu = torch.tensor([[0.5, -1.0, 2.0], [0.0, 3.0, -0.25]])
    logvar = torch.tensor([[0.0, 1.0, -2.0], [0.5, -1.0, 0.0]])
    z = _array(student.reparameterize(mu, logvar, torch.zeros(2, 3)), "reparameterize")
    if z.shape != (2, 3):
        pytest.fail(f"reparameterize returned shape {z.shape}, expected (2, 3)", pytrace=False)
    if not np.allclose(z, mu.numpy()):
        pytest.fail("with eps = 0, reparameterize(mu, logvar, eps) must be mu", pytrace=False)
    eps = torch.tensor([[1.0, -1.0, 0.5], [2.0, 0.0, -0.5]])
    z = _array(student.reparameterize(mu, torch.zeros(2, 3), eps), "reparameterize")
    if not np.allclose(z, (mu + eps).numpy()):
        pytest.fail("with logvar = 0 (sigma = 1), reparameterize(mu, logvar, eps) must be mu + eps", pytrace=False)


@pytest.mark.points(1)
def test_kl_of_the_prior_is_zero(student):
    """KL divergence: zero for the prior itself, and 0.5 for a mean shifted by 1."""
    kl = _array(student.gaussian_kl(torch.zeros(5, 3), torch.zeros(5, 3)), "gaussian_kl")
    if kl.size != 1:
        pytest.fail(f"gaussian_kl returned shape {kl.shape}, expected a scalar", pytrace=False)
    if not abs(float(kl.reshape(()))) < 1e-6:
        pytest.fail("gaussian_kl(mu=0, logvar=0) must be 0: q is the prior itself", pytrace=False)
    # one latent dimension, mu = 1, logvar = 0: KL = 0.5 * mu^2 = 0.5 for every example
    kl = _array(student.gaussian_kl(torch.ones(4, 1), torch.zeros(4, 1)), "gaussian_kl")
    if kl.size != 1 or not np.isclose(float(kl.reshape(())), 0.5):
        pytest.fail("gaussian_kl(mu=1, logvar=0) in one dimension must be 0.5 (the batch mean of 0.5 each)",
                    pytrace=False)


@pytest.mark.points(1)
def test_model_shapes(student):
    """Autoencoder and VAE give outputs of the right shapes."""
    x = torch.rand(5, 64)
    ae = student.Autoencoder(64, 32, 4)
    code = _array(ae.encode(x), "Autoencoder.encode")
    if code.shape != (5, 4):
        pytest.fail(f"Autoencoder(64, 32, 4).encode on 5 images has shape {code.shape}, expected (5, 4)",
                    pytrace=False)
    recon = _array(ae(x), "Autoencoder forward")
    if recon.shape != (5, 64) or recon.min() < 0 or recon.max() > 1:
        pytest.fail("Autoencoder(64, 32, 4) must reconstruct 5 images as a (5, 64) array in [0, 1]", pytrace=False)
    vae = student.VAE(64, 32, 4)
    out = vae.encode(x)
    if not isinstance(out, (tuple, list)) or len(out) != 2:
        pytest.fail("VAE.encode must return a pair (mu, logvar)", pytrace=False)
    for name, value in zip(("mu", "logvar"), out):
        if _array(value, f"VAE.encode ({name})").shape != (5, 4):
            pytest.fail(f"VAE(64, 32, 4).encode: {name} must have shape (5, 4)", pytrace=False)
    probs = _array(vae.decode(torch.zeros(5, 4)), "VAE.decode")
    if probs.shape != (5, 64) or probs.min() < 0 or probs.max() > 1:
        pytest.fail("VAE(64, 32, 4).decode must give (5, 64) pixel probabilities in [0, 1]", pytrace=False)
