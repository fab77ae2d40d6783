from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from synthetic_marts import AS_OF

from debtflow.flows.core.warehouse import connect
from debtflow.models import features
from debtflow.models.features import FeatureError


def test_feature_columns_are_the_mart_columns_minus_keys_and_label(settings, warehouse):
    con = connect(settings)
    try:
        kinds = features.feature_kinds(con, features.SNAPSHOTS)
    finally:
        con.close()
    assert not set(kinds) & features.NOT_FEATURES
    assert kinds["debtor_type"] == "categorical"
    assert kinds["email_bounced"] == "boolean"
    assert kinds["overdue_balance"] == "numeric"
    assert list(kinds)[0] == "overdue_balance"  # mart column order


def test_matrix_types_and_unseen_categories():
    frame = pd.DataFrame(
        {
            "as_of": ["2025-01-01"] * 3,
            "kind": ["a", "zzz", None],
            "flag": [True, False, None],
            "amount": [1.5, None, 3],
        }
    )
    spec = features.FeatureSpec(
        ["kind", "flag", "amount"],
        {"kind": "categorical", "flag": "boolean", "amount": "numeric"},
        {"kind": ["a", "b"]},
    )
    X = features.to_matrix(frame, spec)
    assert list(X["kind"].cat.categories) == ["a", "b"]
    assert X["kind"].isna().tolist() == [False, True, True]  # unseen -> missing
    assert X["flag"].tolist()[:2] == [1.0, 0.0] and np.isnan(X["flag"].iloc[2])
    assert X["amount"].dtype == float


def test_missing_feature_column_is_a_clear_error():
    spec = features.FeatureSpec(["a", "b"], {"a": "numeric", "b": "numeric"}, {})
    with pytest.raises(FeatureError, match="missing.*b"):
        features.to_matrix(pd.DataFrame({"a": [1.0]}), spec)


def test_scoring_read_refuses_a_mart_built_for_another_date(settings, warehouse):
    con = connect(settings)
    try:
        assert len(features.read_scoring(con, AS_OF)) == 550  # 50 of 600 not overdue
        with pytest.raises(FeatureError, match="built for"):
            features.read_scoring(con, AS_OF.replace(day=2))
    finally:
        con.close()
