"""Generate the data files for m08-generative (run once; the outputs are committed).

    .venv/bin/python graders/m08-generative/make_data.py

Writes
  assignments/m08-generative/data/digits_train.npz   public, 80% of sklearn's digits: X and y
  graders/m08-generative/data/digits_heldout.npz     hidden, the other 20%: X only

X is float32 of shape (n, 64), the 8x8 images flattened row by row and scaled from
0..16 to [0, 1]; y (int64, public file only) is the digit, for plots. The split is
stratified by digit. The generative models never see labels: the held-out file keeps
only the images, which the grader sends through the submission's encoder and decoder.

Everything is deterministic: running the script again rewrites byte-identical files
(the .npz archives are written with a fixed zip timestamp).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from handin.authoring import write_npz

SPLIT_SEED = 20240903
HELDOUT_FRACTION = 0.2

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
PUBLIC_PATH = REPO / "assignments" / "m08-generative" / "data" / "digits_train.npz"
HIDDEN_PATH = HERE / "data" / "digits_heldout.npz"


def make_split() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    digits = load_digits()
    X = (digits.data / 16.0).astype(np.float32)      # (1797, 64), values in [0, 1]
    y = digits.target.astype(np.int64)
    X_tr, X_ho, y_tr, _ = train_test_split(
        X, y, test_size=HELDOUT_FRACTION, random_state=SPLIT_SEED, stratify=y
    )
    return X_tr, y_tr, X_ho


def main() -> None:
    X_tr, y_tr, X_ho = make_split()
    write_npz(PUBLIC_PATH, X=X_tr, y=y_tr)
    write_npz(HIDDEN_PATH, X=X_ho)
    print(f"public  {PUBLIC_PATH.relative_to(REPO)}: X{X_tr.shape} {X_tr.dtype}, y{y_tr.shape} {y_tr.dtype}")
    print(f"hidden  {HIDDEN_PATH.relative_to(REPO)}: X{X_ho.shape} {X_ho.dtype}")


if __name__ == "__main__":
    main()
