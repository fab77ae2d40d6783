"""The `debtflow` command: every stage of the pipeline, the deployable flows and the demo.

Each command is declared once, where it is handled: its name (a sub-command is "quarantine list"),
its help, its arguments, the summary a person reads (flows/ops/summaries.py), and a handler that
calls one service function with the settings resolved once, in `main`, and returns its result.
`main` prints the result: that summary, or with `--json` (any command) the result as JSON. Long
steps report progress on stderr (flows/core/progress.py), so stdout holds only the result.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import date, datetime
from pathlib import Path

from debtflow.flows.core import output, progress
from debtflow.flows.core.errors import DebtflowError
from debtflow.flows.core.runtime import configure_prefect
from debtflow.flows.core.settings import Settings, get_settings
from debtflow.flows.core.warehouse import require
from debtflow.flows.ops import summaries

Handler = Callable[[argparse.Namespace, Settings], object]  # returns the result to print


@dataclass(frozen=True)
class Command:
    name: str  # "quarantine list": a command and its action
    help: str
    arguments: tuple[tuple[tuple, dict], ...]
    handler: Handler
    human: output.Human | None = None  # the summary for a person; None: output.readable


COMMANDS: dict[str, Command] = {}
# Commands that may start a new home (the first ingest creates the warehouse); every other
# command reads an existing one and refuses a home without a warehouse.
STARTS_A_HOME = {"simulate", "simulate-policy", "ingest", "run", "backfill", "demo", "doctor"}
NEEDS_NO_HOME = {
    "dunning check-policy",
    "tape check-selection",
    "tape check-agreement",
    "value check-terms",
}
BUILT = "the date the warehouse was last built for"
MODELS = ("collectability", "late_payment")


def arg(*flags: str, **options) -> tuple[tuple, dict]:
    return flags, options


def iso_date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected YYYY-MM-DD, got {text!r}") from None


def as_of(default: str = "today") -> tuple[tuple, dict]:
    return arg("--as-of", type=iso_date, help=f"business date YYYY-MM-DD (default: {default})")


def command(
    name: str, help: str, *arguments: tuple[tuple, dict], human: output.Human | None = None
):
    def register(fn: Handler) -> Handler:
        COMMANDS[name] = Command(name, help, arguments, fn, human)
        return fn

    return register


def _today(args: argparse.Namespace, settings: Settings) -> date:
    return args.as_of or settings.today()


def _built(args: argparse.Namespace, settings: Settings) -> date:
    """--as-of, else the date the marts were last built for (said on stderr), else today."""
    if args.as_of:
        return args.as_of
    from debtflow.flows.core.warehouse import built_as_of, session

    with session(settings) as con:
        built = built_as_of(con)
    if built is None:
        return settings.today()
    print(f"as of {built}: {BUILT}", file=sys.stderr)
    return built


def _show(args: argparse.Namespace, result: object) -> None:
    """Print a result now, for a handler that fails after saying what it found (validate,
    doctor); the others return theirs and `main` prints it."""
    progress.clear()
    output.emit(result, args.json, args.spec.human, args)


# --- load and build -----------------------------------------------------------------------------


@command(
    "simulate",
    "Write a simulated billing world: landing batches and ground truth.",
    arg("--debtors", type=int, default=20_000),
    arg("--months", type=int, default=24),
    arg("--seed", type=int, default=7),
    arg("--out", type=Path, required=True, help="writes OUT/landing and OUT/truth"),
    arg("--end-date", type=iso_date, help="date of the last daily batch (default: today)"),
    arg("--daily-days", type=int, default=3, help="daily batches after the history"),
    human=summaries.simulated,
)
def cmd_simulate(args, settings):
    from debtflow.flows.simulation.simulation import simulate

    return simulate(args.debtors, args.months, args.seed, args.out, args.end_date, args.daily_days)


@command(
    "simulate-policy",
    "Run the planner and senders day by day on a simulated book that reacts to what is sent; "
    "compare the policy with a fixed letter ladder and an oracle.",
    arg("--policy", type=Path, help="dunning policy file (default: the built-in policy.yml)"),
    arg("--days", type=int, default=90),
    arg("--debtors", type=int, default=2_000),
    arg("--seed", type=int, default=7),
    arg("--out", type=Path, help="homes of the arms (default HOME/simulate-policy/seed-S)"),
    arg("--first-day", type=iso_date, help="the run's first day (default 2026-03-02)"),
    arg("--arms", default="policy,fixed_ladder,oracle", help="comma-separated arms to run"),
    human=summaries.policy_simulated,
)
def cmd_simulate_policy(args, settings):
    from debtflow.flows.simulation.closed_loop import simulate_policy

    arms = tuple(a.strip() for a in args.arms.split(",") if a.strip())
    return simulate_policy(
        settings, args.policy, args.days, args.debtors, args.seed, args.out, arms, args.first_day
    )


@command(
    "ingest",
    "Load new landing batches into raw.*, quarantining bad rows.",
    as_of(),
    arg("--landing", type=Path, help="landing folder (default: DEBTFLOW_LANDING_URL)"),
    human=summaries.ingested,
)
def cmd_ingest(args, settings):
    from debtflow.flows.ingest import ingest

    if args.landing:
        settings = settings.model_copy(update={"landing_url": str(args.landing)})
    return [asdict(r) for r in ingest.ingest(settings, _today(args, settings))]


@command(
    "quarantine list",
    "Count quarantined rows by batch, file, column and reason.",
    arg("--batch", help="only this batch id"),
    human=summaries.quarantine_groups,
)
def cmd_quarantine_list(args, settings):
    from debtflow.flows.ingest import quarantine

    with quarantine.session_for(settings, args.batch) as con:
        groups = quarantine.summary(con, args.batch)
    keys = ("batch", "file", "column", "reason", "status", "rows")
    return [dict(zip(keys, group, strict=True)) for group in groups]


@command(
    "quarantine show",
    "Show a batch's quarantined rows (personal data masked).",
    arg("--batch", required=True),
    arg("--file", help="only this file name"),
    arg("--limit", type=int, default=20),
    human=summaries.quarantined_rows,
)
def cmd_quarantine_show(args, settings):
    from debtflow.flows.ingest import quarantine

    with quarantine.session_for(settings, args.batch) as con:
        return quarantine.rows(con, args.batch, args.file, args.limit)


@command(
    "quarantine release",
    "Re-check a batch's quarantined rows; load those now valid.",
    arg("--batch", required=True),
    arg("--file", help="only this file name"),
    human=summaries.released,
)
def cmd_quarantine_release(args, settings):
    from debtflow.flows.ingest import quarantine

    with quarantine.session_for(settings, args.batch) as con:
        released = quarantine.release(con, args.batch, args.file)
    return {"batch": args.batch, "file": args.file, "released": released}


@command(
    "transform",
    "Build the warehouse with dbt (staging, intermediate, marts) as of a date.",
    as_of(),
    arg("--full-refresh", action="store_true", help="rebuild incremental models"),
    human=summaries.built,
)
def cmd_transform(args, settings):
    from debtflow.flows.build import transform

    return transform.build(settings, _today(args, settings), full_refresh=args.full_refresh)


@command(
    "publish",
    "Publish every mart as Parquet (HOME/published or DEBTFLOW_PUBLISH_URL).",
    as_of(BUILT),
    human=summaries.published,
)
def cmd_publish(args, settings):
    from debtflow.flows.build.publish import publish

    return publish(settings, _built(args, settings))


@command(
    "docs",
    "Build the dbt docs into HOME/reports/dbt_docs/index.html, one page that opens from disk.",
    as_of(),
    arg("--serve", action="store_true", help="then serve it on 127.0.0.1 until Ctrl-C"),
    arg("--port", type=int, default=8580, help="port for --serve (default: 8580)"),
    human=lambda result, args: [f"dbt docs: {result['site']}"],
)
def cmd_docs(args, settings):
    from debtflow.flows.build import docs_server, transform

    site = transform.docs(settings, _today(args, settings))
    if args.serve:
        docs_server.serve(
            site,
            args.port,
            lambda url: print(f"dbt docs at {url} (Ctrl-C stops)", file=sys.stderr, flush=True),
        )
    return {"site": f"{site}/index.html"}


@command(
    "validate",
    "Run the data-quality suites on the day's batches and the marts.",
    as_of(),
    human=summaries.validated,
)
def cmd_validate(args, settings):
    from debtflow.flows.build import validation

    results = validation.validate_day(settings, _today(args, settings))
    _show(args, [asdict(r) for r in results])
    validation.raise_if_failed(results)


# --- models -------------------------------------------------------------------------------------


@command(
    "train",
    "Train a model and register it (champion through a gate).",
    as_of(BUILT),
    arg("--truth", type=Path, help="simulator truth folder: report oracle metrics"),
    arg("--model", choices=MODELS, default="collectability"),
    human=summaries.trained,
)
def cmd_train(args, settings):
    from debtflow.models import late_payment, train

    fit = late_payment.train_model if args.model == "late_payment" else train.train
    return fit(settings, _built(args, settings), args.truth)


@command(
    "models list",
    "Versions with their validation metrics; marks the champion.",
    arg("--model", choices=MODELS, default="collectability"),
    human=summaries.model_versions,
)
def cmd_models_list(args, settings):
    from debtflow.models import registry

    return registry.summary(settings, args.model)


@command(
    "models show",
    "A version's metadata and metrics (default: the champion).",
    arg("version", nargs="?"),
    arg("--model", choices=MODELS, default="collectability"),
    human=summaries.model_version,
)
def cmd_models_show(args, settings):
    from debtflow.models import registry

    return registry.show(settings, args.version, args.model)


@command(
    "models promote",
    "Make a version the champion by hand (bypasses the gate).",
    arg("version"),
    arg("--model", choices=MODELS, default="collectability"),
    human=summaries.promoted,
)
def cmd_models_promote(args, settings):
    from debtflow.models import registry

    registry.promote(settings, args.version, args.model)
    return {"model": args.model, "champion": args.version}


@command(
    "advise-terms",
    "Payment-terms advice per customer with the expected loss it avoids.",
    as_of(BUILT),
    arg("--debtor", action="append", help="only this debtor (repeatable)"),
    arg("--out", type=Path, help="CSV path (default HOME/reports/terms/<as_of>.csv)"),
    human=summaries.terms_advice,
)
def cmd_advise_terms(args, settings):
    from debtflow.models import terms

    return terms.advise_terms(settings, _built(args, settings), args.debtor or None, args.out)


@command(
    "score",
    "Score every debtor with an overdue balance into ml.debtor_scores.",
    as_of(),
    human=summaries.scored,
)
def cmd_score(args, settings):
    from debtflow.flows.score import score

    return score.score(settings, _today(args, settings))


# --- act ----------------------------------------------------------------------------------------


def clock(text: str) -> datetime:
    """--at: YYYY-MM-DDTHH:MM, in each debtor's own time zone unless it carries an offset."""
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected YYYY-MM-DDTHH:MM, got {text!r}") from None


