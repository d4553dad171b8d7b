"""Sandbox images, built and run on the real Docker engine (no mocks).

The first run builds handin-base:bookworm (debootstrap) and handin-sandbox:cpu:
about five minutes on 2 cores. Later runs hit the image cache and take seconds
plus a few container starts. Needs a Docker engine: .ci/docker-engine.sh
starts one (the fixture runs it when none answers and we are root).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sandbox.images import (
    BASE_TAG,
    CPU_TAG,
    GPU_BASE_DEFAULT,
    GPU_TAG,
    HASH_LABEL,
    SANDBOX_USERS,
    ImageBuildError,
    build_image,
    build_plan,
    image_status,
)

ROOT = Path(__file__).resolve().parents[2]
IMAGES = ROOT / "sandbox" / "images"

# The run-time flags the platform uses (minus the supervisor's capabilities).
LOCKED_DOWN = dict(
    network_mode="none",
    read_only=True,
    tmpfs={"/tmp": "rw,nosuid,nodev,size=64m"},
    cap_drop=["ALL"],
    security_opt=["no-new-privileges"],
)

IMPORTS = """
import json, os, socket, sys
import torch, numpy, scipy, sklearn, matplotlib, IPython, pytest
import jsonschema, pydantic, nbformat, jinja2, rich, click
try:
    socket.create_connection(("1.1.1.1", 53), timeout=2)
    network = True
except OSError:
    network = False
