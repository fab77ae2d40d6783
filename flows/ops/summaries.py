"""What each `debtflow` command prints for a person: a few lines of key facts from the result the
command's service returned (the same dict that `--json` prints whole).

One function per kind of result, named for it; `flows/cli.py` names the one each command uses.
A command without one gets `output.readable`. Lists are tables with a header and say plainly
when they are empty; long ones are cut ("… and N more"). Per-feature drift is left to --json.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from debtflow.flows.core.output import (
    amount,
    amounts,
    counts,
    drift,
    listed,
    number,
    plural,
    seconds,
    table,
    text,
)

MAX_ROWS = 20  # table rows shown before "… and N more"
RESOURCE_KINDS = {"model": "models", "test": "tests", "unit_test": "unit tests", "seed": "seeds",
                  "snapshot": "snapshots", "operation": "hooks"}  # fmt: skip


# --- load and build -----------------------------------------------------------------------------


def simulated(result: dict, args: Any) -> list[str]:
    rows, truth, batches = result["rows"], result["truth_rows"], result["batches"]
    out = getattr(args, "out", None)
    return [
        f"Simulated {plural(truth.get('debtors', 0), 'debtor')} from {result['history_start']} "
        f"to {result['end_date']}: " + ", ".join(f"{number(n)} {t}" for t, n in rows.items()),
        f"Landing: {out / 'landing' if out else 'landing'}, "
        f"{plural(len(batches), 'batch', 'batches')} ({_span(batches)})",
        f"Truth: {out / 'truth' if out else 'truth'} (for `debtflow train --truth`)",
    ]


def _span(ids: list[str]) -> str:
    return ids[0] if len(ids) == 1 else f"{ids[0]} … {ids[-1]}" if ids else "none"


def ingested(result: list[dict], args: Any) -> list[str]:
    loaded = [b for b in result if b["status"] == "loaded"]
    before = [b["batch_id"] for b in result if b["status"] != "loaded"]
    already = f"{plural(len(before), 'batch', 'batches')} already loaded ({_span(before)})"
    if not loaded:
        return [f"No new batch to load; {already}." if before else "No batch to load."]
    lines = [_batch_line(b) for b in loaded[:MAX_ROWS]]
    if len(loaded) > MAX_ROWS:
        lines.append(f"… and {len(loaded) - MAX_ROWS} more batches")
    files = [f for b in loaded for f in b["files"]]
    bad = sum(f["rows_quarantined"] for f in files)
    held = sum(f["rows_held"] for f in files)
    released = sum(b["released"] for b in loaded)
    lines.append(
        f"{plural(len(loaded), 'batch', 'batches')} loaded: "
        f"{number(sum(f['rows_loaded'] for f in files))} rows, {number(bad)} quarantined"
        + (f", {number(held)} held for their debtor" if held else "")
        + (f", {number(released)} held rows released" if released else "")
        + (f"; {already}" if before else "")
    )
    if bad:
        lines.append("See them: debtflow quarantine list")
    return lines


def _batch_line(b: dict) -> str:
    rows = sum(f["rows_loaded"] for f in b["files"])
    bad = sum(f["rows_quarantined"] for f in b["files"])
    return f"{b['batch_id']}: {b['status']} ({number(rows)} rows loaded, {number(bad)} quarantined)"


def quarantine_groups(result: list[dict], args: Any) -> list[str]:
    if not result:
        batch = getattr(args, "batch", None)
        return [f"No quarantined rows{f' in batch {batch}' if batch else ''}."]
    columns = [("BATCH", "batch"), ("FILE", "file"), ("COLUMN", "column"),
               ("STATUS", "status"), ("ROWS", "rows"), ("REASON", "reason")]  # fmt: skip
    return table(result, columns, MAX_ROWS)


def quarantined_rows(result: list[dict], args: Any) -> list[str]:
    if not result:
        return [f"No quarantined rows in batch {args.batch}."]
    lines = []
    for r in result:
        where = f"line {r['line']}" if r["line"] is not None else f"row {r['row']}"
        lines.append(
            f"{r['file']} {where}  {r['column'] or '(line)'}  [{r['status']}]  {r['reason']}"
        )
        lines.append("    " + "  ".join(f"{k}={text(v)}" for k, v in r["record"].items()))
    return lines


def released(result: dict, args: Any) -> list[str]:
    where = f"batch {result['batch']}" + (f", file {result['file']}" if result.get("file") else "")
    return [f"{where}: released {result['released']:,} row(s)"]


def built(result: dict[str, dict], args: Any) -> list[str]:
    """dbt build: nodes per kind, the marts' rows, the slowest nodes."""
    kinds: dict[str, int] = {}
    for uid in result:
        kind = uid.split(".", 1)[0]
        kinds[kind] = kinds.get(kind, 0) + 1
    ok = sum(n["status"] in ("success", "pass") for n in result.values())
    made = ", ".join(f"{n} {RESOURCE_KINDS.get(k, k)}" for k, n in sorted(kinds.items()))
    models = {uid.rsplit(".", 1)[-1]: n for uid, n in result.items() if uid.startswith("model.")}
    marts = {  # what analysts and the later stages read; staging and intermediate are plumbing
        name: n["rows"]
        for name, n in models.items()
        if isinstance(n.get("rows"), int) and not name.startswith(("stg_", "int_"))
    }
    slow = sorted(models.items(), key=lambda kv: -(kv[1]["seconds"] or 0))[:3]
    lines = [f"dbt build: {ok} of {plural(len(result), 'node')} passed ({made})"]
    if marts:
        lines.append("Mart rows: " + counts(marts, 6))
    if slow:
        lines.append(
            "Slowest models: " + ", ".join(f"{name} {seconds(n['seconds'])}" for name, n in slow)
        )
    return lines


