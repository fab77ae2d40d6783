"""The same landing zone from a folder and from an S3 endpoint (moto over HTTP) loads the same."""

from __future__ import annotations

from pathlib import Path

import boto3
import duckdb

from debtflow.flows.core.settings import get_settings
from debtflow.flows.ingest import ingest

CORPUS = Path(__file__).parents[1] / "data" / "bad_inputs"
ZONES = ["dutch_dialect", "late_arriving_debtor", "truncated_last_line", "malformed_json_line"]


def upload(endpoint: str, bucket: str, prefix: str, folder: Path) -> None:
    s3 = boto3.client("s3", endpoint_url=endpoint)
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            s3.upload_file(str(path), bucket, f"{prefix}/{path.relative_to(folder).as_posix()}")


def dump(home: Path) -> dict:
    with duckdb.connect(str(home / "warehouse.duckdb")) as con:
        out = {}
        for (table,) in con.execute(
            "select table_name from information_schema.tables where table_schema = 'raw'"
        ).fetchall():
            drop = {"load_log": "loaded_at, etag", "quarantine": "quarantined_at"}.get(
                table, "_loaded_at"
            )
            out[table] = con.execute(
                f"select * exclude ({drop}) from raw.{table} order by all"
            ).fetchall()
        return out


def test_folder_and_s3_give_identical_raw_tables(tmp_path, monkeypatch, s3_endpoint) -> None:
    boto3.client("s3", endpoint_url=s3_endpoint).create_bucket(Bucket="billing")
    monkeypatch.setenv("DEBTFLOW_S3_ENDPOINT_URL", s3_endpoint)
    for zone in ZONES:
        upload(s3_endpoint, "billing", f"exports/{zone}", CORPUS / zone)
        homes = {}
        for kind, url in (("folder", str(CORPUS / zone)), ("s3", f"s3://billing/exports/{zone}")):
            homes[kind] = tmp_path / zone / kind
            monkeypatch.setenv("DEBTFLOW_HOME", str(homes[kind]))
            monkeypatch.setenv("DEBTFLOW_LANDING_URL", url)
            ingest.ingest(get_settings())
        assert dump(homes["folder"]) == dump(homes["s3"]), zone
        with duckdb.connect(str(homes["s3"] / "warehouse.duckdb")) as con:
            assert con.execute(
                "select count(*) from raw.load_log where etag is null"
            ).fetchone() == (0,)
            assert con.execute("select count(*) from raw.customers").fetchone() == (2,)


def test_s3_batches_already_loaded_are_skipped(tmp_path, monkeypatch, s3_endpoint) -> None:
    boto3.client("s3", endpoint_url=s3_endpoint).create_bucket(Bucket="again")
    upload(s3_endpoint, "again", "x", CORPUS / "negative_amount")
    monkeypatch.setenv("DEBTFLOW_S3_ENDPOINT_URL", s3_endpoint)
    monkeypatch.setenv("DEBTFLOW_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("DEBTFLOW_LANDING_URL", "s3://again/x")
    assert [r.status for r in ingest.ingest(get_settings())] == ["loaded"]
    assert [r.status for r in ingest.ingest(get_settings())] == ["skipped"]
