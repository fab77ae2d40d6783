from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from debtflow.models import terms


def customers(**overrides) -> pd.DataFrame:
    row = {
        "debtor_id": "D1",
        "currency": "EUR",
        "amount": 100.0,
        "payment_terms_days": 30,
        "bureau_score": 700.0,
        "registered_debts": 0,
        "bankrupt": False,
        "debt_restructuring": False,
    }
    return pd.DataFrame([{**row, **overrides}])


@pytest.mark.parametrize(
    ("p_late", "overrides", "advice"),
    [
        pytest.param(0.1, {}, "standard", id="punctual"),
        pytest.param(0.1, {"bureau_score": 480.0}, "shorter", id="low-bureau-score"),
        pytest.param(0.1, {"bureau_score": np.nan}, "standard", id="no-bureau-report"),
        pytest.param(0.1, {"registered_debts": 2}, "shorter", id="registered-debts"),
        pytest.param(0.4, {}, "shorter", id="often-late"),
        pytest.param(0.7, {}, "deposit", id="mostly-late"),
        pytest.param(0.9, {}, "prepayment", id="nearly-always-late"),
        pytest.param(0.1, {"bankrupt": True}, "prepayment", id="bankrupt"),
    ],
)
def test_advice(p_late, overrides, advice):
    out = terms.advise(customers(**overrides), np.array([p_late]), loss_rate=0.3)
    assert out["advice"].tolist() == [advice]


def test_expected_loss_avoided():
    frame = pd.concat([customers(debtor_id=f"D{i}") for i in range(4)], ignore_index=True)
    out = terms.advise(frame, np.array([0.1, 0.4, 0.7, 0.9]), loss_rate=0.5)
    standard = np.array([0.1, 0.4, 0.7, 0.9]) * 0.5 * 100 * (1 + 30 / 30)
    assert out["expected_loss_standard"].to_numpy() == pytest.approx(standard)
    assert out["expected_loss_avoided"].tolist() == pytest.approx(
        [0.0, 0.4 * 0.5 * (200 - 100 * (1 + 7 / 30)), 0.7 * 0.5 * 100, 0.9 * 0.5 * 200], abs=0.01
    )
    assert out.loc[1, "advised_terms_days"] == terms.SHORT_TERMS_DAYS
    assert out.loc[2, "deposit"] == 100.0
