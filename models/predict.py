"""Score debtors with the champion model into ml.debtor_scores, with grades and reason codes.

The grade ("rapportcijfer", 1-10) is a fixed probability band: grade g means a calibrated chance of
(g-1)/10 .. g/10 that the overdue balance is collected within 30 days, in every model version.
Reason codes are LightGBM's per-row contributions (pred_contrib) turned into phrases; they cost
~30x a prediction, so large books get them only for the rows the day's run acts on (see below).
Every score result carries the drift report (PSI per feature and for the score).
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from datetime import date, datetime
from zoneinfo import ZoneInfo

import duckdb
import numpy as np
import pandas as pd

from debtflow.flows.core.settings import Settings
from debtflow.flows.core.warehouse import DEBTOR_SCORES, connect, ensure_schema
from debtflow.models import drift, features, registry
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
    cache: dict[tuple, str] = {}  # counts and flags repeat: a million rows hold few values

    def said(j: int, i: int) -> str:
        v = columns[j][i]
        key = (j, v if isinstance(v, str) or v == v else None)  # NaN != NaN: one key
        if key not in cache:
            cache[key] = phrase(spec.columns[j], spec.kinds[spec.columns[j]], v)
        return cache[key]

    out = []
    for i in range(len(X)):
        row = contrib[i]
        against = [j for j in order[i, :N_REASONS] if row[j] < 0]
        favour = [j for j in order[i, ::-1][: N_REASONS - len(against)] if row[j] > 0]
        out.append([said(j, i) for j in against] + [IN_FAVOUR + said(j, i) for j in favour])
    return out


# --- scoring ------------------------------------------------------------------------------------
# Exact contributions (pred_contrib, TreeSHAP) cost ~0.3 ms a row for the champion here (about
# 4 ms for a 200-tree 63-leaf model) against ~10 us for a prediction, so at a million debtors
# they are computed only for the rows the day's dunning run acts on: debtors at a ladder step
# (by days past due) whose message for the current episode is not in the ledger yet. Small
# books (up to REASONS_FOR_ALL_ROWS) get them for every row.

REASONS_FOR_ALL_ROWS = 25_000
EXACT_REASONS_BUDGET = 20_000  # beyond it (first run on an empty ledger): the additive lookup
APPROX_SAMPLE = 4_000  # rows whose exact contributions build the lookup at training


def contribution_table(booster, X: pd.DataFrame, spec: FeatureSpec) -> dict:
    """The cheap attribution, built once at training: per feature and value bin (deciles, one
    bin for missing; per category) the mean exact contribution over a sample of rows. At
    scoring a row's contribution is a lookup per feature: additive, it ignores interactions,
    but it costs about as much as reading the row, not 30 predictions."""
    X = X.iloc[:: max(1, len(X) // APPROX_SAMPLE)]
    contrib = np.asarray(booster.predict(X, pred_contrib=True))[:, : len(spec.columns)]
    table = {}
    for j, c in enumerate(spec.columns):
        if spec.kinds[c] == CATEGORICAL:
            cats = [str(v) for v in X[c].cat.categories]
            bins = pd.Categorical(X[c].astype(object), categories=cats).codes.astype(int) + 1
            table[c] = {"categories": cats, "mean": _bin_means(contrib[:, j], bins, len(cats) + 1)}
        else:
            v = X[c].to_numpy(dtype=float)
            present = v[~np.isnan(v)]
            edges = (
                sorted({float(q) for q in np.quantile(present, np.linspace(0.1, 0.9, 9))})
                if len(present)
                else []
            )
            bins = _value_bins(v, edges)
            table[c] = {"edges": edges, "mean": _bin_means(contrib[:, j], bins, len(edges) + 2)}
    return table


def _value_bins(v: np.ndarray, edges: list[float]) -> np.ndarray:
    return np.where(np.isnan(v), 0, np.searchsorted(np.asarray(edges, float), v, "right") + 1)


def _bin_means(values: np.ndarray, bins: np.ndarray, n: int) -> list[float]:
    total = np.bincount(bins, weights=values, minlength=n)[:n]
    count = np.bincount(bins, minlength=n)[:n]
    return np.where(count > 0, total / np.maximum(count, 1), 0.0).round(6).tolist()


def approx_contrib(table: dict, X: pd.DataFrame, spec: FeatureSpec) -> np.ndarray:
    out = np.zeros((len(X), len(spec.columns) + 1))
    for j, c in enumerate(spec.columns):
        t = table.get(c)
        if t is None:
            continue
        if "categories" in t:
            bins = pd.Categorical(X[c].astype(object), categories=t["categories"]).codes + 1
        else:
            bins = _value_bins(X[c].to_numpy(dtype=float), t["edges"])
        out[:, j] = np.asarray(t["mean"])[bins.astype(int)]
    return out


def reason_plan(
    model: registry.Model, which: np.ndarray, p: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Row numbers that get exact reason codes and those that get the additive lookup.

    Exact contributions for up to EXACT_REASONS_BUDGET rows, the least collectable first (they
    get the firmest messages); the additive lookup for the rest, if the model has one. A choice
    over the whole population: on Dask it is made once, by the driver."""
    idx = np.flatnonzero(which)
    if model.metadata.get("approx_contrib") and len(idx) > EXACT_REASONS_BUDGET:
        idx = idx[np.argsort(p[idx], kind="stable")]
        return idx[:EXACT_REASONS_BUDGET], idx[EXACT_REASONS_BUDGET:]
    return idx, idx[:0]


