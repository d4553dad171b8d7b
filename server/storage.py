"""Uploads, stored content-addressed: ``uploads/ab/abcdef….ipynb`` under the instance folder.

A file is written to a temporary name, fsynced and renamed into place (and the folder fsynced)
before the database commit that acknowledges the upload, so an accepted upload is never lost and
a crash leaves at worst an orphan file, never a row without its file.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path


class UploadStore:
    def __init__(self, root: Path):
        self.root = root

    def path(self, sha256: str) -> Path:
        if len(sha256) != 64 or any(c not in "0123456789abcdef" for c in sha256):
            raise ValueError("not a sha256 hex digest")
        return self.root / sha256[:2] / f"{sha256}.ipynb"

    def put(self, data: bytes) -> tuple[str, Path]:
        digest = hashlib.sha256(data).hexdigest()
        target = self.path(digest)
        if target.is_file() and target.stat().st_size == len(data):
            return digest, target
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".upload-")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.chmod(tmp, 0o640)
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        _fsync_dir(target.parent)
        return digest, target

    def read(self, sha256: str) -> bytes:
        return self.path(sha256).read_bytes()


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
