"""marts.dunning_candidates as dbt builds it (dbt_project/models/marts/dunning/), empty, for the
tests that fill the dunning planner's mart by hand (tests/flows/dunning_world.py,
tests/models/test_model_predict.py)."""

from __future__ import annotations

import duckdb

CANDIDATE_DDL = """
    as_of DATE, debtor_id VARCHAR, currency VARCHAR, debtor_type VARCHAR, country VARCHAR,
    language VARCHAR, episode_start DATE, days_past_due INTEGER, amount_due DECIMAL(18,2),
    reference_invoice_id VARCHAR, n_overdue_invoices INTEGER, disputed_amount DECIMAL(18,2),
    disputed_invoice_ids VARCHAR, steps_taken VARCHAR[], last_step_date DATE, email_ok BOOLEAN,
    sms_ok BOOLEAN, phone_ok BOOLEAN, suppression_reason VARCHAR,
    broken_plan_id VARCHAR, broken_plan_date DATE, broken_instalment INTEGER"""


def create_candidates(con: duckdb.DuckDBPyConnection) -> None:
    """An empty marts.dunning_candidates (the schema must exist)."""
    con.execute(f"create or replace table marts.dunning_candidates ({CANDIDATE_DDL})")
