"""Hidden tests, part 2b: the VAE model, its training and its held-out ELBO (HIDDEN, not shipped).

The judge loads its own weights into a fresh VAE(64, 32, 4) and compares with the float64
reference (fp32 network tolerances: rtol 1e-4, atol 1e-5, as matrix products may be summed
in another order). The trained `vae` is scored on held-out digits that stay with the judge:
it sends the images through vae.encode and vae.decode with its own noise and computes the
ELBO with its own formula. Samples are decoded from the judge's z ~ N(0, I) and shown in
the report.
"""

import numpy as np
import pytest
import reference as ref
import torch
from handin.checks import check_close, fail, to_array

VAE_SEED = 851
# Held-out ELBO in nats per digit (Bernoulli likelihood on grey values, so even a perfect
# model stays far below 0). A model that ignores its input and predicts the mean training
# image gets -27.0, an untrained VAE about -45; the reference gets about -24.5 after 20
# epochs on a CPU.
HELDOUT_ELBO_ZERO = -26.6
HELDOUT_ELBO_FULL = -25.2
HELDOUT_SAMPLES = 4          # noise draws per held-out digit
N_SAMPLES = 64               # decoded z ~ N(0, I) for the picture
MIN_SAMPLE_SPREAD = 0.04     # mean per-pixel std over the samples; the reference ~0.14, a collapsed VAE ~0.01


@pytest.mark.points(1)
def test_vae_layers(student):
    """VAE has exactly the five linear layers asked for."""
    model = student.VAE(ref.N_IN, ref.N_HIDDEN, ref.N_LATENT)
    ref.check_layers(model, ref.VAE_LAYERS, f"VAE({ref.N_IN}, {ref.N_HIDDEN}, {ref.N_LATENT})")


@pytest.mark.points(2)
def test_vae_encode_decode(student):
    """VAE encoder (mu, logvar) and decoder (pixel probabilities) match the reference."""
    model, sd = ref.fresh_model(student, "VAE", ref.VAE_LAYERS, VAE_SEED)
    g = torch.Generator().manual_seed(861)
    for n in (9, 1):
        x = ref.digit_like(n, seed=862 + n)
        mu, logvar = ref.pair(model.encode(x.clone()), "VAE.encode")
        ref_mu, ref_logvar = ref.vae_encode(sd, x)
        check_close(mu, ref_mu.numpy(), f"VAE.encode (mu) on a batch of {n}", rtol=1e-4, atol=1e-5)
        check_close(logvar, ref_logvar.numpy(), f"VAE.encode (logvar) on a batch of {n}", rtol=1e-4, atol=1e-5)
        z = torch.randn((n, ref.N_LATENT), generator=g)
        probs = ref.check_probabilities(model.decode(z.clone()), (n, ref.N_IN), f"VAE.decode on a batch of {n}")
        check_close(probs, ref.vae_decode(sd, z).numpy(), f"VAE.decode on a batch of {n}", rtol=1e-4, atol=1e-5)


@pytest.mark.points(1)
def test_vae_forward(student):
    """VAE forward pass with given noise returns (decode(z), mu, logvar)."""
    model, sd = ref.fresh_model(student, "VAE", ref.VAE_LAYERS, VAE_SEED)
    g = torch.Generator().manual_seed(871)
    n = 6
    x = ref.digit_like(n, seed=872)
    eps = torch.randn((n, ref.N_LATENT), generator=g)
    x_prob, mu, logvar = ref.triple(model(x.clone(), eps.clone()), "VAE forward (model(x, eps))")
    ref_mu, ref_logvar = ref.vae_encode(sd, x)
    check_close(mu, ref_mu.numpy(), "VAE forward: mu", rtol=1e-4, atol=1e-5)
    check_close(logvar, ref_logvar.numpy(), "VAE forward: logvar", rtol=1e-4, atol=1e-5)
    expected = ref.vae_decode(sd, ref.reparameterize(ref_mu, ref_logvar, eps))
    check_close(x_prob, expected.numpy(), "VAE forward: x_prob for the given eps", rtol=1e-4, atol=1e-5)
    # Without eps the noise is drawn inside: the same mu and logvar, and probabilities in [0, 1].
    x_prob, mu, logvar = ref.triple(model(x.clone()), "VAE forward without eps (model(x))")
    check_close(mu, ref_mu.numpy(), "VAE forward without eps: mu", rtol=1e-4, atol=1e-5)
    ref.check_probabilities(x_prob, (n, ref.N_IN), "VAE forward without eps: x_prob")


