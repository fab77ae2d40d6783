"""Score debtors with the champion model into ml.debtor_scores, with grades and reason codes.

The grade ("rapportcijfer", 1-10) is a fixed probability band: grade g means a calibrated chance of
(g-1)/10 .. g/10 that the overdue balance is collected within 30 days, in every model version.
Reason codes are LightGBM's per-row contributions (pred_contrib) turned into phrases; computing
them costs about one more pass over the trees, so it is done only for the rows being scored
(well under a second per 20k rows; roughly linear beyond that).
"""

from __future__ import annotations

import json
import math
import time
from datetime import date, datetime
from zoneinfo import ZoneInfo

import duckdb
import numpy as np
import pandas as pd

from debtflow.flows.settings import Settings
from debtflow.flows.warehouse import DEBTOR_SCORES, connect, ensure_schema
from debtflow.models import features, registry
from debtflow.models.features import BOOLEAN, CATEGORICAL, DATE, FeatureSpec

N_REASONS = 3
IN_FAVOUR = "in favour: "


def grade(p: np.ndarray) -> np.ndarray:
    """1 + floor(10 p), clipped to 1..10."""
    return np.clip(1 + np.floor(10 * np.asarray(p, dtype=float)), 1, 10).astype(int)


def calibrate(raw: np.ndarray, calibrator: dict) -> np.ndarray:
    """Raw LightGBM margin -> calibrated probability (Platt: sigmoid(a * margin + b))."""
    if calibrator["method"] != "platt":
        raise ValueError(f"unknown calibrator {calibrator['method']}")
    z = calibrator["a"] * np.asarray(raw, dtype=float) + calibrator["b"]
    return 1.0 / (1.0 + np.exp(-z))


def predict_proba(model: registry.Model, X: pd.DataFrame) -> np.ndarray:
    return calibrate(model.booster.predict(X, raw_score=True), model.calibrator)


# --- reason codes -------------------------------------------------------------------------------
# Phrases for the columns of marts.debtor_features; any other column gets a generic phrase from
# its name, so a new feature never breaks scoring. `{n}` is a count ("no" when zero), `{s}` a
# plural s, `{pct}` a percentage, `{amount}` money.

