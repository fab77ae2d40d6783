"""Observed rows of the simulated world, as numpy columns (strings are built later, per batch).

Each builder returns a dict of equal-length arrays plus `_day` (event day: which batch the row
lands in) and `_sec` (seconds into that day). Money is integer cents.
"""

from __future__ import annotations

import numpy as np

from debtflow.flows.simulation import world as sw
from debtflow.flows.simulation.world import World, uniform

Cols = dict[str, np.ndarray]


def month_starts(start_ordinal: int, n_months: int) -> np.ndarray:
    """Day numbers of the first of each month from the history start (day 0 = a first-of-month)."""
    from datetime import date

    d0 = date.fromordinal(start_ordinal)
    out = []
    for m in range(n_months):
        y, mo = divmod(d0.month - 1 + m, 12)
        out.append(date(d0.year + y, mo + 1, 1).toordinal() - start_ordinal)
    return np.array(out, dtype=np.int64)


def invoices(w: World, months: np.ndarray) -> Cols:
    """Monthly invoices per debtor on its billing day (from customer_since), then ~3% credit notes."""
    rng = np.random.default_rng([w.seed, 2])
    n = len(w["archetype"])
    issue = months[None, :].astype(np.int32) + w["billing_day"][:, None].astype(np.int32) - 1
    ok = (issue >= w["since"][:, None]) & (issue < w.n_days)
    debtor, m = np.nonzero(ok)
    debtor, m = debtor.astype(np.int32), m.astype(np.int32)
    issue = issue[debtor, m]
    del ok, m
    terms = np.where(w["business"][debtor], 30, 14).astype(np.int32)
    amount = np.round(np.exp(w["amount_mu"][debtor] + rng.normal(0, 0.25, len(debtor))) * 100)
    amount = np.maximum(amount, 100) * np.where(w["country"][debtor] == 2, 11, 1)
    p_on = sw.p_ontime(w, debtor, issue)
    late = rng.random(len(debtor)) >= p_on
    pay_day = issue + (rng.random(len(debtor)) * (terms + 1)).astype(np.int32)
    inv = dict(
        seq=np.arange(len(debtor), dtype=np.int32),
        debtor=debtor,
        issue=issue,
        due=issue + terms,
        amount=amount.astype(np.int64),
        late=late,
        p_late=1.0 - p_on,
        pay_day=pay_day,
        credit=np.zeros(len(debtor), bool),
        product=(rng.integers(0, 6, len(debtor)) + np.where(w["business"][debtor], 6, 0)).astype(
            np.int8
        ),
    )
    cn = np.flatnonzero(rng.random(len(debtor)) < 0.03)
    cn_issue = inv["issue"][cn] + rng.integers(2, 12, len(cn)).astype(np.int32)
    keep = cn_issue < w.n_days
    cn, cn_issue = cn[keep], cn_issue[keep]
    cn_amount = np.maximum(100, (inv["amount"][cn] * rng.uniform(0.1, 1.0, len(cn))).round())
    credit = dict(
        seq=cn.astype(np.int32),
        debtor=inv["debtor"][cn],
        issue=cn_issue,
        due=cn_issue,
        amount=cn_amount.astype(np.int64),
        late=np.zeros(len(cn), bool),
        p_late=np.full(len(cn), np.nan),
        pay_day=np.full(len(cn), -1, np.int32),
        credit=np.ones(len(cn), bool),
        product=inv["product"][cn],
    )
    # Invoices stay in (debtor, issue) order with the credit notes after them: the overdue
    # process relies on that order, and skipping a re-sort keeps 1M-debtor worlds in memory.
    out = {k: np.concatenate([inv.pop(k), credit[k]]) for k in list(inv)}
    assert len(out["seq"]) == len(debtor) + len(cn) and n >= 0
    return out


def episode_of_invoice(
    inv: Cols, ep_debtor: np.ndarray, ep_event: np.ndarray, ep_d0: np.ndarray
) -> np.ndarray:
    """Index of the episode that contains each late invoice (the debtor's first with event > due)."""
    ep_key = ep_debtor * (1 << 21) + np.where(ep_event < 0, (1 << 21) - 1, ep_event)
    pos = np.searchsorted(ep_key, inv["debtor"].astype(np.int64) * (1 << 21) + inv["due"] + 1)
    pos = np.minimum(pos, len(ep_key) - 1)
    ok = (len(ep_key) > 0) & (ep_debtor[pos] == inv["debtor"]) & (ep_d0[pos] <= inv["due"])
    return np.where(ok, pos, -1)


