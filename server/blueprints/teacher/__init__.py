from . import people  # noqa: F401  (its routes join the teacher blueprint)
from .routes import bp

__all__ = ["bp"]
