from __future__ import annotations

import json

import numpy as np
import pytest
from dunning_mart import create_candidates
from synthetic_marts import AS_OF

from debtflow.flows.core.warehouse import connect, ensure_schema
from debtflow.flows.dunning import plan
from debtflow.flows.score import score
from debtflow.models import predict, train
from debtflow.models.features import FeatureError
from debtflow.models.registry import NoChampionError

COLUMNS = "debtor_id, as_of, p_collect_30d, grade, reason_codes, model_version"


def read_scores(settings):
    con = connect(settings)
    try:
        return con.execute(
            f"select {COLUMNS} from ml.debtor_scores where as_of = ? order by debtor_id", [AS_OF]
        ).df()
    finally:
        con.close()


def test_scoring_without_a_champion_fails_clearly(settings, warehouse):
    with pytest.raises(NoChampionError, match="run `debtflow train` first"):
        predict.score(settings, AS_OF)


def test_scoring_twice_writes_the_same_rows(settings, warehouse):
    version = train.train(settings, AS_OF)["version"]
    first = predict.score(settings, AS_OF)
    rows1 = read_scores(settings)
    second = predict.score(settings, AS_OF)
    rows2 = read_scores(settings)
    assert first["rows"] == second["rows"] == len(rows1) == 550  # overdue debtors only
    assert rows1.equals(rows2)
    assert (rows1["model_version"] == version).all()


def test_grades_are_1_to_10_and_monotone_in_p(settings, warehouse):
    train.train(settings, AS_OF)
    predict.score(settings, AS_OF)
    rows = read_scores(settings).sort_values("p_collect_30d", kind="stable")
    assert rows["grade"].between(1, 10).all()
    assert rows["grade"].is_monotonic_increasing
    p = np.linspace(0, 1, 1001)
    g = predict.grade(p)
    assert g.min() == 1 and g.max() == 10 and (np.diff(g) >= 0).all()
    assert predict.grade(np.array([0.0, 0.05, 0.1, 0.55, 0.95, 1.0])).tolist() == [
        1,
        1,
        2,
        6,
        10,
        10,
    ]


def test_reason_codes_are_phrases(settings, warehouse):
    train.train(settings, AS_OF)
    predict.score(settings, AS_OF)
    reasons = [json.loads(r) for r in read_scores(settings)["reason_codes"]]
    assert all(1 <= len(r) <= 3 and all(isinstance(s, str) and s for s in r) for r in reasons)
    joined = " | ".join(s for r in reasons for s in r)
    assert "days past due" in joined and "reminders ignored" in joined


def test_scoring_a_mart_without_a_feature_column_fails_clearly(settings, warehouse):
    train.train(settings, AS_OF)
    con = connect(settings)
    con.execute("alter table marts.debtor_features drop column reminders_ignored")
    con.close()
    with pytest.raises(FeatureError, match="reminders_ignored"):
        predict.score(settings, AS_OF)


def test_a_failed_scoring_keeps_the_previous_rows(settings, warehouse):
    train.train(settings, AS_OF)
    predict.score(settings, AS_OF)
    before = read_scores(settings)
    con = connect(settings)
    con.execute("alter table marts.debtor_features drop column bureau_score")
    con.close()
    with pytest.raises(FeatureError):
        predict.score(settings, AS_OF)
    assert read_scores(settings).equals(before)


@pytest.mark.parametrize(
    ("name", "kind", "value", "expected"),
    [
        pytest.param("email_bounced", "boolean", 1.0, "e-mail bounced", id="known-boolean"),
        pytest.param("has_email", "boolean", 0.0, "no e-mail address on file", id="false"),
        pytest.param(
            "reminders_current_episode",
            "numeric",
            3.0,
            "3 reminders ignored in the current episode",
            id="known-count",
        ),
        pytest.param(
            "n_payments_90d", "numeric", 0.0, "no payments in the last 90 days", id="zero"
        ),
        pytest.param("n_broken_plans", "numeric", 1.0, "1 broken payment plan", id="singular"),
        pytest.param("days_since_last_payment", "numeric", None, "never paid", id="known-missing"),
        pytest.param("n_widgets", "numeric", 3.0, "3 widgets", id="generic-count"),
        pytest.param("reminders_ignored", "numeric", 2.0, "2 reminders ignored", id="plural"),
        pytest.param("on_time_rate", "numeric", 0.25, "on time rate 25%", id="rate"),
        pytest.param("foo_score", "numeric", float("nan"), "foo score unknown", id="missing"),
        pytest.param("debtor_type", "categorical", "business", "business debtor", id="known-cat"),
        pytest.param("country", "categorical", "NL", "country: NL", id="cat"),
    ],
)
def test_phrase(name, kind, value, expected):
    assert predict.phrase(name, kind, value) == expected


def test_large_books_get_reasons_only_where_the_run_acts(settings, warehouse, monkeypatch):
    """Reasons go to the debtors the day's dunning planner acts on (flows/dunning/plan.py): not
    to those whose step went out today already, nor to those not due for a step."""
    train.train(settings, AS_OF)
    monkeypatch.setattr(predict, "REASONS_FOR_ALL_ROWS", 10)  # pretend the book is large
    con = connect(settings)
    try:
        ensure_schema(con)
        # the planner's mart, as dbt builds it, for these hand-made features: no history yet
        # (the columns left out are null: no dispute, step, suppression or broken plan)
        create_candidates(con)
        con.execute(
            "insert into marts.dunning_candidates by name select as_of, debtor_id, currency, "
            "'consumer' as debtor_type, 'NL' as country, 'nl' as language, "
            "as_of - max_days_past_due as episode_start, max_days_past_due as days_past_due, "
            "overdue_balance as amount_due, oldest_overdue_invoice_id as reference_invoice_id, "
            "1 as n_overdue_invoices, 0 as disputed_amount, [] as steps_taken, true as email_ok, "
            "true as sms_ok, true as phone_ok "
            "from marts.debtor_features where overdue_balance > 0"
        )
        everyone = con.execute(
            "select debtor_id from marts.debtor_features where overdue_balance > 0"
        ).df()
        acting = plan.acted_on(con, everyone, settings, AS_OF)
        assert 100 < acting.sum() < len(everyone)  # some are not due for a step yet
        # their step went out this morning for 100 of them: the planner leaves them alone
        _, decisions = plan.decide_all(con, settings, AS_OF)
        done = [d for d, decision in decisions.items() if decision.actions][:100]
        for debtor_id in done:
            action = decisions[debtor_id].actions[0]
            con.execute(
                "insert into dunning.ledger (idempotency_key, as_of, debtor_id, episode_start, "
                "step, channel, state) values (?, ?, ?, ?, ?, ?, 'sent')",
                [action["idempotency_key"], AS_OF, debtor_id, action["episode_start"],
                 action["step"], action["channel"]],
            )  # fmt: skip
    finally:
        con.close()
    result = score.score(settings, AS_OF)
    assert result["rows_with_reasons"] == acting.sum() - 100
    rows = read_scores(settings)
    assert rows.loc[rows["debtor_id"].isin(done), "reason_codes"].isna().all()
    acted = ~rows["debtor_id"].isin(done) & rows["debtor_id"].isin(everyone["debtor_id"][acting])
    assert rows.loc[acted, "reason_codes"].notna().all()
    assert rows["p_collect_30d"].notna().all()  # every debtor is still scored and graded