def explain(
    model: registry.Model, X: pd.DataFrame, exact: np.ndarray, approx: np.ndarray
) -> list[str | None]:
    """JSON reason codes for the rows numbered in exact / approx, None for the others (each
    row's codes depend on that row alone, so a partition gets the same codes as the whole)."""
    out: list[str | None] = [None] * len(X)
    for rows, method in ((exact, "exact"), (approx, "approx")):
        if not len(rows):
            continue
        sub = X.iloc[rows]
        if method == "exact":
            contrib = np.asarray(model.booster.predict(sub, pred_contrib=True))
        else:
            contrib = approx_contrib(model.metadata["approx_contrib"], sub, model.spec)
        for i, r in zip(rows, reason_codes(contrib, sub, model.spec), strict=True):
            out[i] = json.dumps(r)
    return out


def reasons_for(
    model: registry.Model, X: pd.DataFrame, which: np.ndarray, p: np.ndarray
) -> tuple[list[str | None], int]:
    """JSON reason codes for the selected rows (None for the others) and how many are exact."""
    exact, approx = reason_plan(model, which, p)
    return explain(model, X, exact, approx), len(exact)


def replace_rows(
    con: duckdb.DuckDBPyConnection,
    table: str,
    rows: pd.DataFrame,
    as_of: date,
    columns: str,
    version: str,
    scored_at: datetime,
) -> None:
    """Delete the table's rows for as_of and insert the new ones, in one transaction."""
    con.register("_debtflow_new_scores", rows)
    con.execute("begin transaction")
    try:
        con.execute(f"delete from {table} where as_of = ?::date", [as_of])
        con.execute(
            f"insert into {table} ({columns}, as_of, model_version, scored_at) "
            f"select {columns}, ?::date, ?, ?::timestamp from _debtflow_new_scores",
            [as_of, version, scored_at],
        )
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise
    finally:
        con.unregister("_debtflow_new_scores")


class _Phases:
    """Calls on_progress with what was done and the seconds since the last call."""

    def __init__(self, on_progress: Callable[[str, float], None] | None) -> None:
        self.on_progress, self.last = on_progress, time.perf_counter()

    def __call__(self, what: str) -> None:
        now = time.perf_counter()
        if self.on_progress:
            self.on_progress(what, now - self.last)
        self.last = now


