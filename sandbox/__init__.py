"""Isolation backends behind one interface (:class:`handin.sandboxing.Backend`).

``local`` runs both processes on this host in bubblewrap namespaces; ``docker``
runs each submission in its own locked-down container (the production
backend). ``auto`` picks docker when an engine answers and the sandbox image is
built, local otherwise, and says which and why.
"""

from __future__ import annotations

NAMES = ("auto", "local", "docker")


def __getattr__(name: str):
    # Imported on first use: the container's supervisor (python -m sandbox.supervisor) loads this
    # package before it starts a run's processes, and needs neither backend.
    if name == "LocalBackend":
        from .local import LocalBackend
        return LocalBackend
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _local(**options):
    from .local import LocalBackend
    return LocalBackend(**options)


def _docker(**options):
    from .docker import DockerBackend  # the docker SDK is only imported when asked for
    return DockerBackend(**options)


BACKENDS = {"local": _local, "docker": _docker}


def get_backend(name: str, **options):
    try:
        return BACKENDS[name](**options)
    except KeyError:
        raise ValueError(f"unknown sandbox backend {name!r}; choose one of {', '.join(BACKENDS)}") from None


def choose_backend(name: str = "auto", *, gpu: bool = False) -> tuple[object, str]:
    """(backend, one line saying why). ``auto``: docker when ready, else local."""
    if name != "auto":
        return get_backend(name), f"sandbox {name} (as asked)"
    from .docker import engine
    from .images import CPU_TAG, GPU_TAG

    client = engine()
    if client is None:
        return get_backend("local"), "sandbox local: no Docker engine answers (see `handin sandbox doctor`)"
    tag = GPU_TAG if gpu else CPU_TAG
    try:
        client.images.get(tag)
    except Exception:
        return get_backend("local"), f"sandbox local: image {tag} is not built (run `handin sandbox build`)"
    return get_backend("docker", client=client), f"sandbox docker ({tag})"


__all__ = ["BACKENDS", "NAMES", "LocalBackend", "choose_backend", "get_backend"]
