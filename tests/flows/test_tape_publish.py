"""Publishing a sale tape to a folder and to S3 (moto over HTTP): data first, manifest last,
every file read back, re-runs finish what an interruption left, a published tape never changes."""

from __future__ import annotations

import hashlib
import json
import urllib.request
import uuid
from pathlib import Path

import boto3
import pytest

from debtflow.flows.core.errors import DebtflowError
from debtflow.flows.core.storage import LocalStore, S3Store, Store
from debtflow.flows.tape.publish import (
    download_links,
    list_published,
    publish,
    published_manifest,
    tape_prefix,
)

# tape.csv spans three 1 MiB chunks, so digests are streamed over chunk boundaries
TAPE = b"".join(f"{i:08d},{i * 37 % 100_000}.00,EUR\n".encode() for i in range(120_000))
FILES = {
    "dictionary.csv": b"field,meaning\naccount_ref,pseudonymous account reference\n",
    "report.html": b"<html><body><h1>Tape 2026-11</h1><p>120000 accounts</p></body></html>\n",
    "tape.csv": TAPE,
}
EXPECTED = {
    name: {"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}
    for name, data in FILES.items()
}
GIVEN = {"as_of": "2026-11-30", "row_count": 120_000, "seller": "debtflow"}
TAPE_ID = "2026-11-30"


@pytest.fixture(params=["local", "s3"])
def store(request, tmp_path: Path) -> Store:
    if request.param == "local":
        return LocalStore(tmp_path / "store")
    endpoint = request.getfixturevalue("s3_endpoint")
    bucket = f"tapes-{uuid.uuid4().hex[:12]}"
    boto3.client("s3", endpoint_url=endpoint).create_bucket(Bucket=bucket)
    return S3Store(f"s3://{bucket}/sale", endpoint)


@pytest.fixture
def tape_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "tape"
    folder.mkdir()
    for name, data in FILES.items():
        (folder / name).write_bytes(data)
    (folder / "manifest.json").write_text('{"written_by": "build_tape"}\n')  # never uploaded
    return folder


class Flaky(Store):
    """Another store behind the same interface: records the files uploaded, can fail the n-th
    upload like a dropped connection, and can lie about one file's digest."""

    def __init__(self, inner: Store, fail_on_put: int | None = None, lie_about: str = ""):
        self.inner, self.url = inner, inner.url
        self.fail_on_put, self.lie_about = fail_on_put, lie_about
        self.calls, self.uploaded = 0, []

    def put(self, src: Path, key: str) -> None:
        self.calls += 1
        if self.calls == self.fail_on_put:
            raise ConnectionError(f"connection reset while uploading {key}")
        self.inner.put(src, key)
        self.uploaded.append(key.rsplit("/", 1)[-1])

    def sha256(self, key: str) -> str | None:
        if self.lie_about and key.endswith(f"/{self.lie_about}"):
            return "0" * 64
        return self.inner.sha256(key)

    def read_text(self, key: str) -> str | None:
        return self.inner.read_text(key)

    def exists(self, key: str) -> bool:
        return self.inner.exists(key)

    def list_dirs(self, prefix: str = "") -> list[str]:
        return self.inner.list_dirs(prefix)

    def list_files(self, prefix: str):
        return self.inner.list_files(prefix)

    def presign(self, key: str, expires_seconds: int) -> str:
        return self.inner.presign(key, expires_seconds)


def stored_names(store: Store, tape_id: str = TAPE_ID) -> list[str]:
    return [f.name for f in store.list_files(tape_prefix(tape_id))]


def stored_bytes(store: Store, name: str, cache: Path, tape_id: str = TAPE_ID) -> bytes:
    return store.local_path(f"{tape_prefix(tape_id)}/{name}", cache).read_bytes()


def test_publish_writes_every_file_then_the_manifest(store: Store, tape_dir, tmp_path) -> None:
    written = publish(store, tape_dir, TAPE_ID, GIVEN)

    assert written == {**GIVEN, "files": EXPECTED}
    assert published_manifest(store, TAPE_ID) == written
    assert store.read_text(f"tapes/{TAPE_ID}/manifest.json") == (
        json.dumps(written, indent=2, sort_keys=True) + "\n"
    )
    assert stored_names(store) == ["dictionary.csv", "manifest.json", "report.html", "tape.csv"]
    for name, data in FILES.items():
        assert stored_bytes(store, name, tmp_path / "cache") == data, name
        assert store.sha256(f"tapes/{TAPE_ID}/{name}") == EXPECTED[name]["sha256"]
    assert list_published(store) == [TAPE_ID]

    if isinstance(store, S3Store):  # every object in the bucket, encrypted at rest
        listed = store.client.list_objects_v2(Bucket=store.bucket)["Contents"]
        keys = sorted(o["Key"] for o in listed)
        assert keys == [
            f"sale/tapes/{TAPE_ID}/{n}"
            for n in ("dictionary.csv", "manifest.json", "report.html", "tape.csv")
        ]
        for key in keys:
            head = store.client.head_object(Bucket=store.bucket, Key=key)
            assert head.get("ServerSideEncryption") == "AES256", key


def test_an_interrupted_publish_has_no_manifest_and_a_rerun_finishes_it(
    store: Store, tape_dir
) -> None:
    flaky = Flaky(store, fail_on_put=2)
    with pytest.raises(ConnectionError):
        publish(flaky, tape_dir, TAPE_ID, GIVEN)
    assert flaky.uploaded == ["dictionary.csv"]
    assert stored_names(store) == ["dictionary.csv"]
    assert not store.exists(f"tapes/{TAPE_ID}/manifest.json")
    assert published_manifest(store, TAPE_ID) is None
    assert list_published(store) == []
    with pytest.raises(DebtflowError, match="not published"):
        download_links(store, TAPE_ID, 60)

    again = Flaky(store)
    assert publish(again, tape_dir, TAPE_ID, GIVEN) == {**GIVEN, "files": EXPECTED}
    assert again.uploaded == ["report.html", "tape.csv", "manifest.json"]  # dictionary skipped
    assert stored_names(store) == ["dictionary.csv", "manifest.json", "report.html", "tape.csv"]
    assert list_published(store) == [TAPE_ID]


def test_a_corrupted_stored_file_is_uploaded_again(store: Store, tape_dir, tmp_path) -> None:
    flaky = Flaky(store, fail_on_put=3)
    with pytest.raises(ConnectionError):
        publish(flaky, tape_dir, TAPE_ID, GIVEN)
    assert flaky.uploaded == ["dictionary.csv", "report.html"]
    bad = tmp_path / "bad"
    bad.write_bytes(b"field,meaning\ntruncated")
    store.put(bad, f"tapes/{TAPE_ID}/dictionary.csv")

    again = Flaky(store)
    publish(again, tape_dir, TAPE_ID, GIVEN)
    assert again.uploaded == ["dictionary.csv", "tape.csv", "manifest.json"]
    assert stored_bytes(store, "dictionary.csv", tmp_path / "cache") == FILES["dictionary.csv"]
    assert published_manifest(store, TAPE_ID) == {**GIVEN, "files": EXPECTED}


def test_a_read_back_mismatch_stops_before_the_manifest(store: Store, tape_dir) -> None:
    liar = Flaky(store, lie_about="report.html")
    with pytest.raises(DebtflowError) as raised:
        publish(liar, tape_dir, TAPE_ID, GIVEN)
    message = str(raised.value)
    assert "report.html" in message and TAPE_ID in message
    assert "0" * 64 in message and EXPECTED["report.html"]["sha256"] in message
    assert liar.uploaded == ["dictionary.csv", "report.html"]
    assert published_manifest(store, TAPE_ID) is None
    assert list_published(store) == []


def test_a_published_tape_never_changes(store: Store, tape_dir, tmp_path) -> None:
    first = publish(store, tape_dir, TAPE_ID, GIVEN)

    same = Flaky(store)
    assert publish(same, tape_dir, TAPE_ID, GIVEN) == first
    assert same.uploaded == []

    other = Flaky(store)
    with pytest.raises(DebtflowError, match=f"tape {TAPE_ID} is already published"):
        publish(other, tape_dir, TAPE_ID, {**GIVEN, "row_count": 119_999})
    (tape_dir / "tape.csv").write_bytes(b"account_ref\nrebuilt\n")
    with pytest.raises(DebtflowError, match="already published"):
        publish(other, tape_dir, TAPE_ID, GIVEN)
    assert other.uploaded == []
    assert published_manifest(store, TAPE_ID) == first
    assert stored_bytes(store, "tape.csv", tmp_path / "cache") == TAPE


def test_list_published_names_only_finished_tapes(store: Store, tape_dir) -> None:
    assert list_published(store) == []
    publish(store, tape_dir, "2026-12-31", GIVEN)
    publish(store, tape_dir, "2026-10-31", GIVEN)
    with pytest.raises(ConnectionError):
        publish(Flaky(store, fail_on_put=3), tape_dir, TAPE_ID, GIVEN)
    assert store.list_dirs("tapes") == ["2026-10-31", "2026-11-30", "2026-12-31"]
    assert list_published(store) == ["2026-10-31", "2026-12-31"]


def test_download_links_serve_the_published_bytes(store: Store, tape_dir) -> None:
    publish(store, tape_dir, TAPE_ID, GIVEN)
    links = download_links(store, TAPE_ID, 300)
    assert sorted(links) == ["dictionary.csv", "report.html", "tape.csv"]
    for name, url in links.items():
        if isinstance(store, S3Store):
            assert url.startswith("http://127.0.0.1:") and "X-Amz-Expires=300" in url, url
            assert "X-Amz-Algorithm=AWS4-HMAC-SHA256" in url and "X-Amz-Signature=" in url
        else:
            assert url == (store.root / "tapes" / TAPE_ID / name).resolve().as_uri()
        with urllib.request.urlopen(url, timeout=10) as response:
            assert response.read() == FILES[name], name
    for wrong in (0, 8 * 24 * 3600):
        with pytest.raises(DebtflowError, match="1 to 604800 seconds"):
            download_links(store, TAPE_ID, wrong)


def test_missing_keys(store: Store) -> None:
    assert store.sha256("tapes/none/tape.csv") is None
    assert store.read_text("tapes/none/manifest.json") is None
    assert store.exists("tapes/none/manifest.json") is False


def test_the_callers_file_list_must_match_the_folder(tmp_path, tape_dir) -> None:
    store = LocalStore(tmp_path / "store")
    stale = {**GIVEN, "files": {"tape.csv": {"sha256": "ab" * 32, "bytes": len(TAPE)}}}
    with pytest.raises(DebtflowError, match="the manifest says tape.csv"):
        publish(store, tape_dir, TAPE_ID, stale)
    assert not (tmp_path / "store").exists()
    agreeing = {**GIVEN, "files": {"tape.csv": EXPECTED["tape.csv"]}}
    assert publish(store, tape_dir, TAPE_ID, agreeing)["files"] == EXPECTED


@pytest.mark.parametrize("tape_id", ["", "..", "../x", "a/b", ".hidden", "a b"])
def test_tape_ids_are_one_plain_folder_name(tmp_path, tape_dir, tape_id) -> None:
    with pytest.raises(DebtflowError, match="tape id"):
        publish(LocalStore(tmp_path / "store"), tape_dir, tape_id, GIVEN)


def test_a_folder_with_only_a_manifest_is_refused(tmp_path) -> None:
    folder = tmp_path / "empty"
    folder.mkdir()
    (folder / "manifest.json").write_text("{}")
    with pytest.raises(DebtflowError, match="no files to publish"):
        publish(LocalStore(tmp_path / "store"), folder, TAPE_ID, GIVEN)