def published(result: dict, args: Any) -> list[str]:
    marts = result["marts"]
    return [
        f"Published {plural(len(marts), 'mart')} as of {result['as_of']} to {result['target']}: "
        f"{number(sum(marts.values()))} rows",
        "Largest: " + counts(marts, 4),
    ]


def validated(result: list[dict], args: Any) -> list[str]:
    """Suites with their rows, failures and warnings; the expectations that did not pass."""
    failed = [(s["suite"], o) for s in result for o in s["outcomes"] if _failed(o)]
    warned = [(s["suite"], o) for s in result for o in s["outcomes"] if _warned(o)]
    rows = sum(s["rows"] for s in result)
    verdict = "FAILED" if failed else "passed"
    lines = [
        f"Data validation {verdict}: {plural(len(result), 'suite')}, {number(rows)} rows, "
        f"{plural(len(failed), 'blocking failure')}, {plural(len(warned), 'warning')}"
    ]
    lines += table(
        result,
        [("SUITE", "suite"), ("ROWS", "rows"), ("CHECKS", lambda s: len(s["outcomes"])),
         ("FAILED", lambda s: sum(map(_failed, s["outcomes"]))),
         ("WARNINGS", lambda s: sum(map(_warned, s["outcomes"])))],
        MAX_ROWS,
    )  # fmt: skip
    for label, found in (("FAIL", failed), ("warn", warned)):
        for suite, o in found[:5]:
            n = o["unexpected_count"]
            lines.append(
                f"{label} {suite}: {o['expectation']}({', '.join(o['columns'])})"
                + (f", {number(n)} unexpected" if n else "")
                + (f": {o['error']}" if o["error"] else "")
            )
        if len(found) > 5:
            lines.append(f"… and {len(found) - 5} more ({label})")
    page = next((s["quality_page"] for s in result if s.get("quality_page")), None)
    if page:
        lines.append(f"Data quality: {page}")
    return lines


def _failed(o: dict) -> bool:
    from debtflow.flows.build.validation.results import BLOCKING  # GX: only when validating

    return not o["success"] and o["severity"] == BLOCKING


def _warned(o: dict) -> bool:
    return not o["success"] and not _failed(o)


# --- models -------------------------------------------------------------------------------------


