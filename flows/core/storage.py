"""Object storage: a local folder or any S3-compatible bucket behind one small interface.

S3 goes through boto3 with the standard retry mode (exponential backoff on throttling, 5xx and
connection errors); `DEBTFLOW_S3_ENDPOINT_URL` points it at MinIO, moto or another endpoint.
Downloads stream to a temporary file that is renamed into place, so a broken transfer never
leaves a half file behind.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

from debtflow.flows.core.errors import DebtflowError
from debtflow.flows.core.settings import Settings


@dataclass(frozen=True)
class StoredFile:
    key: str  # path relative to the store's root, '/'-separated
    size: int
    etag: str | None = None

    @property
    def name(self) -> str:
        return self.key.rsplit("/", 1)[-1]


class Store:
    url: str

    def list_dirs(self, prefix: str = "") -> list[str]:
        """Names of the folders directly under prefix, sorted."""
        raise NotImplementedError

    def list_files(self, prefix: str) -> list[StoredFile]:
        """Files directly under prefix, sorted by name."""
        raise NotImplementedError

    def local_path(self, key: str, cache: Path) -> Path:
        """A local path holding the file's bytes (downloaded into cache when remote)."""
        raise NotImplementedError

    def put(self, src: Path, key: str) -> None:
        raise NotImplementedError


class LocalStore(Store):
    def __init__(self, root: Path):
        self.root, self.url = root, str(root)

    def list_dirs(self, prefix: str = "") -> list[str]:
        base = self.root / prefix
        if not base.is_dir():
            raise DebtflowError(f"folder {base} does not exist")
        return sorted(p.name for p in base.iterdir() if p.is_dir())

    def list_files(self, prefix: str) -> list[StoredFile]:
        base = self.root / prefix
        return [
            StoredFile(f"{prefix}/{p.name}".lstrip("/"), p.stat().st_size)
            for p in sorted(base.iterdir())
            if p.is_file()
        ]

    def local_path(self, key: str, cache: Path) -> Path:
        return self.root / key

    def put(self, src: Path, key: str) -> None:
        dest = self.root / key
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = dest.with_name(f".{dest.name}.tmp")
        shutil.copyfile(src, tmp)
        os.replace(tmp, dest)


class S3Store(Store):
    def __init__(self, url: str, endpoint_url: str | None = None):
        import boto3
        from botocore.config import Config

        parsed = urlparse(url)
        self.url, self.bucket, self.prefix = url, parsed.netloc, parsed.path.strip("/")
        self.client = boto3.client(
            "s3",
            endpoint_url=endpoint_url,
            config=Config(retries={"max_attempts": 8, "mode": "standard"}),
        )

    def _key(self, key: str) -> str:
        return "/".join(p for p in (self.prefix, key.strip("/")) if p)

    def _pages(self, prefix: str, **kwargs):
        base = self._key(prefix)
        paginator = self.client.get_paginator("list_objects_v2")
        yield from paginator.paginate(
            Bucket=self.bucket, Prefix=f"{base}/" if base else "", **kwargs
        )

    def list_dirs(self, prefix: str = "") -> list[str]:
        names = []
        for page in self._pages(prefix, Delimiter="/"):
            names += [
                p["Prefix"].rstrip("/").rsplit("/", 1)[-1] for p in page.get("CommonPrefixes", [])
            ]
        return sorted(names)

    def list_files(self, prefix: str) -> list[StoredFile]:
        files = []
        for page in self._pages(prefix, Delimiter="/"):
            for obj in page.get("Contents", []):
                name = obj["Key"].rsplit("/", 1)[-1]
                files.append(StoredFile(f"{prefix}/{name}", obj["Size"], obj["ETag"].strip('"')))
        return sorted(files, key=lambda f: f.key)

    def local_path(self, key: str, cache: Path) -> Path:
        dest = cache / key
        dest.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.")
        with os.fdopen(fd, "wb") as fh:
            self.client.download_fileobj(self.bucket, self._key(key), fh)
        os.replace(tmp, dest)
        return dest

    def put(self, src: Path, key: str) -> None:
        self.client.upload_file(str(src), self.bucket, self._key(key))


def open_store(url: str | Path, settings: Settings) -> Store:
    url = str(url)
    if url.startswith("s3://"):
        return S3Store(url, settings.s3_endpoint_url)
    if "://" in url and not url.startswith("file://"):
        raise DebtflowError(f"unsupported storage URL {url!r}: use a folder or s3://bucket/prefix")
    return LocalStore(Path(url.removeprefix("file://")))
