"""Train the collectability model with an out-of-time backtest, and register it.

Split by snapshot date: the latest labelled dates (two, more if needed for 20% of rows) are the
validation set and are touched only to measure; the latest remaining date calibrates, the one
before it stops the boosting early (so the calibrator never sees rows the trees were tuned on),
and the earlier dates fit the trees. No refit afterwards: the model registered is the one
measured. The pieces below (split, fit, backtest, register) also train the late-payment model.
"""

from __future__ import annotations

import hashlib
import logging
import platform
import time
from dataclasses import dataclass
from datetime import date, datetime
from importlib import metadata as importlib_metadata
from pathlib import Path
from zoneinfo import ZoneInfo

import duckdb
import lightgbm as lgb
import numpy as np
import pandas as pd
import sklearn
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from debtflow.flows.core.errors import DebtflowError
from debtflow.flows.core.settings import Settings
from debtflow.flows.core.warehouse import connect
from debtflow.models import drift, evaluate, evaluation_report, features, predict, registry
from debtflow.models.features import CATEGORICAL, LABEL, FeatureSpec

log = logging.getLogger(__name__)

SEED = 20240601
# Chosen on earlier backtest windows of the demo world: small trees with column sampling
# generalise across the stress period better than the 31-leaf default. A random search there
# (leaves 4-31, min_child_samples 20-400, L2, rate 0.02/0.05, 63/255 bins) moved validation
# AUC and Brier by under 0.001: the models are limited by their features, not by tuning. Rate
# 0.05, 63 bins and row bagging above BAG_MAX_ROWS cost nothing there and halve training at
# 2M rows (tests/bench/run.py, stage train_2m).
PARAMS = {
    "objective": "binary",
    "learning_rate": 0.05,
    "num_leaves": 15,
    "min_child_samples": 100,
    "feature_fraction": 0.7,
    "max_bin": 63,
    "seed": SEED,
    "deterministic": True,
    "force_col_wise": True,
    "num_threads": 2,
    "verbose": -1,
}
# A small book (under SMALL_BOOK_ROWS training rows) cannot spare three hold-out slices: its
# trees would grow on a few hundred rows and lose to the logistic baseline. There, every
# training row fits: early stopping and calibration are cross-fitted (CROSS_FIT_FOLDS folds by
# debtor), the trees are smaller and more regularised, and the features whose direction is
# known are monotone. Measured on simulated books of 120 to 2,000 debtors (the closing note of
# the real-book issue): never worse than the baseline by more than 0.01 ROC AUC.
SMALL_BOOK_ROWS = 50_000
CROSS_FIT_FOLDS = 5
SMALL_BOOK_PARAMS = {
    "num_leaves": 7,
    "min_child_samples": 20,
    "learning_rate": 0.03,
    "lambda_l2": 5.0,
    "feature_fraction": 0.8,
    "cat_smooth": 20,
    "min_data_per_group": 20,
}
# p(collected within 30 days) falls the longer an invoice is overdue and the more debts are
# registered, and rises with the share of past episodes the debtor closed within 30 days.
MONOTONE = {"max_days_past_due": -1, "registered_debts": -1, "share_episodes_closed_30d": 1}
MAX_ROUNDS = 1000
EARLY_STOPPING_ROUNDS = 50
# Above this many fit rows each tree sees a random subset of this size (bagging): the cost of a
# boosting round stops growing with the data, and at that size the subset loses nothing.
BAG_MAX_ROWS = 400_000
VALID_DATES = 2
VALID_MIN_SHARE = 0.2
RANDOM_STOP_SHARE = 0.2  # early-stopping slice when the train period has a single date
BASELINE_MAX_ROWS = 200_000  # the logistic baseline is a yardstick; a sample is enough
TRUTH_FILE = "collectability.parquet"


@dataclass
class Split:
    train_dates: list[date]
    stop_dates: list[date]
    valid_dates: list[date]
    fit: np.ndarray  # boolean masks over the frame
    stop: np.ndarray
    valid: np.ndarray
    calib: np.ndarray
    calib_dates: list[date]
    # cross-fitted (a small book): fit, stop and calib are all the training rows, in folds
    # of these groups (debtors)
    folds: np.ndarray | None = None