def trained(result: dict, args: Any) -> list[str]:
    m = result["metrics"]
    verdict = (
        "promoted: the new champion"
        if result["promoted"]
        else (f"not promoted; the champion stays {result['champion'] or '(none)'}")
    )
    lines = [
        f"{result['model']} {result['version']}: {verdict}",
        f"Decision: {result['decision']}",
        f"Validation: ROC AUC {number(m.get('roc_auc'))} (logistic baseline "
        f"{number(m.get('baseline_roc_auc'))}), Brier {number(m.get('brier'))}; "
        f"{number(m.get('n_train'))} training rows, {number(m.get('n_valid'))} validation rows",
    ]
    if m.get("oracle_roc_auc") is not None:
        lines.append(
            f"Oracle (simulator truth): ROC AUC {number(m['oracle_roc_auc'])}, "
            f"Brier {number(m.get('oracle_brier'))}"
        )
    lines.append(f"Model: {result['path']}")
    return lines


def model_versions(result: list[dict], args: Any) -> list[str]:
    if not result:
        return [f"No {args.model} model yet: run `debtflow train --model {args.model}`."]
    columns = [("VERSION", "version"), ("CHAMPION", lambda r: "champion" if r["champion"] else ""),
               ("ROC AUC", "roc_auc"), ("BASELINE", "baseline_roc_auc"), ("BRIER", "brier"),
               ("VALIDATED ON", lambda r: r["valid_dates"].replace(",", ", "))]  # fmt: skip
    return table(result, columns, MAX_ROWS)


def model_version(result: dict, args: Any) -> list[str]:
    m, rows = result.get("metrics", {}), result.get("rows", {})
    window = result.get("training_window", {})
    train_dates = window.get("train_dates", [])
    return [
        f"{result['model']} {result['version']}"
        + (" (champion)" if result["champion"] else "")
        + f", trained as of {result.get('as_of')}",
        f"Target: {result.get('target')}",
        f"Training: {number(rows.get('train'))} rows on {plural(len(train_dates), 'date')}"
        + (f" ({train_dates[0]} … {train_dates[-1]})" if train_dates else "")
        + f"; validated on {listed(window.get('valid_dates', []))} "
        f"({number(rows.get('valid'))} rows); {result.get('n_features')} features",
        f"Validation: ROC AUC {number(m.get('roc_auc'))} (logistic baseline "
        f"{number(m.get('baseline_roc_auc'))}), Brier {number(m.get('brier'))}",
        f"Report: {result['report']}",
    ]


def promoted(result: dict, args: Any) -> list[str]:
    return [f"{result['model']} champion: {result['champion']}"]


def terms_advice(result: dict, args: Any) -> list[str]:
    lines = [
        f"Payment-terms advice as of {result['as_of']} for {plural(result['debtors'], 'debtor')} "
        f"(model {result['model_version']}): " + counts(result["advice"]),
    ]
    for currency, loss in sorted(result["expected_loss_by_currency"].items()):
        lines.append(
            f"  {currency}: expected loss {amount(loss['expected_loss_standard'], currency)} on "
            f"standard terms, {amount(loss['expected_loss_advised'], currency)} as advised: "
            f"{amount(loss['expected_loss_avoided'], currency)} avoided"
        )
    lines.append(f"CSV: {result['path']}")
    return lines


def scored(result: dict, args: Any = None) -> list[str]:
    """A score result: collectability (and the late-payment scores of the daily run)."""
    if result.get("model_version") is None:
        return [f"Nothing scored: {result.get('skipped', 'no model')}"]
    grades = result.get("grades", {})
    lines = [
        f"Scored {plural(result['rows'], 'debtor')} as of {result['as_of']} with "
        f"{result['model_version']}: mean p(collect 30 d) {number(result['mean_p_collect_30d'])}, "
        f"{number(result['rows_with_reasons'])} with reason codes",
        "Grades 1-10: "
        + " ".join(number(grades.get(str(g), grades.get(g, 0))) for g in range(1, 11)),
        f"Drift: {drift(result.get('drift'))}",
    ]
    late = result.get("late_payment")
    if late:
        lines.append(
            f"Late payment: {plural(late['rows'], 'invoice')} scored with {late['model_version']}, "
            f"mean p(late) {number(late['mean_p_late'])}; drift: {drift(late.get('drift'))}"
        )
    return lines


# --- act ----------------------------------------------------------------------------------------


