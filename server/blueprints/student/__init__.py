from . import groups, regrades  # noqa: F401  (their routes join the student blueprint)
from .routes import bp

__all__ = ["bp"]