def score(
    settings: Settings,
    as_of: date,
    con: duckdb.DuckDBPyConnection | None = None,
    reasons: str = "auto",
    distributed: Callable | None = None,
    acted_on: Callable | None = None,
    on_progress: Callable[[str, float], None] | None = None,
) -> dict:
    """Replace ml.debtor_scores for as_of with the champion's scores (one transaction).

    reasons: "auto" (every row of a small book, else the rows the day's run acts on), "all",
    "acted_on" or "none"; acted_on: (connection, frame) -> a boolean per row, the rows the day's
    dunning acts on (flows/dunning/plan.py; without it, none). distributed: (model, frame,
    rows to explain) -> (X, p, reason codes,
    what ran where), to compute the rows elsewhere (flows/score/on_dask.py); this function
    still chooses the rows to explain, grades, measures drift and writes. on_progress: (what was
    done, its seconds), called as each phase and each PREDICT_CHUNK of rows finishes.
    """
    started = time.perf_counter()
    tell = _Phases(on_progress)
    model = registry.load(settings)
    own = con is None
    con = con or connect(settings)
    try:
        ensure_schema(con)
        frame = features.read_scoring(con, as_of)
        tell(f"read {len(frame):,} debtors to score")
        t_reasons = time.perf_counter()
        if reasons == "all" or (reasons == "auto" and len(frame) <= REASONS_FOR_ALL_ROWS):
            which = np.ones(len(frame), dtype=bool)
        elif reasons in ("auto", "acted_on") and acted_on is not None:
            which = acted_on(con, frame)
        else:
            which = np.zeros(len(frame), dtype=bool)
        t_reasons = time.perf_counter() - t_reasons
        tell(f"chose {int(which.sum()):,} debtors for reason codes")
        on_dask = None
        if distributed is not None and len(frame):
            X, p, codes, on_dask = distributed(model, frame, which)
            n_exact = on_dask.pop("rows_with_exact_reasons")
            t_reasons += on_dask["seconds_reasons"]
            tell(f"scored {len(frame):,} debtors on Dask, {int(which.sum()):,} with reasons")
        else:
            X = features.to_matrix(frame, model.spec)
            p = _predict_in_chunks(model, X, tell)
            started_reasons = time.perf_counter()
            codes, n_exact = reasons_for(model, X, which, p)
            t_reasons += time.perf_counter() - started_reasons
            tell(f"reason codes for {int(which.sum()):,} debtors ({n_exact:,} exact)")
        grades = grade(p)
        scored_at = datetime.now(ZoneInfo(settings.timezone)).replace(tzinfo=None)
        scores = pd.DataFrame(
            {
                "debtor_id": frame["debtor_id"].astype(str).to_numpy(),
                "p_collect_30d": p,
                "grade": grades,
                "reason_codes": codes,
            }
        )
        replace_rows(
            con,
            DEBTOR_SCORES,
            scores,
            as_of,
            "debtor_id, p_collect_30d, grade, reason_codes",
            model.version,
            scored_at,
        )
        tell(f"wrote {len(scores):,} scores to {DEBTOR_SCORES}")
    finally:
        if own:
            con.close()
    result = {
        "as_of": str(as_of),
        "model_version": model.version,
        "rows": len(scores),
        "rows_with_reasons": int(which.sum()),
        "rows_with_exact_reasons": n_exact,
        "mean_p_collect_30d": float(p.mean()) if len(p) else None,
        "grades": {int(g): int((grades == g).sum()) for g in range(1, 11)},
        "drift": drift.report(model.metadata.get("drift_reference"), X, p),
        "seconds": round(time.perf_counter() - started, 2),
        "seconds_reasons": round(t_reasons, 2),
    }
    if on_dask is not None:
        result["dask"] = on_dask
    return result


PREDICT_CHUNK = 250_000  # rows per prediction call: a progress line each on a large book


def _predict_in_chunks(model: registry.Model, X: pd.DataFrame, tell: _Phases) -> np.ndarray:
    """predict_proba, a chunk of rows at a time (each row's score depends on that row alone)."""
    if not len(X):
        return np.zeros(0)
    parts = []
    for start in range(0, len(X), PREDICT_CHUNK):
        parts.append(predict_proba(model, X.iloc[start : start + PREDICT_CHUNK]))
        tell(f"scored {start + len(parts[-1]):,}/{len(X):,} debtors")
    return np.concatenate(parts)


def without_model(settings: Settings, as_of: date) -> dict:
    """The score stage's result on a day with no champion yet (a new book): nothing is scored,
    dunning runs by the rules alone, and the message says what to run, and when."""
    with connect(settings) as con:
        ready = features.training_readiness(con, as_of, settings.training_months)
    if ready["ready"]:
        message = (
            f"no collectability model yet: {ready['labelled_dates']} labelled snapshot dates are "
            f"enough to train one: run `debtflow train --as-of {as_of}`"
        )
    else:
        message = (
            f"no collectability model yet, and too little history to train one "
            f"({ready['labelled_dates']} of {features.MIN_TRAINING_DATES} labelled snapshot "
            f"dates): run `debtflow train` on or after {ready['ready_on']}"
        )
    return {
        "as_of": str(as_of),
        "model_version": None,
        "rows": 0,
        "rows_with_reasons": 0,
        "skipped": message + "; dunning follows the rules alone until a model is promoted",
        "train_ready_on": str(ready["ready_on"]),
    }
