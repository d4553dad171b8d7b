"""Course grades in the browser: a student's own, the class table, entry (per student and by CSV), export."""

from .routes import bp

__all__ = ["bp"]
