from . import groups, people  # noqa: F401  (their routes join the teacher blueprint)
from .routes import bp

__all__ = ["bp"]
