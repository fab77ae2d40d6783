"""End to end on a small simulated world: the daily run is idempotent for its business date.

Everything is real: the simulator writes landing batches, DuckDB loads them, dbt builds the
marts, GX validates, LightGBM trains and scores, the ledger and outbox are written, and the flow
runs on Prefect's ephemeral server inside a test harness.
"""

from __future__ import annotations

import os
import re
from datetime import UTC, date, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path

import pytest

from debtflow.flows.core.settings import get_settings
from debtflow.flows.core.warehouse import connect

pytestmark = pytest.mark.slow

AS_OF = date(2026, 11, 20)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("e2e") / "home"
    mp = pytest.MonkeyPatch()
    mp.setenv("DEBTFLOW_HOME", str(home))
    from debtflow.flows.build import transform
    from debtflow.flows.core.settings import get_settings
    from debtflow.flows.dunning import send
    from debtflow.flows.ingest import ingest
    from debtflow.flows.simulation.simulation import simulate
    from debtflow.models import train

    # the daily run plans at 06:00 in Amsterdam, before the sending window opens
    mp.setattr(send, "_now", lambda: datetime(2026, 11, 20, 5, 0, tzinfo=UTC))
    settings = get_settings()
    simulate(2_000, 18, 11, home, AS_OF, 3)
    ingest.ingest(settings, AS_OF - timedelta(days=1))
    transform.build(settings, AS_OF - timedelta(days=1))
    train.train(settings, AS_OF - timedelta(days=1), home / "truth")
    yield home
    mp.undo()


@pytest.fixture(scope="module")
def harness():
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=90):
        yield


def counts(home: Path) -> dict[str, int]:
    """Rows per table, except the list of debtors the last build recomputed (none on a re-run)."""
    from debtflow.flows.core.warehouse import row_counts

    with connect(get_settings()) as con:
        counts = row_counts(con)
    counts.pop("intermediate.changed_debtors")
    return counts


def outbox(home: Path) -> list[str]:
    return sorted(p.name for p in (home / "outbox").rglob("*") if p.is_file())


def test_daily_run_twice_for_the_same_date_changes_nothing(world: Path, harness) -> None:
    """The daily run plans at 06:00: the call list and the agency file go out, the messages wait
    for the sending window; the dunning-send flow then sends each once."""
    from debtflow.flows.core.settings import get_settings
    from debtflow.flows.daily import daily
    from debtflow.flows.dunning import dunning

    first = daily(AS_OF)
    after_first = counts(world)
    files = outbox(world)
    second = daily(AS_OF)
    assert counts(world) == after_first and outbox(world) == files
    assert first["cached"] == [] and second["cached"] == ["transform", "score"]
    third = daily(AS_OF, force=True)  # rebuilt and rescored for real: still nothing changes
    assert third["cached"] == [] and counts(world) == after_first
    planned = first["stages"]["dunning"]["planned"]
    assert planned["planned_total"] > 0
    assert second["stages"]["dunning"]["planned"]["planned_total"] == 0
    waiting = first["stages"]["dunning"]["sent"]["waiting"]
    assert waiting == {
        "outside_hours": planned["planned_total"] - first["stages"]["dunning"]["sent"]["sent"]
    }

    sent = dunning.send(get_settings(), AS_OF, at=datetime(2026, 11, 20, 10, 0))  # 10:00 local
    assert sent["sent"] == sum(waiting.values()) and sent["waiting"] == {}
    again = dunning.send(get_settings(), AS_OF, at=datetime(2026, 11, 20, 11, 0))
    assert again["sent"] == 0

    with connect(get_settings()) as con:
        keys, distinct = con.execute(
            "select count(*), count(distinct idempotency_key) from dunning.ledger"
        ).fetchone()
        assert keys == distinct == planned["planned_total"]
        assert con.execute(
            "select count(*) from dunning.ledger where state <> 'sent'"
        ).fetchone() == (0,)
        per_message = con.execute(
            "select count(*) from dunning.ledger where channel not in ('phone', 'agency')"
        ).fetchone()[0]
        lists = con.execute(
            "select count(distinct channel) from dunning.ledger where channel in ('phone', 'agency')"
        ).fetchone()[0]
        assert len(outbox(world)) == per_message + lists  # a file per message, a list per day
        loop_back = con.execute(
            "select count(*) from raw.contact_events where _batch_id like 'debtflow-dunning-%'"
        ).fetchone()[0]
        assert loop_back == keys  # every send comes back as a contact event
        scored, overdue = con.execute(
            "select (select count(*) from ml.debtor_scores where as_of = ?), "
            "(select count(*) from marts.debtor_features where overdue_balance > 0)",
            [AS_OF],
        ).fetchone()
        assert scored == overdue > 0
        for table in ("raw.invoices", "marts.debtor_features", "ml.debtor_scores"):
            assert after_first[table] > 0
        assert con.execute("select as_of, flow, status from ops.run_log").fetchall() == [
            (AS_OF, "daily", "completed")
        ]


