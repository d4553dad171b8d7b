"""Hidden tests, part 3: latency, measured by the judge (HIDDEN, not shipped).

Every time is taken in the judge with time.perf_counter around one call through the
proxy, so nothing the notebook prints or measures counts. The judge first times 20 calls
of the notebook's provided no-op ping() (the round trip of its own messages) and subtracts
their median from each request's time: what is left is the service's time. The baseline is
capped at BASELINE_CAP so that a slowed-down ping() cannot buy a slow service time.

Thresholds (stated in the notebook): over a burst of 50 single-instance requests (after 5
warm-up requests), the median service time at most 30 ms and the 95th percentile at most
75 ms. Measured this way in the local sandbox on a shared 2-core machine (load average
8-10), the reference's service time had a median of 3.6-5.6 ms and a 95th percentile of
8-13 ms; timed in-process at load average 14, its 95th percentile reached 25-35 ms, which is
scheduling noise, not the service. A service that sleeps 100 ms per request can never meet
either threshold. If
the first burst misses a threshold, a second burst is timed and the better of the two
counts for each threshold (a burst of noise from other jobs on the machine should not cost
points); a slow service misses both bursts.
"""

import time

import numpy as np
import pytest
import reference as ref
from handin.checks import fail
from handin.proxy import StudentError

N_BURST = 50
N_WARMUP = 5
N_PING = 20
BASELINE_CAP = 0.010       # s
P50_LIMIT = 0.030          # s
P95_LIMIT = 0.075          # s


def _burst(service, insts):
    times = []
    for k in range(N_BURST):
        what = f"timed request {k + 1}"
        t0 = time.perf_counter()
        answer = service.post({"instances": [insts[k]]}, what)
        times.append(time.perf_counter() - t0)
        ref.expect_accepted(answer, 1, what)
    return np.array(times)


@pytest.mark.points(3)
def test_latency(student, public_data, credit):
    """The service answers fast: median at most 30 ms, 95th percentile at most 75 ms.

    Fifty single-instance requests, timed by the autograder, minus its own round trip into
    the notebook (timed with ping()). Two points for the median, one for the 95th
    percentile; a second burst is timed if the first misses, and the better one counts.
    Each timed request must be answered 200 with one prediction.
    """
    ping = student.ping
    pings = []
    for _ in range(N_PING):
        t0 = time.perf_counter()
        try:
            ping()
        except StudentError as exc:
            fail(f"ping() raised {exc.type_name} (it is provided: do not change it)")
        pings.append(time.perf_counter() - t0)
    baseline = min(float(np.median(pings)), BASELINE_CAP)

    _, X_train = ref.train_model(public_data)
    insts = ref.instances(ref.random_rows(X_train, 2 * N_BURST + N_WARMUP, seed=77))
    service = ref.Service(student, "judge-m12-latency")
    for k in range(N_WARMUP):
        ref.expect_accepted(service.post({"instances": [insts[-1 - k]]}, "a warm-up request"), 1,
                            "a warm-up request")
    best_p50 = best_p95 = np.inf
    for b in range(2):
        service_times = np.maximum(_burst(service, insts[b * N_BURST:(b + 1) * N_BURST]) - baseline, 0.0)
        best_p50 = min(best_p50, float(np.percentile(service_times, 50)))
        best_p95 = min(best_p95, float(np.percentile(service_times, 95)))
        if best_p50 <= P50_LIMIT and best_p95 <= P95_LIMIT:
            break
    fraction = (2.0 * (best_p50 <= P50_LIMIT) + 1.0 * (best_p95 <= P95_LIMIT)) / 3.0
    summary = f"median {1000 * best_p50:.1f} ms, 95th percentile {1000 * best_p95:.1f} ms"
    if fraction == 0.0:
        fail(f"too slow: {summary} (limits {1000 * P50_LIMIT:.0f} ms and {1000 * P95_LIMIT:.0f} ms)")
    if fraction < 1.0:
        within = "the median" if best_p50 <= P50_LIMIT else "the 95th percentile"
        credit(fraction, f"{summary}: only {within} is within its limit")
