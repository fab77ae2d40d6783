"""The backtest's oracle on a simulated world: what a model that knew the world would predict.

Per receivable, the chance that its debtor's overdue episode, open at as_of, ends with a payment
(which pays everything overdue) in the months after, from the world's own daily hazard. A pool's
oracle recovery is the sum of face x that chance. Debtors pay all or nothing, so even the oracle
misses a small pool by chance: drawing each debtor's payment DRAWS times says how often a pool of
those debtors lands within the tolerance of it - whether a miss is the valuation's fault or the
pool is too small to judge. The world is redrawn from truth/world.json (written by simulate).
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

from debtflow.flows.core.errors import DebtflowError
from debtflow.flows.simulation import simulation as sim
from debtflow.flows.simulation import world as sw

DRAWS = 4000  # simulated realisations per pool
SEED = 0  # fixed: the same backtest gives the same chances
CHUNK = 2000  # debtors drawn at once (DRAWS x CHUNK floats in memory)
KEYS = ("debtors", "months", "seed", "end_date", "daily_days", "email_affinity")


def world_params(truth: Path) -> dict:
    """The parameters in `truth`/world.json, or an error that says how to get them."""
    path = Path(truth) / sim.WORLD_FILE
    if not Path(truth).is_dir():
        raise DebtflowError(f"{truth} is not a folder: pass the truth folder `debtflow simulate`"
                            " wrote (OUT/truth)")  # fmt: skip
    if not path.is_file():
        raise DebtflowError(
            f"{path} is missing: this truth folder was written before simulate recorded the "
            "world's parameters; re-run `debtflow simulate` (same --debtors, --months, --seed, "
            "--end-date) to write it"
        )
    try:
        params = json.loads(path.read_text(encoding="utf-8"))
        missing = [k for k in KEYS if k not in params]
    except (ValueError, TypeError) as exc:
        raise DebtflowError(f"{path} is not valid JSON: {exc}") from exc
    if missing:
        raise DebtflowError(f"{path} lacks {', '.join(missing)}; re-run `debtflow simulate`")
    return params


def payment_chance(truth: Path, as_of: date, months: int, book: pd.DataFrame) -> np.ndarray:
    """Per row of `book` (invoice_id, debtor_id), P(the debtor's episode open at as_of ends with a
    payment in the `months` after); 0 where the debtor has no open episode at as_of."""
    params = world_params(truth)
    w, start, _, inv, _ = sim.draw(params)
    debtor = _debtors(book, w, inv, truth)
    m = (as_of - start).days
    horizon = (pd.Timestamp(as_of) + pd.DateOffset(months=months) - pd.Timestamp(as_of)).days
    if m <= 0 or m + horizon > w.n_days:
        raise DebtflowError(
            f"{as_of} + {months} months is outside the simulated history of {truth} "
            f"({start} to {params['end_date']})"
        )
    late = ~inv["credit"] & inv["late"]
    ep_debtor, ep_d0, ep_event = sw.run_overdue_process(w, inv["debtor"][late], inv["due"][late])
    wanted = np.zeros(len(w["archetype"]), bool)
    wanted[debtor] = True
    sel = np.flatnonzero(
        (ep_d0 < m) & ((ep_event >= m) | (ep_event < 0)) & wanted[ep_debtor]
    )  # at most one open episode per debtor
    idx, d0 = ep_debtor[sel], ep_d0[sel]
    log_surv = np.zeros(len(sel))
    for j in range(horizon):
        log_surv += np.log1p(-sw.hazard(w, idx, d0, np.full(len(sel), m + j)))
    chance = np.zeros(len(wanted))
    chance[idx] = 1.0 - np.exp(log_surv)
    return chance[debtor]


def _debtors(book: pd.DataFrame, w: sw.World, inv: dict, truth: Path) -> np.ndarray:
    """The world's debtor index per receivable; an error when a receivable is not the world's."""
    n, real = len(w["archetype"]), int((~inv["credit"]).sum())
    ids = book["debtor_id"].astype("string")
    ok = ids.str.fullmatch(r"D\d{8}").fillna(False).to_numpy(bool)
    debtor = np.where(ok, pd.to_numeric(ids.str[1:], errors="coerce").fillna(0), 0).astype(int) - 1
    row = book["invoice_id"].astype("string").str.extract(r"^INV(\d{10})$")[0]
    row = pd.to_numeric(row, errors="coerce").fillna(-1).to_numpy(int)
    ok &= (debtor >= 0) & (debtor < n) & (row >= 0) & (row < real)
    ok[ok] = inv["debtor"][row[ok]] == debtor[ok]  # invoices 0..real-1 are INV<seq>, in order
    if not ok.all():
        i = int(np.flatnonzero(~ok)[0])
        raise DebtflowError(
            f"{(~ok).sum()} receivable(s) are not in the world of {truth} ({n} debtors), e.g. "
            f"invoice {book['invoice_id'].iat[i]} of debtor {book['debtor_id'].iat[i]}: the "
            "warehouse was built from another simulation"
        )
    return debtor


def by_pool(truth: Path, book: pd.DataFrame, as_of: date, months: int,
            tolerance: float) -> dict[str, tuple[float, float]]:  # fmt: skip
    """Per pool of `book` (valuation.receivables): the oracle recovery over `months` and the chance that the debtors'
    all-or-nothing payments land within `tolerance` of it."""
    frame = book[["pool", "invoice_id", "debtor_id", "face"]].copy()
    frame["chance"] = payment_chance(truth, as_of, months, frame)
    rng = np.random.default_rng(SEED)
    out = {}
    for name, pool in frame.groupby("pool", sort=True):
        expected = float(pool["face"] @ pool["chance"])
        debtors = pool.groupby("debtor_id").agg(face=("face", "sum"), p=("chance", "first"))
        paid = np.zeros(DRAWS)
        for i in range(0, len(debtors), CHUNK):
            part = debtors.iloc[i : i + CHUNK]
            paid += (rng.random((DRAWS, len(part))) < part["p"].to_numpy()) @ part[
                "face"
            ].to_numpy()
        within = (paid > 0) & (np.abs(expected - paid) <= tolerance * paid)
        out[name] = (round(expected, 2), round(float(within.mean()), 4))
    return out