def split(
    frame: pd.DataFrame, date_column: str = "as_of", group_column: str = "debtor_id"
) -> Split:
    dates = pd.to_datetime(frame[date_column]).dt.date
    counts = dates.value_counts().sort_index()
    days = list(counts.index)
    if len(days) < 2:
        raise DebtflowError(
            f"need labelled snapshots on at least 2 dates for an out-of-time split, have {len(days)}"
        )
    k = min(VALID_DATES, len(days) - 1)
    while k < len(days) - 1 and counts.iloc[-k:].sum() < VALID_MIN_SHARE * len(frame):
        k += 1
    valid_dates, train_dates = days[-k:], days[:-k]
    valid = dates.isin(valid_dates).to_numpy()
    if (~valid).sum() < SMALL_BOOK_ROWS:
        train = ~valid
        folds = np.full(len(frame), -1)
        folds[train] = _debtor_folds(frame.loc[train], group_column)
        return Split(train_dates, train_dates, valid_dates, train, train, valid, train,
                     train_dates, folds)  # fmt: skip
    if len(train_dates) >= 3:  # separate slices: fit | early stop | calibrate | validate
        calib_dates, stop_dates, fit_dates = train_dates[-1:], train_dates[-2:-1], train_dates[:-2]
        calib = dates.isin(calib_dates).to_numpy()
        stop = dates.isin(stop_dates).to_numpy()
    elif len(train_dates) == 2:  # too few dates: the latest both stops and calibrates
        stop_dates, fit_dates = train_dates[-1:], train_dates[:-1]
        calib_dates = stop_dates
        stop = calib = dates.isin(stop_dates).to_numpy()
    else:
        stop_dates, calib_dates, fit_dates = [], [], train_dates
        rng = np.random.default_rng(SEED)
        stop = calib = ~valid & (rng.random(len(frame)) < RANDOM_STOP_SHARE)
    fit = ~valid & ~stop & ~calib
    return Split(fit_dates, stop_dates, valid_dates, fit, stop, valid, calib, calib_dates)


def _debtor_folds(frame: pd.DataFrame, group_column: str) -> np.ndarray:
    """A fold number per row: a debtor's rows (several snapshot dates) share one fold, so early
    stopping and calibration never see a debtor the trees were grown on."""
    groups = frame[group_column].astype(str).to_numpy()
    order = np.unique(groups)
    shuffled = np.random.default_rng(SEED).permutation(len(order))
    fold_of = dict(zip(order, shuffled % CROSS_FIT_FOLDS, strict=True))
    return np.array([fold_of[g] for g in groups])


def data_hash(frame: pd.DataFrame, keys: list[str] | None = None) -> str:
    """sha256 over pandas' row hashes of the training frame, in a fixed row and column order."""
    keys = keys or ["as_of", "debtor_id"]
    ordered = frame.sort_values(keys, kind="stable").reset_index(drop=True)
    ordered = ordered[sorted(ordered.columns)]
    rows = pd.util.hash_pandas_object(ordered, index=False).to_numpy()
    return hashlib.sha256(rows.tobytes()).hexdigest()


def fit_platt(raw: np.ndarray, y: np.ndarray) -> dict:
    """Platt scaling of the raw margin; monotone, so it never changes the ranking (AUC)."""
    if len(np.unique(y)) < 2:
        return {"method": "platt", "a": 1.0, "b": 0.0, "note": "one class in slice: identity"}
    lr = LogisticRegression(C=1e6).fit(raw.reshape(-1, 1), y)
    return {
        "method": "platt",
        "a": float(lr.coef_[0, 0]),
        "b": float(lr.intercept_[0]),
        "fitted_on_rows": int(len(y)),
    }


