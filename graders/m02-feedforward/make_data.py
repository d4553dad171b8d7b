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

from handin.authoring import write_digits_split

SPLIT_SEED = 20240902
NOISE_SEED = 7243
NOISE_SIGMA = 0.5
HELDOUT_FRACTION = 0.2

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
PUBLIC_PATH = REPO / "assignments" / "m02-feedforward" / "data" / "digits_train.npz"
HIDDEN_PATH = HERE / "data" / "digits_heldout.npz"


def main() -> None:
    write_digits_split(PUBLIC_PATH, HIDDEN_PATH, split_seed=SPLIT_SEED, noise_seed=NOISE_SEED,
                       noise_sigma=NOISE_SIGMA, heldout_fraction=HELDOUT_FRACTION)


if __name__ == "__main__":
    main()
