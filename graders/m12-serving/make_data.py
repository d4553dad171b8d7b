"""Generate the data files for m12-serving (run once; the outputs are committed).

    .venv/bin/python graders/m12-serving/make_data.py

Writes
  assignments/m12-serving/data/iris_train.npz   public, 120 of scikit-learn's 150 iris flowers
  graders/m12-serving/data/iris_heldout.npz     hidden, the other 30, with small noise

Both files hold X (float64, shape (n, 4): sepal length, sepal width, petal length, petal
width, in cm), y (int64 class labels 0 setosa, 1 versicolor, 2 virginica) and features (the
column names, a unicode array). The split is stratified by class. The held-out X gets
fixed-seed gaussian noise (sigma 0.05 cm, then rounded to 0.01 cm) so that its rows are not
copies of the ones inside scikit-learn.

Everything is deterministic: running the script again rewrites byte-identical files (the
.npz archives are written with a fixed zip timestamp).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from sklearn.datasets import load_iris
from sklearn.model_selection import train_test_split
from handin.authoring import write_npz

SPLIT_SEED = 20270312
NOISE_SEED = 1203
NOISE_SIGMA = 0.05
HELDOUT = 30
FEATURES = ["sepal_length", "sepal_width", "petal_length", "petal_width"]

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
PUBLIC_PATH = REPO / "assignments" / "m12-serving" / "data" / "iris_train.npz"
HIDDEN_PATH = HERE / "data" / "iris_heldout.npz"


def make_split():
    iris = load_iris()
    X = iris.data.astype(np.float64)
    y = iris.target.astype(np.int64)
    X_tr, X_ho, y_tr, y_ho = train_test_split(X, y, test_size=HELDOUT, random_state=SPLIT_SEED, stratify=y)
    rng = np.random.default_rng(NOISE_SEED)
    X_ho = np.round(np.clip(X_ho + rng.normal(0.0, NOISE_SIGMA, size=X_ho.shape), 0.1, None), 2)
    return X_tr, y_tr, X_ho, y_ho


def main() -> None:
    X_tr, y_tr, X_ho, y_ho = make_split()
    names = np.array(FEATURES)
    write_npz(PUBLIC_PATH, X=X_tr, y=y_tr, features=names)
    write_npz(HIDDEN_PATH, X=X_ho, y=y_ho, features=names)
    print(f"public  {PUBLIC_PATH.relative_to(REPO)}: X{X_tr.shape} {X_tr.dtype}, y{y_tr.shape} {y_tr.dtype}")
    print(f"hidden  {HIDDEN_PATH.relative_to(REPO)}: X{X_ho.shape} {X_ho.dtype}, y{y_ho.shape} {y_ho.dtype}")
    print("class counts (public):", np.bincount(y_tr).tolist())
    print("class counts (hidden):", np.bincount(y_ho).tolist())


if __name__ == "__main__":
    main()