def dunning_plan(result: dict, args: Any = None) -> list[str]:
    if "would_plan" in result:
        return [f"Would plan {plural(result['would_plan'], 'action')} (dry run: nothing written)."]
    per_channel: dict[str, int] = {}
    for chans in result["planned"].values():
        for ch, n in chans.items():
            per_channel[ch] = per_channel.get(ch, 0) + n
    lines = [
        f"Planned {plural(result['planned_total'], 'action')} as of {result['as_of']}"
        + (f" ({counts(per_channel)})" if per_channel else "")
        + f"; {number(result['already_planned'])} already planned, "
        f"{number(result['carried_over'])} carried over, {number(result['expired'])} expired",
    ]
    if result["suppressed"]:
        lines.append("Suppressed: " + counts(result["suppressed"]))
    if result["waiting"]:
        lines.append("Waiting: " + counts(result["waiting"]))
    lines.append(f"Policy: {result['policy']}")
    return lines


def dunning_sent(result: dict, args: Any = None) -> list[str]:
    head = (
        f"Would send {plural(result.get('would_send', 0), 'message')} (dry run)"
        if getattr(args, "dry_run", False)
        else f"Sent {plural(result['sent'], 'message')}"
    )
    lines = [
        f"{head} as of {result['as_of']} at {text(result['at'])}"
        + (f" ({counts(result['by_channel'])})" if result["by_channel"] else "")
    ]
    if result["failed"]:
        lines.append("Failed: " + counts(result["failed"]))
    if result["waiting"]:
        lines.append("Waiting: " + counts(result["waiting"]))
    if result.get("recalled"):
        lines.append(f"Recalled: {number(result['recalled'])}")
    if result["outbox_only"]:
        lines.append(f"Outbox only (channel not configured): {', '.join(result['outbox_only'])}")
    return lines


def dunning_day(result: dict, args: Any = None) -> list[str]:
    return dunning_plan(result["planned"], args) + dunning_sent(result["sent"], args)


def policy_checked(result: dict, args: Any) -> list[str]:
    lines = [f"{result['file']} is valid (version {result['version']})."]
    for ladder, steps in result.get("ladders", {}).items():
        lines.append(f"  ladder {ladder}: {' -> '.join(steps)}")
    for key, label in (("channel_choice", "channel"), ("pre_due", "pre-due reminders"),
                       ("payment_plans", "payment plans")):  # fmt: skip
        if key in result:
            lines.append(f"  {label}: {result[key]}")
    for name, arms in result.get("experiments", {}).items():
        lines.append(f"  experiment {name}: {arms}")
    return lines


def dunning_history(result: dict, args: Any) -> list[str]:
    actions, suppressed = result["actions"], result["suppressed"]
    if not actions and not suppressed:
        return [f"No dunning for debtor {result['debtor_id']}: no action, no suppression."]
    lines = [f"Debtor {result['debtor_id']}: {plural(len(actions), 'action')}, "
             f"{plural(len(suppressed), 'day')} left alone"]  # fmt: skip
    if actions:
        lines += table(
            actions,
            [("AS OF", "as_of"), ("STEP", "step"), ("CHANNEL", "channel"),
             ("DUE", lambda a: amount(a["amount_due"], a["currency"])),
             ("FEE", lambda a: amount(a["fee_amount"], a["currency"]) if a["fee_amount"] else ""),
             ("STATE", "state"), ("SENT", "sent_at"), ("GRADE", "grade")],
            MAX_ROWS,
        )  # fmt: skip
    if suppressed:
        lines += ["", *table(suppressed, [("AS OF", "as_of"), ("CURRENCY", "currency"),
                                          ("STEP", "step"), ("WHY NOT", "reason")], MAX_ROWS)]  # fmt: skip
    return lines


# --- sell ---------------------------------------------------------------------------------------


def experiments_list(result: list[dict], args: Any) -> list[str]:
    if not result:
        return ["No experiments in the dunning policy (see `experiments:` in policy.yml)."]
    rows = [
        {**e, "arms": ", ".join(
            f"{a['variant']} {a['share']:.0%} ({number(a['debtors'])})" for a in e["arms"])}
        for e in result
    ]  # fmt: skip
    columns = [("EXPERIMENT", "experiment"), ("STATUS", "status"), ("START", "start"),
               ("END", "end"), ("ARMS: SHARE (DEBTORS SO FAR)", "arms")]  # fmt: skip
    return table(rows, columns, MAX_ROWS)


