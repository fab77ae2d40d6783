"""Scoring on Dask (flows/score/on_dask.py: a LocalCluster through prefect-dask) writes the same
rows as in one process. Here beside the model tests, whose synthetic marts it scores."""

from __future__ import annotations

import pytest
from synthetic_marts import AS_OF

from debtflow.flows.core.settings import get_settings
from debtflow.flows.core.warehouse import connect
from debtflow.flows.score import on_dask, score
from debtflow.models import predict, train
from debtflow.models.features import FeatureError

# every column but scored_at, the wall-clock time of the write
COLUMNS = "debtor_id, as_of, p_collect_30d, grade, reason_codes, model_version"
SAME = ("rows", "rows_with_reasons", "rows_with_exact_reasons", "mean_p_collect_30d", "grades")


def read_scores(settings):
    with connect(settings) as con:
        return con.execute(
            f"select {COLUMNS} from ml.debtor_scores where as_of = ? order by debtor_id", [AS_OF]
        ).df()


@pytest.fixture(scope="module")
def prefect_server():
    """One temporary Prefect server for the module (it takes 5-15 s to start here)."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=90):
        yield


def test_partitions_cover_every_row_once():
    assert on_dask.partitions(550, 150) == [(0, 150), (150, 300), (300, 450), (450, 550)]
    assert on_dask.partitions(100, 250) == [(0, 100)]
    assert on_dask.partitions(0, 250) == []


@pytest.mark.parametrize(
    ("budget", "reasons"),
    [
        pytest.param(predict.EXACT_REASONS_BUDGET, "auto", id="exact-reasons"),
        pytest.param(100, "all", id="budget-across-partitions"),  # 100 exact, 450 approximate
    ],
)
def test_dask_writes_the_same_rows_as_one_process(
    settings, warehouse, monkeypatch, prefect_server, budget, reasons
):
    train.train(settings, AS_OF)
    monkeypatch.setattr(predict, "EXACT_REASONS_BUDGET", budget)
    alone = predict.score(settings, AS_OF, reasons=reasons)
    rows_alone = read_scores(settings)
    assert "dask" not in alone

    monkeypatch.setenv("DEBTFLOW_DASK_ADDRESS", "local")
    monkeypatch.setenv("DEBTFLOW_DASK_PARTITION_ROWS", "150")
    on_dask = score.score(get_settings(), AS_OF, reasons=reasons)
    rows_dask = read_scores(settings)

    assert len(rows_dask) == 550 and rows_dask["reason_codes"].notna().all()
    assert rows_dask.equals(rows_alone)  # identical, not approximately equal
    assert {k: on_dask[k] for k in SAME} == {k: alone[k] for k in SAME}
    assert on_dask["drift"] == alone["drift"]
    assert on_dask["rows_with_exact_reasons"] == min(budget, 550)
    # the work ran as Prefect tasks on Dask workers: 4 partitions, each scored and explained
    assert on_dask["dask"]["partitions"] == 4
    assert on_dask["dask"]["tasks"] == 8
    assert on_dask["dask"]["workers"] and "local" not in on_dask["dask"]["workers"]


def test_a_missing_feature_column_fails_before_any_task(settings, warehouse, monkeypatch):
    train.train(settings, AS_OF)
    with connect(settings) as con:
        con.execute("alter table marts.debtor_features drop column reminders_ignored")
    monkeypatch.setenv("DEBTFLOW_DASK_ADDRESS", "local")
    with pytest.raises(FeatureError, match="reminders_ignored"):
        score.score(get_settings(), AS_OF)
