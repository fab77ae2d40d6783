"""Population stability index (PSI) between the training rows and a scored population.

At training, every feature gets bins (deciles of the training values, one bin for missing; for
categories one bin per category plus missing) and the share of training rows in each; the score
gets the ten fixed grade bands. At scoring the same bins are filled from the scored rows and
PSI = sum((actual - expected) * ln(actual / expected)). The usual reading: < 0.1 stable,
0.1-0.2 watch, > 0.2 shifted (WARN_PSI).

A book-wide feature (the same value for every row of a date, e.g. book_late_rate_30d) has no
distribution within a date: over the training rows it spreads across many dates, while one day's
scored rows hold one value or a few, so its PSI would flag every scoring day, even the day the
model was trained. Such features get no bins: their training range over the dates (low, high) is
kept, and a scored value more than RANGE_MARGIN of the range's width outside it warns (scored
dates are newer than any labelled training date, so a value just past the edge is a trend; a
shock lands far outside).
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from debtflow.models.features import CATEGORICAL, FeatureSpec

log = logging.getLogger(__name__)

WARN_PSI = 0.2
BINS = 10
MAX_ROWS = 200_000  # PSI on a fixed sample: bins of 10% need far fewer rows than a million
FLOOR = 1e-4  # share given to an empty bin, so ln() stays finite
SCORE_EDGES = [i / 10 for i in range(1, 10)]  # the grade bands
RANGE_MARGIN = 0.25  # of a book-wide feature's training range, on each side


def _sample(n: int) -> np.ndarray | slice:
    if n <= MAX_ROWS:
        return slice(None)
    return np.sort(np.random.default_rng(0).choice(n, MAX_ROWS, replace=False))


def _numeric_bins(values: np.ndarray, edges: list[float]) -> np.ndarray:
    """Bin index per value: 0 for missing, 1.. for the intervals cut at `edges`."""
    out = np.searchsorted(np.asarray(edges, dtype=float), values, side="right") + 1
    return np.where(np.isnan(values), 0, out)


def _shares(bins: np.ndarray, n_bins: int) -> list[float]:
    counts = np.bincount(bins, minlength=n_bins)[:n_bins]
    return (counts / max(1, len(bins))).round(6).tolist()


def _category_bins(values: pd.Series, categories: list[str]) -> np.ndarray:
    codes = pd.Categorical(values.astype(object), categories=categories).codes
    return codes.astype(np.int64) + 1  # -1 (missing or unseen) -> 0


def book_wide(X: pd.DataFrame, spec: FeatureSpec, dates: np.ndarray) -> dict[str, dict]:
    """Numeric features with one value per date (`dates` aligned with X's rows) that differ
    between dates, with their range over the dates: {feature: {low, high, dates}}."""
    rows = _sample(len(X))
    X = X.iloc[rows] if isinstance(rows, np.ndarray) else X
    codes, uniques = pd.factorize(np.asarray(dates)[rows])
    numeric = [c for c in spec.columns if spec.kinds[c] != CATEGORICAL and c in X.columns]
    if len(uniques) < 2 or not numeric:
        return {}
    per_date = X[numeric].astype(float).groupby(codes)
    low, high, count = per_date.min(), per_date.max(), per_date.count()
    out = {}
    for c in numeric:
        values = low[c].dropna()
        same_within = bool(((low[c] == high[c]) | low[c].isna()).all())
        # several rows on some date, and more than one value over the dates: not a constant
        if same_within and count[c].max() > 1 and values.nunique() > 1:
            out[c] = {"low": float(values.min()), "high": float(values.max()), "dates": len(values)}
    return out


def reference(
    X: pd.DataFrame, spec: FeatureSpec, p: np.ndarray, book: dict[str, dict] | None = None
) -> dict:
    """Bins and training shares per feature and for the calibrated score; the book-wide
    features in `book` (from `book_wide`) keep their range instead of bins."""
    rows = _sample(len(X))
    X = X.iloc[rows] if isinstance(rows, np.ndarray) else X
    out: dict = {"features": {}}
    for c in spec.columns:
        if book and c in book:
            out["features"][c] = {"book_wide": True, **book[c]}
        elif spec.kinds[c] == CATEGORICAL:
            cats = [str(v) for v in X[c].cat.categories]
            bins = _category_bins(X[c], cats)
            out["features"][c] = {"categories": cats, "expected": _shares(bins, len(cats) + 1)}
        else:
            v = X[c].to_numpy(dtype=float)
            present = v[~np.isnan(v)]
            qs = np.quantile(present, np.linspace(0, 1, BINS + 1)[1:-1]) if len(present) else []
            edges = sorted({float(q) for q in qs})
            bins = _numeric_bins(v, edges)
            out["features"][c] = {"edges": edges, "expected": _shares(bins, len(edges) + 2)}
    score_bins = _numeric_bins(np.asarray(p, dtype=float)[rows], SCORE_EDGES)
    out["score"] = {"edges": SCORE_EDGES, "expected": _shares(score_bins, len(SCORE_EDGES) + 2)}
    return out


def psi(expected: list[float], actual: list[float]) -> float:
    e = np.maximum(np.asarray(expected, dtype=float), FLOOR)
    a = np.maximum(np.asarray(actual, dtype=float), FLOOR)
    return float(np.sum((a - e) * np.log(a / e)))


def report(ref: dict | None, X: pd.DataFrame, p: np.ndarray) -> dict:
    """PSI per feature and for the score of the scored rows against the training reference."""
    if not ref or len(X) == 0:
        return {"note": "no drift reference in the model or no rows scored"}
    rows = _sample(len(X))
    X = X.iloc[rows] if isinstance(rows, np.ndarray) else X
    per_feature, book = {}, {}
    for c, r in ref["features"].items():
        if c not in X.columns:
            continue
        if r.get("book_wide"):
            book[c] = _against_range(X[c].to_numpy(dtype=float), r)
            continue
        if "categories" in r:
            bins = _category_bins(X[c], r["categories"])
        else:
            bins = _numeric_bins(X[c].to_numpy(dtype=float), r["edges"])
        per_feature[c] = round(psi(r["expected"], _shares(bins, len(r["expected"]))), 4)
    score_bins = _numeric_bins(np.asarray(p, dtype=float)[rows], ref["score"]["edges"])
    score_psi = round(psi(ref["score"]["expected"], _shares(score_bins, len(SCORE_EDGES) + 2)), 4)
    shifted = sorted((c for c, v in per_feature.items() if v > WARN_PSI), key=per_feature.get)
    warnings = [f"{c}: PSI {per_feature[c]:.3f} > {WARN_PSI}" for c in reversed(shifted)]
    warnings += [
        f"{c}: {b['outside']:.3f} outside its training range {b['low']:.3f} to {b['high']:.3f}"
        for c, b in book.items()
        if b["outside"] is not None
    ]
    if score_psi > WARN_PSI:
        warnings.insert(0, f"score: PSI {score_psi:.3f} > {WARN_PSI}")
    if warnings:
        log.warning(
            "drift between training and scored population (%d rows): %d over PSI %.1f: %s",
            len(X),
            len(warnings),
            WARN_PSI,
            "; ".join(warnings[:5]),
        )
    top = dict(sorted(per_feature.items(), key=lambda kv: -kv[1])[:10])
    return {
        "threshold": WARN_PSI,
        "score_psi": score_psi,
        "max_feature_psi": max(per_feature.values(), default=0.0),
        "warnings": warnings,
        "top_features": top,
        "features": per_feature,
        "book_wide": book,
    }


def _against_range(values: np.ndarray, r: dict) -> dict:
    """A book-wide feature's scored values against its training range: the value furthest
    outside it, if beyond the margin, else None."""
    present = values[~np.isnan(values)]
    low, high = r["low"], r["high"]
    out = {"low": low, "high": high, "scored_low": None, "scored_high": None, "outside": None}
    if len(present):
        lo, hi = float(present.min()), float(present.max())
        out.update(scored_low=lo, scored_high=hi)
        below, above = low - lo, hi - high
        if max(below, above) > RANGE_MARGIN * (high - low):
            out["outside"] = lo if below >= above else hi
    return out