def payments(
    w: World, inv: Cols, inv_ep: np.ndarray, ep_event: np.ndarray, ep_d0: np.ndarray
) -> Cols:
    """On-time payments by invoice id, overdue ones per payment event (by id, reference or lump)."""
    real = ~inv["credit"]
    ontime = np.flatnonzero(real & ~inv["late"] & (inv["pay_day"] < w.n_days))
    late = np.flatnonzero(real & inv["late"] & (inv_ep >= 0))
    late = late[ep_event[inv_ep[late]] >= 0]
    ep = inv_ep[late]
    # Per payment event: 90% by invoice id, 7% by reference only, 3% one unallocated lump.
    u_mode = uniform(w.seed, sw.S_MODE, inv["debtor"][late], ep_event[ep])
    mode = np.where(u_mode < 0.90, 0, np.where(u_mode < 0.97, 1, 2))
    first_of_ep = np.r_[True, ep[1:] != ep[:-1]] if len(ep) else np.zeros(0, bool)
    lump_total = np.bincount(ep, weights=inv["amount"][late], minlength=len(ep_event))
    keep = (mode < 2) | first_of_ep
    late, ep, mode = late[keep], ep[keep], mode[keep]
    amount_late = np.where(mode == 2, lump_total[ep].round().astype(np.int64), inv["amount"][late])
    u_on = uniform(w.seed, sw.S_MODE, inv["seq"][ontime], 7)
    rows = dict(
        inv=np.r_[ontime, late].astype(np.int32),
        mode=np.r_[np.where(u_on < 0.93, 0, 1), mode].astype(np.int8),
        _day=np.r_[inv["pay_day"][ontime], ep_event[ep]].astype(np.int32),
        amount=np.r_[inv["amount"][ontime], amount_late],
        dpd=np.r_[np.full(len(ontime), -1), ep_event[ep] - ep_d0[ep]].astype(np.int32),
    )
    del ontime, late, ep, mode, amount_late
    rows["debtor"] = inv["debtor"][rows["inv"]]
    rows["seq"] = inv["seq"][rows["inv"]]
    rows["_sec"] = (uniform(w.seed, sw.S_TIME, rows["seq"], 1) * 86_000).astype(np.int32)
    # Method: direct debit for mandates paid on time, agency after hand-over, else by country.
    u = uniform(w.seed, sw.S_METHOD, rows["seq"])
    country = w["country"][rows["debtor"]]
    other = np.where(
        country == 0, np.where(u < 0.5, 4, np.where(u < 0.9, 1, 2)), np.where(u < 0.75, 1, 2)
    )  # 1 bank_transfer, 2 card, 4 ideal
    rows["method"] = np.where(
        rows["dpd"] >= sw.AGENCY_DPD,
        5,
        np.where((rows["dpd"] < 0) & w["mandate"][rows["debtor"]], 0, other),
    ).astype(np.int8)
    return rows


def contacts(
    w: World,
    ep_debtor: np.ndarray,
    ep_d0: np.ndarray,
    ep_event: np.ndarray,
    ep_first_inv: np.ndarray,
) -> Cols:
    """Contact events of every dunning contact the realised paths made (day <= payment event)."""
    disputed = sw.disputed_episode(w, ep_debtor, ep_d0)
    parts = []
    for s, (name, dpd) in enumerate(sw.SCHEDULE):
        day = ep_d0 + dpd
        sel = np.flatnonzero(~disputed & (day < w.n_days) & ((ep_event < 0) | (ep_event >= day)))
        idx, d0 = ep_debtor[sel], ep_d0[sel]
        c = sw.contact(w, idx, d0, s)
        base = dict(
            ep=sel,
            step=np.full(len(sel), s),
            channel=c["channel"],
            _day=day[sel],
            debtor=idx,
            inv=ep_first_inv[sel],
        )
        # event type codes: 0 sent 1 delivered 2 bounced 3 opened 4 clicked 5 call_attempt
        # 6 call_connected 7 promise_to_pay
        phone = c["channel"] == sw.PHONE
        events = [
            (np.where(phone, 5, 0), np.ones(len(sel), bool), 9 * 3600),
            (
                np.where(phone, 6, np.where(c["delivered"], 1, 2)),
                ~phone | c["delivered"],
                9 * 3600 + 120,
            ),
            (np.full(len(sel), 3), c["opened"], 13 * 3600),
            (np.full(len(sel), 4), c["clicked"], 13 * 3600 + 300),
            (np.full(len(sel), 7), c["promise"], 9 * 3600 + 600),
        ]
        if name == "agency":
            events = events[:1]
        for k, (etype, mask, sec) in enumerate(events):
            m = np.flatnonzero(mask)
            part = {key: v[m] for key, v in base.items()}
            part["etype"] = etype[m]
            part["k"] = np.full(len(m), k)
            jitter = uniform(w.seed, sw.S_TIME, part["debtor"], part["_day"], s)
            part["_sec"] = sec + (jitter * 3000).astype(np.int64) + k
            parts.append(part)
    out = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
    order = np.lexsort((out["k"], out["step"], out["ep"], out["_day"]))
    return {k: v[order] for k, v in out.items()}