print(json.dumps({
    "uid": os.getuid(),
    "python": "%d.%d" % sys.version_info[:2],
    "torch": torch.__version__,
    "numpy": numpy.__version__,
    "executable": sys.executable,
    "pyc": os.path.exists(torch.__cached__),
    "network": network,
    "mpl_backend": matplotlib.get_backend(),
}))
"""


@pytest.fixture(scope="module")
def client(docker_client):
    return docker_client


@pytest.fixture(scope="module")
def cpu_image(docker_image):
    return docker_image


def run(client, command, **kwargs):
    options = {**LOCKED_DOWN, **kwargs}
    return client.containers.run(CPU_TAG, command, remove=True, stderr=True, **options).decode()


# --------------------------------------------------------------------------
# build plans: no engine needed


def test_cpu_build_plan():
    plan = build_plan()
    assert plan.tag == CPU_TAG == "handin-sandbox:cpu"
    assert plan.buildargs == {
        "BASE": BASE_TAG,
        "REQUIREMENTS": "requirements-cpu.txt",
        "VENV_FLAGS": "",
    }
    cpu_reqs = (IMAGES / "requirements-cpu.txt").read_text()
    assert "torch==2.13.0+cpu" in cpu_reqs and "-r requirements.txt" in cpu_reqs


def test_gpu_build_plan(monkeypatch):
    monkeypatch.delenv("HANDIN_GPU_BASE", raising=False)
    plan = build_plan(gpu=True)
    assert plan.tag == GPU_TAG == "handin-sandbox:gpu"
    assert plan.dockerfile == "Dockerfile"
    # torch comes from the CUDA base, which the venv sees through system site-packages
    assert plan.buildargs == {
        "BASE": GPU_BASE_DEFAULT,
        "REQUIREMENTS": "requirements.txt",
        "VENV_FLAGS": "--system-site-packages",
    }
    assert GPU_BASE_DEFAULT.startswith("pytorch/pytorch:2.13.0-cuda")
    assert GPU_BASE_DEFAULT.endswith("-runtime")
    lines = (IMAGES / "requirements.txt").read_text().splitlines()
    assert not [ln for ln in lines if ln.strip().startswith("torch")]

    assert build_plan(gpu=True, base="nvcr.io/nvidia/pytorch:25.05-py3").buildargs["BASE"] == (
        "nvcr.io/nvidia/pytorch:25.05-py3"
    )
    monkeypatch.setenv("HANDIN_GPU_BASE", "local/cuda-torch:1")
    assert build_plan(gpu=True).buildargs["BASE"] == "local/cuda-torch:1"


def test_dockerfile_takes_the_plan_args():
    text = (IMAGES / "Dockerfile").read_text()
    for arg in build_plan(gpu=True).buildargs:
        assert f"ARG {arg}" in text


# --------------------------------------------------------------------------
# real engine


@pytest.mark.slow
def test_gpu_build_without_base_says_how_to_provide_it(client):
    # ".invalid" never resolves, so the pull fails at once everywhere.
    base = "registry.invalid/handin/cuda-torch:0"
    with pytest.raises(ImageBuildError) as err:
        build_image(client, gpu=True, base=base)
    message = str(err.value)
    assert base in message and "not present" in message
    assert "docker pull" in message and "docker load" in message
    assert "HANDIN_GPU_BASE" in message and "base=" in message


@pytest.mark.slow
def test_cpu_image_imports_everything_offline_as_student(client, cpu_image):
    out = run(client, ["python", "-c", IMPORTS], user=str(SANDBOX_USERS["student"]))
    info = json.loads(out.strip().splitlines()[-1])
    assert info["uid"] == 61000
    assert info["python"] == "3.11"
    assert info["torch"] == "2.13.0+cpu"
    assert info["executable"] == "/opt/venv/bin/python"
    assert info["pyc"], "bytecode must be in the image: the root fs is read-only"
    assert info["network"] is False
    assert info["mpl_backend"].lower() == "agg"


@pytest.mark.slow
def test_cpu_image_as_root_with_the_supervisor_caps(client, cpu_image):
    code = "import torch, numpy, sklearn, IPython, pytest; print(torch.__version__)"
    out = run(client, ["python", "-c", code], cap_add=["SETUID", "SETGID", "KILL"])
    assert out.strip().splitlines()[-1] == "2.13.0+cpu"


@pytest.mark.slow
def test_users_env_and_handin_mount(client, cpu_image, tmp_path):
    # A stand-in for the handin package, mounted where the runner mounts it.
    package = tmp_path / "handin"
    package.mkdir()
    (package / "__init__.py").write_text("MARK = 'mounted'\n")
    tmp_path.chmod(0o755)
    package.chmod(0o755)
    (package / "__init__.py").chmod(0o644)
    code = (
        "import json, os, pwd, handin; "
        "print(json.dumps({'users': {u: [pwd.getpwnam(u).pw_uid, pwd.getpwnam(u).pw_gid, "
        "pwd.getpwnam(u).pw_dir] for u in ('student', 'judge')}, 'handin': handin.MARK, "
        "'handin_file': handin.__file__, 'env': dict(os.environ)}))"
    )
    out = run(
        client,
        ["python", "-c", code],
        user="61001",
        volumes={str(package): {"bind": "/opt/handin/handin", "mode": "ro"}},
    )
    info = json.loads(out.strip().splitlines()[-1])
    assert info["users"] == {
        "student": [61000, 61000, "/home/student"],
        "judge": [61001, 61001, "/home/judge"],
    }
    assert info["handin"] == "mounted"
    assert info["handin_file"] == "/opt/handin/handin/__init__.py"
    env = info["env"]
    assert env["PATH"].split(":")[0] == "/opt/venv/bin"
    assert env["PYTHONPATH"] == "/opt/handin"
    assert env["PYTHONDONTWRITEBYTECODE"] == "1"
    assert env["MPLBACKEND"] == "Agg"


@pytest.mark.slow
def test_second_build_is_a_cache_hit(client, cpu_image):
    again = build_image(client)
    assert again.built is False
    assert again.id == cpu_image.id
    assert again.tag == CPU_TAG and again.size > 0
    labels = client.images.get(CPU_TAG).labels
    assert labels[HASH_LABEL] and labels["org.handin.variant"] == "cpu"
    assert labels["org.handin.base-id"] == client.images.get(BASE_TAG).id


@pytest.mark.slow
def test_image_status(client, cpu_image):
    rows = {row["tag"]: row for row in image_status(client)}
    assert set(rows) >= {BASE_TAG, CPU_TAG, GPU_TAG}
    cpu = rows[CPU_TAG]
    assert cpu["present"] and cpu["id"] == cpu_image.id and cpu["size"] == cpu_image.size
    assert cpu["labels"][HASH_LABEL]
    assert rows[BASE_TAG]["present"] and rows[BASE_TAG]["labels"]["org.handin.variant"] == "base"