@pytest.mark.points(2)
def test_train_vae(student, public_data):
    """Training the VAE lowers -ELBO and is reproducible.

    Four epochs on 256 training digits must lower the per-epoch mean -ELBO; two runs with
    the same seed and starting weights must give the same losses and weights.
    """
    X = ref.load_public(public_data)[:256]
    ref.check_training(student, "train_vae", "VAE", ref.VAE_LAYERS, X, VAE_SEED,
                       (10.0, 200.0), "the mean -ELBO in nats per digit (about 45 for an untrained VAE)")


def _latent_dim(vae, x):
    mu, logvar = ref.pair(vae.encode(x), "vae.encode")
    mu, logvar = to_array(mu, "vae.encode (mu)"), to_array(logvar, "vae.encode (logvar)")
    if mu.ndim != 2 or mu.shape[0] != x.shape[0] or logvar.shape != mu.shape:
        fail(f"vae.encode returned shapes {mu.shape} and {logvar.shape}, expected two ({x.shape[0]}, n_latent)")
    if not (np.all(np.isfinite(mu)) and np.all(np.isfinite(logvar))):
        fail("vae.encode returned NaN or inf")
    return mu, logvar


@pytest.mark.points(5)
def test_heldout_elbo(student, credit):
    """Trained VAE's ELBO on held-out digits.

    The grader encodes held-out digits with vae.encode, draws z = mu + exp(logvar / 2) * eps
    with its own noise (4 draws per digit), decodes with vae.decode and averages the ELBO
    (Bernoulli likelihood, KL to N(0, I)) in nats per digit: no credit from -26.6 down,
    full marks from -25.2 up, linear in between.
    """
    X = ref.load_heldout()
    vae = ref.trained_model(student, "vae")
    x = torch.from_numpy(X)
    mu, logvar = _latent_dim(vae, x.clone())
    mu_t, logvar_t = torch.from_numpy(mu), torch.from_numpy(logvar)
    g = torch.Generator().manual_seed(881)
    values = []
    for _ in range(HELDOUT_SAMPLES):
        eps = torch.randn(mu_t.shape, generator=g, dtype=torch.float64)
        z = ref.reparameterize(mu_t, logvar_t, eps).float()
        p = ref.check_probabilities(vae.decode(z), X.shape, "vae.decode")
        values.append(ref.elbo(x, torch.from_numpy(p), mu_t, logvar_t))
    value = float(np.mean(values))
    if not np.isfinite(value) or value <= HELDOUT_ELBO_ZERO:
        shown = "not finite" if not np.isfinite(value) else f"{value:.2f}" if abs(value) < 1e4 else f"{value:.3g}"
        fail(f"held-out ELBO {shown} nats per digit is not above {HELDOUT_ELBO_ZERO}")
    fraction = min(1.0, (value - HELDOUT_ELBO_ZERO) / (HELDOUT_ELBO_FULL - HELDOUT_ELBO_ZERO))
    credit(fraction, f"held-out ELBO {value:.2f} nats per digit (full marks from {HELDOUT_ELBO_FULL})")


@pytest.mark.points(2)
@pytest.mark.visibility("visible")      # the picture shows only the submission's own model: no need to hide it
def test_vae_samples(student, figure):
    """Samples from the trained VAE are varied digit images.

    The grader decodes 64 draws of z ~ N(0, I) with vae.decode and shows them below; they
    must be pixel probabilities in [0, 1] and must differ from each other (a VAE whose
    decoder ignores z draws the same image every time).
    """
    X = ref.load_heldout()[:4]
    vae = ref.trained_model(student, "vae")
    mu, _ = _latent_dim(vae, torch.from_numpy(X))
    g = torch.Generator().manual_seed(891)
    z = torch.randn((N_SAMPLES, mu.shape[1]), generator=g)
    samples = to_array(vae.decode(z), "vae.decode")
    if samples.shape != (N_SAMPLES, ref.N_IN):
        fail(f"vae.decode returned shape {samples.shape}, expected {(N_SAMPLES, ref.N_IN)}")
    if not np.all(np.isfinite(samples)):
        fail("vae.decode returned NaN or inf")
    figure(ref.samples_png(samples), "Samples from your VAE's decoder: z ~ N(0, I), one digit each")
    ref.check_probabilities(samples, (N_SAMPLES, ref.N_IN), "vae.decode")
    spread = float(np.mean(np.std(samples, axis=0)))
    if spread < MIN_SAMPLE_SPREAD:
        fail("the samples are (nearly) all the same image: the decoder ignores z "
             "(posterior collapse — check the weight of the KL term)")