def baseline_proba(
    X: pd.DataFrame, y: np.ndarray, train: np.ndarray, valid: np.ndarray, spec: FeatureSpec
) -> np.ndarray:
    """Logistic regression on standardized numbers and one-hot categories, same split."""
    cats = [c for c in spec.columns if spec.kinds[c] == CATEGORICAL]
    nums = [c for c in spec.columns if c not in cats]
    frame = X.copy()
    for c in cats:
        frame[c] = frame[c].astype(object).where(frame[c].notna(), "(missing)")
    idx = np.flatnonzero(train)
    if len(idx) > BASELINE_MAX_ROWS:
        idx = np.sort(np.random.default_rng(SEED).choice(idx, BASELINE_MAX_ROWS, replace=False))
    prep = ColumnTransformer(
        [
            (
                "num",
                make_pipeline(
                    SimpleImputer(strategy="median", add_indicator=True, keep_empty_features=True),
                    StandardScaler(),
                ),
                nums,
            ),
            ("cat", OneHotEncoder(handle_unknown="ignore"), cats),
        ]
    )
    model = make_pipeline(prep, LogisticRegression(max_iter=1000))
    model.fit(frame.iloc[idx], y[idx])
    return model.predict_proba(frame[valid])[:, 1]


def read_truth(path: Path) -> pd.DataFrame:
    """The collectability truth keyed (debtor_id, as_of), with p_true and label."""
    truth = pd.read_parquet(path, columns=["debtor_id", "as_of", "p_true", "label"])
    return truth.assign(
        debtor_id=truth["debtor_id"].astype(str), as_of=pd.to_datetime(truth["as_of"]).dt.date
    )


def oracle_metrics(
    truth_dir: Path,
    keys: pd.DataFrame,
    y: np.ndarray,
    p: np.ndarray,
    truth_file: str = TRUTH_FILE,
    reader=read_truth,
) -> dict:
    """The simulator's true probabilities on the validation rows they cover, beside the model's
    metrics on the same rows (so the two are comparable). `keys` holds the truth's key columns;
    the reader returns them (as strings or dates) with p_true and label."""
    path = Path(truth_dir) / truth_file
    if not path.exists():
        log.warning("no truth file at %s: oracle metrics left out", path)
        return {"oracle_note": f"no truth file at {path}"}
    truth = reader(path)
    on = list(keys.columns)
    duplicates = int(truth.duplicated(on).sum())
    truth = truth.drop_duplicates(on)
    rows = keys.assign(_y=y, _p=p)
    for c in on:
        rows[c] = rows[c].astype(str) if c.endswith("_id") else pd.to_datetime(rows[c]).dt.date
    joined = rows.merge(truth, on=on, how="inner", validate="one_to_one")
    out: dict = {"oracle_rows_matched": int(len(joined)), "oracle_rows_valid": int(len(rows))}
    if duplicates:
        out["oracle_truth_duplicate_keys"] = duplicates
    if joined.empty:
        return out
    oracle = evaluate.classification_metrics(joined["_y"], joined["p_true"])
    model = evaluate.classification_metrics(joined["_y"], joined["_p"])
    out.update({f"oracle_{k}": v for k, v in oracle.items()})
    out.update(
        {
            "model_roc_auc_on_oracle_rows": model["roc_auc"],
            "model_brier_on_oracle_rows": model["brier"],
            # the mart's label against the simulator's: a check on the dbt label logic
            "oracle_label_agreement": float((joined["_y"] == joined["label"].astype(int)).mean()),
        }
    )
    return out


def library_versions() -> dict:
    def version(dist: str) -> str | None:
        try:
            return importlib_metadata.version(dist)
        except importlib_metadata.PackageNotFoundError:
            return None

    return {
        "python": platform.python_version(),
        "debtflow": version("debtflow"),
        "lightgbm": lgb.__version__,
        "pandas": pd.__version__,
        "numpy": np.__version__,
        "duckdb": duckdb.__version__,
        "sklearn": sklearn.__version__,
    }