AT = arg(
    "--at",
    type=clock,
    help="the clock sending windows are checked against, YYYY-MM-DDTHH:MM in the debtor's time "
    "zone (default: now)",
)
DRY_RUN = arg("--dry-run", action="store_true", help="say what would happen; change nothing")


@command(
    "dunning",
    "Plan the day's dunning actions, then send what may go out now.",
    as_of(),
    AT,
    DRY_RUN,
    human=summaries.dunning_day,
)
def cmd_dunning(args, settings):
    from debtflow.flows.dunning import dunning

    return dunning.plan_and_send(settings, _today(args, settings), args.at, args.dry_run)


@command(
    "dunning plan",
    "Plan the day's dunning actions into the ledger.",
    as_of(),
    DRY_RUN,
    human=summaries.dunning_plan,
)
def cmd_dunning_plan(args, settings):
    from debtflow.flows.dunning import dunning

    if args.dry_run:
        return dunning.plan_and_send(settings, _today(args, settings), dry_run=True)["planned"]
    return dunning.plan(settings, _today(args, settings))


@command(
    "dunning send",
    "Send the planned actions that may go out now.",
    as_of(),
    AT,
    DRY_RUN,
    human=summaries.dunning_sent,
)
def cmd_dunning_send(args, settings):
    from debtflow.flows.dunning import dunning

    return dunning.send(settings, _today(args, settings), args.at, args.dry_run)


