"""Build the grading sandbox images with the Docker SDK, and cache them.

Three images:

``handin-base:bookworm`` (BASE_TAG)
    Debian bookworm rootfs made with ``debootstrap --variant=minbase`` plus
    python3 (3.11), ca-certificates and the C/C++ runtime libraries the wheels
    need, upgraded from bookworm-security, trimmed, then imported with the SDK.
    No registry is involved, so it builds where nothing can be pulled. Needs
    root and debootstrap on the host (.ci/docker-engine.sh installs it).
``handin-sandbox:cpu`` (CPU_TAG)
    sandbox/images/Dockerfile on the base: a venv /opt/venv with the packages
    of requirements-cpu.txt (CPU torch included), users student/judge.
``handin-sandbox:gpu`` (GPU_TAG)
    The same Dockerfile on a CUDA PyTorch image (GPU_BASE_DEFAULT, or
    ``base=``/$HANDIN_GPU_BASE); torch comes from that image.

Wheels are resolved on the host with ``pip download`` (host pip config
applies: find-links, indexes, certificates) for the Python version, glibc and
machine of the base image, kept in a cache, and sent in the build context;
the build itself runs with network "none".

Caching: every image carries the label ``org.handin.build-hash``, a hash of
everything that goes into it (Dockerfile, requirement files, the exact wheel
files, the base image id, build args). When the existing image's label
matches, build_image returns at once without talking to pip or the builder.
Wheel sets are cached per (requirements, python, glibc, machine) and are only
resolved again with ``rebuild=True`` or when a requirement file changes.

Run-time contract (what the runner can rely on):
    - users student 61000:61000 and judge 61001:61001 (SANDBOX_USERS), homes
      /home/student and /home/judge (mode 0700, owned by each). The root fs is
      read-only at run time, so mount a tmpfs there
      (``--tmpfs /home/student:uid=61000,gid=61000,mode=0700``) or set
      HOME/MPLCONFIGDIR/IPYTHONDIR per process; otherwise matplotlib and
      IPython warn on stderr and fall back to temp dirs.
    - the image user is root: the supervisor starts as root with only
      CAP_SETUID/CAP_SETGID/CAP_KILL and drops to those uids itself.
    - python packages in /opt/venv (``python`` = /opt/venv/bin/python, first on
      PATH; no pip inside), .pyc files precompiled; ENV PYTHONPATH=/opt/handin
      (mount the handin package read-only at /opt/handin/handin),
      PYTHONDONTWRITEBYTECODE=1, MPLBACKEND=Agg, LANG=C.UTF-8.
    - no userns remapping: uid 61000 in a container is uid 61000 on the host,
      so a host process killing "every process of uid 61000" (the local
      backend's slot cleanup does) kills container processes too, and
      RLIMIT_NPROC counts all containers' students together (use the pids
      cgroup, ``pids_limit``, for process limits).

Environment:
    HANDIN_CACHE_DIR               cache root (default $XDG_CACHE_HOME/handin
                                   or ~/.cache/handin)
    HANDIN_GPU_BASE                default base of the GPU image
    HANDIN_DEBIAN_MIRROR           debootstrap mirror (http://deb.debian.org/debian)
    HANDIN_DEBIAN_SECURITY_MIRROR  security updates for the base
                                   (http://deb.debian.org/debian-security;
                                   "none" skips the upgrade)
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import docker
import docker.errors
import requests.exceptions

__all__ = [
    "BASE_TAG",
    "CPU_TAG",
    "GPU_TAG",
    "GPU_BASE_DEFAULT",
    "SANDBOX_USERS",
    "BuildPlan",
    "ImageBuildError",
    "ImageInfo",
    "build_image",
    "build_plan",
    "image_status",
]

BASE_TAG = "handin-base:bookworm"
CPU_TAG = "handin-sandbox:cpu"
GPU_TAG = "handin-sandbox:gpu"
# Matches the CPU image's torch pin (requirements-cpu.txt). Not verified
# against the registry from here (no registry reachable); override with
# base= or $HANDIN_GPU_BASE.
GPU_BASE_DEFAULT = "pytorch/pytorch:2.13.0-cuda12.8-cudnn9-runtime"
# name -> uid (= gid); created by the Dockerfile, home /home/<name> (mode 0700).
SANDBOX_USERS: Mapping[str, int] = {"student": 61000, "judge": 61001}

IMAGES_DIR = Path(__file__).resolve().parent / "images"
HASH_LABEL = "org.handin.build-hash"
_LABEL_PREFIX = "org.handin."
# Bump when the code below changes what goes into an image in a way the
# hashed inputs do not show (e.g. _trim_rootfs, the context layout).
_RECIPE_VERSION = "1"

_SUITE = "bookworm"
_BASE_PACKAGES = (
    "python3",  # 3.11 in bookworm: the wheels are cp311
    "ca-certificates",
    "libgomp1",  # OpenMP (torch, scikit-learn)
    "libstdc++6",  # manylinux wheels take these two from the system
    "libgcc-s1",
    "zlib1g",
)
_CONTEXT_FILES = ("Dockerfile", "requirements.txt", "requirements-cpu.txt")
_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


class ImageBuildError(Exception):
    """A build that cannot go on; the message says what to do about it."""


@dataclasses.dataclass(frozen=True)
class ImageInfo:
    tag: str
    id: str
    size: int  # bytes, as the engine reports it
    built: bool  # False: the existing image was up to date (cache hit)
    seconds: float  # wall time of the build_image call


@dataclasses.dataclass(frozen=True)
class BuildPlan:
    """What build_image passes to ``docker build`` for one variant."""

    tag: str
    base: str
    dockerfile: str
    requirements: str
    buildargs: Mapping[str, str]


def build_plan(*, gpu: bool = False, base: str | None = None) -> BuildPlan:
    """The tag, Dockerfile and build args of the CPU or GPU image (no I/O)."""
    if gpu:
        base = base or os.environ.get("HANDIN_GPU_BASE") or GPU_BASE_DEFAULT
        tag, requirements, venv_flags = GPU_TAG, "requirements.txt", "--system-site-packages"
    else:
        base = base or BASE_TAG
        tag, requirements, venv_flags = CPU_TAG, "requirements-cpu.txt", ""
    return BuildPlan(
        tag=tag,
        base=base,
        dockerfile="Dockerfile",
        requirements=requirements,
        buildargs={"BASE": base, "REQUIREMENTS": requirements, "VENV_FLAGS": venv_flags},
    )


def build_image(
    client: docker.DockerClient,
    *,
    gpu: bool = False,
    base: str | None = None,
    rebuild: bool = False,
    progress: Callable[[str], None] | None = None,
) -> ImageInfo:
    """Build the CPU (default) or GPU sandbox image unless it is up to date.

    The CPU image builds its base (debootstrap, about a minute) first when
    missing. ``base`` replaces the base image (CPU: BASE_TAG; GPU:
    $HANDIN_GPU_BASE or GPU_BASE_DEFAULT); a base other than BASE_TAG must be
    present locally or pullable. ``rebuild=True`` redoes everything: the
    debootstrap base (when used), the wheel resolution and the build, without
    Docker's layer cache. ``progress`` receives log lines.
    """
    start = time.monotonic()
    say = progress or (lambda line: None)
    plan = build_plan(gpu=gpu, base=base)
    with _engine_errors(plan.tag), _build_lock():
        base_image = _ensure_base(client, plan.base, rebuild=rebuild, say=say)
        target = _probe_python(client, base_image)
        wheels = _resolve_wheels(plan.requirements, target, refresh=rebuild, say=say)
        build_hash = _build_hash(plan, base_image.id, wheels)
        existing = _get_image(client, plan.tag)
        if (
            not rebuild
            and existing is not None
            and existing.labels.get(HASH_LABEL) == build_hash
        ):
            say(f"{plan.tag} is up to date ({existing.short_id})")
            return _info(existing, plan.tag, built=False, start=start)
        labels = {
            HASH_LABEL: build_hash,
            "org.handin.variant": "gpu" if gpu else "cpu",
            "org.handin.base": plan.base,
            "org.handin.base-id": base_image.id,
            "org.handin.python": target["python"],
        }
        build_started = int(time.time())
        image = _docker_build(client, plan, wheels, labels, nocache=rebuild, say=say)
        _prune_older(client, before=build_started, say=say)
        return _info(image, plan.tag, built=True, start=start)


def image_status(client: docker.DockerClient) -> list[dict[str, Any]]:
    """Which handin images exist, their ids, sizes and handin labels.

    For a doctor command; builds nothing and resolves nothing.
    """
    gpu_base = build_plan(gpu=True).base
    rows: list[dict[str, Any]] = []
    for tag in (BASE_TAG, CPU_TAG, GPU_TAG, gpu_base):
        with _engine_errors(tag):
            image = _get_image(client, tag)
        row: dict[str, Any] = {"tag": tag, "present": image is not None}
        if tag == gpu_base:
            row["role"] = "gpu-base"
        if image is not None:
            labels = image.labels or {}
            row.update(
                id=image.id,
                size=image.attrs.get("Size", 0),
                created=image.attrs.get("Created"),
                labels={k: v for k, v in labels.items() if k.startswith(_LABEL_PREFIX)},
            )
        rows.append(row)
    return rows


# --------------------------------------------------------------------------
# cache and small helpers


def _cache_dir() -> Path:
    root = os.environ.get("HANDIN_CACHE_DIR")
    if root:
        path = Path(root)
    else:
        xdg = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
        path = Path(xdg) / "handin"
    path.mkdir(parents=True, exist_ok=True)
    return path


@contextlib.contextmanager
def _engine_errors(tag: str) -> Iterator[None]:
    """Engine trouble as one ImageBuildError that says what to do."""
    try:
        yield
    except requests.exceptions.ConnectionError as exc:
        raise ImageBuildError(
            f"the Docker engine does not answer ({exc}); start one with "
            "`sudo .ci/docker-engine.sh` or point DOCKER_HOST at one"
        ) from exc
    except docker.errors.APIError as exc:
        raise ImageBuildError(
            f"the Docker engine refused a step of building {tag}: {exc.explanation or exc}"
        ) from exc


@contextlib.contextmanager
def _build_lock() -> Iterator[None]:
    """Serialise builds between processes: a second caller waits, then hits the cache."""
    with open(_cache_dir() / "build.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _get_image(client: docker.DockerClient, ref: str) -> Any:
    try:
        return client.images.get(ref)
    except docker.errors.ImageNotFound:
        return None


def _info(image: Any, tag: str, *, built: bool, start: float) -> ImageInfo:
    return ImageInfo(
        tag=tag,
        id=image.id,
        size=int(image.attrs.get("Size", 0)),
        built=built,
        seconds=round(time.monotonic() - start, 3),
    )


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _run_logged(cmd: list[str], say: Callable[[str], None], **kwargs: Any) -> tuple[int, list[str]]:
    """Run cmd, pass its output lines to say, return (exit status, last lines)."""
    tail: list[str] = []
    with subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, **kwargs
    ) as proc:
        assert proc.stdout is not None
        for line in proc.stdout:
            line = line.rstrip()
            say(line)
            tail = (tail + [line])[-30:]
    return proc.returncode, tail


# --------------------------------------------------------------------------
# base image


def _base_recipe_hash() -> str:
    recipe = {
        "recipe": _RECIPE_VERSION,
        "suite": _SUITE,
        "variant": "minbase",
        "packages": sorted(_BASE_PACKAGES),
        "security": _security_mirror() is not None,
    }
    return hashlib.sha256(json.dumps(recipe, sort_keys=True).encode()).hexdigest()


def _security_mirror() -> str | None:
    mirror = os.environ.get("HANDIN_DEBIAN_SECURITY_MIRROR", "http://deb.debian.org/debian-security")
    return None if mirror.lower() in ("", "none") else mirror


def _ensure_base(client: docker.DockerClient, ref: str, *, rebuild: bool, say: Callable[[str], None]) -> Any:
    if ref == BASE_TAG:
        want = _base_recipe_hash()
        image = _get_image(client, BASE_TAG)
        if image is not None and not rebuild and image.labels.get(HASH_LABEL) == want:
            return image
        if image is not None and not rebuild:
            say(f"{BASE_TAG}: recipe changed, building it again")
        return _build_base(client, want, say)

    image = _get_image(client, ref)
    if image is not None:
        return image
    say(f"base image {ref} is not present; trying to pull it")
    try:
        return client.images.pull(ref)
    except (docker.errors.APIError, docker.errors.NotFound) as exc:
        reason = getattr(exc, "explanation", None) or str(exc)
        raise ImageBuildError(
            f"base image {ref!r} is not present and could not be pulled ({reason}).\n"
            "Provide it in one of these ways, then build again:\n"
            f"  - on a host that reaches the registry: docker pull {ref}\n"
            f"  - offline: on a machine that can pull, `docker pull {ref} && "
            f"docker save {ref} | gzip > base.tar.gz`; here `docker load -i base.tar.gz`\n"
            "  - use another local image (CUDA PyTorch for the GPU image): "
            "build_image(client, gpu=True, base='IMAGE') or HANDIN_GPU_BASE=IMAGE "
            "(it becomes the Dockerfile's build arg BASE)"
        ) from exc


def _build_base(client: docker.DockerClient, recipe_hash: str, say: Callable[[str], None]) -> Any:
    debootstrap = shutil.which("debootstrap") or shutil.which("debootstrap", path="/usr/sbin:/sbin")
    if sys.platform != "linux" or os.geteuid() != 0 or debootstrap is None:
        raise ImageBuildError(
            f"building {BASE_TAG} needs root and debootstrap on a Linux host "
            f"(root: {os.geteuid() == 0}, debootstrap: {debootstrap or 'missing'}). "
            "Run `sudo .ci/docker-engine.sh` (installs debootstrap) and build as root, "
            f"or `docker load` a {BASE_TAG} saved on another machine."
        )
    mirror = os.environ.get("HANDIN_DEBIAN_MIRROR", "http://deb.debian.org/debian")
    tmp_root = _cache_dir() / "tmp"
    tmp_root.mkdir(exist_ok=True)
    workdir = Path(tempfile.mkdtemp(prefix="base-", dir=tmp_root))
    rootfs = workdir / "rootfs"
    try:
        say(f"{BASE_TAG}: debootstrap {_SUITE} from {mirror} (about a minute)")
        cmd = [
            debootstrap,
            "--variant=minbase",
            "--include=" + ",".join(_BASE_PACKAGES),
            _SUITE,
            str(rootfs),
            mirror,
        ]
        status, tail = _run_logged(cmd, say)
        if status != 0:
            raise ImageBuildError(
                f"debootstrap failed (exit {status}); is {mirror} reachable? "
                "Set HANDIN_DEBIAN_MIRROR to a reachable bookworm mirror.\n" + "\n".join(tail)
            )
        _security_upgrade(rootfs, say)
        _trim_rootfs(rootfs)
        tarball = workdir / "rootfs.tar"
        say(f"{BASE_TAG}: importing")
        subprocess.run(
            ["tar", "--numeric-owner", "-C", str(rootfs), "-cf", str(tarball), "."],
            check=True,
        )
        repository, tag = BASE_TAG.split(":")
        result = client.api.import_image_from_file(
            str(tarball),
            repository=repository,
            tag=tag,
            changes=[
                f"LABEL {HASH_LABEL}={recipe_hash} org.handin.variant=base",
                f"ENV PATH={_PATH} LANG=C.UTF-8",
                'CMD ["/bin/bash"]',
            ],
        )
        if '"error' in str(result):
            raise ImageBuildError(f"docker import of {BASE_TAG} failed: {result}")
        return client.images.get(BASE_TAG)
    finally:
        _unmount_below(rootfs)
        shutil.rmtree(workdir, ignore_errors=True)


def _security_upgrade(rootfs: Path, say: Callable[[str], None]) -> None:
    """Bring the fresh rootfs up to date with bookworm-security/-updates (chroot apt)."""
    security = _security_mirror()
    sources = rootfs / "etc/apt/sources.list"
    mirror = os.environ.get("HANDIN_DEBIAN_MIRROR", "http://deb.debian.org/debian")
    if security is None:
        say(f"{BASE_TAG}: HANDIN_DEBIAN_SECURITY_MIRROR=none, no security upgrade")
        return
    sources.write_text(
        f"deb {mirror} {_SUITE} main\n"
        f"deb {mirror} {_SUITE}-updates main\n"
        f"deb {security} {_SUITE}-security main\n"
    )
    resolv = rootfs / "etc/resolv.conf"  # name resolution inside the chroot
    if resolv.is_symlink() or resolv.exists():
        resolv.unlink()
    if Path("/etc/resolv.conf").exists():
        shutil.copyfile("/etc/resolv.conf", resolv)
    policy = rootfs / "usr/sbin/policy-rc.d"  # no service starts in the chroot
    policy.write_text("#!/bin/sh\nexit 101\n")
    policy.chmod(0o755)
    env = {"PATH": _PATH, "DEBIAN_FRONTEND": "noninteractive", "LANG": "C.UTF-8"}
    try:
        for args in (["update"], ["-y", "upgrade"]):
            say(f"{BASE_TAG}: apt-get {' '.join(args)}")
            status, tail = _run_logged(
                ["chroot", str(rootfs), "apt-get", "-q", *args], say, env=env
            )
            if status != 0:
                raise ImageBuildError(
                    f"apt-get {args[-1]} in the base rootfs failed (exit {status}); "
                    "set HANDIN_DEBIAN_SECURITY_MIRROR to a reachable mirror, or to "
                    "none to skip security updates.\n" + "\n".join(tail)
                )
    finally:
        policy.unlink(missing_ok=True)


def _trim_rootfs(rootfs: Path) -> None:
    """Drop what a read-only sandbox never uses (apt caches, docs, locales)."""
    for pattern in (
        "var/cache/apt/*.bin",
        "var/cache/apt/archives/*.deb",
        "var/lib/apt/lists/*_*",
        "usr/share/man/*",
        "usr/share/info/*",
        "usr/share/locale/*",
        "usr/share/doc/*/*",
        "var/log/*.log",
        "var/log/apt/*",
        "var/cache/debconf/*-old",
        "var/lib/dpkg/*-old",
    ):
        for path in rootfs.glob(pattern):
            if path.name == "copyright":  # licences stay
                continue
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path)
            else:
                path.unlink()
    # The engine provides these per container.
    for name in ("etc/resolv.conf", "etc/hostname"):
        path = rootfs / name
        if path.is_symlink() or path.exists():
            path.unlink()
    (rootfs / "etc/machine-id").write_text("")
    (rootfs / "etc/apt/sources.list").write_text(
        f"deb http://deb.debian.org/debian {_SUITE} main\n"
        f"deb http://deb.debian.org/debian {_SUITE}-updates main\n"
        f"deb http://deb.debian.org/debian-security {_SUITE}-security main\n"
    )
    # Keep later `apt-get install`s in derived images just as lean.
    (rootfs / "etc/dpkg/dpkg.cfg.d/handin-nodoc").write_text(
        "path-exclude=/usr/share/doc/*\npath-include=/usr/share/doc/*/copyright\n"
        "path-exclude=/usr/share/man/*\npath-exclude=/usr/share/info/*\n"
        "path-exclude=/usr/share/locale/*\n"
    )


def _unmount_below(path: Path) -> None:
    """Unmount anything debootstrap/chroot left mounted under path (before rmtree)."""
    prefix = str(path) + "/"
    try:
        mounts = Path("/proc/self/mounts").read_text().splitlines()
    except OSError:
        return
    points = [m.split()[1] for m in mounts if len(m.split()) > 1]
    for point in sorted((p for p in points if p.startswith(prefix)), reverse=True):
        subprocess.run(["umount", "-l", point], check=False)


# --------------------------------------------------------------------------
# wheels


def _probe_python(client: docker.DockerClient, image: Any) -> dict[str, str]:
    """Python version, glibc version and machine of an image (cached per image id)."""
    cache = _cache_dir() / "probes.json"
    try:
        probes = json.loads(cache.read_text())
    except (OSError, ValueError):
        probes = {}
    if image.id in probes:
        return probes[image.id]
    code = (
        "import json, platform, sys; "
        "print('HANDIN-PROBE', json.dumps({'python': '%d.%d' % sys.version_info[:2], "
        "'glibc': platform.libc_ver()[1], 'machine': platform.machine()}))"
    )
    try:
        out = client.containers.run(
            image.id, ["python3", "-c", code], network_mode="none", remove=True, stderr=False
        )
    except docker.errors.ContainerError as exc:
        raise ImageBuildError(
            f"base image {image.tags or image.id} has no working python3: {exc}"
        ) from exc
    lines = [ln for ln in out.decode(errors="replace").splitlines() if ln.startswith("HANDIN-PROBE ")]
    if not lines:
        raise ImageBuildError(f"could not read python3's version in {image.tags or image.id}: {out!r}")
    probe = json.loads(lines[-1].split(" ", 1)[1])
    if not probe.get("glibc"):
        raise ImageBuildError(f"base image {image.tags or image.id} is not glibc-based: {probe}")
    probes[image.id] = probe
    cache.write_text(json.dumps(probes, indent=1, sort_keys=True))
    return probe


def _platform_tags(target: Mapping[str, str]) -> list[str]:
    """manylinux tags a glibc X.Y machine accepts (pip does not expand them itself)."""
    machine = target["machine"]
    major, minor = (int(x) for x in target["glibc"].split(".")[:2])
    tags = [f"manylinux_{major}_{m}_{machine}" for m in range(minor, 4, -1)]
    tags += [f"manylinux{alias}_{machine}" for alias in ("2014", "2010", "1")]
    return tags


@dataclasses.dataclass(frozen=True)
class _WheelSet:
    dir: Path
    files: Mapping[str, str]  # wheel file name -> sha256


def _resolve_wheels(
    requirements: str, target: Mapping[str, str], *, refresh: bool, say: Callable[[str], None]
) -> _WheelSet:
    """The wheels requirements need on target, from the cache or pip download."""
    wheel_dir = _wheel_dir(requirements, target)
    manifest_path = wheel_dir / "manifest.json"
    if not refresh and manifest_path.exists():
        manifest = json.loads(manifest_path.read_text())
        if all((wheel_dir / name).exists() for name in manifest["wheels"]):
            return _WheelSet(wheel_dir, manifest["wheels"])
    partial = wheel_dir.with_name(wheel_dir.name + f".partial-{os.getpid()}")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    py = target["python"]
    cmd = [
        sys.executable, "-m", "pip", "download",
        "--disable-pip-version-check", "--progress-bar", "off",
        "--only-binary=:all:",
        "--python-version", py,
        "--implementation", "cp",
        "--abi", "cp" + py.replace(".", ""), "--abi", "abi3", "--abi", "none",
    ]
    for tag in _platform_tags(target):
        cmd += ["--platform", tag]
    cmd += ["-d", str(partial), "-r", str(IMAGES_DIR / requirements), "pip"]
    say(f"resolving wheels for {requirements} (python {py}, glibc {target['glibc']}, {target['machine']})")
    status, tail = _run_logged(cmd, say)
    if status != 0:
        shutil.rmtree(partial, ignore_errors=True)
        raise ImageBuildError(
            f"pip download for sandbox/images/{requirements} failed (exit {status}). "
            "The host's pip config applies: check the index/find-links there. "
            "The CPU torch wheel (+cpu) needs a find-links dir holding it or "
            "PIP_EXTRA_INDEX_URL=https://download.pytorch.org/whl/cpu.\n" + "\n".join(tail)
        )
    wheels = {p.name: _sha256_file(p) for p in sorted(partial.glob("*.whl"))}
    (partial / "manifest.json").write_text(
        json.dumps({"requirements": requirements, "target": dict(target), "wheels": wheels}, indent=1)
    )
    shutil.rmtree(wheel_dir, ignore_errors=True)
    partial.rename(wheel_dir)
    return _WheelSet(wheel_dir, wheels)


def _wheel_dir(requirements: str, target: Mapping[str, str]) -> Path:
    key = hashlib.sha256()
    key.update(json.dumps(dict(target), sort_keys=True).encode())
    key.update(requirements.encode())
    for name in _CONTEXT_FILES[1:]:  # one requirement file includes the other
        key.update((IMAGES_DIR / name).read_bytes())
    return _cache_dir() / "wheels" / f"{requirements.removesuffix('.txt')}-{key.hexdigest()[:16]}"


# --------------------------------------------------------------------------
# sandbox image


def _build_hash(plan: BuildPlan, base_id: str, wheels: _WheelSet) -> str:
    inputs = {
        "recipe": _RECIPE_VERSION,
        "files": {name: (IMAGES_DIR / name).read_text() for name in _CONTEXT_FILES},
        "wheels": dict(sorted(wheels.files.items())),
        "base_id": base_id,
        "buildargs": dict(plan.buildargs),
        "tag": plan.tag,
    }
    return hashlib.sha256(json.dumps(inputs, sort_keys=True).encode()).hexdigest()


def _docker_build(
    client: docker.DockerClient,
    plan: BuildPlan,
    wheels: _WheelSet,
    labels: Mapping[str, str],
    *,
    nocache: bool,
    say: Callable[[str], None],
) -> Any:
    tmp_root = _cache_dir() / "tmp"
    tmp_root.mkdir(exist_ok=True)
    with tempfile.TemporaryFile(dir=tmp_root) as context:
        _write_context(context, wheels)
        context.seek(0)
        say(f"building {plan.tag} from {plan.base}")
        stream = client.api.build(
            fileobj=context,
            custom_context=True,
            tag=plan.tag,
            dockerfile=plan.dockerfile,
            buildargs=dict(plan.buildargs),
            labels=dict(labels),
            network_mode="none",
            pull=False,
            nocache=nocache,
            rm=True,
            forcerm=True,
            decode=True,
        )
        tail: list[str] = []
        for chunk in stream:
            if "stream" in chunk:
                for line in chunk["stream"].splitlines():
                    if line.strip():
                        say(line)
                        tail = (tail + [line])[-30:]
            if "error" in chunk:
                raise ImageBuildError(
                    f"docker build of {plan.tag} failed: {chunk['error'].strip()}\n" + "\n".join(tail)
                )
    return client.images.get(plan.tag)


def _prune_older(client: docker.DockerClient, *, before: int, say: Callable[[str], None]) -> None:
    """Drop untagged handin images from earlier builds (1-2 GB each).

    Only dangling images made before this build: the replaced sandbox image,
    earlier build stages and bases. This build's own first stage stays, as
    the layer cache for the next change to the Dockerfile's last stage.
    Images a container still uses are kept by the engine.
    """
    try:
        result = client.images.prune(
            filters={"dangling": True, "label": "org.handin.variant", "until": str(before)}
        )
    except (docker.errors.APIError, requests.exceptions.RequestException) as exc:  # only housekeeping
        # A busy engine can take longer than the client's timeout to prune GBs: the
        # image is built all the same, and the next build prunes what is left.
        say(f"pruning old handin images failed: {type(exc).__name__}: {exc}")
        return
    freed = (result or {}).get("SpaceReclaimed") or 0
    if freed:
        say(f"pruned old handin images: {freed / 1e9:.1f} GB")


def _write_context(fileobj: Any, wheels: _WheelSet) -> None:
    """Uncompressed tar: Dockerfile, requirement files, wheels/ (owner root, mtime 0)."""

    def normalise(info: tarfile.TarInfo) -> tarfile.TarInfo:
        info.uid = info.gid = 0
        info.uname = info.gname = "root"
        info.mtime = 0
        info.mode = 0o755 if info.isdir() else 0o644
        return info

    with tarfile.open(fileobj=fileobj, mode="w") as tar:
        for name in _CONTEXT_FILES:
            tar.add(IMAGES_DIR / name, arcname=name, filter=normalise)
        tar.add(wheels.dir, arcname="wheels", recursive=False, filter=normalise)
        for name in sorted(wheels.files):
            tar.add(wheels.dir / name, arcname=f"wheels/{name}", filter=normalise)