def experiment_report(result: dict, args: Any) -> list[str]:
    from debtflow.flows.dunning.experiment_page import interval, notes, pp, signed

    if not result["arms"]:
        return [f"Experiment {result['experiment']}: no debtor in it yet."]
    lines = [f"Experiment {result['experiment']} as of {result['as_of']}:"]
    lines += table(
        result["arms"],
        [("ARM", "variant"), ("CURRENCY", "currency"), ("DEBTORS", "debtors"),
         ("ACTIONS", "actions"),
         *((f"PAID {d}D", lambda a, d=d: _percent(a[f"pay_rate_{d}d"])) for d in (7, 14, 30)),
         ("NET/DEBTOR 30D", lambda a: a["net_30d_per_debtor"] and Decimal(a["net_30d_per_debtor"]))],
    )  # fmt: skip
    if not result["comparisons"]:
        lines.append("No variant to compare with the control yet.")
    for c in result["comparisons"]:
        rates = ", ".join(f"{days} {interval(d, pp)}" for days, d in c["pay_rate"].items())
        lines.append(
            f"{c['variant']} vs control ({c['currency']}, 95%): paid within {rates}; net per "
            f"debtor {interval(c['net_30d_per_debtor'], signed)}"
        )
    for c in result["comparisons"]:
        lines += notes([c])
    if result.get("html"):
        lines.append(f"Report: {result['html']}")
    return lines


def _percent(rate: float | None) -> str:
    return "-" if rate is None else f"{rate:.1%}"


def tapes_built(result: list[dict] | dict, args: Any = None) -> list[str]:
    """The tapes of `tape build` (a list) or of the sale-tape flow ({as_of, tapes})."""
    tapes = result["tapes"] if isinstance(result, dict) else result
    if not tapes:
        return ["No tape: no receivable is unresolved long enough to sell."]
    columns = [("TAPE", "tape_id"), ("STATE", "state"), ("RECEIVABLES", "receivables"),
               ("TOTAL", lambda t: amounts(t["totals_by_currency"], "total_balance"))]  # fmt: skip
    receivables = sum(t["receivables"] for t in tapes)
    totals: dict[str, Decimal] = {}
    for t in tapes:
        for currency, v in t["totals_by_currency"].items():
            totals[currency] = totals.get(currency, Decimal(0)) + Decimal(str(v["total_balance"]))
    return [
        *table(tapes, columns, MAX_ROWS),
        f"{plural(len(tapes), 'tape')}, {number(receivables)} receivables: {amounts(totals)}",
        f"Published in {tapes[0]['url'].rstrip('/').rsplit('/', 1)[0]}/",
    ]


def forward_flow_sold(result: dict, args: Any = None) -> list[str]:
    """The forward-flow tapes sold to the agreement's buyer (`tape forward-flow`, the flow)."""
    span = result["window"]
    empty = " (none: outside the agreement's dates)" if span["from"] > span["to"] else ""
    lines = [f"Forward flow as of {result['as_of']} to {result['buyer']} "
             f"(agreement {result['agreement']}):",
             f"Window: receivables that reached the agreed days past due from {span['from']} "
             f"to {span['to']}{empty}"]  # fmt: skip
    tapes = result["tapes"]
    if result["finished"]:
        lines.append(
            "Finished first, as of their own dates (an earlier run was cut short): "
            + ", ".join(t["tape_id"] for t in result["finished"])
        )
    if not tapes:
        lines.append("Nothing sold: no receivable of an agreed pool reached the days past due.")
    columns = [("TAPE", "tape_id"),
               ("RECEIVABLES", lambda t: sum(v["receivables"] for v in t["sold_by_currency"].values())),
               ("BALANCE", lambda t: amounts(t["sold_by_currency"], "total_balance")),
               ("PRICE", lambda t: amounts(t["sold_by_currency"], "price")),
               ("FULL TAPE", "full_tape_id")]  # fmt: skip
    unpriced = ", ".join(f"{p} ({n})" for p, n in result["unpriced"].items())
    return [
        *lines,
        *(table(tapes, columns, MAX_ROWS) if tapes else []),
        *([f"Kept in house, no agreed price: {unpriced}"] if unpriced else []),
    ]