@command(
    "dunning check-policy",
    "Validate a dunning policy file; say which key is wrong and how to fix it.",
    arg("file", type=Path),
    human=summaries.policy_checked,
)
def cmd_dunning_check_policy(args, settings):
    from debtflow.flows.dunning import policy

    return policy.outline(policy.load(args.file), args.file)


@command(
    "dunning show",
    "A debtor's dunning history: actions, fees, states and why not.",
    arg("debtor_id"),
    human=summaries.dunning_history,
)
def cmd_dunning_show(args, settings):
    from debtflow.flows.dunning import dunning

    return dunning.history(settings, args.debtor_id)


@command(
    "experiments list",
    "The dunning policy's A/B tests: dates, arms, shares and debtors so far.",
    human=summaries.experiments_list,
)
def cmd_experiments_list(args, settings):
    from debtflow.flows.dunning import dunning

    return dunning.experiments(settings)


@command(
    "experiments report",
    "An A/B test's variants against the control: pay rates and net with 95% intervals.",
    arg("name"),
    arg("--html", type=Path, metavar="PATH", help="also write the report with charts here"),
    human=summaries.experiment_report,
)
def cmd_experiments_report(args, settings):
    from debtflow.flows.dunning import dunning

    return dunning.experiment(settings, args.name, args.html)


