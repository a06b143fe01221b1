"""Where encrypted evidence files live. The local folder is the default; objects are written to a
temporary name and renamed into place, so a crash never leaves a half-written object."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

from evidex.core.errors import EvidexError, NotFound

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$")


class StorageError(EvidexError):
    pass


class LocalStorage:
    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)

    def _path(self, name: str) -> Path:
        if not _NAME.match(name):
            raise StorageError(f"invalid object name {name!r}")
        return self.root / name[:2] / name

    @contextmanager
    def writer(self, name: str) -> Iterator[BinaryIO]:
        path = self._path(name)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(path.suffix + f".{os.getpid()}.part")
        f = open(tmp, "wb")  # noqa: SIM115 - closed below, renamed only on success
        try:
            yield f
            f.flush()
            os.fsync(f.fileno())
            f.close()
            os.replace(tmp, path)
        except BaseException:
            f.close()
            tmp.unlink(missing_ok=True)
            raise

    @contextmanager
    def reader(self, name: str) -> Iterator[BinaryIO]:
        try:
            f = open(self._path(name), "rb")  # noqa: SIM115
        except FileNotFoundError as e:
            raise NotFound(f"no stored object {name}") from e
        with f:
            yield f

    def append(self, name: str, data: bytes, at: int) -> None:
        """Write `data` at offset `at` of an object being assembled (an upload in progress), durably."""
        path = self._path(name)
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "r+b" if path.exists() else "wb") as f:
            f.seek(at)
            f.write(data)
            f.truncate()
            f.flush()
            os.fsync(f.fileno())

    def read_range(self, name: str, start: int, length: int) -> bytes:
        with self.reader(name) as f:
            f.seek(start)
            return f.read(length)

    def delete(self, name: str) -> None:
        self._path(name).unlink(missing_ok=True)

    def exists(self, name: str) -> bool:
        return self._path(name).exists()
