"""Hidden tests, part 2a: the VAE's maths on the grader's tensors (HIDDEN, not shipped).

The judge sends float32 tensors and its own noise eps, and compares with the float64
reference in reference.py. Conventions (stated in the notebook): the KL is summed over the
latent dimensions and averaged over the batch; the ELBO uses the Bernoulli likelihood
summed over the 64 pixels and is averaged over the batch.
"""

import numpy as np
import pytest
import reference as ref
import torch
from handin.checks import check_close, fail, to_float


@pytest.mark.points(2)
def test_reparameterize(student):
    """Reparameterisation gives z = mu + exp(logvar / 2) * eps.

    On the grader's mu, logvar (log-variances from -3 to 2) and noise eps; fp32 tolerances
    (rtol 1e-5, atol 1e-6).
    """
    g = torch.Generator().manual_seed(821)
    for n, d in ((7, 5), (1, 3)):
        mu, logvar = ref.gaussians(n, d, seed=822 + n)
        eps = torch.randn((n, d), generator=g)
        z = student.reparameterize(mu.clone(), logvar.clone(), eps.clone())
        check_close(z, ref.reparameterize(mu, logvar, eps).numpy(),
                    f"reparameterize on a batch of {n} with {d} latent dimensions", rtol=1e-5, atol=1e-6)


def _kl_hints(value, mu, logvar):
    """A pointer to the usual mistakes, without revealing the expected value."""
    per_example = ref.kl_per_example(mu, logvar)
    expected = float(per_example.mean())
    if value < 0:
        return "; a KL divergence is never negative (check the sign)"
    if np.isclose(value, float(per_example.sum()), rtol=1e-4):
        return "; average over the batch (the mean of the per-example KL), do not sum"
    if np.isclose(value, expected / mu.shape[1], rtol=1e-4):
        return "; sum over the latent dimensions, do not average"
    return ""


@pytest.mark.points(2)
def test_gaussian_kl(student):
    """KL divergence to N(0, I) matches the closed form.

    Summed over the latent dimensions, averaged over the batch; checked on three batches
    of the grader's (mu, logvar), and zero for the prior itself. fp32 tolerances (rtol 1e-5,
    atol 1e-6).
    """
    for n, d in ((7, 5), (16, 8), (1, 3)):
        mu, logvar = ref.gaussians(n, d, seed=831 + n)
        value = to_float(student.gaussian_kl(mu.clone(), logvar.clone()),
                         f"gaussian_kl on a batch of {n}")
        expected = ref.gaussian_kl(mu, logvar)
        if not np.isclose(value, expected, rtol=1e-5, atol=1e-6):
            fail(f"gaussian_kl on a batch of {n} with {d} latent dimensions differs from the reference "
                 f"(abs diff {abs(value - expected):.3g}){_kl_hints(value, mu, logvar)}")
    zero = to_float(student.gaussian_kl(torch.zeros(4, 3), torch.zeros(4, 3)), "gaussian_kl of the prior")
    if not abs(zero) <= 1e-6:
        fail("gaussian_kl(0, 0) must be 0: the KL of the prior with itself")


def _elbo_hints(value, x, p, mu, logvar):
    log_lik = ref.log_likelihood_per_example(x, p)
    kl = ref.kl_per_example(mu, logvar)
    expected = float((log_lik - kl).mean())
    if np.isclose(value, -expected, rtol=1e-4):
        return "; return the ELBO itself (to be maximised), not the loss -ELBO"
    if np.isclose(value, float(log_lik.mean() - kl.sum()), rtol=1e-4):
        return "; average the KL term over the batch too, like the log-likelihood term"
    if np.isclose(value, float(log_lik.mean() + kl.mean()), rtol=1e-4):
        return "; the KL term is subtracted"
    if np.isclose(value, float((log_lik - kl).sum()), rtol=1e-4):
        return "; average over the batch, do not sum"
    if np.isclose(value, float((log_lik / x.shape[1] - kl).mean()), rtol=1e-4):
        return "; sum the log-likelihood over the pixels, do not average"
    return ""


@pytest.mark.points(3)
def test_elbo(student):
    """ELBO (Bernoulli likelihood minus KL) matches the reference.

    On the grader's images, pixel probabilities (kept within [0.02, 0.98]), mu and logvar,
    for batches of 7 and 1. Tolerance rtol 1e-4, atol 1e-4 (about 5e-3 nats on values near
    -55): the value is a sum of about 70 float32 terms, and a small epsilon inside the
    logarithm (log(p + 1e-7) or even 1e-6, a common and harmless guard) shifts it by up to
    3e-4 (3e-3) nats with these probabilities.
    """
    for n, d in ((7, 5), (1, 3)):
        x = ref.digit_like(n, seed=841 + n)
        p = ref.probabilities(n, seed=843 + n)
        mu, logvar = ref.gaussians(n, d, seed=845 + n)
        value = to_float(student.elbo(x.clone(), p.clone(), mu.clone(), logvar.clone()),
                         f"elbo on a batch of {n}")
        expected = ref.elbo(x, p, mu, logvar)
        if not np.isclose(value, expected, rtol=1e-4, atol=1e-4):
            fail(f"elbo on a batch of {n} differs from the reference (abs diff {abs(value - expected):.3g})"
                 f"{_elbo_hints(value, x, p, mu, logvar)}")