def plans(
    w: World,
    ep_debtor: np.ndarray,
    ep_d0: np.ndarray,
    ep_event: np.ndarray,
    inv: Cols,
    inv_ep: np.ndarray,
) -> Cols:
    """Payment plans for some struggling and chronic debtors, offered at 65 days past due."""
    created = ep_d0 + 65
    arch = w["archetype"][ep_debtor]
    sel = np.flatnonzero(
        np.isin(arch, (sw.STRUGGLING, sw.CHRONIC))
        & (created < w.n_days)
        & ((ep_event < 0) | (ep_event > created))
        & (uniform(w.seed, sw.S_PLAN, ep_debtor, ep_d0) < 0.3)
    )
    late = np.flatnonzero(inv_ep >= 0)
    in_plan = inv["due"][late] < created[inv_ep[late]]
    total = (
        np.bincount(
            inv_ep[late][in_plan], weights=inv["amount"][late][in_plan], minlength=len(ep_d0)
        )[sel]
        .round()
        .astype(np.int64)
    )
    u = uniform(w.seed, sw.S_PLAN_END, ep_debtor[sel], ep_d0[sel])
    ev = ep_event[sel]
    completed = (ev >= 0) & (ev < created[sel] + 180)
    end = np.where(completed, ev, created[sel] + 30 + (u * 60).astype(np.int64))
    status = np.where(completed, 2, 3)  # 1 active, 2 completed, 3 broken
    rows = dict(
        plan=sel,
        debtor=ep_debtor[sel],
        created=created[sel],
        total=total,
        installments=3 + (u * 10).astype(np.int64),
        monthly=u < 0.85,
    )
    first = {**rows, "status": np.ones(len(sel), np.int64), "_day": created[sel]}
    later = end < w.n_days
    second = {**{k: v[later] for k, v in rows.items()}, "status": status[later], "_day": end[later]}
    out = {k: np.concatenate([first[k], second[k]]) for k in first}
    out["_sec"] = np.full(len(out["plan"]), 15 * 3600) + (out["status"] > 1)
    order = np.lexsort((out["status"], out["plan"], out["_day"]))
    return {k: v[order] for k, v in out.items()}


def credit_reports(w: World) -> Cols:
    """Bureau reports at customer start and every year after, for ~40% of debtors."""
    who = np.flatnonzero(w["has_bureau"])
    years = np.arange(0, 12)
    day = w["since"][who, None].astype(np.int64) + 365 * years[None, :]
    ok = (day < w.n_days) & (day >= -400)
    i, j = np.nonzero(ok)
    debtor, day = who[i], day[i, j]
    rng = np.random.default_rng([w.seed, 3])
    arch = w["archetype"][debtor]
    lam = np.array([0.05, 0.2, 0.8, 2.0, 0.3, 1.0])[arch]
    flag = day >= w["event_onset"][debtor]
    return dict(
        debtor=debtor,
        _day=day,
        _sec=np.full(len(day), 3 * 3600),
        score=np.clip(w["bureau_mean"][debtor] + rng.normal(0, 35, len(day)), 1, 999).round(),
        debts=rng.poisson(lam),
        restructuring=w["restructuring"][debtor] & flag,
        bankrupt=w["bankrupt"][debtor] & flag,
        deceased=w["deceased"][debtor] & flag,
    )


def customer_versions(w: World, first_daily_day: int) -> Cols:
    """First version at customer_since; ~3% get a newer row during the daily batches.

    Debtors with a present but broken e-mail get it corrected (and from that day e-mails reach
    them: `email_fixed_day`, part of the latent state the hazard reads); the others move house.
    """
    n = len(w["archetype"])
    debtor = np.arange(n)
    u = uniform(w.seed, sw.S_TIME, debtor, 99)
    span = w.n_days - first_daily_day
    movers = np.flatnonzero((u < 0.03) & (span > 0) & (w["since"] < first_daily_day))
    day = first_daily_day + (uniform(w.seed, sw.S_TIME, movers, 98) * max(span, 1)).astype(np.int64)
    fix = w["email_present"][movers] & ~w["email_valid"][movers]
    w.traits["email_fixed_day"] = np.full(n, 1 << 30, dtype=np.int32)
    w.traits["email_fixed_day"][movers[fix]] = day[fix]
    return dict(
        debtor=np.r_[debtor, movers],
        version=np.r_[np.zeros(n, np.int64), np.ones(len(movers), np.int64)],
        _day=np.r_[w["since"].astype(np.int64), day],
        _sec=np.r_[np.full(n, 8 * 3600), np.full(len(movers), 11 * 3600)],
    )