def tape_list(result: list[dict], args: Any) -> list[str]:
    if not result:
        return ["No tapes yet: `debtflow tape build` makes one per pool."]
    columns = [("TAPE", "tape_id"), ("KIND", "kind"), ("AS OF", "as_of"), ("STATE", "state"),
               ("RECEIVABLES", "receivables"), ("BUYER", "buyer"),
               ("CREATED", "created_at")]  # fmt: skip
    folders = {t["url"].rstrip("/").rsplit("/", 1)[0] for t in result if t["url"]}
    where = [f"Published in {folders.pop()}/"] if len(folders) == 1 else []
    return [*table(result, columns, MAX_ROWS), *where]


def tape_shown(result: dict, args: Any) -> list[str]:
    m = result["manifest"]
    sel = m.get("selection", {})
    lines = [
        f"{result['tape_id']}: {m.get('kind', 'bidder')} tape, {result['state']}, pool "
        f"{m.get('pool')}, as of {m.get('as_of')}"
        + (f", offered until {m['offered_until']}" if m.get("offered_until") else ""),
        f"{number(m.get('receivables'))} receivables of {number(m.get('debtors'))} debtors: "
        + amounts(m.get("totals_by_currency", {}), "total_balance"),
    ]
    for r in m.get("reconciliation", []):
        lines.append(
            f"Reconciled {r['currency']}: tape {amount(r['tape_total'], r['currency'])}, "
            f"warehouse {amount(r['warehouse_total'], r['currency'])}, "
            f"difference {amount(r['difference'], r['currency'])}"
        )
    if sel:
        lines.append(
            f"Selection {sel.get('version')}: {sel.get('months_in_collection')}+ months in "
            f"collection, pooled by {', '.join(sel.get('pool_by', []))}"
        )
    lines.append(f"Files: {listed(sorted(m.get('files', {})), 8)} in {result['url']}")
    for name, link in (result.get("links") or {}).items():
        lines.append(f"  {name}: {link}")
    return lines


def tape_sold(result: dict, args: Any) -> list[str]:
    sold = result["sold_by_currency"]
    n = sum(v["receivables"] for v in sold.values())
    return [
        f"Sold {plural(n, 'receivable')} of {result['tape_id']} to {result['buyer']} on "
        f"{result['sold_on']}: {amounts(sold, 'total_balance')}",
        "They are never dunned again.",
    ]


def full_tape(result: dict, args: Any) -> list[str]:
    return [
        f"Buyer's tape {result['tape_id']} for {result['buyer']}: "
        f"{plural(result['receivables'], 'receivable')}, with identities",
        f"At {result['url']}",
    ]


def file_checked(result: dict, args: Any) -> list[str]:
    """A configuration file that validated (selection, agreement, terms)."""
    return [f"{result['file']} is valid (version {result['version']})."]


