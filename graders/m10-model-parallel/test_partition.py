"""Hidden tests: partition_layers against the grader's optimal split (HIDDEN, not shipped)."""

import random

import pytest
from reference import partition_problems


def _fail(problems):
    if problems:
        pytest.fail("\n".join(problems[:4]), pytrace=False)


@pytest.mark.points(2)
def test_partition_balanced(student):
    """Layers are split into balanced stages."""
    rng = random.Random(1010)
    problems = []
    for _ in range(40):
        n = rng.randint(2, 16)
        costs = [rng.randint(1, 1000) for _ in range(n)]
        k = rng.randint(2, min(n, 6))
        problems += partition_problems(costs, k, student.partition_layers(costs, k))
        if problems:
            break
    _fail(problems)


@pytest.mark.points(1)
def test_partition_edge_cases(student):
    """Partition handles edge cases: one stage, one layer per stage, zero costs."""
    cases = [([7], 1), ([3, 3, 3], 3), ([1, 1, 1, 1, 100], 2), ([100, 1, 1, 1, 1], 2),
             ([0, 0, 5, 0, 0], 2), ([4, 4, 4, 4], 1), ([2, 2, 2, 2, 2, 2, 2, 2], 4)]
    problems = []
    for costs, k in cases:
        problems += partition_problems(costs, k, student.partition_layers(costs, k))
    _fail(problems)
