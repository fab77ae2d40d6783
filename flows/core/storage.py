"""Object storage: a local folder or any S3-compatible bucket behind one small interface.

S3 goes through boto3 with the standard retry mode (exponential backoff on throttling, 5xx and
connection errors); `DEBTFLOW_S3_ENDPOINT_URL` points it at MinIO, moto or another endpoint.
Every S3 upload asks for server-side encryption (SSE-S3, AES256). Downloads stream to a temporary
file that is renamed into place, so a broken transfer never leaves a half file behind; `sha256`
reads a stored object back, so a writer can check what the store really holds.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

from debtflow.flows.core.errors import DebtflowError
from debtflow.flows.core.settings import Settings

CHUNK = 1 << 20  # 1 MiB: digests stream, whatever the file's size
SSE = {"ServerSideEncryption": "AES256"}
PRESIGN_MAX_SECONDS = 7 * 24 * 3600  # the longest a SigV4 presigned URL may live


def sha256_file(path: Path) -> str:
    """The SHA-256 hex digest of a local file, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _check_expiry(expires_seconds: int) -> None:
    if not 0 < expires_seconds <= PRESIGN_MAX_SECONDS:
        raise DebtflowError(
            f"a download link lives 1 to {PRESIGN_MAX_SECONDS} seconds (7 days), "
            f"not {expires_seconds}"
        )


def _missing(error) -> bool:
    """A botocore ClientError that says the key is not there (GetObject and HeadObject)."""
    return error.response.get("Error", {}).get("Code") in ("NoSuchKey", "404", "NotFound")


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
        """Store the file's bytes under key, whole or not at all (replacing what was there)."""
        raise NotImplementedError

    def sha256(self, key: str) -> str | None:
        """The SHA-256 hex digest of the stored bytes, read back in 1 MiB chunks; None if absent."""
        raise NotImplementedError

    def read_text(self, key: str) -> str | None:
        """The stored file as UTF-8 text; None if absent."""
        raise NotImplementedError

    def exists(self, key: str) -> bool:
        raise NotImplementedError

    def presign(self, key: str, expires_seconds: int) -> str:
        """A URL from which the file can be downloaded without credentials."""
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

    def sha256(self, key: str) -> str | None:
        path = self.root / key
        return sha256_file(path) if path.is_file() else None

    def read_text(self, key: str) -> str | None:
        path = self.root / key
        return path.read_text(encoding="utf-8") if path.is_file() else None

    def exists(self, key: str) -> bool:
        return (self.root / key).is_file()

    def presign(self, key: str, expires_seconds: int) -> str:
        """The file:// URL of the file. A path cannot expire: expires_seconds is only checked
        (the same limit as S3), and the URL works for whoever can read the folder."""
        _check_expiry(expires_seconds)
        return (self.root / key).resolve().as_uri()


class S3Store(Store):
    def __init__(self, url: str, endpoint_url: str | None = None):
        import boto3
        from botocore.config import Config

        parsed = urlparse(url)
        self.url, self.bucket, self.prefix = url, parsed.netloc, parsed.path.strip("/")
        self.client = boto3.client(
            "s3",
            endpoint_url=endpoint_url,
            # s3v4 also for presigned URLs (botocore may sign those with the retired SigV2)
            config=Config(
                retries={"max_attempts": 8, "mode": "standard"}, signature_version="s3v4"
            ),
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
        # multipart above 8 MB: the object appears only when the upload completes
        self.client.upload_file(str(src), self.bucket, self._key(key), ExtraArgs=SSE)

    def _get(self, key: str):
        """The GetObject response, None if the key does not exist."""
        from botocore.exceptions import ClientError

        try:
            return self.client.get_object(Bucket=self.bucket, Key=self._key(key))
        except ClientError as e:
            if _missing(e):
                return None
            raise

    def sha256(self, key: str) -> str | None:
        response = self._get(key)
        if response is None:
            return None
        digest = hashlib.sha256()
        with closing(response["Body"]) as body:
            for chunk in body.iter_chunks(CHUNK):
                digest.update(chunk)
        return digest.hexdigest()

    def read_text(self, key: str) -> str | None:
        response = self._get(key)
        if response is None:
            return None
        with closing(response["Body"]) as body:
            return body.read().decode("utf-8")

    def exists(self, key: str) -> bool:
        from botocore.exceptions import ClientError

        try:
            self.client.head_object(Bucket=self.bucket, Key=self._key(key))
        except ClientError as e:
            if _missing(e):
                return False
            raise
        return True

    def presign(self, key: str, expires_seconds: int) -> str:
        """A presigned GET URL, valid for expires_seconds (at most 7 days, the SigV4 limit)."""
        _check_expiry(expires_seconds)
        return self.client.generate_presigned_url(
            "get_object",
            Params={"Bucket": self.bucket, "Key": self._key(key)},
            ExpiresIn=expires_seconds,
        )


def open_store(url: str | Path, settings: Settings) -> Store:
    url = str(url)
    if url.startswith("s3://"):
        return S3Store(url, settings.s3_endpoint_url)
    if "://" in url and not url.startswith("file://"):
        raise DebtflowError(f"unsupported storage URL {url!r}: use a folder or s3://bucket/prefix")
    return LocalStore(Path(url.removeprefix("file://")))
