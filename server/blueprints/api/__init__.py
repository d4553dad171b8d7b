from . import staff  # noqa: F401  (its routes join the api blueprint)
from . import regrades  # noqa: F401  (its routes join the api blueprint)
from . import course_rules  # noqa: F401  (its routes join the api blueprint)
from . import course_grades  # noqa: F401  (its routes join the api blueprint)
from .routes import bp

__all__ = ["bp"]
