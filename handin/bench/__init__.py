"""Speedups you can trust: the judge-owned harness for data- and model-parallel modules.

The pieces, and which process each runs in:

``tasks``     grader-owned model, data, loss and training loop. Imported by the rank
              processes (student sandbox) *and* by the judge, which trains the same
              model single-process as the baseline and the reference.
``regression``, ``pipeline``
              the grader's loops around the student's functions (m01, m10) on the ranks;
              they compute no gradient, partition or schedule of their own.
``pipeline_checks``  the judge's side of pipelines: the unsplit reference, the checks.

A module's own baseline code (m10's partition and GPipe step, m01's unpartitioned
descent) lives in its grader folder (``[benchmark] reference``), loaded by the judge.
The student's side may import only the modules listed in ``sandbox.student_view``
(launcher, export, rank, comm, tasks, regression, pipeline).
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