def test_each_run_publishes_its_summary_as_an_artifact(world: Path, harness) -> None:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

    with get_client(sync_client=True) as client:
        runs = client.read_artifacts(
            artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=["daily-run"]))
        )
    assert len(runs) == 3  # the three runs of the test above
    first = min(runs, key=lambda a: a.created).data
    with connect(get_settings()) as con:
        planned = con.execute(
            "select step, channel, count(*) from dunning.ledger where as_of = ? group by 1, 2",
            [AS_OF],
        ).fetchall()
        scored, version = con.execute(
            "select count(*), any_value(model_version) from ml.debtor_scores where as_of = ?",
            [AS_OF],
        ).fetchone()
    assert first.startswith(f"## Daily run {AS_OF}: completed")
    for step, channel, n in planned:
        assert f"| {step} | {channel} | {n:,} |" in first
    assert "| score | " in first and f"{scored:,} debtors scored" in first
    assert f"| collectability | {version} | {scored:,} |" in first
    assert "| transform (cached) |" in sorted(runs, key=lambda a: a.created)[1].data
    assert "report.html" in first and "@" not in first  # links, and no e-mail addresses


def test_every_landed_row_is_loaded_or_quarantined(world: Path, harness) -> None:
    with connect(get_settings()) as con:
        for table, loaded in con.execute(
            "select table_name, sum(rows_loaded) from raw.load_log "
            "where table_name is not null group by 1"
        ).fetchall():
            assert con.execute(f"select count(*) from raw.{table}").fetchone()[0] == loaded
        assert con.execute(
            "select count(*) from raw.load_log where rows_read <> rows_loaded + rows_quarantined"
        ).fetchone() == (0,)


# --- the daily report: what a person sees of the run -------------------------------------------


