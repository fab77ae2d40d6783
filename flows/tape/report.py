"""The sale tape's stratification tables (strats.csv) and its 36-month collections curve.

This module owns the bands a bidder reads a tape in (balance, age since default, grade,
country, legal type, contactability, currency) and the tables per currency and band. Everything
it writes is an aggregate: no row of the tape, not even a pseudonym, reaches a file. Amounts are
summed in integer cents and never across currencies.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd

from debtflow.flows.tape import dictionary

STRATS_FILE = "strats.csv"

BALANCE_EDGES = (0, 100, 250, 500, 1000, 2500, 5000)  # in the receivable's own currency
AGE_EDGES = (0, 6, 12, 18, 24, 36)  # whole months since default
GRADES = tuple(str(g) for g in range(1, 11))
CONTACT = ("email and phone", "email only", "phone only", "none")
UNSCORED, UNKNOWN = "unscored", "unknown"
LEGAL_TYPES = ("consumer", "business")
DIMENSIONS = {  # name -> title, in the order the report shows them
    "balance_band": "Balance band",
    "age_since_default": "Months since default",
    "grade": "Grade",
    "country": "Country",
    "legal_type": "Legal type",
    "contactability": "Contactability",
    "currency": "Currency",
}
COLUMNS = (
    "currency",
    "band",
    "receivables",
    "debtors",
    "face_value",
    "share_of_face",
    "avg_balance",
    "avg_days_past_due",
    "avg_p_collect",
    "repaid_36m",
)
MONEY = ("face_value", "avg_balance", "repaid_36m")


# --- stratification -----------------------------------------------------------------------------


def stratify(tape: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """Stratification tables of a tape, one per dimension: balance_band, age_since_default,
    grade, country, legal_type, contactability, currency. Each table has one row per
    (currency, band) with: receivables (count), debtors (distinct counterparty_id), face_value
    (sum of total_balance), share_of_face (within the currency, 0..1), avg_balance,
    avg_days_past_due, avg_p_collect (mean of non-null), repaid_36m (sum repaid_total_36m).
    Amounts are never summed across currencies.

    Fixed bands (balance, age, grade, contactability) list every band, empty ones with zeros,
    so tapes compare row by row; the others list the values present."""
    frame = _measures(tape)
    return {
        name: _strat(frame, band, every_band) for name, (band, every_band) in _bands(tape).items()
    }


def _measures(tape: pd.DataFrame) -> pd.DataFrame:
    """The columns the tables aggregate, numeric once: amounts as integer cents."""
    return pd.DataFrame(
        {
            "currency": _text(tape["currency"]),
            "counterparty_id": tape["counterparty_id"],
            "face_cents": _cents(tape["total_balance"]),
            "days_past_due": pd.to_numeric(tape["days_past_due"], errors="coerce"),
            "p_collect": pd.to_numeric(tape["p_collect_30d"], errors="coerce"),
            "repaid_cents": _cents(tape["repaid_total_36m"]),
        },
        index=tape.index,
    )


def _bands(tape: pd.DataFrame) -> dict[str, tuple[pd.Categorical, bool]]:
    """Each dimension's band per row, and whether the table lists every band."""
    return {
        "balance_band": (_cut(_number(tape["total_balance"]), BALANCE_EDGES), True),
        "age_since_default": (_cut(_number(tape["months_since_default"]), AGE_EDGES), True),
        "grade": (_grade(tape["grade"]), True),
        "country": (_values(tape["country"]), False),
        "legal_type": (_values(tape["legal_type"], first=LEGAL_TYPES), False),
        "contactability": (_contact(tape["email_valid"], tape["phone_valid"]), True),
        "currency": (_values(tape["currency"]), False),
    }


def _labels(edges: Iterable[int]) -> list[str]:
    edges = list(edges)
    return [f"{lo}-{hi}" for lo, hi in zip(edges, edges[1:], strict=False)] + [f"{edges[-1]}+"]


def _cut(values: pd.Series, edges: tuple[int, ...]) -> pd.Categorical:
    # Bands are [lo, hi): a balance of exactly 100.00 is in 100-250, as a bidder reads "100-250".
    bands = pd.cut(values, [*edges, np.inf], right=False, labels=_labels(edges))
    return _or_unknown(pd.Categorical(bands), UNKNOWN)


def _grade(grades: pd.Series) -> pd.Categorical:
    labels = _number(grades).round().astype("Int64").astype("string").fillna(UNSCORED)
    # a grade outside 1..10 is "unknown" rather than dropped or passed off as unscored
    return _or_unknown(pd.Categorical(labels, categories=[*GRADES, UNSCORED]), UNKNOWN)


def _contact(email_valid: pd.Series, phone_valid: pd.Series) -> pd.Categorical:
    email, phone = _flag(email_valid), _flag(phone_valid)
    codes = np.select([email & phone, email, phone], [0, 1, 2], default=3)
    return pd.Categorical.from_codes(codes, categories=CONTACT)