@command(
    "tape build",
    "Publish one pseudonymised bidder tape per pool (or --pool); a built one is returned.",
    as_of(),
    arg("--pool", help="only this pool (e.g. consumer-nl-eur)"),
    arg("--new", action="store_true", help="withdraw the published tape and make a new one"),
    human=summaries.tapes_built,
)
def cmd_tape_build(args, settings):
    from debtflow.flows.core.warehouse import session
    from debtflow.flows.tape import tape

    with session(settings) as con:
        tapes = tape.build(con, settings, _today(args, settings), args.pool, args.new)
    return [t.summary() for t in tapes]


@command(
    "tape list",
    "Every tape made: id, pool, state, receivables, where it is.",
    human=summaries.tape_list,
)
def cmd_tape_list(args, settings):
    from debtflow.flows.core.warehouse import session
    from debtflow.flows.tape import tape

    with session(settings) as con:
        return tape.listing(con)


@command(
    "tape show",
    "A tape's manifest: totals, selection, reconciliation, files; --links for download URLs.",
    arg("tape_id"),
    arg("--links", type=int, metavar="HOURS", help="presigned download links valid this long"),
    human=summaries.tape_shown,
)
def cmd_tape_show(args, settings):
    from debtflow.flows.core.storage import open_store
    from debtflow.flows.core.warehouse import session
    from debtflow.flows.tape import publish, tape

    with session(settings) as con:
        shown = tape.show(con, args.tape_id)
    if args.links:
        store = open_store(settings.tapes_store, settings)
        shown["links"] = publish.download_links(store, args.tape_id, args.links * 3600)
    return shown


@command(
    "tape mark-sold",
    "Record the sale of a bidder tape's receivables: they are never dunned again.",
    arg("tape_id"),
    arg("--buyer", required=True, help="the buyer's name"),
    arg("--pool", help="check that the tape holds this pool"),
    arg("--on", dest="sold_on", type=iso_date, help="day of the sale YYYY-MM-DD (default: today)"),
    human=summaries.tape_sold,
)
def cmd_tape_mark_sold(args, settings):
    from debtflow.flows.core.warehouse import session
    from debtflow.flows.tape import sale

    with session(settings) as con:
        sold_on = args.sold_on or settings.today()
        return sale.mark_sold(con, args.tape_id, args.buyer, args.pool, sold_on)


