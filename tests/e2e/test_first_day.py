"""A real company's first day, end to end through the `debtflow` command: one initial extract of a
young book (40 debtors, six months, customers stamped at 06:00 on the run's date), no model yet.
`run daily` for its date and the next both complete; then `train` (for the date the warehouse
was built for) and the third day scores. Real dbt, GX, LightGBM and Prefect (test harness)."""

from __future__ import annotations

import contextlib
import io
import json
from datetime import date, timedelta

import pytest
from young_book import write_initial_extract

from debtflow.flows import cli
from debtflow.flows.core.settings import get_settings
from debtflow.flows.core.warehouse import connect

pytestmark = pytest.mark.slow

DAY_ONE = date(2026, 10, 1)
DEBTORS = 40


def run(capsys: pytest.CaptureFixture, *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def book(tmp_path_factory: pytest.TempPathFactory):
    """The home after day one and day two; the outputs of both runs."""
    from prefect.testing.utilities import prefect_test_harness

    root = tmp_path_factory.mktemp("first-day")
    mp = pytest.MonkeyPatch()
    mp.setenv("DEBTFLOW_HOME", str(root / "home"))
    mp.setenv("DEBTFLOW_LANDING_URL", str(root / "landing"))
    written = write_initial_extract(root / "landing", DAY_ONE, DEBTORS)
    days = {}
    with prefect_test_harness(server_startup_timeout=90):
        for as_of in (DAY_ONE, DAY_ONE + timedelta(days=1)):
            days[as_of] = _daily(as_of)
        yield root / "home", written, days
    mp.undo()


def _daily(as_of: date) -> dict:
    """`debtflow run daily --as-of D`, as a new user types it; its JSON result."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = cli.main(["run", "daily", "--as-of", as_of.isoformat(), "--json"])
    assert code == 0, out.getvalue()[-2000:]
    return json.loads(out.getvalue())


def test_every_customer_of_the_initial_extract_is_a_debtor_on_day_one(book) -> None:
    _, written, days = book
    assert written["customers"] == DEBTORS
    with connect(get_settings()) as con:
        debtors = con.execute(
            "select count(*), count(*) filter (where has_email) from marts.dim_debtors"
        ).fetchone()
        overdue = con.execute(
            "select count(*), count(has_email) from marts.debtor_features where overdue_balance > 0"
        ).fetchone()
    assert debtors == (DEBTORS, DEBTORS - DEBTORS // 5)  # every fifth has no e-mail address
    assert overdue[0] > 0 and overdue[1] == overdue[0]  # contact data as of the run's date


def test_a_book_younger_than_the_snapshot_window_builds(book) -> None:
    with connect(get_settings()) as con:
        states = con.execute(
            "select state, count(*) from intermediate.snapshot_dates group by 1"
        ).fetchall()
        built = con.execute(
            "select count(distinct as_of) from marts.debtor_feature_snapshots"
        ).fetchone()[0]
        pending = con.execute(
            "select dates_pending from intermediate.build_state "
            "where model = 'debtor_feature_snapshots'"
        ).fetchone()
    assert states == [("built", 12)]  # the whole window, the empty months included
    assert 4 <= built < 12 and pending == (0,)


def test_both_days_run_without_a_model_and_say_what_to_do(book) -> None:
    _, _, days = book
    for as_of, result in days.items():
        score = result["stages"]["score"]
        assert score["model_version"] is None and score["rows"] == 0
        assert f"run `debtflow train --as-of {as_of}`" in score["skipped"]
        assert result["stages"]["dunning"]["planned"]["as_of"] == as_of.isoformat()
    assert days[DAY_ONE]["stages"]["dunning"]["planned"]["planned_total"] > 0


def test_train_defaults_to_the_built_date_and_the_next_day_scores(book, capsys) -> None:
    from prefect.testing.utilities import prefect_test_harness

    day_two = DAY_ONE + timedelta(days=1)
    code, out, err = run(capsys, "train", "--json")
    assert code == 0, err
    assert f"as of {day_two}: the date the warehouse was last built for" in err
    trained = json.loads(out)
    assert trained["promoted"] and trained["version"]
    with prefect_test_harness(server_startup_timeout=90):
        day_three = _daily(day_two + timedelta(days=1))
    score = day_three["stages"]["score"]
    assert score["model_version"] == trained["version"] and score["rows"] > 0
    assert "skipped" not in score
