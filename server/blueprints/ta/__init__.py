from . import notebooks, people, similarity  # noqa: F401  (their routes join the ta blueprint)
from . import regrades  # noqa: F401  (its routes join the ta blueprint)
from .routes import bp

__all__ = ["bp"]
