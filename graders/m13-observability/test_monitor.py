"""Hidden tests, part 3: the drift monitor (HIDDEN, not shipped).

The judge draws every stream here (reference.stream, the notebook's simulator with seeds
the notebook never sees), creates a fresh DriftMonitor per stream and sends it one batch
of inputs and predictions at a time. It records only the True/False answers.

Scoring (stated in the notebook):
* detection, per scenario over its three streams: delay = batches from the onset to the
  first alarm at or after it (a missed drift counts as 25, the rest of the stream). Full
  credit for a mean delay <= 4 (12 for the gradual drift), none from 10 (20), linear in
  between. The reference monitor's mean delays on these streams are 1.3-1.7 (abrupt) and
  6.7 (gradual). More than 2 alarms in the 30 batches before the onsets: no credit.
* false alarms over six streams without drift (210 batches): full credit for <= 2, none
  from 21, linear in between. The reference raises none (its largest PSI on these
  streams is 0.055 against its threshold 0.1).
Everything is seeded, so a given submission always gets the same score.
"""

import numpy as np
import pytest
import reference as ref
from handin.checks import fail

PRE_ALARMS_ALLOWED = 2
MISSED = ref.N_BATCHES - ref.ONSET          # a missed drift counts as the rest of the stream


def _flags(student, seed, scenario=None):
    (X_ref, cat_ref, pred_ref), batches = ref.stream(seed, scenario)
    monitor = student.DriftMonitor(X_ref, cat_ref, pred_ref)
    flags = []
    for i, (X, cat, pred) in enumerate(batches):
        flag = monitor.update(X, cat, pred)
        if isinstance(flag, (bool, np.bool_)) or (type(flag) is int and flag in (0, 1)):
            flags.append(bool(flag))
        else:
            fail(f"DriftMonitor.update returned a {type(flag).__name__} for batch {i}, expected True or False")
    return np.array(flags)


def _linear(value, full, zero):
    """1 at value <= full, 0 at value >= zero, linear in between."""
    return float(np.clip((zero - value) / (zero - full), 0.0, 1.0))


def _detection(student, credit, scenario, full, zero):
    delays, early = [], 0
    for seed in ref.SCENARIO_SEEDS[scenario]:
        flags = _flags(student, seed, scenario)
        early += int(flags[:ref.ONSET].sum())
        after = np.flatnonzero(flags[ref.ONSET:])
        delays.append(int(after[0]) if len(after) else MISSED)
    if early > PRE_ALARMS_ALLOWED:
        fail(f"the monitor alarmed on {early} of the {ref.ONSET * len(delays)} batches before the drift "
             f"began (at most {PRE_ALARMS_ALLOWED} allowed): an alarm after the onset is no detection")
    missed = sum(d == MISSED for d in delays)
    if missed == len(delays):
        fail(f"the monitor never noticed the drift ({scenario}) in any of the {len(delays)} streams")
    mean = float(np.mean(delays))
    fraction = _linear(mean, full, zero)
    if fraction == 0.0:
        fail(f"mean detection delay {mean:.1f} batches ({missed} stream(s) missed): no credit from {zero}")
    if fraction < 1.0:
        credit(fraction, f"mean detection delay {mean:.1f} batches ({missed} stream(s) missed); "
                         f"full credit up to {full}")


@pytest.mark.points(3)
def test_monitor_detects_mean_shift(student, credit):
    """The monitor notices a shift in the mean of one feature.

    Age moves up by half a standard deviation at the onset; full credit for a mean
    detection delay of at most 4 batches, none from 10.
    """
    _detection(student, credit, "mean", 4, 10)


@pytest.mark.points(3)
def test_monitor_detects_variance_shift(student, credit):
    """The monitor notices a change in the spread of one feature.

    The sensor's standard deviation grows from 1 to 1.5 (its mean stays put); full credit
    for a mean detection delay of at most 4 batches, none from 10.
    """
    _detection(student, credit, "variance", 4, 10)


@pytest.mark.points(3)
def test_monitor_detects_category_mix(student, credit):
    """The monitor notices a change in the mix of a categorical feature.

    The channel mix goes from 0.5/0.25/0.15/0.10 to 0.3/0.3/0.2/0.2; full credit for a
    mean detection delay of at most 4 batches, none from 10.
    """
    _detection(student, credit, "category", 4, 10)


@pytest.mark.points(3)
def test_monitor_detects_gradual_drift(student, credit):
    """The monitor notices a slow, gradual drift.

    Spend creeps up by 4% of a standard deviation per batch; full credit for a mean
    detection delay of at most 12 batches, none from 20.
    """
    _detection(student, credit, "gradual", 12, 20)


@pytest.mark.points(3)
def test_monitor_few_false_alarms(student, credit):
    """The monitor stays quiet when nothing drifts.

    Six streams of 35 batches from the reference distribution: full credit for at most 2
    false alarms in the 210 batches, none from 21.
    """
    alarms = sum(int(_flags(student, seed).sum()) for seed in ref.NO_DRIFT_SEEDS)
    total = len(ref.NO_DRIFT_SEEDS) * ref.N_BATCHES
    fraction = _linear(alarms, 2, 21)
    if fraction == 0.0:
        fail(f"the monitor raised {alarms} false alarms in {total} batches without drift (no credit from 21)")
    if fraction < 1.0:
        credit(fraction, f"{alarms} false alarms in {total} batches without drift; full credit up to 2")