def champion_on(
    settings: Settings, frame: pd.DataFrame, y: np.ndarray, name: str = registry.NAME
) -> tuple[str, dict] | None:
    """The current champion's metrics on the given rows (the challenger's validation set), so
    the gate compares like with like; falls back to its stored metrics if it cannot score them."""
    version = registry.champion_version(settings, name)
    if version is None:
        return None
    champ = registry.load(settings, version, name)
    try:
        p = predict.predict_proba(champ, features.to_matrix(frame, champ.spec))
    except features.FeatureError as exc:
        log.warning("champion %s cannot score the new validation rows (%s)", version, exc)
        return version, {**champ.metrics, "compared_on": "champion's stored validation metrics"}
    return version, {
        **evaluate.classification_metrics(y, p),
        "compared_on": "challenger's validation rows",
    }


@dataclass
class Fitted:
    model_text: str
    booster: lgb.Booster
    calibrator: dict
    best_iteration: int
    raw: np.ndarray  # raw margin of every row of the frame
    params: dict | None = None  # the LightGBM parameters used


def fit(
    X: pd.DataFrame,
    y: np.ndarray,
    s: Split,
    params: dict | None = None,
    monotone: dict[str, int] | None = None,
) -> Fitted:
    """Boost on the fit slice with early stopping on the stop slice; Platt on the calib slice
    (a small book: cross-fitted, see `cross_fit`).

    Platt, not isotonic: on the demo world's backtests isotonic on one month of rows lost
    about 0.001 Brier and 0.01 log loss to its steps; a monotone two-parameter map keeps the
    ranking and carries the level shift from the latest month, which is what matters here.
    """
    if s.folds is not None:
        return cross_fit(X, y, s, params, monotone)
    params = effective_params(int(s.fit.sum()), params)
    booster, best = _boost_until_stop(params, X, y, s.fit, s.stop)
    model_text = booster.model_to_string(num_iteration=best)
    booster = lgb.Booster(model_str=model_text)  # exactly what the registry will hold
    raw = booster.predict(X, raw_score=True)
    calibrator = fit_platt(raw[s.calib], y[s.calib])
    return Fitted(model_text, booster, calibrator, int(best), raw, params)


def _boost_until_stop(
    params: dict, X: pd.DataFrame, y: np.ndarray, fit_rows: np.ndarray, stop_rows: np.ndarray
) -> tuple[lgb.Booster, int]:
    """Boost on `fit_rows` until the log loss on `stop_rows` has not improved for
    EARLY_STOPPING_ROUNDS; the booster and its best round."""
    dfit = lgb.Dataset(X[fit_rows], y[fit_rows], free_raw_data=False)
    dstop = lgb.Dataset(X[stop_rows], y[stop_rows], reference=dfit)
    booster = lgb.train(
        params,
        dfit,
        num_boost_round=MAX_ROUNDS,
        valid_sets=[dstop],
        valid_names=["early_stop"],
        callbacks=[lgb.early_stopping(EARLY_STOPPING_ROUNDS, verbose=False)],
    )
    return booster, booster.best_iteration or MAX_ROUNDS


def cross_fit(
    X: pd.DataFrame,
    y: np.ndarray,
    s: Split,
    params: dict | None = None,
    monotone: dict[str, int] | None = None,
) -> Fitted:
    """A small book: per fold, boost on the other folds and stop early on this one; the final
    model boosts on every training row for the folds' mean best round, and Platt scaling is fitted
    on the out-of-fold margins (each row scored by trees that never saw its debtor)."""
    params = {**effective_params(int(s.fit.sum()), params), **SMALL_BOOK_PARAMS, **(params or {})}
    if monotone:
        params["monotone_constraints"] = [monotone.get(c, 0) for c in X.columns]
    out_of_fold, best = np.zeros(len(X)), []
    for k in np.unique(s.folds[s.fit]):
        held, rest = s.folds == k, s.fit & (s.folds != k)
        if len(np.unique(y[rest])) < 2 or not held.any():
            continue
        booster, rounds = _boost_until_stop(params, X, y, rest, held)
        best.append(rounds)
        out_of_fold[held] = booster.predict(X[held], raw_score=True, num_iteration=rounds)
    rounds = max(1, round(float(np.mean(best)))) if best else 1
    booster = lgb.train(params, lgb.Dataset(X[s.fit], y[s.fit]), num_boost_round=rounds)
    model_text = booster.model_to_string()
    booster = lgb.Booster(model_str=model_text)
    calibrator = {**fit_platt(out_of_fold[s.fit], y[s.fit]), "cross_fitted_folds": len(best)}
    raw = booster.predict(X, raw_score=True)
    return Fitted(model_text, booster, calibrator, rounds, raw, params)