class Page(HTMLParser):
    """What a reader sees of a report: its tiles (label -> value), its tables (caption -> rows
    of cell texts), its text; and every tag with its attributes, to check what it would fetch."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict]] = []
        self.tiles: dict[str, str] = {}
        self.tables: dict[str, list[list[str]]] = {}
        self.text: list[str] = []
        self._classes: list[str] = []
        self._label = self._caption = ""
        self._h3: list[str] | None = None
        self._rows: list[list[str]] | None = None
        self._cell: list[str] | None = None
        self.feed(text)

    def handle_starttag(self, tag: str, attrs: list) -> None:
        self.tags.append((tag, dict(attrs)))
        if tag == "div":
            self._classes.append(dict(attrs).get("class") or "")
        elif tag == "h3":
            self._h3 = []
        elif tag == "table":
            self._rows = self.tables.setdefault(self._caption or f"table {len(self.tables)}", [])
            self._caption = ""
        elif tag == "tr" and self._rows is not None:
            self._rows.append([])
        elif tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag == "div" and self._classes:
            self._classes.pop()
        elif tag == "h3" and self._h3 is not None:
            self._caption, self._h3 = "".join(self._h3).strip(), None
        elif tag == "table":
            self._rows = None
        elif tag in ("td", "th") and self._cell is not None and self._rows:
            self._rows[-1].append("".join(self._cell).strip())
            self._cell = None

    def handle_data(self, data: str) -> None:
        self.text.append(data)
        for sink in (self._h3, self._cell):
            if sink is not None:
                sink.append(data)
        where = self._classes[-1] if self._classes else ""
        if where == "label":
            self._label = data.strip()
        elif where == "value":
            self.tiles[self._label] = data.strip()

    def table(self, caption_start: str) -> list[dict[str, str]]:
        """The rows of the table whose caption starts so, as dicts by column heading."""
        (head, *rows), *_ = (t for c, t in self.tables.items() if c.startswith(caption_start))
        return [dict(zip(head, row, strict=True)) for row in rows]


def day_figures() -> dict:
    """The day's figures straight from the warehouse, by SQL of the test's own."""
    with connect(get_settings()) as con:
        batches, loaded, quarantined = con.execute(
            "select count(distinct batch_id), sum(rows_loaded), sum(rows_quarantined) "
            "from raw.load_log where batch_id like ?",
            [f"{AS_OF}T%"],
        ).fetchone()
        actions = con.execute(
            "select step, channel, count(*) from dunning.ledger where as_of = ? group by 1, 2",
            [AS_OF],
        ).fetchall()
        states = dict(
            con.execute(
                "select state, count(*) from dunning.ledger where as_of = ? group by 1", [AS_OF]
            ).fetchall()
        )
        open_balance = dict(
            con.execute(
                "select currency, sum(open_amount) from marts.fct_invoices "
                "where document_type = 'invoice' group by 1"
            ).fetchall()
        )
        people = con.execute(
            "select list(distinct name), list(distinct email), list(distinct phone_mobile), "
            "list(distinct debtor_id) from raw.customers"
        ).fetchone()
    return {
        "batches": batches,
        "loaded": int(loaded),
        "quarantined": int(quarantined),
        "actions": {(step, channel): n for step, channel, n in actions},
        "states": states,
        "open_balance": open_balance,
        "personal": [v for values in people for v in values if v and len(v) >= 5],
    }


def test_the_daily_report_is_self_contained_and_shows_the_warehouse(world: Path, harness) -> None:
    """After the runs above: one page that fetches nothing, whose figures are the warehouse's,
    with no personal data; the index lists the day."""
    report = world / "reports" / "daily" / f"{AS_OF}.html"
    text = report.read_text(encoding="utf-8")
    page = Page(text)
    for tag, attrs in page.tags:
        assert not (tag == "script" and "src" in attrs), attrs
        assert not (tag == "link" and "stylesheet" in (attrs.get("rel") or "")), attrs
        if tag != "a":  # an image, a script, a frame, a style sheet: inline or nothing
            for name in ("src", "href", "srcset", "data"):
                value = attrs.get(name) or ""
                assert "http" not in value and (not value or value.startswith("data:")), attrs
    assert re.search(r"@import|url\(\s*['\"]?http", text) is None
    images = [a for tag, a in page.tags if tag == "img"]
    assert len(images) >= 4 and all(a["src"].startswith("data:image/png;base64,") for a in images)

    want = day_figures()
    assert want["loaded"] > 0 and want["actions"] and want["open_balance"]
    assert page.tiles["Rows loaded"] == f"{want['loaded']:,}"
    assert f"{want['loaded']:,} rows loaded, {want['quarantined']:,} quarantined" in text
    steps = page.table("Actions by step and channel")
    assert {(r["Step"], r["Channel"]): int(r["Actions"].replace(",", "")) for r in steps} == (
        want["actions"]
    )
    per_channel: dict[str, int] = {}
    for (_, channel), n in want["actions"].items():
        per_channel[channel] = per_channel.get(channel, 0) + n
    shown: dict[str, int] = {}
    for r in steps:
        shown[r["Channel"]] = shown.get(r["Channel"], 0) + int(r["Actions"].replace(",", ""))
    assert shown == per_channel
    receivables = page.table("Open receivables at")
    assert {r["Currency"]: r["Open balance"] for r in receivables} == {
        currency: f"{amount:,.2f}" for currency, amount in want["open_balance"].items()
    }
    for currency, amount in want["open_balance"].items():
        assert page.tiles[f"Open receivables {currency}"] == f"{amount:,.2f}"

    seen = re.sub(r"data:image/png;base64,[A-Za-z0-9+/=]+", "", text)
    assert [p for p in want["personal"] if p in seen] == []  # names, e-mails, phones, debtor ids

    index = (world / "reports" / "index.html").read_text(encoding="utf-8")
    verdict = re.search(r'<meta name="debtflow-verdict" content="([^"]*)"', text).group(1)
    assert f'href="daily/{AS_OF}.html"' in index
    assert verdict.removeprefix(f"{AS_OF}: ") in index


def test_status_prints_the_days_verdict_first(world: Path, harness, capsys) -> None:
    """`debtflow status` after the day's messages went out at 10:00: the ledger says so."""
    from debtflow.flows import cli

    want = day_figures()
    planned, sent, failed = (
        sum(want["states"].values()),
        want["states"].get("sent", 0),
        want["states"].get("failed", 0),
    )
    assert sent == planned > 0  # the test above sent them all
    batches = f"{want['batches']} batch{'' if want['batches'] == 1 else 'es'}"
    quarantined = f"{want['quarantined']:,} row{'' if want['quarantined'] == 1 else 's'}"
    verdict = (
        f"{AS_OF}: completed; {batches} loaded, {quarantined} quarantined; "
        f"{planned:,} actions planned, {sent:,} sent, {failed:,} failed"
    )
    environ = dict(os.environ)  # main() sets Prefect's defaults for the process
    try:
        assert cli.main(["status"]) == 0  # the last day run
        default = capsys.readouterr().out
        assert cli.main(["status", "--as-of", AS_OF.isoformat()]) == 0
        given = capsys.readouterr().out
    finally:
        os.environ.clear()
        os.environ.update(environ)
    assert default == given
    lines = given.splitlines()
    assert lines[0] == verdict
    assert "Dunning today" in lines and "Receivables" in lines and "The run" in lines
    for (step, channel), n in want["actions"].items():
        assert re.search(rf"^\s+{step}\s+{channel}\s+{n:,}\s", given, re.M), (step, channel)
    assert not given.lstrip().startswith("{")  # words, not JSON