def _values(values: pd.Series, first: tuple[str, ...] = ()) -> pd.Categorical:
    """The value itself as the band: known values first in their order, then A-Z, unknown last."""
    text = _text(values)
    seen = set(text.unique())
    rest = sorted(seen - set(first) - {UNKNOWN})
    order = [v for v in first if v in seen] + rest + ([UNKNOWN] if UNKNOWN in seen else [])
    return pd.Categorical(text, categories=order)


def _or_unknown(bands: pd.Categorical, label: str) -> pd.Categorical:
    if not bands.isna().any():
        return bands
    return bands.add_categories(label).fillna(label)


def _strat(frame: pd.DataFrame, band: pd.Categorical, every_band: bool) -> pd.DataFrame:
    grouped = frame.assign(band=band).groupby(["currency", "band"], observed=True, sort=True)
    table = grouped.agg(
        receivables=("face_cents", "size"),
        debtors=("counterparty_id", "nunique"),
        face_cents=("face_cents", "sum"),
        avg_days_past_due=("days_past_due", "mean"),
        avg_p_collect=("p_collect", "mean"),
        repaid_cents=("repaid_cents", "sum"),
    )
    if every_band:
        full = pd.MultiIndex.from_product(
            [sorted(frame["currency"].unique()), list(band.categories)], names=["currency", "band"]
        )
        table = table.reindex(full)
        counts = ["receivables", "debtors", "face_cents", "repaid_cents"]
        table[counts] = table[counts].fillna(0).astype("int64")
    in_currency = table["face_cents"].groupby(level="currency").transform("sum")
    table["face_value"] = table["face_cents"] / 100
    table["share_of_face"] = (table["face_cents"] / in_currency.where(in_currency != 0)).fillna(0.0)
    table["avg_balance"] = table["face_value"] / table["receivables"].where(
        table["receivables"] > 0
    )
    table["repaid_36m"] = table["repaid_cents"] / 100
    table = table.reset_index()
    table["band"] = table["band"].astype(str)
    return table[list(COLUMNS)]


def write_strats(strats: dict[str, pd.DataFrame], path: Path) -> None:
    """All tables in one CSV in long form (dimension, currency, band, figures); `path` is the
    file, or a folder to write strats.csv in."""
    path = Path(path)
    if path.is_dir():
        path = path / STRATS_FILE
    long = pd.concat(
        [table.assign(dimension=name) for name, table in strats.items()], ignore_index=True
    )
    out = long[["dimension", *COLUMNS]].copy()
    for column in MONEY:
        out[column] = out[column].map(lambda x: "" if pd.isna(x) else f"{x:.2f}")
    for column, places in (("share_of_face", 6), ("avg_days_past_due", 1), ("avg_p_collect", 4)):
        out[column] = out[column].map(lambda x, p=places: "" if pd.isna(x) else f"{x:.{p}f}")
    out.to_csv(path, index=False, lineterminator="\n", encoding="utf-8")


# --- collections curve --------------------------------------------------------------------------


def collections_curve(tape: pd.DataFrame) -> pd.DataFrame:
    """Per currency and month -36..-1 (-1 is repaid_m01, the last whole month before the
    cut-off): repaid in that month, and repaid since month -36 as a share of today's face
    value of the same receivables."""
    columns = dictionary.history_columns()
    currency = _text(tape["currency"])
    cents = pd.DataFrame({c: _cents(tape[c]) for c in columns}, index=tape.index)
    monthly = cents.groupby(currency, sort=True).sum()[columns[::-1]]  # oldest month first
    face = _cents(tape["total_balance"]).groupby(currency, sort=True).sum()
    months = [-int(c.removeprefix("repaid_m")) for c in monthly.columns]
    cumulative = monthly.cumsum(axis=1).div(face.where(face != 0), axis=0)
    curve = pd.DataFrame(
        {
            "currency": np.repeat(monthly.index.to_numpy(), len(months)),
            "month": np.tile(months, len(monthly)),
            "repaid": monthly.to_numpy().ravel() / 100,
            "cumulative_share": cumulative.to_numpy().ravel(),
        }
    )
    return curve


# --- shared conversions -------------------------------------------------------------------------


def _number(values: pd.Series) -> pd.Series:
    # Decimal, text and float columns alike (a tape read from CSV, DuckDB or built by hand)
    try:  # on Decimal objects four times faster than to_numeric
        return values.astype("float64")
    except (TypeError, ValueError):  # an empty string, pd.NA: missing
        return pd.to_numeric(values, errors="coerce").astype("float64")


def _cents(values: pd.Series) -> pd.Series:
    """Two-decimal amounts as int64 cents, so sums are exact; a missing amount counts 0."""
    return np.rint(_number(values).fillna(0.0) * 100).astype("int64")


def _text(values: pd.Series) -> pd.Series:
    text = values.astype("string").str.strip()
    return text.mask(text.isna() | (text == ""), UNKNOWN).astype(str)


def _flag(values: pd.Series) -> np.ndarray:
    """True, 'true', 1 -> True; anything else, null included, is not a valid channel."""
    text = values.astype("string").str.strip().str.lower()
    return text.isin(["true", "t", "1", "yes", "y"]).to_numpy(dtype=bool)