@command(
    "tape full",
    "The buyer's tape with identities, for a tape sold to that buyer.",
    arg("tape_id"),
    arg("--buyer", required=True, help="the buyer the tape was sold to"),
    human=summaries.full_tape,
)
def cmd_tape_full(args, settings):
    from debtflow.flows.core.warehouse import session
    from debtflow.flows.tape import sale

    with session(settings) as con:
        return sale.full_tape(con, settings, args.tape_id, args.buyer)


@command(
    "tape check-selection",
    "Validate a sale selection file; say which key is wrong and how to fix it.",
    arg("file", type=Path),
    human=summaries.file_checked,
)
def cmd_tape_check_selection(args, settings):
    from debtflow.flows.tape import selection

    checked = selection.load(args.file)
    return {"file": str(args.file), "valid": True, "version": checked.label}


@command(
    "tape forward-flow",
    "Sell the receivables fresh since the last forward-flow run to the agreed buyer at the agreed"
    " price per pool; print the window.",
    as_of(),
    human=summaries.forward_flow_sold,
)
def cmd_tape_forward_flow(args, settings):
    from debtflow.flows.core.warehouse import session
    from debtflow.flows.tape import forward_flow

    with session(settings) as con:
        return forward_flow.run(con, settings, _today(args, settings))


@command(
    "tape check-agreement",
    "Validate a forward-flow agreement file; say which key is wrong and how to fix it.",
    arg("file", type=Path),
    human=summaries.file_checked,
)
def cmd_tape_check_agreement(args, settings):
    from debtflow.flows.tape import agreement

    return {"file": str(args.file), "valid": True, "version": agreement.load(args.file).label}


@command(
    "value",
    "Value the pools a sale would hold: keep, place or sell, price and reserve price.",
    as_of(BUILT),
    arg("--pool", help="only this pool (e.g. consumer-nl-eur)"),
    arg("--report", action="store_true", help="also write the seller's report (HTML and PDF)"),
    human=summaries.valued,
)
def cmd_value(args, settings):
    from debtflow.flows.core.warehouse import session
    from debtflow.flows.value import valuation

    with session(settings) as con:
        return valuation.value(con, settings, _built(args, settings), args.pool, args.report)


@command(
    "value backtest",
    "Value as of a past date and compare with what was paid in the months after.",
    as_of(BUILT),
    arg("--months", type=int, default=12, help="months after --as-of compared (default 12)"),
    arg("--truth", type=Path, help="simulator truth folder: add the oracle's recovery per pool"),
    human=summaries.value_backtested,
)
def cmd_value_backtest(args, settings):
    from debtflow.flows.core.warehouse import session
    from debtflow.flows.value import backtest

    with session(settings) as con:
        return backtest.backtest(con, settings, _built(args, settings), args.months, args.truth)


@command(
    "value check-terms",
    "Validate a valuation terms file (costs, fees, rates); say which key is wrong and why.",
    arg("file", type=Path),
    human=summaries.file_checked,
)
def cmd_value_check_terms(args, settings):
    from debtflow.flows.value import terms

    return {"file": str(args.file), "valid": True, "version": terms.load(args.file).label}


@command(
    "feedback ingest",
    "Load a buyer's feedback file (new or invalid contact data, outcomes) into the warehouse.",
    arg("file", type=Path),
    human=summaries.feedback_loaded,
)
def cmd_feedback_ingest(args, settings):
    from debtflow.flows.core.warehouse import session
    from debtflow.flows.tape import sale

    with session(settings) as con:
        return sale.ingest_feedback(con, settings, args.file)