BOOLEAN_PHRASES = {
    "has_email": ("e-mail address on file", "no e-mail address on file"),
    "has_mobile": ("mobile number on file", "no mobile number on file"),
    "email_bounced": ("e-mail bounced", "e-mail never bounced"),
    "sms_bounced": ("SMS bounced", "SMS never bounced"),
    "active_plan": ("on an active payment plan", "no active payment plan"),
    "debt_restructuring": ("in debt restructuring", "not in debt restructuring"),
    "bankrupt": ("bankrupt", "not bankrupt"),
    "deceased": ("deceased", "not deceased"),
    "paperless": ("paperless billing", "paper billing"),
}
NUMBER_PHRASES = {
    "overdue_balance": "overdue balance of {amount}",
    "open_balance": "open balance of {amount}",
    "disputed_open_amount": "{amount} under dispute",
    "max_days_past_due": "oldest overdue invoice {n} day{s} past due",
    "n_overdue_invoices": "{n} overdue invoice{s}",
    "tenure_days": "customer for {n} day{s}",
    "n_invoices_12m": "{n} invoice{s} in the last 12 months",
    "invoiced_amount_12m": "{amount} invoiced in the last 12 months",
    "avg_invoice_amount_12m": "average invoice of {amount} in the last 12 months",
    "n_invoices_paid_late_12m": "{n} invoice{s} paid late in the last 12 months",
    "share_paid_late_12m": "{pct} of invoices paid late in the last 12 months",
    "avg_days_late_12m": "paid {n} day{s} late on average in the last 12 months",
    "max_days_late_12m": "paid up to {n} day{s} late in the last 12 months",
    "overdue_share": "{pct} of the open balance overdue",
    "days_since_last_payment": "last payment {n} day{s} ago",
    "n_payments_90d": "{n} payment{s} in the last 90 days",
    "paid_amount_90d": "{amount} paid in the last 90 days",
    "paid_to_invoiced_12m": "paid {pct} of the amount invoiced in the last 12 months",
    "n_past_overdue_episodes": "{n} earlier overdue episode{s}",
    "n_overdue_episodes_12m": "{n} overdue episode{s} in the last 12 months",
    "reminders_current_episode": "{n} reminder{s} ignored in the current episode",
    "reminders_180d": "{n} reminder{s} in the last 180 days",
    "email_contacts_365d": "{n} e-mail{s} sent in the last 12 months",
    "email_delivered_rate_365d": "{pct} of e-mails delivered in the last 12 months",
    "email_opened_rate_365d": "{pct} of e-mails opened in the last 12 months",
    "email_clicked_rate_365d": "{pct} of e-mails clicked in the last 12 months",
    "sms_contacts_365d": "{n} SMS sent in the last 12 months",
    "sms_delivered_rate_365d": "{pct} of SMS delivered in the last 12 months",
    "sms_clicked_rate_365d": "{pct} of SMS links clicked in the last 12 months",
    "letter_contacts_365d": "{n} letter{s} sent in the last 12 months",
    "letter_delivered_rate_365d": "{pct} of letters delivered in the last 12 months",
    "letter_replied_rate_365d": "replied to {pct} of letters in the last 12 months",
    "phone_contacts_365d": "{n} call attempt{s} in the last 12 months",
    "phone_call_connected_rate_365d": "{pct} of calls connected in the last 12 months",
    "phone_promise_to_pay_rate_365d": "promised to pay on {pct} of calls in the last 12 months",
    "days_since_last_response": "last response {n} day{s} ago",
    "bureau_score": "bureau score {n}",
    "registered_debts": "{n} registered debt{s} at the credit bureau",
    "n_broken_plans": "{n} broken payment plan{s}",
}
MISSING_PHRASES = {
    "days_since_last_payment": "never paid",
    "days_since_last_response": "never responded to a reminder",
    "bureau_score": "no bureau score",
    "email_delivered_rate_365d": "no e-mails sent in the last 12 months",
    "sms_delivered_rate_365d": "no SMS sent in the last 12 months",
    "letter_delivered_rate_365d": "no letters sent in the last 12 months",
    "phone_call_connected_rate_365d": "no calls in the last 12 months",
}
CATEGORY_PHRASES = {
    "debtor_type": "{value} debtor",
    "acquisition_channel": "acquired through the {value} channel",
}
WORDS = {
    "email": "e-mail", "sms": "SMS", "dpd": "days past due", "pct": "%", "avg": "average",
    "cnt": "count", "num": "number of", "amt": "amount", "30d": "30 days", "90d": "90 days",
    "180d": "180 days", "365d": "365 days", "12m": "12 months", "6m": "6 months", "3m": "3 months",
}  # fmt: skip


def humanize(name: str) -> str:
    return " ".join(WORDS.get(w, w) for w in name.split("_"))


def _number(v: float) -> str:
    return f"{v:,.0f}" if float(v).is_integer() or abs(v) >= 100 else f"{v:,.1f}"


