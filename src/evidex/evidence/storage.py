"""Where encrypted evidence files live. The local folder is the default; objects are written to a
temporary name and renamed into place, so a crash never leaves a half-written object."""

from __future__ import annotations

import io
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, BinaryIO, cast
from urllib.parse import urlparse

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


# --------------------------------------------------------------------------- S3-compatible object storage
_SEGMENT = 8 * 1024 * 1024  # what the streaming writer puts in one object


class S3Storage:
    """Object storage over the S3 API (boto3): `EVIDEX_EVIDENCE_URL=s3://bucket/prefix`. Endpoint and
    credentials come from the usual AWS settings (AWS_ENDPOINT_URL_S3, AWS_ACCESS_KEY_ID, …).

    S3 objects cannot be appended to, so a stored file is a series of segment objects named by
    their byte offset (`<prefix><name>/<offset as 16 hex digits>`): a resumable upload adds one
    segment per chunk and a rewritten chunk replaces its segment. Writes go at the offset of an
    earlier write or at the end, as the evidence service always does. Listing order is byte order."""

    def __init__(self, bucket: str, prefix: str = "", client: Any = None) -> None:
        import boto3  # type: ignore[import-untyped]
        from botocore.exceptions import BotoCoreError, ClientError  # type: ignore[import-untyped]

        self._errors: tuple[type[Exception], ...] = (BotoCoreError, ClientError)
        self.client = client or boto3.client("s3")
        self.bucket, self.prefix = bucket, prefix.strip("/") + "/" if prefix.strip("/") else ""
        try:
            self.client.head_bucket(Bucket=bucket)
        except self._errors as e:
            raise StorageError(f"the evidence bucket {bucket!r} cannot be reached: {e}") from e

    @classmethod
    def from_url(cls, url: str, client: Any = None) -> S3Storage:
        parsed = urlparse(url)
        if parsed.scheme != "s3" or not parsed.netloc:
            raise StorageError(f"not an s3://bucket/prefix address: {url!r}")
        return cls(parsed.netloc, parsed.path, client)

    def _base(self, name: str) -> str:
        if not _NAME.match(name):
            raise StorageError(f"invalid object name {name!r}")
        return f"{self.prefix}{name}/"

    def _key(self, name: str, offset: int) -> str:
        return f"{self._base(name)}{offset:016x}"

    def _segments(self, name: str, after: int | None = None) -> Iterator[tuple[int, int, str]]:
        """(offset, size, key) of each segment, in byte order."""
        kwargs: dict[str, Any] = {"Bucket": self.bucket, "Prefix": self._base(name)}
        if after is not None:
            kwargs["StartAfter"] = self._key(name, after)
        for page in self.client.get_paginator("list_objects_v2").paginate(**kwargs):
            for obj in page.get("Contents", []):
                yield int(obj["Key"].rsplit("/", 1)[1], 16), int(obj["Size"]), obj["Key"]

    def _call(self, fn: Any, **kwargs: Any) -> Any:
        try:
            return fn(Bucket=self.bucket, **kwargs)
        except self._errors as e:
            raise StorageError(f"object storage: {e}") from e

    @contextmanager
    def writer(self, name: str) -> Iterator[BinaryIO]:
        """Streamed: segments of 8 MiB go out as they fill; on failure the written ones are removed."""
        storage = self

        class _Writer(io.RawIOBase):
            def __init__(self) -> None:
                self.buf, self.offset = bytearray(), 0

            def writable(self) -> bool:
                return True

            def write(self, b: Any) -> int:
                self.buf += b
                while len(self.buf) >= _SEGMENT:
                    self._put(bytes(self.buf[:_SEGMENT]))
                    del self.buf[:_SEGMENT]
                return len(b)

            def _put(self, data: bytes) -> None:
                storage._call(storage.client.put_object, Key=storage._key(name, self.offset), Body=data)
                self.offset += len(data)

        self.delete(name)
        w = _Writer()
        try:
            yield cast(BinaryIO, w)
            if w.buf or w.offset == 0:
                w._put(bytes(w.buf))
        except BaseException:
            self.delete(name)
            raise

    @contextmanager
    def reader(self, name: str) -> Iterator[BinaryIO]:
        segments = list(self._segments(name))
        if not segments:
            raise NotFound(f"no stored object {name}")
        storage = self

        class _Reader(io.RawIOBase):
            def __init__(self) -> None:
                self.parts, self.body = iter(segments), cast(Any, None)

            def readable(self) -> bool:
                return True

            def readinto(self, b: Any) -> int:
                while True:
                    if self.body is None:
                        part = next(self.parts, None)
                        if part is None:
                            return 0
                        self.body = storage._call(storage.client.get_object, Key=part[2])["Body"]
                    data = self.body.read(len(b))
                    if data:
                        b[:len(data)] = data
                        return len(data)
                    self.body.close()
                    self.body = None

        with io.BufferedReader(_Reader(), buffer_size=1 << 20) as f:
            yield cast(BinaryIO, f)

    def append(self, name: str, data: bytes, at: int) -> None:
        self._call(self.client.put_object, Key=self._key(name, at), Body=data)
        for _, _, key in list(self._segments(name, after=at)):  # truncate what lay beyond
            self._call(self.client.delete_object, Key=key)

    def read_range(self, name: str, start: int, length: int) -> bytes:
        try:  # the common case: a range that starts a segment
            obj = self.client.get_object(Bucket=self.bucket, Key=self._key(name, start),
                                         Range=f"bytes=0-{max(0, length - 1)}")
            data: bytes = obj["Body"].read()
            if len(data) >= length or length == 0:
                return data[:length]
        except self._errors:
            pass
        out = bytearray()
        for offset, size, key in self._segments(name):
            if offset + size <= start or offset >= start + length:
                continue
            lo, hi = max(start, offset) - offset, min(start + length, offset + size) - offset
            out += self._call(self.client.get_object, Key=key, Range=f"bytes={lo}-{hi - 1}")["Body"].read()
        return bytes(out)

    def delete(self, name: str) -> None:
        keys = [{"Key": key} for _, _, key in self._segments(name)]
        for i in range(0, len(keys), 1000):
            self._call(self.client.delete_objects, Delete={"Objects": keys[i:i + 1000], "Quiet": True})

    def exists(self, name: str) -> bool:
        return next(iter(self._segments(name)), None) is not None


Storage = LocalStorage | S3Storage


def open_storage(url: str | None, directory: Path) -> Storage:
    """`EVIDEX_EVIDENCE_URL` (s3://bucket/prefix) when set, else the local folder."""
    if url and url.strip():
        if url.startswith("s3://"):
            return S3Storage.from_url(url.strip())
        if url.startswith("file://"):
            return LocalStorage(Path(urlparse(url).path))
        raise StorageError(f"EVIDEX_EVIDENCE_URL must be s3://bucket/prefix or file:///folder, not {url!r}")
    return LocalStorage(directory)