@command(
    "plans accept",
    "Record the payment-plan offers accepted in a reply file (CSV: offer_reference or "
    "debtor_id, accepted_on); a bad line loads nothing.",
    arg("file", type=Path),
    human=lambda r, args: [
        f"{r['file']}: offers accepted now {r['accepted']}, accepted before "
        f"{r['already_accepted']} (lines read: {r['lines']})."
    ],
)
def cmd_plans_accept(args, settings):
    from debtflow.flows.core.warehouse import session
    from debtflow.flows.dunning import plan_offers

    with session(settings) as con:
        return plan_offers.accept(con, args.file)


# --- the deployable flows, run here as their deployments run them (infra/prefect.yaml) ---------


@command(
    "run daily",
    "ingest -> validate -> transform -> score -> dunning",
    as_of(),
    arg(
        "--force", action="store_true", help="rebuild and rescore even if the inputs are unchanged"
    ),
    human=summaries.daily_run,
)
def cmd_run_daily(args, settings):
    from debtflow.flows.daily import daily

    return daily(_today(args, settings), force=args.force)


@command(
    "run dunning-send",
    "Send the planned dunning messages that may go out now.",
    as_of(),
    human=summaries.dunning_sent,
)
def cmd_run_dunning_send(args, settings):
    from debtflow.flows.dunning_send import dunning_send

    return dunning_send(_today(args, settings))


@command(
    "run train",
    "Train the collectability model; promotion through the gate.",
    as_of(BUILT),
    human=summaries.trained,
)
def cmd_run_train(args, settings):
    from debtflow.flows.train import train

    return train(_built(args, settings))


@command(
    "run sale-tape",
    "One bidder tape per pool, published.",
    as_of(),
    arg("--pool", help="only this pool"),
    human=summaries.tapes_built,
)
def cmd_run_sale_tape(args, settings):
    from debtflow.flows.sale_tape import sale_tape

    return sale_tape(_today(args, settings), args.pool)


@command(
    "run forward-flow",
    "The month's forward-flow tapes, sold to the agreed buyer.",
    as_of(),
    human=summaries.forward_flow_sold,
)
def cmd_run_forward_flow(args, settings):
    from debtflow.flows.forward_flow import forward_flow

    return forward_flow(_today(args, settings))


# --- operate ------------------------------------------------------------------------------------


@command(
    "backfill",
    "Run the daily flow for each date in a range; skips dates already done.",
    arg("--from", dest="start", type=iso_date, required=True, help="first date YYYY-MM-DD"),
    arg("--to", dest="end", type=iso_date, required=True, help="last date (inclusive)"),
    human=summaries.backfilled,
)
def cmd_backfill(args, settings):
    from debtflow.flows.ops.backfill import backfill

    def tell(as_of, what):  # a line per date, kept: each is a whole daily run
        progress.note(f"{as_of}: {what}")

    return backfill(settings, args.start, args.end, on_date=tell)


@command(
    "status",
    "The day's summary: its verdict, then what was loaded, checked, built, scored, dunned, sold.",
    as_of(f"the last day a daily run was recorded for, else {BUILT}"),
)
def cmd_status(args, settings):
    from debtflow.flows.ops import daily_report

    print(daily_report.status(settings, args.as_of), end="")


@command(
    "doctor",
    "Check the configuration and every connection; say what to fix.",
    human=summaries.doctor_checks,
)
def cmd_doctor(args, settings):
    from debtflow.flows.ops.doctor import FAIL, run_checks

    checks = run_checks()
    _show(args, [asdict(c) for c in checks])
    failed = sum(c.status == FAIL for c in checks)
    if failed:
        raise DebtflowError(f"{failed} check(s) failed; fix them and run `debtflow doctor` again")


@command(
    "demo",
    "Simulate a world, load it, train, run the day and build a tape; summarise.",
    arg("--debtors", type=int, default=20_000),
    arg("--months", type=int, default=24),
    arg("--seed", type=int, default=7),
    human=summaries.demo_summary,
)
def cmd_demo(args, settings):
    from debtflow.flows.ops.demo import demo

    # the demo prints its summary as it ends; with --json that goes to stderr, the result to stdout
    return demo(settings, args.debtors, args.months, args.seed, sys.stderr if args.json else None)


