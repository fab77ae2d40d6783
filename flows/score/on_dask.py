"""Scoring on a Dask cluster through prefect-dask, when DEBTFLOW_DASK_ADDRESS is set.

`predict.score` stays the driver (flows/score/score.py hands it `score` below): it reads the
features, decides which rows get reason codes,
and after this module is done computes grades and drift and writes ml.debtor_scores in one
transaction, exactly as in one process. This module runs one Prefect flow, `score-on-dask`, with
a `DaskTaskRunner`, over fixed row ranges of the features (ordered by debtor_id, so the same
input always gives the same partitions), in two rounds of Prefect tasks on the cluster:

1. `score-partition`: encode the partition's features and predict (calibrated probability);
2. `explain-partition`: reason codes for the rows the driver picked. Which rows get exact codes
   depends on the whole population (the least collectable first, up to a budget), so the driver
   chooses between the rounds, from every partition's probabilities.

Every number is a function of one row, so the rows written are identical to a single-process run.
"""

from __future__ import annotations

import logging
import os
import time
import uuid

import numpy as np
import pandas as pd
from prefect import flow, task
from prefect.cache_policies import NO_CACHE
from prefect.context import get_run_context
from prefect_dask import DaskTaskRunner

from debtflow.flows.core.settings import Settings
from debtflow.models import features, predict, registry


def task_runner(settings: Settings) -> DaskTaskRunner:
    """'local': a LocalCluster of threads in this process (processes would each start their own
    Prefect server in ephemeral mode); anything else is the address of a running scheduler.
    Dask's own INFO lines (cluster start and stop, connections) are kept out of the run's log."""
    logging.getLogger("distributed").setLevel(logging.WARNING)
    address = settings.dask_address.strip()
    if address == "local":
        return DaskTaskRunner(
            cluster_kwargs={
                "n_workers": 1,
                "threads_per_worker": os.cpu_count() or 1,
                "processes": False,
                "dashboard_address": "127.0.0.1:0",  # no fixed port to collide on
            }
        )
    return DaskTaskRunner(address=address)


def partitions(n: int, rows: int) -> list[tuple[int, int]]:
    """Row ranges [start, stop) of at most `rows` rows covering 0..n."""
    return [(start, min(start + rows, n)) for start in range(0, n, rows)]


def _worker() -> str:
    from distributed import get_worker

    try:
        return get_worker().address
    except ValueError:  # not on a Dask worker
        return "local"


@task(name="score-partition", cache_policy=NO_CACHE, persist_result=False)
def score_partition(model: registry.Model, part: pd.DataFrame) -> tuple:
    """The feature matrix, calibrated probabilities and the worker of one partition."""
    X = features.to_matrix(part, model.spec)
    return X, predict.predict_proba(model, X), _worker()


@task(name="explain-partition", cache_policy=NO_CACHE, persist_result=False)
def explain_partition(
    model: registry.Model, scored: tuple, exact: np.ndarray, approx: np.ndarray
) -> list[str | None]:
    return predict.explain(model, scored[0], exact, approx)


# The flow's inputs (model, features, rows to explain) by job id. They stay in this process:
# Prefect sends the flow (its function pickled by value, with the globals it names) and its
# parameters with every task it submits, so the flow names neither the data nor _JOBS.
_JOBS: dict[str, tuple] = {}


def _inputs(job: str) -> tuple:
    return _JOBS[job]


@flow(name="score-on-dask", persist_result=False)
def score_on_dask(job: str) -> tuple:
    """(X, p, reason codes, what ran where) for one job, in two rounds of tasks on the cluster."""
    model, frame, which, bounds = _inputs(job)
    started = time.perf_counter()
    # the data goes to the workers once, not pickled into every task of the graph
    client = get_run_context().task_runner.client
    on_cluster = client.scatter(model, broadcast=True, hash=False)
    pieces = client.scatter([frame.iloc[a:b] for a, b in bounds], hash=False)
    scored = [score_partition.submit(on_cluster, piece) for piece in pieces]
    parts = [f.result() for f in scored]
    X = pd.concat([x for x, _, _ in parts]) if len(parts) > 1 else parts[0][0]
    p = np.concatenate([q for _, q, _ in parts])
    seconds_predict = time.perf_counter() - started

    started = time.perf_counter()
    exact, approx = predict.reason_plan(model, which, p)  # over the whole population
    explained = []
    for (a, b), future in zip(bounds, scored, strict=True):
        mine_exact = exact[(exact >= a) & (exact < b)] - a
        mine_approx = approx[(approx >= a) & (approx < b)] - a
        if len(mine_exact) or len(mine_approx):
            task = explain_partition.submit(on_cluster, future, mine_exact, mine_approx)
            explained.append((a, b, task))
    codes: list[str | None] = [None] * len(frame)
    for a, b, future in explained:
        codes[a:b] = future.result()
    info = {
        "partitions": len(bounds),
        "tasks": len(bounds) + len(explained),
        "workers": sorted({w for _, _, w in parts}),
        "rows_with_exact_reasons": len(exact),
        "seconds_predict": round(seconds_predict, 2),
        "seconds_reasons": round(time.perf_counter() - started, 2),
    }
    return X, p, codes, info


def score(
    settings: Settings, model: registry.Model, frame: pd.DataFrame, which: np.ndarray
) -> tuple[pd.DataFrame, np.ndarray, list[str | None], dict]:
    """(X, p, reason codes, what ran where) for `frame`, computed on the cluster."""
    features.to_matrix(frame.head(0), model.spec)  # a missing column fails here, as in-process
    job = uuid.uuid4().hex
    _JOBS[job] = (model, frame, which, partitions(len(frame), settings.dask_partition_rows))
    started = time.perf_counter()
    try:
        X, p, codes, info = score_on_dask.with_options(task_runner=task_runner(settings))(job)
    finally:
        del _JOBS[job]
    info["address"] = settings.dask_address
    info["seconds"] = round(time.perf_counter() - started, 2)
    return X, p, codes, info
