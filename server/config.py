"""Settings: embedded defaults in an instance folder, overridden by ``HANDIN_*`` variables.

The instance folder holds everything a running platform owns: the SQLite database, the SQLite
broker, the secret key, uploads, reports and bundles. PostgreSQL and Redis replace the two
SQLite files by URL (``HANDIN_DATABASE_URL``, ``HANDIN_BROKER_URL``); nothing else changes.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

REPO = Path(__file__).resolve().parent.parent
MiB = 1024**2


def default_instance() -> Path:
    return Path(os.environ.get("HANDIN_INSTANCE", "instance")).resolve()


def default_course_root() -> Path:
    """The course repository whose assignments/, solutions/ and graders/ the platform serves."""
    env = os.environ.get("HANDIN_COURSE_ROOT")
    if env:
        return Path(env).resolve()
    cwd = Path.cwd()
    return cwd if (cwd / "assignments").is_dir() and (cwd / "graders").is_dir() else REPO


def secret_key(instance: Path) -> str:
    """Read the instance's secret key, generating it (mode 0600) on first start.

    The key is written to a temporary file and linked into place, so two processes starting at
    once on a new instance agree on one key and neither reads a half-written file.
    """
    path = instance / "secret_key"
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        pass
    instance.mkdir(parents=True, exist_ok=True)
    tmp = instance / f".secret_key.{os.getpid()}.{secrets.token_hex(4)}"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(secrets.token_hex(32) + "\n")
        fh.flush()
        os.fsync(fh.fileno())
    try:
        os.link(tmp, path)      # fails if another process got there first: then its key wins
    except FileExistsError:
        pass
    finally:
        tmp.unlink()
    return path.read_text().strip()


@dataclass(frozen=True)
class MailSettings:
    """Where notifications go out: an SMTP server. Mail is off unless ``host`` is set."""

    host: str = ""                      # HANDIN_SMTP_HOST
    port: int = 25                      # HANDIN_SMTP_PORT
    sender: str = "handin@localhost"    # HANDIN_SMTP_FROM: the From address
    user: str = ""                      # HANDIN_SMTP_USER and HANDIN_SMTP_PASSWORD: log in when set
    password: str = ""
    starttls: bool = False              # HANDIN_SMTP_STARTTLS=1: upgrade the connection before logging in
    timeout: float = 10.0               # HANDIN_SMTP_TIMEOUT: seconds per connection and reply

    @property
    def enabled(self) -> bool:
        return bool(self.host)

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> "MailSettings":
        return cls(host=env.get("HANDIN_SMTP_HOST", ""), port=int(env.get("HANDIN_SMTP_PORT", "25")),
                   sender=env.get("HANDIN_SMTP_FROM", "handin@localhost"), user=env.get("HANDIN_SMTP_USER", ""),
                   password=env.get("HANDIN_SMTP_PASSWORD", ""),
                   starttls=env.get("HANDIN_SMTP_STARTTLS", "").lower() in ("1", "true", "yes"),
                   timeout=float(env.get("HANDIN_SMTP_TIMEOUT", "10")))


@dataclass
class Settings:
    """Everything the app factory needs; ``from_env`` fills it the way ``handin serve`` does."""

    instance: Path
    database_url: str
    broker_url: str
    course_root: Path = field(default_factory=default_course_root)
    dispatch: str = "celery"          # celery | inline | none: how a queued submission reaches a worker
    sandbox: str = "auto"             # auto | local | docker
    rate_limits: bool = True
    ratelimit_storage: str = "memory://"
    lease_margin: float = 120.0       # seconds past a module's wall time before a running job is requeued
    public_url: str = ""              # where people reach the platform, for links made outside a request (the CLI)
    mail: MailSettings = field(default_factory=MailSettings)   # notifications; off unless HANDIN_SMTP_HOST is set
    testing: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_env(cls, instance: Path | None = None, **overrides: Any) -> "Settings":
        instance = (instance or default_instance()).resolve()
        env = os.environ
        db = env.get("HANDIN_DATABASE_URL") or f"sqlite:///{instance / 'handin.sqlite'}"
        broker = env.get("HANDIN_BROKER_URL") or f"handin-sqla+sqlite:///{instance / 'broker.sqlite'}"
        storage = env.get("HANDIN_RATELIMIT_STORAGE_URL") or (broker if broker.startswith("redis") else "memory://")
        values: dict[str, Any] = dict(
            instance=instance, database_url=db, broker_url=broker, ratelimit_storage=storage,
            sandbox=env.get("HANDIN_SANDBOX", "auto"),
            lease_margin=float(env.get("HANDIN_LEASE_MARGIN", "120")),
            public_url=env.get("HANDIN_PUBLIC_URL", ""), mail=MailSettings.from_env(env),
        )
        if "HANDIN_DISPATCH" in env:
            values["dispatch"] = env["HANDIN_DISPATCH"]
        values.update(overrides)
        return cls(**values)

    def flask_config(self) -> dict[str, Any]:
        max_upload = int(self.extra.get("MAX_UPLOAD_BYTES", 25 * MiB))
        return {
            "SECRET_KEY": self.extra.get("SECRET_KEY") or secret_key(self.instance),
            "SQLALCHEMY_DATABASE_URI": self.database_url,
            "SQLALCHEMY_ENGINE_OPTIONS": _engine_options(self.database_url),
            "MAX_CONTENT_LENGTH": max_upload,
            "MAX_FORM_MEMORY_SIZE": max_upload,
            "SESSION_COOKIE_HTTPONLY": True,
            "SESSION_COOKIE_SAMESITE": "Lax",
            "REMEMBER_COOKIE_HTTPONLY": True,
            "REMEMBER_COOKIE_SAMESITE": "Lax",
            "WTF_CSRF_TIME_LIMIT": None,
            "RATELIMIT_ENABLED": self.rate_limits,
            "RATELIMIT_STORAGE_URI": self.ratelimit_storage,
            "RATELIMIT_HEADERS_ENABLED": True,
            "TESTING": self.testing,
            **{k: v for k, v in self.extra.items() if k.isupper()},
        }


def _engine_options(url: str) -> dict[str, Any]:
    if url.startswith("sqlite"):
        # Many threads (web server, worker) share one file: wait for the write lock, don't fail.
        return {"connect_args": {"timeout": 30, "check_same_thread": False}}
    return {"pool_pre_ping": True, "pool_size": 10, "max_overflow": 20}