def effective_params(n_fit: int, params: dict | None = None) -> dict:
    """PARAMS with overrides, plus row bagging when the fit slice is larger than BAG_MAX_ROWS."""
    out = {**PARAMS, **(params or {})}
    if n_fit > BAG_MAX_ROWS and "bagging_fraction" not in out:
        out.update(bagging_fraction=round(BAG_MAX_ROWS / n_fit, 4), bagging_freq=1)
    return out


def backtest(X: pd.DataFrame, y: np.ndarray, s: Split, spec: FeatureSpec, f: Fitted) -> dict:
    """Validation metrics of the calibrated model, the raw model and the logistic baseline."""
    p_valid = predict.calibrate(f.raw[s.valid], f.calibrator)
    y_valid = y[s.valid]
    metrics: dict = {
        "cross_fitted": s.folds is not None,
        "n_train": int(s.fit.sum()),
        "n_early_stop": int(s.stop.sum()),
        "n_calibration": int(s.calib.sum()),
        "n_valid": int(s.valid.sum()),
        "base_rate": float(y_valid.mean()),
        **evaluate.classification_metrics(y_valid, p_valid),
        "uncalibrated_brier": evaluate.classification_metrics(
            y_valid, 1 / (1 + np.exp(-f.raw[s.valid]))
        )["brier"],
        "calibration_curve": evaluate.calibration_curve(y_valid, p_valid),
        "grades": evaluate.grade_table(y_valid, p_valid, predict.grade(p_valid)),
        "best_iteration": f.best_iteration,
    }
    p_base = baseline_proba(X, y, ~s.valid, s.valid, spec)
    base = evaluate.classification_metrics(y_valid, p_base)
    metrics.update(
        {
            "baseline_roc_auc": base["roc_auc"],
            "baseline_pr_auc": base["pr_auc"],
            "baseline_brier": base["brier"],
            "baseline_log_loss": base["log_loss"],
        }
    )
    return metrics


def window(s: Split) -> dict:
    return {
        "train_dates": [str(d) for d in s.train_dates],
        "early_stop_dates": [str(d) for d in s.stop_dates],
        "calibration_dates": [str(d) for d in s.calib_dates],
        "valid_dates": [str(d) for d in s.valid_dates],
    }


