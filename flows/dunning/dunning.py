"""The day's dunning: plan the actions (plan.py), then send what may go out now (send.py); a
debtor's dunning history for `debtflow dunning show`; the policy's A/B tests and their results
(experiment_report.py) for `debtflow experiments`."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

from debtflow.flows.core.settings import Settings
from debtflow.flows.core.warehouse import LEDGER, SUPPRESSED, session
from debtflow.flows.dunning import experiment_page, experiment_report
from debtflow.flows.dunning import plan as planner
from debtflow.flows.dunning import send as sender
from debtflow.flows.dunning.policy import policy


def plan(settings: Settings, as_of: date) -> dict:
    with session(settings) as con:
        return planner.plan(con, settings, as_of)


def send(
    settings: Settings, as_of: date, at: datetime | None = None, dry_run: bool = False
) -> dict:
    with session(settings) as con:
        return sender.send(con, settings, as_of, at, dry_run)


def plan_and_send(
    settings: Settings, as_of: date, at: datetime | None = None, dry_run: bool = False
) -> dict:
    """Both idempotent: a second run for the date plans and sends nothing new."""
    with session(settings) as con:
        if dry_run:
            _, decisions = planner.decide_all(con, settings, as_of)
            planned = {
                "would_plan": sum(len(d.actions) + len(d.pre_due) for d in decisions.values())
            }
        else:
            planned = planner.plan(con, settings, as_of)
        return {"planned": planned, "sent": sender.send(con, settings, as_of, at, dry_run)}


HISTORY_COLUMNS = (
    "as_of, step, channel, currency, amount_due, fee_amount, fee_basis, deadline, state, "
    "state_reason, sent_at, policy_version, ladder, why_channel, grade, reason_codes, "
    "experiment, variant"
)


def history(settings: Settings, debtor_id: str) -> dict:
    """Every action for the debtor and every day it was left alone, and why (no contact data)."""
    with session(settings) as con:
        actions = con.execute(
            f"select {HISTORY_COLUMNS} from {LEDGER} where debtor_id = ? order by as_of, step",
            [debtor_id],
        ).df()
        suppressed = con.execute(
            f"select as_of, currency, step, reason from {SUPPRESSED} where debtor_id = ? "
            "order by as_of",
            [debtor_id],
        ).df()
    return {
        "debtor_id": debtor_id,
        "actions": actions.astype(object).where(actions.notna(), None).to_dict("records"),
        "suppressed": suppressed.astype(object).where(suppressed.notna(), None).to_dict("records"),
    }


def experiments(settings: Settings) -> list[dict]:
    with session(settings) as con:
        return experiment_report.listing(con, policy(settings), settings.today())


def experiment(settings: Settings, name: str, html: Path | None = None) -> dict:
    """The experiment's variants against its control; with `html`, also written there."""
    with session(settings) as con:
        result = experiment_report.report(con, policy(settings), name)
    if html is not None:
        result["html"] = str(experiment_page.write(result, html))
    return result
