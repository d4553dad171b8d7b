from . import regrades  # noqa: F401  (its routes join the student blueprint)
from .routes import bp

__all__ = ["bp"]
