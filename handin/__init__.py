"""handin: autograding for deep-learning and distributed-deep-learning courses."""

__version__ = "0.1.0"
