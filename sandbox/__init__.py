"""Isolation backends behind one interface (:class:`handin.sandboxing.Backend`)."""

from __future__ import annotations

from .local import LocalBackend

BACKENDS = {"local": LocalBackend}


def get_backend(name: str, **options):
    try:
        return BACKENDS[name](**options)
    except KeyError:
        raise ValueError(f"unknown sandbox backend {name!r}; choose one of {', '.join(BACKENDS)}") from None


__all__ = ["BACKENDS", "LocalBackend", "get_backend"]
