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
