"""Monthly recovery rates per segment from the book's curves (marts.recovery_curves).

A segment's rate in month k after default is what the receivables observed that month recovered
over what they had open at its start. A month is trusted when the segment saw enough receivables
in it (terms.min_support) from enough months of default (terms.min_vintages): a late month after
default is seen at first only by the oldest vintages, all in the same few calendar months, and
one downturn then reads as the shape of every curve (the backtest showed rates at months 16-18
of a third of the rest, from three stressed vintages). Where a month is not trusted the rate
comes from the next coarser segment: without the grade, then the currency and placement alone,
then the currency. Past the last month any level trusts (the book's history is finite), the
rate of the last `tail_months` trusted months pooled continues.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from debtflow.flows.core.errors import DebtflowError
from debtflow.flows.core.warehouse import table_columns

CURVES = "marts.recovery_curves"
CURVE_MONTHS = 36
# finest first; each a segment of the receivable's keys
LEVELS = (
    ("currency", "debtor_type", "country", "grade", "placed_with_agency"),
    ("currency", "debtor_type", "country", "placed_with_agency"),
    ("currency", "placed_with_agency"),
    ("currency",),
)
KEYS = LEVELS[0]


def read(con, as_of) -> pd.DataFrame:
    if not table_columns(con, CURVES):
        raise DebtflowError(
            f"no {CURVES} in the warehouse: run `debtflow transform --as-of {as_of}` with this "
            "version of debtflow first"
        )
    return con.execute(
        "select vintage, currency, debtor_type, country, grade, placed_with_agency,"
        " month_after_default,"
        f" receivables, open_at_month_start, recovered from {CURVES}"
        " where as_of = ?",
        [as_of],
    ).df()


def rates(curves: pd.DataFrame, segments: pd.DataFrame, months: int, min_support: int,
          min_vintages: int, tail_months: int) -> np.ndarray:  # fmt: skip
    """Monthly recovery rates, shape (len(segments), months): row i for the segment in row i of
    `segments` (columns KEYS), column k-1 for month k after default."""
    levels = [_level(curves, keys, min_vintages) for keys in LEVELS]
    out = np.zeros((len(segments), months))
    for i, seg in enumerate(segments[list(KEYS)].itertuples(index=False)):
        key = dict(zip(KEYS, seg, strict=True))
        recovered, opened = np.full(CURVE_MONTHS, np.nan), np.full(CURVE_MONTHS, np.nan)
        for keys, table in zip(LEVELS, levels, strict=True):
            found = table.get(tuple(key[k] for k in keys))
            if found is not None:
                fill = np.isnan(opened) & (found[0] >= min_support)
                recovered[fill], opened[fill] = found[1][fill], found[2][fill]
        trusted = np.flatnonzero(~np.isnan(opened))
        if not len(trusted):
            raise DebtflowError(
                f"no recovery history for currency {key['currency']}: marts.recovery_curves has "
                f"no month after default observed for {min_support} receivables from "
                f"{min_vintages} months of default (terms min_support, min_vintages)"
            )
        rate = recovered / opened
        # the tail: the last trusted months pooled, weighted by what was open (late months
        # are few and lumpy: one debtor paying in full moves a month's rate a lot)
        last = trusted[-tail_months:]
        tail = recovered[last].sum() / opened[last].sum()
        rate = np.where(np.isnan(rate), tail, rate)  # holes and the months past the last
        out[i] = np.concatenate([rate, np.full(max(0, months - CURVE_MONTHS), tail)])[:months]
    return np.clip(out, 0, 1)


def _level(curves: pd.DataFrame, keys: tuple[str, ...],
           min_vintages: int) -> dict[tuple, tuple[np.ndarray, ...]]:  # fmt: skip
    """Per segment of `keys`, per month 1..36: receivables observed, recovered, open at start
    (support 0 where nothing was open or fewer than `min_vintages` vintages had anything open)."""
    live = curves.assign(vintage=curves["vintage"].where(curves["open_at_month_start"] > 0))
    summed = live.groupby([*keys, "month_after_default"], dropna=False).agg(
        receivables=("receivables", "sum"),
        open_at_month_start=("open_at_month_start", "sum"),
        recovered=("recovered", "sum"),
        vintages=("vintage", "nunique"),  # those with anything open
    )
    table = {}
    for seg, frame in summed.groupby(level=list(range(len(keys))), dropna=False):
        seg = seg if isinstance(seg, tuple) else (seg,)
        month = frame.index.get_level_values("month_after_default").to_numpy() - 1
        support, recovered, opened = (np.zeros(CURVE_MONTHS) for _ in range(3))
        support[month] = np.where(frame["vintages"] >= min_vintages, frame["receivables"], 0)
        recovered[month] = frame["recovered"].astype(float).to_numpy()
        opened[month] = frame["open_at_month_start"].astype(float).to_numpy()
        support[opened <= 0] = 0
        table[seg] = (support, recovered, opened)
    return table


def level_draws(curves: pd.DataFrame, samples: int, seed: int) -> dict[str, np.ndarray]:
    """Per currency, `samples` multipliers of its recovery rates for the price's interval: the
    vintages (months of default) drawn with replacement, each draw's recoveries over what its
    segments' curves expected of the same vintages. The curves are averages over the vintages
    the book happened to see; the spread of these multipliers is how much that choice moves
    them (a multiplier of 1 is the curves as they are)."""
    rng = np.random.default_rng([seed, 1])  # apart from the receivables' own draws
    keys = [*KEYS, "month_after_default"]
    amounts = curves[["recovered", "open_at_month_start"]].astype(float)
    sums = amounts.groupby([curves[k] for k in keys], dropna=False).transform("sum")
    rate = (sums["recovered"] / sums["open_at_month_start"]).where(sums["open_at_month_start"] > 0)
    frame = curves[["currency", "vintage"]].assign(
        recovered=amounts["recovered"], expected=amounts["open_at_month_start"] * rate.fillna(0)
    )
    out = {}
    for currency, rows in frame.groupby("currency"):
        by_vintage = rows.groupby("vintage")[["recovered", "expected"]].sum()
        n = len(by_vintage)
        counts = rng.multinomial(n, np.full(n, 1 / n), size=samples)
        expected = counts @ by_vintage["expected"].to_numpy()
        recovered = counts @ by_vintage["recovered"].to_numpy()
        out[str(currency)] = np.where(expected > 0, recovered / np.maximum(expected, 1e-12), 1.0)
    return out
