"""Monthly recovery rates per segment from the book's curves (marts.recovery_curves).

A segment's rate in month k after default is what the receivables observed that month recovered
over what they had open at its start. Where a segment saw too few receivables in a month
(terms.min_support) the rate comes from the next coarser segment: without the grade, then the
currency and placement alone, then the currency. Past the last month any level trusts (the
book's history is finite), the mean rate of the last `tail_months` trusted months continues.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from debtflow.flows.core.errors import DebtflowError

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
    return con.execute(
        "select currency, debtor_type, country, grade, placed_with_agency, month_after_default,"
        " receivables, open_at_month_start, recovered from marts.recovery_curves"
        " where as_of = ?",
        [as_of],
    ).df()


def rates(curves: pd.DataFrame, segments: pd.DataFrame, months: int, min_support: int,
          tail_months: int) -> np.ndarray:  # fmt: skip
    """Monthly recovery rates, shape (len(segments), months): row i for the segment in row i of
    `segments` (columns KEYS), column k-1 for month k after default."""
    levels = [_level(curves, keys) for keys in LEVELS]
    out = np.zeros((len(segments), months))
    for i, seg in enumerate(segments[list(KEYS)].itertuples(index=False)):
        key = dict(zip(KEYS, seg, strict=True))
        rate = np.full(CURVE_MONTHS, np.nan)
        for keys, table in zip(LEVELS, levels, strict=True):
            found = table.get(tuple(key[k] for k in keys))
            if found is not None:
                fill = np.isnan(rate) & (found[0] >= min_support)
                rate[fill] = found[1][fill]
        trusted = np.flatnonzero(~np.isnan(rate))
        if not len(trusted):
            raise DebtflowError(
                f"no recovery history for currency {key['currency']}: marts.recovery_curves has "
                f"fewer than {min_support} receivables observed in any month after default"
            )
        last = trusted[-1]
        tail = np.nanmean(rate[max(0, last - tail_months + 1) : last + 1])
        rate = np.where(np.isnan(rate), tail, rate)  # holes and the months past the last
        out[i] = np.concatenate([rate, np.full(max(0, months - CURVE_MONTHS), tail)])[:months]
    return np.clip(out, 0, 1)


def _level(curves: pd.DataFrame, keys: tuple[str, ...]) -> dict[tuple, tuple[np.ndarray, ...]]:
    """Per segment of `keys`: receivables observed and the rate, per month 1..36."""
    summed = curves.groupby([*keys, "month_after_default"], dropna=False)[
        ["receivables", "open_at_month_start", "recovered"]
    ].sum()
    table = {}
    for seg, frame in summed.groupby(level=list(range(len(keys))), dropna=False):
        seg = seg if isinstance(seg, tuple) else (seg,)
        month = frame.index.get_level_values("month_after_default").to_numpy() - 1
        support, rate = np.zeros(CURVE_MONTHS), np.full(CURVE_MONTHS, np.nan)
        opened = frame["open_at_month_start"].astype(float).to_numpy()
        support[month] = frame["receivables"].to_numpy()
        with np.errstate(divide="ignore", invalid="ignore"):
            rate[month] = np.where(opened > 0, frame["recovered"].astype(float) / opened, np.nan)
        support[np.isnan(rate)] = 0
        table[seg] = (support, rate)
    return table
