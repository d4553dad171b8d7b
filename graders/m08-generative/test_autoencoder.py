"""Hidden tests, part 1: the autoencoder (HIDDEN, not shipped).

The judge loads its own weights into a fresh Autoencoder(64, 32, 4) and compares encode,
decode and forward with the float64 reference (fp32 tolerances: rtol 1e-4, atol 1e-5,
as for any float32 network whose matrix products may be summed in another order). The
trained `ae` is scored on held-out digits that stay with the judge: only the images are
sent, the judge computes the error itself.
"""

import numpy as np
import pytest
import reference as ref
import torch
from handin.checks import check_close, fail, to_array

AE_SEED = 801
HELDOUT_MSE_ZERO = 0.035    # about PCA with 4 components (0.037); the mean image gets 0.073
HELDOUT_MSE_FULL = 0.020    # below PCA with 8 components (0.024); the reference gets about 0.015
MAX_LATENT = 8


@pytest.mark.points(1)
def test_autoencoder_layers(student):
    """Autoencoder has exactly the four linear layers asked for."""
    model = student.Autoencoder(ref.N_IN, ref.N_HIDDEN, ref.N_LATENT)
    ref.check_layers(model, ref.AE_LAYERS, f"Autoencoder({ref.N_IN}, {ref.N_HIDDEN}, {ref.N_LATENT})")


@pytest.mark.points(2)
def test_autoencoder_forward(student):
    """Encoder, decoder and reconstruction through the bottleneck match the reference.

    With the grader's weights: encode gives the linear code, decode gives sigmoid
    outputs, and forward(x) is decode(encode(x)).
    """
    model, sd = ref.fresh_model(student, "Autoencoder", ref.AE_LAYERS, AE_SEED)
    g = torch.Generator().manual_seed(811)
    for n in (9, 1):
        x = torch.rand((n, ref.N_IN), generator=g)
        code = ref.ae_encode(sd, x)
        check_close(model.encode(x.clone()), code.numpy(), f"Autoencoder.encode on a batch of {n}",
                    rtol=1e-4, atol=1e-5)
        z = torch.randn((n, ref.N_LATENT), generator=g)
        check_close(model.decode(z.clone()), ref.ae_decode(sd, z).numpy(),
                    f"Autoencoder.decode on a batch of {n}", rtol=1e-4, atol=1e-5)
        check_close(model(x.clone()), ref.ae_decode(sd, code).numpy(),
                    f"Autoencoder forward (the reconstruction) on a batch of {n}", rtol=1e-4, atol=1e-5)


@pytest.mark.points(1)
def test_train_autoencoder(student, public_data):
    """Training the autoencoder lowers the loss and is reproducible.

    Four epochs on 256 training digits must lower the per-epoch MSE; two runs with the
    same seed and starting weights must give the same losses and weights.
    """
    X = ref.load_public(public_data)[:256]
    ref.check_training(student, "train_autoencoder", "Autoencoder", ref.AE_LAYERS, X, AE_SEED,
                       (0.0, 1.0), "the mean squared error per pixel (below 1 for pixels in [0, 1])")


@pytest.mark.points(3)
def test_autoencoder_heldout_reconstruction(student, credit):
    """Trained autoencoder reconstructs held-out digits.

    The grader computes the mean squared error per pixel of ae.decode(ae.encode(x)) on
    held-out digits: no credit from 0.035, full marks from 0.020 down, linear in between.
    """
    X = ref.load_heldout()
    ae = ref.trained_model(student, "ae")
    x = torch.from_numpy(X)
    code = to_array(ae.encode(x.clone()), "ae.encode")
    if code.ndim != 2 or code.shape[0] != len(X):
        fail(f"ae.encode returned shape {code.shape}, expected ({len(X)}, n_latent)")
    if code.shape[1] > MAX_LATENT:
        fail(f"`ae` has a bottleneck of {code.shape[1]} dimensions; at most {MAX_LATENT} are allowed")
    if not np.all(np.isfinite(code)):
        fail("ae.encode returned NaN or inf")
    recon = to_array(ae.decode(torch.from_numpy(code.astype(np.float32))), "ae.decode")
    if recon.shape != X.shape:
        fail(f"ae.decode returned shape {recon.shape}, expected {X.shape}")
    if not np.all(np.isfinite(recon)):
        fail("ae.decode returned NaN or inf")
    forward = to_array(ae(x.clone()), "ae(x)")
    if forward.shape != X.shape or not np.allclose(forward, recon, rtol=1e-4, atol=1e-5):
        fail("ae(x) is not ae.decode(ae.encode(x)): the reconstruction must go through the bottleneck")
    mse = float(np.mean((recon - X.astype(np.float64)) ** 2))
    if mse >= HELDOUT_MSE_ZERO:
        fail(f"held-out reconstruction error {mse:.4f} per pixel is not below {HELDOUT_MSE_ZERO}")
    fraction = min(1.0, (HELDOUT_MSE_ZERO - mse) / (HELDOUT_MSE_ZERO - HELDOUT_MSE_FULL))
    credit(fraction, f"held-out reconstruction error {mse:.4f} per pixel (full marks from {HELDOUT_MSE_FULL})")
