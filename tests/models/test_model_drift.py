from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from debtflow.models import drift
from debtflow.models.features import FeatureSpec

SPEC = FeatureSpec(["amount", "kind"], {"amount": "numeric", "kind": "categorical"}, {})


def frame(rng: np.random.Generator, n: int, shift: float = 0.0, share_b: float = 0.3):
    amount = rng.normal(100 + shift, 20, n)
    amount[rng.random(n) < 0.05] = np.nan
    kind = np.where(rng.random(n) < share_b, "b", "a")
    return pd.DataFrame({"amount": amount, "kind": pd.Categorical(kind, categories=["a", "b"])})


def test_same_population_is_stable():
    rng = np.random.default_rng(1)
    ref = drift.reference(frame(rng, 20_000), SPEC, rng.random(20_000))
    out = drift.report(ref, frame(rng, 20_000), rng.random(20_000))
    assert out["max_feature_psi"] < 0.02 and out["score_psi"] < 0.02
    assert out["warnings"] == []


def test_shifted_feature_and_score_warn(caplog):
    rng = np.random.default_rng(2)
    ref = drift.reference(frame(rng, 20_000), SPEC, rng.random(20_000) * 0.5)
    out = drift.report(ref, frame(rng, 20_000, shift=30, share_b=0.7), 0.5 + rng.random(20_000) / 2)
    assert out["features"]["amount"] > drift.WARN_PSI and out["features"]["kind"] > drift.WARN_PSI
    assert out["score_psi"] > drift.WARN_PSI
    assert out["warnings"][0].startswith("score: PSI")
    assert "drift between training and scored population" in caplog.text


@pytest.mark.parametrize(
    ("expected", "actual", "psi"),
    [
        pytest.param([0.5, 0.5], [0.5, 0.5], 0.0, id="equal"),
        pytest.param([0.5, 0.5], [0.25, 0.75], 0.2747, id="shifted"),
    ],
)
def test_psi_formula(expected, actual, psi):
    assert drift.psi(expected, actual) == pytest.approx(psi, abs=1e-3)


def test_no_reference_is_reported_not_raised():
    assert "note" in drift.report(None, pd.DataFrame({"a": [1.0]}), np.array([0.5]))


# --- book-wide features: one value per date ------------------------------------------------------

BOOK_SPEC = FeatureSpec(
    ["amount", "book_rate", "flag"],
    {"amount": "numeric", "book_rate": "numeric", "flag": "boolean"},
    {},
)
DATES = pd.date_range("2025-12-01", periods=12, freq="MS")


def dated(rng: np.random.Generator, dates, rows_per_date: int, rates, shift: float = 0.0):
    """Per-debtor amounts, and a book-wide rate that is the same for every row of a date."""
    n = len(dates) * rows_per_date
    return (
        pd.DataFrame(
            {
                "amount": rng.normal(100 + shift, 20, n),
                "book_rate": np.repeat(rates, rows_per_date),
                "flag": np.zeros(n),  # constant everywhere: not book-wide
            }
        ),
        np.repeat(np.asarray(dates), rows_per_date),
    )


def trained(rng: np.random.Generator) -> tuple[pd.DataFrame, dict]:
    X, dates = dated(rng, DATES, 1_000, np.linspace(0.15, 0.30, len(DATES)))
    book = drift.book_wide(X, BOOK_SPEC, dates)
    return X, drift.reference(X, BOOK_SPEC, rng.random(len(X)), book)


def test_book_wide_features_are_found_by_date():
    X, dates = dated(np.random.default_rng(3), DATES, 50, np.linspace(0.15, 0.30, len(DATES)))
    found = drift.book_wide(X, BOOK_SPEC, dates)
    assert found == {"book_rate": {"low": 0.15, "high": 0.30, "dates": 12}}
    assert drift.book_wide(X, BOOK_SPEC, np.repeat(DATES[:1], len(X))) == {}  # one date


def test_a_book_wide_feature_on_one_scoring_date_gives_no_psi_warning():
    rng = np.random.default_rng(4)
    X, ref = trained(rng)
    today, _ = dated(rng, DATES[-1:], 500, [0.22])
    out = drift.report(ref, today, rng.random(len(today)))
    assert out["warnings"] == []
    assert "book_rate" not in out["features"]
    assert out["book_wide"]["book_rate"]["outside"] is None
    # compared as a distribution, the same day would warn
    naive = drift.reference(X, BOOK_SPEC, rng.random(len(X)))
    assert drift.report(naive, today, rng.random(len(today)))["features"]["book_rate"] > 1


def test_a_per_debtor_shift_still_warns_beside_a_book_wide_feature(caplog):
    rng = np.random.default_rng(5)
    _, ref = trained(rng)
    today, _ = dated(rng, DATES[-1:], 2_000, [0.22], shift=30)
    out = drift.report(ref, today, rng.random(len(today)))
    assert out["features"]["amount"] > drift.WARN_PSI
    assert [w.split(":")[0] for w in out["warnings"]] == ["amount"]
    assert "drift between training and scored population" in caplog.text


@pytest.mark.parametrize(
    ("rate", "outside"),
    [
        pytest.param(0.31, None, id="just-past-the-edge"),  # within a quarter of the width
        pytest.param(0.45, 0.45, id="far-above"),
        pytest.param(0.10, 0.10, id="far-below"),
    ],
)
def test_a_book_wide_value_far_outside_its_training_range_warns(rate, outside):
    rng = np.random.default_rng(6)
    _, ref = trained(rng)
    today, _ = dated(rng, DATES[-1:], 500, [rate])
    out = drift.report(ref, today, rng.random(len(today)))
    assert out["book_wide"]["book_rate"]["outside"] == outside
    expected = f"book_rate: {rate:.3f} outside its training range 0.150 to 0.300"
    assert out["warnings"] == ([expected] if outside else [])
