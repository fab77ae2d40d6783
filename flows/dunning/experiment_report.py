"""The results of the dunning policy's A/B tests (policy.yml experiments): `debtflow experiments
list` and `debtflow experiments report NAME`.

The counts come from the marts (experiment_results per arm and currency, experiment_debtors per
debtor); each variant is compared with the control (the hold-out, on the base policy) per
currency: the difference in pay rate within 7, 14 and 30 days with a 95% interval (Newcomb's
score interval, statsmodels), the difference in mean net per debtor over 30 days with a 95%
Welch interval (scipy), and the sample per arm needed to detect the observed difference at 80%
power and 5% significance (statsmodels.stats.power).
"""

from __future__ import annotations

import math
from datetime import date
from decimal import Decimal

import duckdb
import numpy as np
import pandas as pd
from scipy import stats
from statsmodels.stats.power import NormalIndPower, TTestIndPower
from statsmodels.stats.proportion import confint_proportions_2indep, proportion_effectsize

from debtflow.flows.core.errors import DebtflowError
from debtflow.flows.core.warehouse import table_columns
from debtflow.flows.dunning.experiments import CONTROL
from debtflow.flows.dunning.policy import Policy

RESULTS, DEBTORS = "marts.experiment_results", "marts.experiment_debtors"
WINDOWS = (7, 14, 30)
ALPHA, POWER = 0.05, 0.8
RATE_METHOD = "newcomb"  # the score interval of a difference: sound for small counts and 0 or 1


def listing(con: duckdb.DuckDBPyConnection, pol: Policy, today: date) -> list[dict]:
    """The policy's experiments, whether they run today, and the debtors each arm has so far."""
    built = _results(con)
    out = []
    for exp in pol.experiments:
        rows = built[built["experiment"] == exp.name]
        arms = {CONTROL: exp.holdout, **{v.name: v.share for v in exp.variants}}
        out.append(
            {
                "experiment": exp.name,
                "start": exp.start.isoformat(),
                "end": exp.end.isoformat(),
                "status": "running"
                if exp.running(today)
                else ("ended" if today > exp.end else "not started"),
                "arms": [
                    {
                        "variant": arm,
                        "share": share,
                        "debtors": int(rows.loc[rows["variant"] == arm, "debtors"].sum()),
                    }
                    for arm, share in arms.items()
                ],
            }
        )
    return out


def report(con: duckdb.DuckDBPyConnection, pol: Policy, name: str) -> dict:
    """Each variant of experiment `name` against the control, per currency."""
    results = _results(con)
    results = results[results["experiment"] == name]
    known = [e.name for e in pol.experiments]
    if results.empty and name not in known:
        raise DebtflowError(
            f"no experiment {name!r} in the policy or in {RESULTS} "
            f"(the policy has: {', '.join(known) or 'none'})"
        )
    nets = con.execute(
        f"select variant, currency, net_30d from {DEBTORS} where experiment = ? and observed_30d",
        [name],
    ).df()
    as_of = results["as_of"].max() if len(results) else None
    return {
        "experiment": name,
        "as_of": None if as_of is None or pd.isna(as_of) else str(as_of)[:10],
        "arms": [_arm(r) for r in results.sort_values(["currency", "variant"]).to_dict("records")],
        "comparisons": compare(results, nets),
    }


def compare(results: pd.DataFrame, nets: pd.DataFrame) -> list[dict]:
    """Per currency and variant, the differences from the control. `results`: experiment_results
    rows of one experiment; `nets`: its debtors observed 30 days (variant, currency, net_30d)."""
    out = []
    for currency, arms in results.groupby("currency", sort=True):
        by_arm = arms.set_index("variant")
        if CONTROL not in by_arm.index:
            continue
        control = by_arm.loc[CONTROL]
        in_currency = nets[nets["currency"] == currency]
        net_c = in_currency.loc[in_currency["variant"] == CONTROL, "net_30d"]
        for variant, row in by_arm.drop(index=CONTROL).iterrows():
            net_v = in_currency.loc[in_currency["variant"] == variant, "net_30d"]
            out.append(
                {
                    "currency": currency,
                    "variant": variant,
                    "pay_rate": {
                        f"{days}d": rate_difference(
                            int(row[f"paid_{days}d_debtors"]),
                            int(row[f"debtors_{days}d"]),
                            int(control[f"paid_{days}d_debtors"]),
                            int(control[f"debtors_{days}d"]),
                        )
                        for days in WINDOWS
                    },
                    "net_30d_per_debtor": mean_difference(_floats(net_v), _floats(net_c), currency),
                }
            )
    return out


