"""The daily report without a world: its renderings, the index of days, and a report that cannot
be written never failing the run. tests/e2e/test_daily_run.py checks a real run's report
against the warehouse."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from debtflow.flows.core.settings import get_settings
from debtflow.flows.ops import daily_report, report_render
from debtflow.flows.ops.report_render import Chart, Link, Report, Section, Table, Tile

PNG = bytes.fromhex("89504e470d0a1a0a")  # enough of a PNG for a data: URI


def a_report(path: Path, as_of: str, status: str) -> Report:
    verdict = f"{as_of}: {status}; 1 batch loaded, 2 rows quarantined; 3 actions planned, 1 sent, 0 failed"
    return Report(
        as_of=as_of,
        status=status,
        verdict=verdict,
        tiles=[Tile("Run", status, tone="good"), Tile("Open receivables EUR", "1,234.50")],
        sections=[
            Section(
                "Dunning today",
                ["3 actions: see `debtflow dunning show` <for one debtor>"],
                [
                    Table(
                        ("Step", "Channel", "Actions"),
                        [("reminder_1", "email", "1,203")],
                        (False, False, True),
                        "Actions by step and channel",
                    )
                ],
            ),  # fmt: skip
            Section("Channels", ["history"], charts=[Chart(PNG, "pay rates")], terminal=False),
            Section("Reports", links=[Link("All days", str(path.parent.parent / "index.html"))]),
        ],
        path=path,
        generated_at="2026-11-20 06:00 UTC",
    )


def test_text_puts_the_verdict_first_and_aligns_the_tables(tmp_path: Path) -> None:
    report = a_report(tmp_path / "daily" / "2026-11-20.html", "2026-11-20", "completed")
    lines = report_render.text(report).splitlines()
    assert lines[0] == report.verdict
    assert "  Step        Channel  Actions" in lines
    assert "  reminder_1  email      1,203" in lines
    assert "Channels" not in lines  # history stays in the HTML


def test_html_is_one_file_that_fetches_nothing(tmp_path: Path) -> None:
    report = a_report(tmp_path / "daily" / "2026-11-20.html", "2026-11-20", "completed")
    page = report_render.render_html(report)
    assert "http" not in page and "<script" not in page and "<link" not in page
    assert '<img alt="pay rates" src="data:image/png;base64,iVBORw0KGgo=">' in page
    assert "<code>debtflow dunning show</code> &lt;for one debtor&gt;" in page  # escaped
    assert '<a href="../index.html">All days</a>' in page  # relative: the folder can move
    assert f'content="{report.verdict}"' in page


def test_the_index_lists_the_days_newest_first_with_their_verdicts(home: Path) -> None:
    settings = get_settings()
    folder = settings.reports_dir / "daily"
    folder.mkdir(parents=True)
    for as_of, status in (("2026-11-19", "completed"), ("2026-11-20", "failed")):
        report = a_report(folder / f"{as_of}.html", as_of, status)
        report.path.write_text(report_render.render_html(report), encoding="utf-8")
    (folder / "notes.html").write_text("not a day")
    index = daily_report.write_index(settings).read_text(encoding="utf-8")
    newest, older = index.index('href="daily/2026-11-20.html"'), index.index("2026-11-19.html")
    assert newest < older and "notes.html" not in index
    assert (
        '<li class="failed"><a href="daily/2026-11-20.html">2026-11-20</a> failed; 1 batch' in index
    )
    assert "http" not in index


def test_a_report_that_cannot_be_written_does_not_fail_the_run(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from prefect.logging import disable_run_logger

    from debtflow.flows import daily

    def broken(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(daily.daily_report, "write", broken)
    with disable_run_logger():
        assert daily._report(get_settings(), date(2026, 11, 20), {"status": "completed"}) is None