def phrase(name: str, kind: str, value: object) -> str:
    """A credit manager's words for one feature value."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return MISSING_PHRASES.get(name, f"{humanize(name)} unknown")
    if kind == CATEGORICAL:
        return CATEGORY_PHRASES.get(name, f"{humanize(name)}: {{value}}").format(value=value)
    if kind == BOOLEAN:
        yes, no = BOOLEAN_PHRASES.get(name, (humanize(name), f"not {humanize(name)}"))
        return yes if value else no
    v = float(value)
    template = NUMBER_PHRASES.get(name)
    if template is None:
        if kind == DATE:
            template = f"{humanize(name)} {{n}} day{{s}} ago"
        elif name.startswith("n_"):
            template = f"{{n}} {humanize(name[2:])}"
        elif name.split("_")[0].endswith("s") and v.is_integer():  # "3 reminders ignored"
            template = f"{{n}} {humanize(name)}"
        elif {"rate", "share", "ratio"} & set(name.split("_")) and 0 <= v <= 1:
            template = f"{humanize(name)} {{pct}}"
        else:
            template = f"{humanize(name)} {{n}}"
    if v == 0 and template.startswith("{n} "):
        template = "no " + template[4:]
    return template.format(
        n=_number(v), s="" if v == 1 else "s", pct=f"{v:.0%}", amount=f"{v:,.2f}"
    )


def reason_codes(contrib: np.ndarray, X: pd.DataFrame, spec: FeatureSpec) -> list[list[str]]:
    """Per row: the features that lower the chance of payment most (up to 3), topped up with the
    strongest ones in favour (prefixed) when fewer than three count against."""
    contrib = contrib[:, : len(spec.columns)]  # the last column is the bias
    order = np.argsort(contrib, axis=1, kind="stable")
    columns = [X[c].to_numpy(dtype=object) for c in spec.columns]
    out = []
    for i in range(len(X)):
        row = contrib[i]
        against = [j for j in order[i, :N_REASONS] if row[j] < 0]
        favour = [j for j in order[i, ::-1][: N_REASONS - len(against)] if row[j] > 0]
        phrases = [
            phrase(spec.columns[j], spec.kinds[spec.columns[j]], columns[j][i]) for j in against
        ]
        phrases += [
            IN_FAVOUR + phrase(spec.columns[j], spec.kinds[spec.columns[j]], columns[j][i])
            for j in favour
        ]
        out.append(phrases)
    return out


# --- scoring ------------------------------------------------------------------------------------


def score(settings: Settings, as_of: date, con: duckdb.DuckDBPyConnection | None = None) -> dict:
    """Replace ml.debtor_scores for as_of with the champion's scores (one transaction)."""
    started = time.perf_counter()
    model = registry.load(settings)
    own = con is None
    con = con or connect(settings)
    try:
        ensure_schema(con)
        frame = features.read_scoring(con, as_of)
        X = features.to_matrix(frame, model.spec)
        if len(X):
            p = predict_proba(model, X)
            contrib = model.booster.predict(X, pred_contrib=True)
            reasons = reason_codes(np.asarray(contrib), X, model.spec)
        else:
            p, reasons = np.zeros(0), []
        grades = grade(p)
        scored_at = datetime.now(ZoneInfo(settings.timezone)).replace(tzinfo=None)
        scores = pd.DataFrame(
            {
                "debtor_id": frame["debtor_id"].astype(str).to_numpy(),
                "p_collect_30d": p,
                "grade": grades,
                "reason_codes": [json.dumps(r) for r in reasons],
            }
        )
        con.register("_debtflow_new_scores", scores)
        con.execute("begin transaction")
        try:
            con.execute(f"delete from {DEBTOR_SCORES} where as_of = ?::date", [as_of])
            con.execute(
                f"insert into {DEBTOR_SCORES} (debtor_id, as_of, p_collect_30d, grade, "
                "reason_codes, model_version, scored_at) select debtor_id, ?::date, "
                "p_collect_30d, grade, reason_codes, ?, ?::timestamp from _debtflow_new_scores",
                [as_of, model.version, scored_at],
            )
            con.execute("commit")
        except BaseException:
            con.execute("rollback")
            raise
        finally:
            con.unregister("_debtflow_new_scores")
    finally:
        if own:
            con.close()
    return {
        "as_of": str(as_of),
        "model_version": model.version,
        "rows": len(scores),
        "mean_p_collect_30d": float(p.mean()) if len(p) else None,
        "grades": {int(g): int((grades == g).sum()) for g in range(1, 11)},
        "seconds": round(time.perf_counter() - started, 2),
    }
