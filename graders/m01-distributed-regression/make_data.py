"""Generate the data files for m01-distributed-regression (run once; the outputs are committed).

    .venv/bin/python graders/m01-distributed-regression/make_data.py

Writes
  assignments/m01-distributed-regression/data/diabetes_train.npz   public, 80% of sklearn's diabetes
  assignments/m01-distributed-regression/data/cancer_train.npz     public, 80% of sklearn's breast cancer
  graders/m01-distributed-regression/data/diabetes_heldout.npz     hidden, the other 20%
  graders/m01-distributed-regression/data/cancer_heldout.npz       hidden, the other 20% (stratified)

Each file holds X (float64, (n, d)) and y (float64, (n,)). The features are standardised with
the mean and standard deviation of the *training* part (held-out rows use the same statistics),
so the notebook needs no preprocessing. diabetes: d = 10, y the disease progression score (about
25..346); breast cancer: d = 30, y in {0, 1} (1 = benign).

Deterministic: running the script again rewrites byte-identical files.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from sklearn.datasets import load_breast_cancer, load_diabetes
from sklearn.model_selection import train_test_split

from handin.authoring import write_npz

SPLIT_SEED = 2223
HELDOUT_FRACTION = 0.2

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
PUBLIC = REPO / "assignments" / "m01-distributed-regression" / "data"
HIDDEN = HERE / "data"


def split(name: str, X: np.ndarray, y: np.ndarray, stratify: bool) -> None:
    X_tr, X_ho, y_tr, y_ho = train_test_split(X.astype(np.float64), y.astype(np.float64),
                                              test_size=HELDOUT_FRACTION, random_state=SPLIT_SEED,
                                              stratify=y if stratify else None)
    mean, std = X_tr.mean(axis=0), X_tr.std(axis=0)
    X_tr, X_ho = (X_tr - mean) / std, (X_ho - mean) / std
    write_npz(PUBLIC / f"{name}_train.npz", X=X_tr, y=y_tr)
    write_npz(HIDDEN / f"{name}_heldout.npz", X=X_ho, y=y_ho)
    print(f"{name}: train X{X_tr.shape}, held-out X{X_ho.shape}, y {y_tr.dtype} "
          f"(train mean {y_tr.mean():.3f}, held-out mean {y_ho.mean():.3f})")


def main() -> None:
    split("diabetes", *load_diabetes(return_X_y=True, scaled=False), stratify=False)
    split("cancer", *load_breast_cancer(return_X_y=True), stratify=True)


if __name__ == "__main__":
    main()
