"""Speedups you can trust: the judge-owned harness for data- and model-parallel modules.

The pieces, and which process each runs in:

``tasks``     grader-owned model, data, loss and training loop. Imported by the rank
              processes (student sandbox) *and* by the judge, which trains the same
              model single-process as the baseline and the reference.
``comm``      counting wrappers around ``torch.distributed`` collectives (ranks).
``export``    the notebook's definitions as a module the ranks import (student side).
``rank``      one rank process: ``python -m handin.bench.rank FD`` (student sandbox).
``launcher``  the student-side ``bench_*`` operations: spawns and drives the ranks.
``harness``   the judge side: the ``bench`` fixture, the clock, trials, verification.
``hardware``  hardware profile detection and CPU load accounting (judge side).
``scoring``   host side: thresholds from assignment.toml → points, TA review flags.
``plot``      host side: the speedup/efficiency PNG for the reports.

Nothing in the student sandbox is trusted: the judge keeps the clock, picks a fresh
secret seed for every timed trial, runs the baseline itself and checks the final
weights against its own single-process reference.
"""
