"""Generate the data files for m06-rnn (run once; the outputs are committed).

    .venv/bin/pip install -e '.[authoring]'      # statsmodels: only this script needs it
    .venv/bin/python graders/m06-rnn/make_data.py

The series is statsmodels' bundled yearly sunspot numbers (statsmodels.datasets.sunspots,
Wolfer/SIDC yearly means, 1700-2008, 309 values). It is split in time:

  assignments/m06-rnn/data/sunspots_train.npz   public: the head, 1700-1948 (249 years)
  graders/m06-rnn/data/sunspots_heldout.npz     hidden: the tail, 1949-2008 (60 years),
                                                plus the CONTEXT last head values the judge
                                                needs to build the first tail windows

Both files hold float64 ``years`` and float32 ``values`` (the held-out file also holds
``context_years`` / ``context``). The tail includes solar cycle 19 (1957, the largest
on record), higher than anything in the head: a forecaster has to extrapolate a little.

Everything is deterministic: running the script again rewrites byte-identical files
(the .npz archives are written with a fixed zip timestamp).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from statsmodels.datasets import sunspots
from handin.authoring import write_npz

SPLIT_YEAR = 1949          # first held-out year
CONTEXT = 24               # = WINDOW in the notebook: past values the judge sends per forecast

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
PUBLIC_PATH = REPO / "assignments" / "m06-rnn" / "data" / "sunspots_train.npz"
HIDDEN_PATH = HERE / "data" / "sunspots_heldout.npz"


def main() -> None:
    df = sunspots.load_pandas().data
    years = df["YEAR"].to_numpy(dtype=np.float64)
    values = df["SUNACTIVITY"].to_numpy(dtype=np.float64).astype(np.float32)
    split = int(np.searchsorted(years, SPLIT_YEAR))
    assert years[split] == SPLIT_YEAR and np.all(np.diff(years) == 1.0)
    write_npz(PUBLIC_PATH, years=years[:split], values=values[:split])
    write_npz(HIDDEN_PATH, years=years[split:], values=values[split:],
              context_years=years[split - CONTEXT:split], context=values[split - CONTEXT:split])
    tail, prev = values[split:].astype(np.float64), values[split - 1:-1].astype(np.float64)
    print(f"public  {PUBLIC_PATH.relative_to(REPO)}: {split} years {years[0]:.0f}-{years[split - 1]:.0f}")
    print(f"hidden  {HIDDEN_PATH.relative_to(REPO)}: {len(years) - split} years "
          f"{years[split]:.0f}-{years[-1]:.0f} (+{CONTEXT} context)")
    print(f"naive last-value RMSE on the tail: {np.sqrt(np.mean((tail - prev) ** 2)):.3f}")


if __name__ == "__main__":
    main()