def register(
    settings: Settings,
    name: str,
    frame: pd.DataFrame,
    keys: list[str],
    X: pd.DataFrame,
    y: np.ndarray,
    s: Split,
    spec: FeatureSpec,
    f: Fitted,
    metrics: dict,
    metadata: dict,
    date_column: str = "as_of",
) -> dict:
    """Gate against the champion on the same validation rows, write the version, maybe promote.
    `date_column` is the date a row's features are as of (drift finds book-wide features by it)."""
    current = champion_on(settings, frame[s.valid], y[s.valid], name)
    decision = registry.gate(metrics, current[1] if current else None)
    decision.update(
        {
            "champion_before": current[0] if current else None,
            "champion_metrics": (
                {k: current[1].get(k) for k in ("roc_auc", "brier", "compared_on")}
                if current
                else None
            ),
        }
    )
    metrics["promotion"] = decision
    digest = data_hash(frame, keys)
    now = datetime.now(ZoneInfo(settings.timezone)).replace(tzinfo=None)
    version = registry.new_version_id(settings, digest, now, name)
    p_valid = predict.calibrate(f.raw[s.valid], f.calibrator)
    p_fit = predict.calibrate(f.raw[s.fit], f.calibrator)
    importance = dict(
        zip(spec.columns, f.booster.feature_importance("gain").astype(float).tolist(), strict=True)
    )
    metadata = {
        "version": version,
        "model": name,
        **metadata,
        "created_at": now.isoformat(timespec="seconds"),
        "features": spec.to_dict(),
        "training_window": window(s),
        "rows": {
            "total": int(len(frame)),
            "train": metrics["n_train"],
            "early_stop": metrics["n_early_stop"],
            "calibration": metrics["n_calibration"],
            "valid": metrics["n_valid"],
        },
        "data_hash": digest,
        "library_versions": library_versions(),
        "parameters": {
            **(f.params or PARAMS),
            "max_rounds": MAX_ROUNDS,
            "early_stopping_rounds": EARLY_STOPPING_ROUNDS,
            "best_iteration": f.best_iteration,
        },
        "calibration": dict(f.calibrator),
        "grade_rule": "grade = clip(1 + floor(10 * p), 1, 10): fixed bands of calibrated p",
        "feature_importance_gain": importance,
        "drift_reference": drift.reference(
            X[s.fit], spec, p_fit, drift.book_wide(X, spec, frame[date_column].to_numpy())
        ),
        "approx_contrib": predict.contribution_table(f.booster, X[s.calib], spec),
        "promotion": decision,
    }
    report = evaluation_report.render(
        version, metadata, metrics, y[s.valid], p_valid, p_fit, importance
    )
    path = registry.save(
        settings, version, f.model_text, f.calibrator, metadata, metrics, report, name
    )
    if decision["promote"]:
        registry.promote(settings, version, name)
    return {
        "model": name,
        "version": version,
        "path": str(path),
        "promoted": decision["promote"],
        "champion": registry.champion_version(settings, name),
        "decision": decision["reason"],
        "metrics": {k: v for k, v in metrics.items() if k in evaluate.HEADLINE},
    }


def train(settings: Settings, as_of: date, truth_dir: Path | None = None) -> dict:
    """Train, backtest, register; the new version becomes champion only through the gate."""
    started = time.perf_counter()
    lap = _Stopwatch()
    con = connect(settings)
    try:
        kinds = features.feature_kinds(con, features.SNAPSHOTS)
        frame = features.read_training(con, as_of, settings.training_months)
    finally:
        con.close()
    if frame.empty:
        raise DebtflowError(
            f"no labelled snapshots before {as_of} in {features.SNAPSHOTS}: "
            "load more history or run `debtflow transform`"
        )
    lap("read")
    s = split(frame)
    y = frame[LABEL].astype(int).to_numpy()
    spec = features.fit_spec(frame[~s.valid], kinds)
    X = features.to_matrix(frame, spec)
    lap("features")
    f = fit(X, y, s, monotone=MONOTONE)
    lap("fit")
    metrics = backtest(X, y, s, spec, f)
    if truth_dir is not None:
        p_valid = predict.calibrate(f.raw[s.valid], f.calibrator)
        keys = frame.loc[s.valid, ["debtor_id", "as_of"]]
        metrics.update(oracle_metrics(truth_dir, keys, y[s.valid], p_valid))
    lap("backtest")
    metadata = {
        "target": f"{LABEL}: overdue balance fully paid within 30 days after as_of",
        "as_of": str(as_of),
    }
    result = register(
        settings, registry.NAME, frame, ["as_of", "debtor_id"], X, y, s, spec, f, metrics, metadata
    )
    lap("register")
    return {**result, "seconds": round(time.perf_counter() - started, 1), "phases": lap.phases}


class _Stopwatch:
    """Seconds per training phase (read, features, fit, backtest, register), for logs and bench."""

    def __init__(self) -> None:
        self.phases: dict[str, float] = {}
        self._last = time.perf_counter()

    def __call__(self, name: str) -> None:
        now = time.perf_counter()
        self.phases[name] = round(now - self._last, 2)
        self._last = now
        log.info("training phase %s took %.2f s", name, self.phases[name])