def test_a_failed_run_still_writes_its_report_naming_the_stage(
    world: Path, harness, monkeypatch
) -> None:
    """Last in this module: it leaves the day failed. The report says where and why."""
    from debtflow.flows.build import transform
    from debtflow.flows.core.errors import DebtflowError
    from debtflow.flows.core.settings import get_settings
    from debtflow.flows.daily import daily
    from debtflow.flows.ops import daily_report

    def broken(settings, as_of, **kwargs):
        raise DebtflowError("dbt build failed: model fct_invoices: out of disk")

    monkeypatch.setattr(transform, "build", broken)
    with pytest.raises(DebtflowError, match="out of disk"):
        daily(AS_OF, force=True)  # force: no cached build to fall back on
    text = (world / "reports" / "daily" / f"{AS_OF}.html").read_text(encoding="utf-8")
    page = Page(text)
    verdict = re.search(r'<meta name="debtflow-verdict" content="([^"]*)"', text).group(1)
    assert verdict.startswith(f"{AS_OF}: failed at transform; ")
    assert page.tiles["Run"] == "failed"
    assert "DebtflowError: dbt build failed: model fct_invoices: out of disk" in text
    stages = {r["Stage"]: r["Detail"] for r in page.table("Seconds and rows per stage")}
    assert stages["transform"] == "FAILED" and stages["score"] == "not run"
    assert stages["ingest"] not in ("FAILED", "not run")
    assert "Raw batches: passed" in text
    index = (world / "reports" / "index.html").read_text(encoding="utf-8")
    assert '<li class="failed">' in index and "failed at transform" in index
    status = daily_report.status(get_settings())
    assert status.startswith(f"{AS_OF}: failed at transform; ")
    assert "What failed" in status and "out of disk" in status
