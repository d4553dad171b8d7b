"""Shared fixtures: small real modules and notebooks built on disk."""

import pytest

from builders import make_toy_module
from handin.spec import load_module

# Throwaway PostgreSQL, Redis and Chromium for the whole suite (postgres_url, redis_url,
# browser, page) and the Process helper for servers and workers: tests/services.py.
pytest_plugins = ["services"]


@pytest.fixture
def toy_module(tmp_path):
    return load_module(make_toy_module(tmp_path / "course"))


@pytest.fixture(scope="session")
def docker_client():
    """The real Docker engine; started with .ci/docker-engine.sh when none answers (root only)."""
    import os
    import subprocess

    import docker

    from builders import REPO
    try:
        c = docker.from_env()
        c.ping()
        return c
    except docker.errors.DockerException:
        if os.geteuid() != 0:
            pytest.fail("no Docker engine answers; run `sudo .ci/docker-engine.sh`")
    subprocess.run([str(REPO / ".ci" / "docker-engine.sh")], check=True)
    c = docker.from_env()
    c.ping()
    return c


@pytest.fixture(scope="session")
def docker_image(docker_client):
    """The CPU sandbox image; built once (minutes) when missing or out of date."""
    from sandbox.images import build_image
    return build_image(docker_client)
