"""What `debtflow` prints: a short summary for a person by default, the service's result as JSON
with --json (before or after the command), a table with a header for a list (or a plain "nothing"),
and progress on stderr so that stdout stays the result. The daily run is stubbed: its summary is
checked on a result shaped like the flow's, per-feature drift and all."""

from __future__ import annotations

import io
import json
from datetime import datetime
from pathlib import Path

import pytest

from debtflow.flows import cli
from debtflow.flows.core import output, progress
from debtflow.flows.core.settings import SOURCE_ROOT, get_settings
from debtflow.flows.core.warehouse import TAPES, connect
from debtflow.flows.dunning import policy
from debtflow.flows.ingest import quarantine
from debtflow.flows.ops import summaries
from debtflow.flows.tape import tape

LANDING = Path(__file__).parents[1] / "data" / "bad_inputs" / "negative_amount"
POLICY = SOURCE_ROOT / "flows" / "dunning" / "policy.yml"


def run(capsys: pytest.CaptureFixture, *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def loaded(home: Path, capsys: pytest.CaptureFixture) -> Path:
    """A home with one batch loaded: three rows, one quarantined (a negative amount)."""
    assert cli.main(["ingest", "--landing", str(LANDING), "--as-of", "2026-03-02"]) == 0
    capsys.readouterr()
    return home


def test_json_is_the_result_before_or_after_the_command_and_the_summary_is_short(home, capsys):
    checked = policy.load(POLICY)
    expected = {
        "file": str(POLICY),
        "valid": True,
        "version": checked.label,
        "ladders": {lad.name: [s.name for s in lad.steps] for lad in checked.ladders},
        "channel_choice": "by expected value per payer segment, shrunk with a prior of 50 "
        "contacted debtors",
        "pre_due": "3 days before due at p_late >= 0.6",
        "payment_plans": "offered at reminder_2 to grades 4, 5, 6, 7",
        "experiments": {},
    }
    for argv in (["--json", "dunning", "check-policy", str(POLICY)],
                 ["dunning", "check-policy", str(POLICY), "--json"]):  # fmt: skip
        code, out, _ = run(capsys, *argv)
        assert code == 0 and json.loads(out) == expected
    code, out, _ = run(capsys, "dunning", "check-policy", str(POLICY))
    lines = out.splitlines()
    assert code == 0 and len(lines) == 1 + len(expected["ladders"]) + 3
    assert lines[0] == f"{POLICY} is valid (version {checked.label})."
    assert lines[1] == "  ladder default: " + " -> ".join(expected["ladders"]["default"])
    assert lines[-1] == "  payment plans: offered at reminder_2 to grades 4, 5, 6, 7"


def test_ingest_says_what_it_loaded_with_progress_on_stderr(home, capsys):
    argv = ["ingest", "--landing", str(LANDING), "--as-of", "2026-03-02"]
    code, out, err = run(capsys, *argv)
    assert code == 0
    assert out.splitlines() == [
        "2026-03-02T0600: loaded (3 rows loaded, 1 quarantined)",
        "1 batch loaded: 3 rows, 1 quarantined",
        "See them: debtflow quarantine list",
    ]
    (line,) = [x for x in err.splitlines() if x.startswith("  [")]
    assert line.startswith("  [1/1] batch 2026-03-02T0600: 3 rows loaded, 1 quarantined ... ")
    code, out, _ = run(capsys, *argv, "--json")
    assert json.loads(out) == [
        {"batch_id": "2026-03-02T0600", "status": "skipped", "files": [], "released": 0}
    ]
    code, out, _ = run(capsys, *argv)
    assert out == "No new batch to load; 1 batch already loaded (2026-03-02T0600).\n"


def test_list_commands_print_a_header_or_say_there_is_nothing(loaded, capsys):
    code, out, _ = run(capsys, "quarantine", "list")
    header, *rows = out.splitlines()
    assert header.split() == ["BATCH", "FILE", "COLUMN", "STATUS", "ROWS", "REASON"]
    assert len(rows) == 1 and rows[0].split()[:5] == [
        "2026-03-02T0600", "invoices.csv", "amount", "quarantined", "1"]  # fmt: skip
    assert header.index("ROWS") + len("ROWS") == rows[0].index(" 1 ") + 2  # right-aligned
    _, out, _ = run(capsys, "quarantine", "list", "--json")
    with connect(get_settings()) as con:
        groups = quarantine.summary(con)
    assert [tuple(g.values()) for g in json.loads(out)] == [tuple(g) for g in groups]

    assert run(capsys, "models", "list")[1] == (
        "No collectability model yet: run `debtflow train --model collectability`.\n"
    )
    assert json.loads(run(capsys, "models", "list", "--json")[1]) == []
    assert run(capsys, "tape", "list")[1].startswith("No tapes yet")
    assert json.loads(run(capsys, "tape", "list", "--json")[1]) == []

    with connect(get_settings()) as con:
        con.execute(
            f"insert into {TAPES} (tape_id, kind, as_of, pool, state, receivables, created_at, url)"
            " values ('20260302-consumer-nl-eur-1', 'bidder', '2026-03-02', 'consumer-nl-eur',"
            " 'published', 12345, '2026-03-02 07:00', '/tapes/20260302-consumer-nl-eur-1/')"
        )
        listing = tape.listing(con)
    _, out, _ = run(capsys, "tape", "list")
    header, row, where = out.splitlines()
    assert header.split()[:3] == ["TAPE", "KIND", "AS"] and "RECEIVABLES" in header
    assert row.split()[:4] == ["20260302-consumer-nl-eur-1", "bidder", "2026-03-02", "published"]
    assert "12,345" in row and where == "Published in /tapes/"
    assert json.loads(run(capsys, "tape", "list", "--json")[1]) == json.loads(
        output.as_json(listing)
    )


def test_an_error_stays_one_line_on_stderr_with_json_too(loaded, capsys):
    code, out, err = run(capsys, "--json", "quarantine", "show", "--batch", "2026-03-20T0600")
    assert code == 1 and out == ""
    assert err.startswith("debtflow quarantine: batch 2026-03-20T0600 was never loaded")


FEATURES = {f"feature_{i:02d}": round(0.003 * i, 4) for i in range(70)}


def daily_result() -> dict:
    """A daily run's result as the flow returns it (flows/daily.py), with 70 feature PSIs."""
    drift = {"threshold": 0.2, "score_psi": 0.4542, "max_feature_psi": 0.207,
             "warnings": ["score: PSI 0.454 > 0.2", "feature_69: PSI 0.207 > 0.2"],
             "top_features": dict(list(FEATURES.items())[-10:]), "features": FEATURES}  # fmt: skip
    validation = {"suites": 6, "rows": 26258, "blocking_failures": 0, "warnings": 1,
                  "quality_page": "/home/reports/data_quality/index.html"}  # fmt: skip
    return {
        "as_of": "2026-11-20",
        "seconds": {"ingest": 3.1, "validate_raw": 4.2, "transform": 31.5,
                    "validate_marts": 2.3, "score": 0.4, "dunning": 0.6, "publish": 0.3},
        "stages": {
            "ingest": {"batches_loaded": 1, "batches_skipped": 2, "rows_loaded": 26258,
                       "rows_quarantined": 3, "rows_held": 0, "rows_released": 0,
                       "batch_ids": ["2026-11-20T0600"]},
            "validate_raw": validation,
            "transform": {"nodes": {"model": 31, "test": 157, "unit_test": 7, "operation": 7},
                          "rows": {"debtor_features": 12400, "ar_aging": 57},
                          "input_key": "10b1", "cached": False},
            "validate_marts": {**validation, "suites": 3, "rows": 4803, "warnings": 0},
            "score": {"as_of": "2026-11-20", "model_version": "20261120T060000-f7801a9e",
                      "rows": 1640, "rows_with_reasons": 1640, "rows_with_exact_reasons": 1640,
                      "mean_p_collect_30d": 0.3268, "grades": {str(g): 164 for g in range(1, 11)},
                      "drift": drift, "seconds": 0.34, "seconds_reasons": 0.02, "cached": False},
            "dunning": {
                "planned": {"as_of": "2026-11-20", "policy": "2026-11-20+42a79c133da1",
                            "planned": {"reminder_1": {"email": 1200, "letter": 30}},
                            "planned_total": 1230, "already_planned": 3,
                            "suppressed": {"placed_with_agency": 29, "active_plan": 2},
                            "waiting": {"not_due_yet": 29}, "carried_over": 0,
                            "superseded": {}, "expired": 0},
                "sent": {"as_of": "2026-11-20", "at": "2026-11-20T06:12+00:00", "sent": 0,
                         "by_channel": {}, "failed": {}, "waiting": {"sending_hours": 1230},
                         "outbox_only": []},
            },
            "publish": {"target": "/home/published", "as_of": "2026-11-20",
                        "published_at": datetime(2026, 11, 20, 6, 13),
                        "marts": {"debtor_features": 12400, "ar_aging": 57}},
        },
        "cached": [],
        "links": {"Data docs (validation)": "/home/reports/data_docs/index.html",
                  "Model evaluation report": "/home/registry/report.html",
                  "Published marts": "/home/published", "Outbox": "/home/outbox"},
        "rows": {f"marts.table_{i:02d}": 1000 * i for i in range(41)},
    }  # fmt: skip


def test_run_daily_prints_a_dozen_lines_and_json_prints_it_all(home, monkeypatch, capsys):
    from debtflow.flows import daily

    monkeypatch.setattr(daily, "daily", lambda as_of, force=False: daily_result())
    code, out, _ = run(capsys, "run", "daily", "--as-of", "2026-11-20", "--json")
    assert code == 0 and json.loads(out) == json.loads(output.as_json(daily_result()))
    assert len(out.splitlines()) > 200  # what a person used to read

    code, out, _ = run(capsys, "run", "daily", "--as-of", "2026-11-20")
    lines = out.splitlines()
    assert code == 0 and len(lines) <= 20, out
    assert lines[0] == "Daily run 2026-11-20: completed in 42.4 s"
    assert lines[1].split() == ["STAGE", "TIME", "RESULT"]
    text = "\n".join(lines)
    for fact in ("26,258 rows loaded from 1 new batch, 3 quarantined", "26,258 rows in 6 suites",
                 "1,640 debtors scored with 20261120T060000-f7801a9e", "1,230 planned, 0 sent",
                 "2 warnings: score: PSI 0.454 > 0.2, feature_69: PSI 0.207 > 0.2",
                 "Warehouse: 41 tables, 820,000 rows"):  # fmt: skip
        assert fact in text, fact
    assert "feature_12" not in text  # per-feature drift only when it warns


def test_readable_cuts_long_lists_and_leaves_per_feature_drift_out():
    lines = output.readable(
        {
            "as_of": "2026-11-20T06:12:00+00:00",
            "rows": 1234567,
            "batches": [f"2026-11-{d:02d}T0600" for d in range(1, 21)],
            "drift": {"score_psi": 0.01, "max_feature_psi": 0.05, "warnings": [], "features": FEATURES},
            "tapes": [{"tape_id": f"t{i}", "receivables": i} for i in range(12)],
        }
    )  # fmt: skip
    assert lines[:4] == [
        "as_of: 2026-11-20 06:12 UTC",
        "rows: 1,234,567",
        "batches: 2026-11-01T0600, 2026-11-02T0600, 2026-11-03T0600, 2026-11-04T0600, "
        "2026-11-05T0600 … and 15 more",
        "drift: score PSI 0.01, max feature PSI 0.05; no drift warning",
    ]
    assert lines[4] == "tapes:" and lines[5].split() == ["tape_id", "receivables"]
    assert lines[-1] == "  … and 4 more" and len(lines) == 6 + output.MAX_ITEMS + 1


def test_amounts_are_per_currency_and_tables_align():
    assert output.amounts({"NOK": {"total": "1200"}, "EUR": {"total": "495.6"}}, "total") == (
        "EUR 495.60, NOK 1,200.00"
    )
    lines = output.table(
        [{"tape": "a", "n": 5}, {"tape": "longer", "n": 12345}], [("TAPE", "tape"), ("N", "n")]
    )
    assert lines == ["TAPE         N", "a            5", "longer  12,345"]
    assert summaries.tapes_built([], None) == [
        "No tape: no receivable is unresolved long enough to sell."
    ]


def test_the_backtest_shows_the_oracle_only_when_a_truth_folder_was_given():
    pool = {
        "pool": "consumer-nl-eur",
        "currency": "EUR",
        "receivables": 287,
        "debtors": 110,
        "predicted_recovery": 9594.67,
        "realised_recovery": 10145.24,
        "recovery_error": -0.0543,
        "error_low": -0.2,
        "error_high": 0.12,
        "price_error": -0.012,
        "sell_predicted": False,
        "decision_right": True,
        "material": True,
    }
    result = {"as_of": "2025-08-20", "months": 12, "pools": [pool], "within_tolerance": 1,
              "pools_large_enough": 0, "large_enough_within_tolerance": 0,
              "price_interval_level": 0.9, "price_intervals_covering": 1,
              "decisions_judged": 1, "decisions_right": 1}  # fmt: skip
    plain = summaries.value_backtested(result, None)
    assert "ORACLE" not in plain[0] and len(plain) == 5
    pool.update(oracle_recovery=9901.0, oracle_error=-0.024, oracle_chance_within=0.77)
    result.update(oracle_within_tolerance=1, perfect_expected_within=0.8)
    lines = summaries.value_backtested(result, None)
    assert lines[0].split()[8:12] == ["ORACLE", "P(ORACLE", "IN", "15%)"]
    assert lines[1].split()[11:13] == ["-2.4%", "77%"]
    assert lines[-1].startswith(
        "The oracle (the world's own hazards) is within 15% for 1 of 1 pool;"
    )
    assert "a perfect model would be for 0.8 on average" in lines[-1]


def test_progress_rewrites_one_line_in_a_terminal_and_writes_lines_elsewhere():
    plain, terminal = io.StringIO(), io.StringIO()
    for stream, live in ((plain, False), (terminal, True)):
        progress.start(stream, live=live)
        progress.working("  [1/2] batch a …")
        progress.done(progress.counted(1, 2, "batch a", 1.3))
        progress.note("  [2/2] model m ERROR ... 0.1 s")
        progress.stop()
    assert plain.getvalue() == "  [1/2] batch a ... 1.3 s\n  [2/2] model m ERROR ... 0.1 s\n"
    assert terminal.getvalue() == (
        "\r\x1b[K  [1/2] batch a …\r\x1b[K  [1/2] batch a ... 1.3 s"
        "\r\x1b[K  [2/2] model m ERROR ... 0.1 s\n"
    )
    progress.done("nobody asked")  # without start(): silent, as in a Prefect worker