GROUPS = {  # the help of a command whose actions are sub-commands
    "quarantine": "Inspect quarantined rows and re-process them after a fix.",
    "models": "The model registry: versions, metrics, the champion.",
    "tape": "Debt-sale data tapes: build, list, show, mark-sold, full, forward-flow.",
    "feedback": "Debt buyers' feedback files.",
    "plans": "Payment plans: offers accepted through a reply file.",
    "value": "Value the pools a sale would hold: keep, place or sell, price and reserve price.",
    "dunning": "Plan the day's dunning actions, then send what may go out now.",
    "experiments": "A/B tests of the dunning policy: list them, report one.",
    "run": "Run a deployable flow here, as its deployment runs it (infra/prefect.yaml).",
}


JSON_HELP = "print the result as JSON (for scripts) instead of a summary"


def _json_flag(p: argparse.ArgumentParser, top: bool = False) -> None:
    """--json before or after the command; a sub-command's parser must not reset the top one's
    (argparse applies a sub-parser's defaults over the namespace: SUPPRESS sets nothing)."""
    p.add_argument("--json", action="store_true", default=False if top else argparse.SUPPRESS,
                   help=JSON_HELP)  # fmt: skip


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="debtflow",
        description="Turn billing extracts into collected cash: load, model, dun, sell.",
    )
    _json_flag(p, top=True)
    top = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    groups: dict[str, argparse._SubParsersAction] = {}
    for cmd in COMMANDS.values():
        group, _, action = cmd.name.partition(" ")
        if action:
            if group not in groups:
                g = top.add_parser(group, help=GROUPS[group], description=GROUPS[group])
                _json_flag(g)
                # a group that is a command of its own too ("dunning") runs it without an action
                bare = COMMANDS.get(group)
                groups[group] = g.add_subparsers(dest="action", required=not bare, metavar="ACTION")
                for flags, options in bare.arguments if bare else ():
                    g.add_argument(*flags, **options)
                if bare:
                    g.set_defaults(spec=bare)
            sp = groups[group].add_parser(action, help=cmd.help, description=cmd.help)
        elif group in GROUPS:
            continue  # declared with its actions, above
        else:
            sp = top.add_parser(group, help=cmd.help, description=cmd.help)
        _json_flag(sp)
        for flags, options in cmd.arguments:
            sp.add_argument(*flags, **options)
        sp.set_defaults(spec=cmd)
    return p


class _Stderr(logging.StreamHandler):
    """Writes to sys.stderr as it is at each record: a handler that kept the stream of its
    first call would write to a closed one once tests or the progress line swap it."""

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, _value) -> None:
        pass


def _log_to_stderr() -> None:
    root = logging.getLogger()
    if not root.handlers:  # configured once; a host (pytest, Prefect) may have its own
        handler = _Stderr()
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        handler.addFilter(progress.ClearsStatusLine())  # a log line never lands on the status line
        root.addHandler(handler)
        root.setLevel(logging.INFO)


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    _log_to_stderr()
    progress.start(sys.stderr)
    try:
        # resolved once here and passed down; the doctor reads them itself, to report a bad value
        settings = None if args.command == "doctor" else get_settings()
        name = " ".join(filter(None, (args.command, getattr(args, "action", None))))
        if args.command not in STARTS_A_HOME and name not in NEEDS_NO_HOME:
            require(settings)
        if args.command != "doctor":  # it only looks: no Prefect, and no folders made
            configure_prefect(settings)
        result = args.spec.handler(args, settings)
        if result is not None:
            progress.clear()
            output.emit(result, args.json, args.spec.human, args)
    except DebtflowError as exc:
        progress.clear()
        print(f"debtflow {args.command}: {exc}", file=sys.stderr)
        return 1
    finally:
        progress.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