def _share(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"


def valued(result: dict, args: Any) -> list[str]:
    """`debtflow value`: per pool the face, price with its interval, the three NPVs, the call."""
    pools = result["pools"]
    if not pools:
        return [f"Nothing to value as of {result['as_of']}: no receivable meets the selection."]
    columns = [
        ("POOL", "pool"),
        ("N", "receivables"),
        ("FACE", lambda p: amount(p["face_value"], p["currency"])),
        ("PRICE", lambda p: _share(p["price_share"])),
        ("INTERVAL", lambda p: f"{_share(p['price_share_low'])}-{_share(p['price_share_high'])}"),
        ("KEEP", lambda p: amount(p["npv_keep"], p["currency"])),
        ("PLACE", lambda p: amount(p["npv_place"], p["currency"])),
        ("SELL", lambda p: amount(p["npv_sell"], p["currency"])),
        ("RESERVE", lambda p: _share(p["reserve_share"])),
        ("DECISION", lambda p: p["recommendation"] + ("" if p["material"] else " (close)")),
    ]
    return [
        *table(pools, columns, MAX_ROWS),
        f"As of {result['as_of']}; prices and reserve as % of face; terms {result['terms']}.",
        *(f"Report: {path}" for path in result.get("report", [])),
    ]


def value_backtested(result: dict, args: Any) -> list[str]:
    columns = [
        ("POOL", "pool"),
        ("N", "receivables"),
        ("DEBTORS", "debtors"),
        ("PREDICTED", lambda p: amount(p["predicted_recovery"], p["currency"])),
        ("REALISED", lambda p: amount(p["realised_recovery"], p["currency"])),
        ("ERROR", lambda p: _share(p["recovery_error"])),
        ("90% INTERVAL", lambda p: _error_span(p["error_low"], p["error_high"])),
        ("PRICE ERROR", lambda p: _share(p["price_error"])),
        ("SELL", lambda p: "yes" if p["sell_predicted"] else "no"),
        ("RIGHT", lambda p: ("yes" if p["decision_right"] else "no") if p["material"] else "-"),
    ]
    oracle = "oracle_within_tolerance" in result  # a simulated world's truth was given
    if oracle:
        columns[7:7] = [
            ("ORACLE", lambda p: _share(p["oracle_error"])),
            ("P(ORACLE IN 15%)", lambda p: f"{p['oracle_chance_within']:.0%}"),
        ]
    n = len(result["pools"])
    lines = [
        *table(result["pools"], columns, MAX_ROWS),
        f"{result['months']} months after {result['as_of']}: {result['within_tolerance']} of "
        f"{plural(n, 'pool')} within 15% of the realised recovery; keep-or-sell right for "
        f"{result['decisions_right']} of the {result['decisions_judged']} material ones.",
        _large_enough(result),
        f"The price's {result['price_interval_level']:.0%} interval holds the realised price for "
        f"{result['price_intervals_covering']} of the {plural(n, 'pool')}.",
    ]
    if oracle:
        lines.append(
            f"The oracle (the world's own hazards) is within 15% for "
            f"{result['oracle_within_tolerance']} of {plural(n, 'pool')}; a perfect model would be "
            f"for {result['perfect_expected_within']} on average (debtors pay all or nothing: "
            "small pools miss by chance)."
        )
    return lines


def _large_enough(result: dict) -> str:
    """The bar where it can be judged: pools whose error interval (debtors resampled) spans at
    most 30 points."""
    why = (
        "the 90% interval of the error, over the pool's debtors resampled, spans at most 30 points"
    )
    if not result["pools_large_enough"]:
        return f"No pool is large enough to judge to 15% ({why})."
    return (
        f"Of the {plural(result['pools_large_enough'], 'pool')} large enough to judge to 15% "
        f"({why}), {result['large_enough_within_tolerance']} within it."
    )


def _error_span(low: float | None, high: float | None) -> str:
    return "-" if low is None else f"{_share(low)} to {_share(high)}"


def feedback_loaded(result: dict, args: Any) -> list[str]:
    return [
        f"Loaded {plural(result['rows'], 'feedback row')} from {result['file']}"
        + (f": {counts(result['outcomes'])}" if result["outcomes"] else "")
    ]


# --- the flows and operations ------------------------------------------------------------------


def daily_run(result: dict, args: Any = None) -> list[str]:
    """The daily run in a dozen lines: a row per stage, the model and its drift, the links."""
    s, secs = result["stages"], result["seconds"]
    cached = set(result.get("cached", []))
    total = sum(v for v in secs.values() if v)
    head = f"Daily run {result['as_of']}: completed in {seconds(total)}"
    if cached:
        head += f" (unchanged inputs, reused: {', '.join(sorted(cached))})"
    rows = [{"stage": name.replace("_", " "), "seconds": seconds(secs.get(name)),
             "what": what + (" (reused)" if name in cached else "")}
            for name, what in _stage_facts(s).items()]  # fmt: skip
    lines = [head, *table(rows, [("STAGE", "stage"), ("TIME", "seconds"), ("RESULT", "what")])]
    score = s["score"]
    if score.get("model_version"):
        lines.append(f"Drift: {drift(score.get('drift'))}")
    links = {k: v for k, v in result.get("links", {}).items() if v}
    lines += [f"{label}: {target}" for label, target in links.items()]
    counts_ = result.get("rows", {})
    if counts_:
        lines.append(
            f"Warehouse: {plural(len(counts_), 'table')}, {number(sum(counts_.values()))} rows "
            "(--json lists them)"
        )
    return lines


def _stage_facts(s: dict) -> dict[str, str]:
    ing, raw, tr, marts = s["ingest"], s["validate_raw"], s["transform"], s["validate_marts"]
    score, plan, sent, pub = s["score"], s["dunning"]["planned"], s["dunning"]["sent"], s["publish"]
    features = tr["rows"].get("debtor_features")
    nodes = sum(tr["nodes"].values())
    facts = {
        "ingest": f"{number(ing['rows_loaded'])} rows loaded from "
        f"{plural(ing['batches_loaded'], 'new batch', 'new batches')}, "
        f"{number(ing['rows_quarantined'])} quarantined, {number(ing['rows_held'])} held",
        "validate_raw": _validation_fact(raw),
        "transform": f"{number(nodes)} dbt nodes"
        + (f", {number(features)} debtors in debtor_features" if features is not None else ""),
        "validate_marts": _validation_fact(marts),
        "score": (
            f"{plural(score['rows'], 'debtor')} scored with {score['model_version']}, mean p "
            f"{number(score.get('mean_p_collect_30d'))}"
            if score.get("model_version")
            else f"nothing scored: {score.get('skipped', 'no model')}"
        )
        + (
            f"; {plural(score['late_payment']['rows'], 'invoice')} late-payment scored"
            if "late_payment" in score
            else ""
        ),
        "dunning": f"{number(plan['planned_total'])} planned, {number(sent['sent'])} sent"
        + (f", waiting: {counts(sent['waiting'], 3)}" if sent["waiting"] else "")
        + (f"; suppressed: {counts(plan['suppressed'], 3)}" if plan["suppressed"] else ""),
        "publish": f"{plural(len(pub['marts']), 'mart')} to {pub['target']}",
    }
    return facts


def _validation_fact(v: dict) -> str:
    verdict = "passed" if not v["blocking_failures"] else f"{v['blocking_failures']} FAILED"
    return f"{number(v['rows'])} rows in {plural(v['suites'], 'suite')}: {verdict}" + (
        f", {plural(v['warnings'], 'warning')}" if v["warnings"] else ""
    )


def backfilled(result: dict, args: Any) -> list[str]:
    done, skipped = result["completed"], result["skipped"]
    lines = [
        f"Backfill {args.start} … {args.end}: {plural(len(done), 'date')} run, "
        f"{len(skipped):,} already complete"
    ]
    if done:
        lines.append(f"Run: {listed(done, 6)}")
    return lines


def doctor_checks(result: list[dict], args: Any) -> list[str]:
    from debtflow.flows.ops.doctor import Check

    return [Check(**c).line() for c in result]


def demo_summary(result: dict, args: Any) -> list[str]:
    return []  # the demo printed its own summary as it ended (flows/ops/demo.py)


# --- simulate ------------------------------------------------------------------------------------


def policy_simulated(result: dict, args: Any) -> list[str]:
    """Per arm and currency: collected, costs, net; messages and complaint-prone contacts; then
    each arm minus the fixed ladder with its 95% interval."""
    lines = [
        f"Closed loop: {number(result['debtors'])} debtors x {result['days']} days from "
        f"{result['first_day']}, seed {result['seed']}, policy {result['policy']}"
    ]
    rows = [
        {"arm": arm, "currency": c, **{k: Decimal(v) for k, v in m.items()}}
        for arm, r in result["arms"].items()
        for c, m in r["money"].items()
    ]
    lines += table(
        rows,
        [("ARM", "arm"), ("CURRENCY", "currency"), ("COLLECTED", "collected"),
         ("COSTS", "costs"), ("NET", "net")],
    )  # fmt: skip
    for arm, r in result["arms"].items():
        lines.append(
            f"{arm}: messages {counts(r['messages'])}; complaint-prone "
            f"{counts(r['complaint_prone']) if r['complaint_prone'] else 'none'}"
        )
    for arm, per_currency in result["vs_fixed_ladder"].items():
        for c, d in per_currency.items():
            low, high = d["interval_95"]
            share = ""
            if d["relative"] is not None:
                rel_low, rel_high = d["relative_interval_95"]
                share = f" ({d['relative']:+.1%}, 95% {rel_low:+.1%} to {rel_high:+.1%})"
            lines.append(
                f"{arm} - fixed_ladder, net {c}: {d['difference']:+,.2f} "
                f"(95% {low:+,.2f} to {high:+,.2f}){share}"
            )
    lines.append(f"Homes (warehouse, outbox per arm): {result['out']}")
    lines.append(f"Time: {seconds(result['seconds']['total'])}")
    return lines
