"""Generate the data files for m02-feedforward (run once; the outputs are committed).

    .venv/bin/python graders/m02-feedforward/make_data.py

Writes
  assignments/m02-feedforward/data/digits_train.npz   public, ~80% of sklearn's digits
  graders/m02-feedforward/data/digits_heldout.npz     hidden, the other ~20%, with noise

Both files hold X (float32, shape (n, 64)) and y (int64, shape (n,)).  The split is
stratified by class.  The held-out X gets fixed-seed gaussian noise (sigma 0.5, clipped
to [0, 16]) so that its rows are not byte-identical to the copy that ships inside
scikit-learn (a submission cannot look labels up by exact match).

Everything is deterministic: running the script again rewrites byte-identical files
(the .npz archives are written with a fixed zip timestamp).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from handin.authoring import write_npz
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

SPLIT_SEED = 20240902
NOISE_SEED = 7243
NOISE_SIGMA = 0.5
HELDOUT_FRACTION = 0.2

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
PUBLIC_PATH = REPO / "assignments" / "m02-feedforward" / "data" / "digits_train.npz"
HIDDEN_PATH = HERE / "data" / "digits_heldout.npz"


def make_split() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    digits = load_digits()
    X = digits.data.astype(np.float32)          # (1797, 64), integer values 0..16
    y = digits.target.astype(np.int64)
    X_tr, X_ho, y_tr, y_ho = train_test_split(
        X, y, test_size=HELDOUT_FRACTION, random_state=SPLIT_SEED, stratify=y
    )
    rng = np.random.default_rng(NOISE_SEED)
    noise = rng.normal(0.0, NOISE_SIGMA, size=X_ho.shape)
    X_ho = np.clip(X_ho.astype(np.float64) + noise, 0.0, 16.0).astype(np.float32)
    return X_tr, y_tr, X_ho, y_ho


def main() -> None:
    X_tr, y_tr, X_ho, y_ho = make_split()
    write_npz(PUBLIC_PATH, X=X_tr, y=y_tr)
    write_npz(HIDDEN_PATH, X=X_ho, y=y_ho)
    print(f"public  {PUBLIC_PATH.relative_to(REPO)}: X{X_tr.shape} {X_tr.dtype}, y{y_tr.shape} {y_tr.dtype}")
    print(f"hidden  {HIDDEN_PATH.relative_to(REPO)}: X{X_ho.shape} {X_ho.dtype}, y{y_ho.shape} {y_ho.dtype}")
    print("class counts (public):", np.bincount(y_tr).tolist())
    print("class counts (hidden):", np.bincount(y_ho).tolist())


if __name__ == "__main__":
    main()
