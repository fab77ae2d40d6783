"""The dunning planner and outbox sender on a hand-made debtor_features mart."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest
from model_views import create_model_view

from debtflow.flows.core.errors import DebtflowError
from debtflow.flows.core.settings import Settings, get_settings
from debtflow.flows.core.warehouse import connect, ensure_schema
from debtflow.flows.dunning import dunning

AS_OF = date(2026, 11, 20)

DEFAULTS = {
    "overdue_balance": Decimal("100.00"),
    "open_balance": Decimal("150.00"),
    "currency": "EUR",
    "max_days_past_due": 10,
    "n_overdue_invoices": 1,
    "has_email": True,
    "has_mobile": True,
    "email_bounced": False,
    "sms_bounced": False,
    "disputed_open_amount": Decimal("0.00"),
    "active_plan": False,
    "debt_restructuring": False,
    "bankrupt": False,
    "deceased": False,
    "debtor_type": "consumer",
    "country": "NL",
}
COLUMNS = ["debtor_id", "as_of", "oldest_overdue_invoice_id", *DEFAULTS]


@pytest.fixture
def settings(home: Path) -> Settings:
    return get_settings()


@pytest.fixture
def con(settings: Settings) -> duckdb.DuckDBPyConnection:
    con = connect(settings)
    ensure_schema(con)
    con.execute("create schema if not exists marts")
    con.execute(
        "create table marts.debtor_features (debtor_id varchar, as_of date,"
        " oldest_overdue_invoice_id varchar, overdue_balance decimal(18,2),"
        " open_balance decimal(18,2), currency varchar, max_days_past_due integer,"
        " n_overdue_invoices integer, has_email boolean, has_mobile boolean,"
        " email_bounced boolean, sms_bounced boolean, disputed_open_amount decimal(18,2),"
        " active_plan boolean, debt_restructuring boolean, bankrupt boolean, deceased boolean,"
        " debtor_type varchar, country varchar)"
    )
    create_model_view(con, "debtor_suppressions")
    yield con
    con.close()


def features(con, as_of: date, debtors: dict[str, dict]) -> None:
    """Replace the mart with one row per debtor (the mart holds one as_of at a time)."""
    con.execute("delete from marts.debtor_features")
    for debtor_id, overrides in debtors.items():
        row = {**DEFAULTS, **overrides}
        values = [debtor_id, as_of, overrides.get("invoice", f"INV-{debtor_id}")]
        values += [row[c] for c in DEFAULTS]
        con.execute(
            f"insert into marts.debtor_features ({', '.join(COLUMNS)})"
            f" values ({', '.join('?' * len(COLUMNS))})",
            values,
        )


def ledger(con) -> dict[str, tuple]:
    rows = con.execute(
        "select debtor_id, step, channel, amount_due, state, idempotency_key from dunning.ledger"
    ).fetchall()
    return {r[0]: r[1:] for r in rows}


@pytest.mark.parametrize(
    "dpd, step",
    [
        pytest.param(6, None, id="6-nothing-yet"),
        pytest.param(7, "reminder_1", id="7-reminder_1"),
        pytest.param(20, "reminder_1", id="20-reminder_1"),
        pytest.param(21, "reminder_2", id="21-reminder_2"),
        pytest.param(34, "reminder_2", id="34-reminder_2"),
        pytest.param(35, "final_notice", id="35-final_notice"),
        pytest.param(50, "phone", id="50-phone"),
        pytest.param(79, "phone", id="79-phone"),
        pytest.param(80, "agency", id="80-agency"),
        pytest.param(400, "agency", id="400-agency"),
    ],
)
def test_highest_step_reached_by_days_past_due(con, settings, dpd, step):
    features(con, AS_OF, {"D1": {"max_days_past_due": dpd}})
    result = dunning.plan(con, settings, AS_OF)
    assert ledger(con).get("D1", (None,))[0] == step
    assert result["below_first_step"] == (1 if step is None else 0)


@pytest.mark.parametrize(
    "overrides, channel",
    [
        pytest.param({}, "email", id="email"),
        pytest.param({"email_bounced": True}, "sms", id="bounced-email-to-sms"),
        pytest.param({"has_email": False}, "sms", id="no-email-to-sms"),
        pytest.param({"email_bounced": True, "sms_bounced": True}, "letter", id="both-bounced"),
        pytest.param({"has_email": False, "has_mobile": False}, "letter", id="no-contact"),
        pytest.param({"max_days_past_due": 35}, "letter", id="final-notice-always-letter"),
        pytest.param({"max_days_past_due": 60}, "phone", id="phone"),
        pytest.param({"max_days_past_due": 60, "has_mobile": False}, "letter", id="no-phone"),
        pytest.param({"max_days_past_due": 90}, "agency", id="agency"),
    ],
)
def test_channel_preference(con, settings, overrides, channel):
    features(con, AS_OF, {"D1": overrides})
    dunning.plan(con, settings, AS_OF)
    assert ledger(con)["D1"][1] == channel


def test_suppression_counts_per_reason(con, settings):
    features(
        con,
        AS_OF,
        {
            "OK": {},
            "PART": {"disputed_open_amount": Decimal("40.00")},
            "DISP": {"disputed_open_amount": Decimal("98.00")},
            "SMALL": {"overdue_balance": Decimal("4.99")},
            "NOK": {"overdue_balance": Decimal("40.00"), "currency": "NOK"},
            "PLAN": {"active_plan": True},
            "WSNP": {"debt_restructuring": True},
            "BANK": {"bankrupt": True},
            "DEAD": {"deceased": True, "bankrupt": True},
            "NULLS": {"active_plan": None, "deceased": None, "disputed_open_amount": None},
            "PAID": {"overdue_balance": Decimal("0.00"), "max_days_past_due": 0},
            "NEW": {"max_days_past_due": 3},
        },
    )
    result = dunning.plan(con, settings, AS_OF)
    assert result["suppressed"] == {
        "deceased": 1,
        "bankrupt": 1,
        "debt_restructuring": 1,
        "active_plan": 1,
        "disputed": 1,
        "below_min_amount": 2,
    }
    assert result["below_first_step"] == 1
    assert result["planned"] == {"reminder_1": {"email": 3}}
    assert result["planned_total"] == 3
    assert set(ledger(con)) == {"OK", "PART", "NULLS"}
    assert ledger(con)["PART"][2] == Decimal("60.00")  # only the undisputed part is dunned


def test_grade_comes_from_the_same_days_scores(con, settings):
    features(con, AS_OF, {"D1": {}, "D2": {}})
    con.execute(
        "insert into ml.debtor_scores (debtor_id, as_of, p_collect_30d, grade) values"
        " ('D1', ?, 0.9, 9), ('D2', ?, 0.1, 2)",
        [AS_OF, AS_OF - timedelta(days=1)],
    )
    dunning.plan(con, settings, AS_OF)
    grades = dict(con.execute("select debtor_id, grade from dunning.ledger").fetchall())
    assert grades == {"D1": 9, "D2": None}


def test_key_is_sha256_of_debtor_invoice_and_step(con, settings):
    features(con, AS_OF, {"D1": {"invoice": "INV-7"}})
    dunning.plan(con, settings, AS_OF)
    assert ledger(con)["D1"][4] == dunning.idempotency_key("D1", "INV-7", "reminder_1")


def test_replanning_same_day_and_next_day_adds_no_duplicates(con, settings):
    debtors = {
        "STAY": {"max_days_past_due": 10},
        "CROSS": {"max_days_past_due": 20},
        "FINAL": {"max_days_past_due": 40},
    }
    features(con, AS_OF, debtors)
    first = dunning.plan(con, settings, AS_OF)
    assert first["planned_total"] == 3

    again = dunning.plan(con, settings, AS_OF)
    assert again["planned_total"] == 0
    assert again["skipped_already_in_ledger"] == 3

    next_day = AS_OF + timedelta(days=1)
    features(
        con,
        next_day,
        {d: {**o, "max_days_past_due": o["max_days_past_due"] + 1} for d, o in debtors.items()},
    )
    tomorrow = dunning.plan(con, settings, next_day)
    assert tomorrow["planned"] == {"reminder_2": {"email": 1}}  # CROSS reached 21 days
    assert tomorrow["skipped_already_in_ledger"] == 2
    keys = con.execute(
        "select count(*), count(distinct idempotency_key) from dunning.ledger"
    ).fetchone()
    assert keys == (4, 4)


def test_new_overdue_episode_is_dunned_again(con, settings):
    features(con, AS_OF, {"D1": {"invoice": "INV-OLD"}})
    dunning.plan(con, settings, AS_OF)
    features(con, AS_OF + timedelta(days=30), {"D1": {"invoice": "INV-NEW"}})
    assert dunning.plan(con, settings, AS_OF + timedelta(days=30))["planned_total"] == 1


def test_stale_mart_refuses_to_plan(con, settings):
    features(con, AS_OF - timedelta(days=1), {"D1": {}})
    with pytest.raises(DebtflowError, match="no rows for as_of 2026-11-20"):
        dunning.plan(con, settings, AS_OF)


def test_ladder_file_from_settings_overrides_default(con, home, monkeypatch):
    custom = home.parent / "ladder.yml"
    custom.write_text(
        "min_amount: 500\nsteps:\n"
        "  - {name: reminder_1, min_days_past_due: 1, channel: letter, label: Reminder}\n"
    )
    monkeypatch.setenv("DEBTFLOW_DUNNING_LADDER", str(custom))
    settings = get_settings()
    features(
        con, AS_OF, {"BIG": {"overdue_balance": Decimal("900"), "max_days_past_due": 2}, "LOW": {}}
    )
    result = dunning.plan(con, settings, AS_OF)
    assert result["planned"] == {"reminder_1": {"letter": 1}}
    assert result["suppressed"]["below_min_amount"] == 1


def test_default_ladder():
    ladder = dunning.load_ladder(Settings())
    assert [(s.name, s.min_days_past_due, s.channel) for s in ladder.steps] == [
        ("reminder_1", 7, "preferred"),
        ("reminder_2", 21, "preferred"),
        ("final_notice", 35, "letter"),
        ("phone", 50, "phone"),
        ("agency", 80, "agency"),
    ]
    assert ladder.min_amount == Decimal("5.00")


# --- outbox ---------------------------------------------------------------------------------------


def outbox_files(settings: Settings) -> list[Path]:
    return sorted(p for p in settings.outbox_dir.rglob("*") if p.is_file())


def test_send_outbox_writes_each_planned_message_once(con, settings):
    features(
        con,
        AS_OF,
        {
            "E": {},
            "S": {"has_email": False},
            "L": {"max_days_past_due": 36, "overdue_balance": Decimal("12.34")},
            "X": {"bankrupt": True},
        },
    )
    dunning.plan(con, settings, AS_OF)
    result = dunning.send_outbox(con, settings, AS_OF)
    assert result["sent"] == 3
    assert result["by_channel"] == {"email": 1, "sms": 1, "letter": 1}
    files = outbox_files(settings)
    assert len(files) == 3
    assert {f.parent.name for f in files} == {"email", "sms", "letter"}
    assert all(f.parent.parent.name == "2026-11-20" for f in files)

    rows = con.execute(
        "select idempotency_key, state, sent_at, outbox_path from dunning.ledger"
    ).fetchall()
    assert all(state == "sent" and sent_at is not None for _, state, sent_at, _ in rows)
    assert {Path(p) for *_, p in rows} == set(files)
    assert all(Path(p).stem == key for key, *_, p in rows)

    letter = (settings.outbox_dir / "2026-11-20" / "letter").iterdir().__next__().read_text()
    assert "amount_due: 12.34" in letter and "currency: EUR" in letter
    assert "invoice_reference: INV-L" in letter and "debtor_id: L" in letter
    assert "veertiendagenbrief / inkassovarsel" in letter

    again = dunning.send_outbox(con, settings, AS_OF)
    assert again["sent"] == 0
    assert outbox_files(settings) == files


def test_crash_between_write_and_ledger_update_rewrites_the_same_file(con, settings):
    features(con, AS_OF, {"D1": {}, "D2": {}})
    dunning.plan(con, settings, AS_OF)
    dunning.send_outbox(con, settings, AS_OF)
    before = {f: f.read_text() for f in outbox_files(settings)}
    # As if the process died after writing D1's file but before marking it sent.
    con.execute(
        "update dunning.ledger set state = 'planned', sent_at = null, outbox_path = null"
        " where debtor_id = 'D1'"
    )
    assert dunning.send_outbox(con, settings, AS_OF)["sent"] == 1
    after = {f: f.read_text() for f in outbox_files(settings)}
    assert after == before
    assert not [p for p in settings.outbox_dir.rglob(".*") if p.is_file()]  # no temp files left


def test_send_outbox_only_touches_its_own_day(con, settings):
    features(con, AS_OF, {"D1": {}})
    dunning.plan(con, settings, AS_OF)
    assert dunning.send_outbox(con, settings, AS_OF + timedelta(days=1))["sent"] == 0
    assert outbox_files(settings) == []
