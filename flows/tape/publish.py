"""Publish a sale tape to the object store, all or nothing: tapes/<tape_id>/ and its manifest.

Data files go first, each read back and its SHA-256 compared with the local file; manifest.json
goes last, only when every file is verified, so a tape with a manifest is complete and a folder
without one is an unfinished publish (re-run it: verified files are skipped). A published tape is
immutable. On S3 every object is stored with server-side encryption (see core.storage).
"""

from __future__ import annotations

import json
import re
import tempfile
from pathlib import Path

from debtflow.flows.core.errors import DebtflowError
from debtflow.flows.core.storage import Store, sha256_file

TAPES = "tapes"
MANIFEST = "manifest.json"
_TAPE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


def tape_prefix(tape_id: str) -> str:
    if not _TAPE_ID.fullmatch(tape_id):
        raise DebtflowError(
            f"tape id {tape_id!r}: use letters, digits, '.', '_' and '-', starting with a letter "
            "or a digit"
        )
    return f"{TAPES}/{tape_id}"


def manifest_text(manifest: dict) -> str:
    """The manifest's bytes: the same dict always gives the same text."""
    return json.dumps(manifest, indent=2, sort_keys=True) + "\n"


def _local_files(local_dir: Path) -> list[Path]:
    """The files to publish: every file of local_dir but a manifest and hidden files."""
    if not local_dir.is_dir():
        raise DebtflowError(f"tape folder {local_dir} does not exist")
    nested = sorted(p.name for p in local_dir.iterdir() if p.is_dir())
    if nested:
        raise DebtflowError(f"tape folder {local_dir} holds folders {nested}: a tape is flat")
    files = sorted(
        p for p in local_dir.iterdir() if p.name != MANIFEST and not p.name.startswith(".")
    )
    if not files:
        raise DebtflowError(f"tape folder {local_dir} holds no files to publish")
    return files


def publish(store: Store, local_dir: Path, tape_id: str, manifest: dict) -> dict:
    """Publish every file of local_dir (data files, report, dictionary: everything except a
    manifest) under tapes/<tape_id>/, then manifest.json last.

    Each file is skipped when the store already holds it with the same SHA-256 (a re-run after an
    interruption), else uploaded, read back and its SHA-256 compared: a mismatch raises naming
    the file, the tape and both digests. The manifest written is `manifest` plus "files":
    {name: {sha256, bytes}} of the local files (a "files" entry given by the caller must agree
    with them); it is uploaded only when every file is verified. Returns the manifest as written.
    A different manifest already published under tape_id raises (a tape is immutable); the same
    one is a no-op.
    """
    prefix = tape_prefix(tape_id)
    paths = _local_files(local_dir)
    files = {p.name: {"sha256": sha256_file(p), "bytes": p.stat().st_size} for p in paths}
    for name, facts in (manifest.get("files") or {}).items():
        if files.get(name) != facts:
            raise DebtflowError(
                f"tape {tape_id}: the manifest says {name} is {facts}, the file in {local_dir} "
                f"is {files.get(name, 'missing')}; rebuild the tape before publishing it"
            )
    text = manifest_text({**manifest, "files": files})
    written = json.loads(text)  # as a reader will see it (tuples become lists, keys strings)

    existing = published_manifest(store, tape_id)
    if existing is not None:
        if existing == written:
            return written
        raise DebtflowError(
            f"tape {tape_id} is already published at {store.url}/{prefix} with another manifest; "
            "a published tape never changes: publish this one under a new tape id"
        )

    for path in paths:
        key, expected = f"{prefix}/{path.name}", files[path.name]["sha256"]
        if store.sha256(key) == expected:
            continue  # verified by an earlier, interrupted run
        store.put(path, key)
        _verify(store, key, expected, tape_id)

    with tempfile.TemporaryDirectory() as tmp:
        staged = Path(tmp) / MANIFEST
        staged.write_text(text, encoding="utf-8")
        store.put(staged, f"{prefix}/{MANIFEST}")
        _verify(store, f"{prefix}/{MANIFEST}", sha256_file(staged), tape_id)
    return written


def _verify(store: Store, key: str, expected: str, tape_id: str) -> None:
    stored = store.sha256(key)
    if stored != expected:
        raise DebtflowError(
            f"tape {tape_id}: {key.rsplit('/', 1)[-1]} read back from {store.url} has sha256 "
            f"{stored}, the local file {expected}; the tape is not published (no manifest), "
            "publish it again"
        )


def published_manifest(store: Store, tape_id: str) -> dict | None:
    """The manifest of a published tape; None while the tape is not (completely) published."""
    text = store.read_text(f"{tape_prefix(tape_id)}/{MANIFEST}")
    if text is None:
        return None
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise DebtflowError(f"tape {tape_id}: its {MANIFEST} is not JSON ({e})") from None


def list_published(store: Store) -> list[str]:
    """The ids of the tapes with a manifest, sorted; unfinished publishes are not listed."""
    try:
        ids = store.list_dirs(TAPES)
    except DebtflowError:  # a local store without a tapes folder yet
        return []
    return [t for t in ids if _TAPE_ID.fullmatch(t) and store.exists(f"{TAPES}/{t}/{MANIFEST}")]


def download_links(store: Store, tape_id: str, expires_seconds: int) -> dict[str, str]:
    """File name -> a URL to download it without credentials, for each file of the manifest."""
    manifest = published_manifest(store, tape_id)
    if manifest is None:
        raise DebtflowError(f"tape {tape_id} is not published at {store.url}")
    prefix = tape_prefix(tape_id)
    return {name: store.presign(f"{prefix}/{name}", expires_seconds) for name in manifest["files"]}