def rate_difference(paid_v: int, n_v: int, paid_c: int, n_c: int) -> dict:
    """The variant's pay rate minus the control's, its 95% interval, and the debtors per arm
    needed to detect a difference that large (None when it cannot be computed)."""
    if n_v == 0 or n_c == 0:
        return {"variant": _share(paid_v, n_v), "control": _share(paid_c, n_c), "diff": None,
                "ci_low": None, "ci_high": None, "n_needed_per_arm": None, "n": [n_v, n_c]}  # fmt: skip
    rate_v, rate_c = paid_v / n_v, paid_c / n_c
    low, high = confint_proportions_2indep(
        paid_v, n_v, paid_c, n_c, method=RATE_METHOD, compare="diff", alpha=ALPHA
    )
    effect = proportion_effectsize(rate_v, rate_c)  # Cohen's h
    return {
        "variant": rate_v,
        "control": rate_c,
        "diff": rate_v - rate_c,
        "ci_low": float(low),
        "ci_high": float(high),
        "n_needed_per_arm": _needed(NormalIndPower(), effect),
        "n": [n_v, n_c],  # debtors in the variant and the control
    }


def mean_difference(net_v: np.ndarray, net_c: np.ndarray, currency: str) -> dict:
    """The variant's mean net per debtor minus the control's, with a 95% Welch interval (no equal
    variances assumed), and the debtors per arm needed to detect it."""
    out = {"currency": currency, "variant": _mean(net_v), "control": _mean(net_c), "diff": None,
           "ci_low": None, "ci_high": None, "n_needed_per_arm": None,
           "n": [len(net_v), len(net_c)]}  # fmt: skip
    if len(net_v) < 2 or len(net_c) < 2:
        return out
    out["diff"] = float(net_v.mean() - net_c.mean())
    test = stats.ttest_ind(net_v, net_c, equal_var=False)
    if not math.isnan(test.statistic):  # both samples constant: no interval
        low, high = test.confidence_interval(1 - ALPHA)
        out["ci_low"], out["ci_high"] = float(low), float(high)
    spread = math.sqrt((net_v.var(ddof=1) + net_c.var(ddof=1)) / 2)
    if spread > 0:
        out["n_needed_per_arm"] = _needed(TTestIndPower(), out["diff"] / spread)  # Cohen's d
    return out


def _needed(analysis, effect: float) -> int | None:
    if not effect or not math.isfinite(effect):
        return None  # no difference observed: none to detect
    n = analysis.solve_power(effect_size=abs(effect), alpha=ALPHA, power=POWER, ratio=1.0)
    return math.ceil(n)


def _results(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    if not table_columns(con, RESULTS):
        raise DebtflowError(f"{RESULTS} is not built: run `debtflow transform` first")
    return con.execute(f"select * from {RESULTS}").df()


def _arm(row: dict) -> dict:
    """A row of experiment_results as JSON: counts as int, rates as float, amounts as str."""
    out = {}
    for key, value in row.items():
        if value is None or (not isinstance(value, str | Decimal) and pd.isna(value)):
            out[key] = None
        elif isinstance(value, Decimal):
            out[key] = str(value)
        elif isinstance(value, np.integer | int):
            out[key] = int(value)
        elif isinstance(value, np.floating | float):
            out[key] = float(value)
        elif hasattr(value, "isoformat"):  # a date (DuckDB's DATE comes as a Timestamp)
            out[key] = value.isoformat()[:10]
        else:
            out[key] = value
    return out


def _floats(values: pd.Series) -> np.ndarray:
    return values.astype(float).to_numpy()


def _mean(values: np.ndarray) -> float | None:
    return float(values.mean()) if len(values) else None


def _share(part: int, whole: int) -> float | None:
    return part / whole if whole else None
