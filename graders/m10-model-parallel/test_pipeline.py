"""Hidden tests: pipeline training against the unsplit model (HIDDEN, not shipped).

Every test trains a grader-owned model split into 2 stages on 2 rank processes in the
student sandbox (``bench.pipeline_run``): the grader builds and splits the model, hands
rank 0 the inputs and rank 1 the labels, and calls the student's ``pipeline_step`` once
per step. The judge then trains the unsplit model on the same batches in its own
process (``bench.pipeline_reference``) and compares. Fresh random seeds every run.
"""

import pytest
from handin.bench import pipeline_checks
from handin.bench.harness import compare_weights, loss_problems, pipeline_problems

STEPS = 3
N_MICRO = 4


def _task(bench, **kw):
    kw.setdefault("batch", 64)
    return bench.task(d_in=32, width=64, depth=4, lr=0.05, **kw)


def _fail(problems):
    if problems:
        pytest.fail("\n".join(problems[:6]), pytrace=False)


@pytest.mark.points(3)
def test_pipeline_matches_unsplit_model(bench):
    """Pipeline training gives the same weights as the unsplit model."""
    task = _task(bench)
    run = bench.pipeline_run(task, n_micro=N_MICRO, steps=STEPS)
    want, _ = bench.pipeline_reference(task, run.seed, STEPS)
    merged, problems = pipeline_checks.merge_stage_weights([r.weights for r in run.ranks])
    _fail(problems + compare_weights(merged, want, what="the stages' final weights"))


@pytest.mark.points(1)
def test_pipeline_returns_the_loss(bench):
    """Pipeline step returns the batch's loss."""
    task = _task(bench)
    run = bench.pipeline_run(task, n_micro=N_MICRO, steps=STEPS)
    _, losses = bench.pipeline_reference(task, run.seed, STEPS)
    _fail(loss_problems(run, losses))


@pytest.mark.points(2)
def test_pipeline_runs_gpipe_schedule(bench):
    """Pipeline runs the GPipe schedule."""
    run = bench.pipeline_run(_task(bench), n_micro=N_MICRO, steps=STEPS)
    problems = [p for r in run.ranks
                for p in pipeline_checks.executed_schedule_problems(r.events or [], N_MICRO, STEPS, 64 // N_MICRO, r.rank)]
    _fail(problems)


@pytest.mark.points(1)
def test_pipeline_any_number_of_micro_batches(bench):
    """Pipeline works for any number of micro-batches."""
    problems = []
    for n_micro, batch in ((1, 48), (3, 48), (8, 64)):
        run = bench.pipeline_run(_task(bench, batch=batch), n_micro=n_micro, steps=2)
        problems += [f"{n_micro} micro-batch(es): {p}" for p in bench.check_pipeline(run, n_micro)]
        if problems:
            break
    _fail(problems)


@pytest.mark.points(1)
def test_pipeline_sends_activations_and_gradients(bench):
    """Stages send activations forward and gradients back."""
    run = bench.pipeline_run(_task(bench), n_micro=N_MICRO, steps=STEPS)
    _fail([p for p in pipeline_problems(run, N_MICRO, schedule=False) if "sent" in p])
