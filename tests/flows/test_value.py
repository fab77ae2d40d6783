"""Keep, place or sell on hand-made curves and pools: the rates are the curves' own ratios, the
cash is the balance paid down at those rates, a placement whose fee eats its gain is not chosen,
and prices and the reserve fall as the discount rates rise. (The curves themselves are built by
dbt; their unit test is in dbt_project/models/marts/sale/_sale__models.yml.)"""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import duckdb
import numpy as np
import pandas as pd
import pytest

from debtflow.flows.cli import parser
from debtflow.flows.core.errors import DebtflowError
from debtflow.flows.core.warehouse import ensure_schema
from debtflow.flows.tape.report import write_valuation_report
from debtflow.flows.value import appraise, curves, valuation
from debtflow.flows.value.terms import DEFAULT_TERMS, load, monthly

TERMS = load(DEFAULT_TERMS)
SEGMENT = {"currency": "EUR", "debtor_type": "consumer", "country": "NL"}


def history(rows: list[tuple], vintages: int = TERMS.min_vintages) -> pd.DataFrame:
    """recovery_curves rows: (grade, placed, month, receivables, open, recovered), each spread
    evenly over `vintages` months of default (receivables by vintage, the rest in equal parts)."""
    return pd.DataFrame(
        [
            {"vintage": date(2024, 1 + v, 1), **SEGMENT, "grade": g, "placed_with_agency": p,
             "month_after_default": m, "receivables": n // vintages + (v < n % vintages),
             "open_at_month_start": o / vintages, "recovered": r / vintages}
            for g, p, m, n, o, r in rows
            for v in range(vintages)
        ]
    )  # fmt: skip


def segment(grade: int, placed: bool) -> pd.DataFrame:
    return pd.DataFrame([{**SEGMENT, "grade": grade, "placed_with_agency": placed}])


def test_rates_are_the_curves_ratios_with_coarser_segments_and_a_tail_where_thin():
    curve = history(
        [
            # grade 3: well observed in months 1-2, thin in month 3
            (3, False, 1, 40, 1000.0, 100.0),
            (3, False, 2, 35, 900.0, 90.0),
            (3, False, 3, 5, 100.0, 50.0),
            # grade 7 of the same segment: pooled with grade 3 where grade 3 is thin
            (7, False, 3, 30, 300.0, 30.0),
            (7, False, 4, 30, 200.0, 10.0),
        ]
    )
    got = curves.rates(curve, segment(3, False), 40, 30, TERMS.min_vintages, 2)[0]
    assert got[:2] == pytest.approx([0.1, 0.1])  # 100/1000, 90/900
    assert got[2] == pytest.approx(80 / 400)  # month 3: both grades, 35 receivables
    assert got[3] == pytest.approx(10 / 200)  # month 4: grade 7 alone is the segment's
    tail = (80 + 10) / (400 + 200)  # the last two trusted months, pooled
    assert got[4:] == pytest.approx([tail] * 36)


def test_a_month_seen_by_too_few_vintages_comes_from_the_coarser_segment_or_the_tail():
    # month 3 of grade 3: 40 receivables, but all from 2 months of default (say, one downturn)
    few = history([(3, False, 3, 40, 1000.0, 20.0)], vintages=2)
    many = history(
        [(3, False, m, 60, 1000.0, 100.0) for m in (1, 2)] + [(7, False, 3, 60, 1000.0, 80.0)]
    )
    curve = pd.concat([few, many], ignore_index=True)
    got = curves.rates(curve, segment(3, False), 4, 30, 6, 2)[0]
    assert got[:2] == pytest.approx([0.1, 0.1])
    # month 3: the segment without the grade, grades 3 and 7 together: 8 vintages, 100 paid
    assert got[2] == pytest.approx((20 + 80) / 2000)
    assert got[3] == pytest.approx((100 + 100) / 3000)  # past the last: months 2-3 pooled
    # trusting two vintages, grade 3's own month 3 stands
    assert curves.rates(curve, segment(3, False), 4, 30, 2, 2)[0][2] == pytest.approx(0.02)
    # with no month seen by 6 vintages at any level, there is no curve to value with
    with pytest.raises(DebtflowError, match="from 6 months of default"):
        curves.rates(few, segment(3, False), 4, 30, 6, 2)


def test_a_currency_without_history_is_refused():
    curve = history([(3, False, 1, 10, 100.0, 10.0)])
    with pytest.raises(DebtflowError, match="no recovery history for currency EUR"):
        curves.rates(curve, segment(3, False), 12, 30, TERMS.min_vintages, 2)


def test_expected_recovery_is_the_balance_paid_down_at_the_segment_rate():
    curve = history(
        [(0, placed, m, 50, 1000.0, 100.0) for placed in (False, True) for m in range(1, 37)]
    )
    book = pd.DataFrame(
        [
            {"pool": "consumer-nl-eur", "invoice_id": f"I{i}", **SEGMENT, "grade": 0,
             "placed_with_agency": False, "months_since_default": age, "face": face,
             "p_collect_30d": None}
            for i, (age, face) in enumerate([(12, 100.0), (3, 300.0)])
        ]
    )  # fmt: skip
    (pool,) = valuation.appraise_book(book, curve, TERMS)
    assert pool["receivables"] == 2 and float(pool["face_value"]) == 400.0
    assert float(pool["expected_recovery_12m"]) == pytest.approx(400 * (1 - 0.9**12), abs=0.01)
    assert float(pool["expected_recovery_36m"]) == pytest.approx(400 * (1 - 0.9**36), abs=0.01)
    assert pool["price_share_low"] <= pool["price_share"] <= pool["price_share_high"]
    assert [r["discount_rate"] for r in pool["sensitivity"][:2]] == [0.10, 0.10]
    # a debtor the model rates twice the curve's next month recovers faster
    book.loc[0, "p_collect_30d"] = 0.2
    (tilted,) = valuation.appraise_book(book, curve, TERMS)
    faster = 100 * (1 - 0.8**12) + 300 * (1 - 0.9**12)
    assert float(tilted["expected_recovery_12m"]) == pytest.approx(faster, abs=0.01)


COSTS = appraise.Costs(
    in_house_per_month=1.0,
    agency_fee_share=0.25,
    agency_per_account=0.0,
    buyer_per_month=1.0,
    seller_share=0.02,
    seller_per_pool=50.0,
    buyer_rate=monthly(0.15),
    seller_rate=monthly(0.08),
)


def flat_pool(in_house: float, agency: float, n: int = 20, months: int = 36) -> appraise.Pool:
    return appraise.Pool(
        face=np.full(n, 200.0),
        in_house=np.full((n, months), in_house),
        agency=np.full((n, months), agency),
        placed=np.zeros(n, bool),
    )


def test_placing_is_not_recommended_when_the_fee_exceeds_what_the_agency_adds():
    pool = flat_pool(in_house=0.08, agency=0.10)  # the agency collects a little faster
    cheap = appraise.npv(pool, replace(COSTS, agency_fee_share=0.0))
    assert appraise.recommend(cheap) == "place"
    dear = appraise.npv(pool, replace(COSTS, agency_fee_share=0.40))
    assert dear["place"] < dear["keep"]
    assert appraise.recommend(dear) != "place"


def test_the_reserve_and_the_price_fall_as_the_discount_rates_rise():
    pool = flat_pool(in_house=0.06, agency=0.06)
    reserves = [
        appraise.reserve_price(appraise.npv(pool, replace(COSTS, seller_rate=monthly(r))), COSTS)
        for r in (0.05, 0.10, 0.20)
    ]
    prices = [appraise.price(pool, COSTS, rate=monthly(r)) for r in (0.10, 0.20, 0.30)]
    assert reserves[0] > reserves[1] > reserves[2] > 0
    assert prices[0] > prices[1] > prices[2] > 0
    # and selling wins exactly when the price is above the reserve
    values = appraise.npv(pool, COSTS)
    above = appraise.price(pool, COSTS) > appraise.reserve_price(values, COSTS)
    assert (appraise.recommend(values) == "sell") == above


def test_the_valuation_is_recorded_per_date_and_pool_and_replaced_when_run_again():
    con = duckdb.connect()
    ensure_schema(con)
    curve = history([(0, p, m, 50, 1000.0, 80.0) for p in (False, True) for m in range(1, 37)])
    book = pd.DataFrame(
        [
            {"pool": pool, "invoice_id": f"I{i}", **SEGMENT, "grade": 0,
             "placed_with_agency": False, "months_since_default": 13, "face": 100.0 + i,
             "p_collect_30d": 0.05}
            for i, pool in enumerate(["a-eur", "a-eur", "b-eur"])
        ]
    )  # fmt: skip
    as_of = date(2026, 11, 20)
    for _ in range(2):
        pools = valuation.appraise_book(book, curve, TERMS)
        valuation.record(con, as_of, pools, TERMS, None)
    rows = con.execute(
        "select pool, receivables, face_value, recommendation from sale.portfolio_valuation"
        " order by pool"
    ).fetchall()
    assert [(p, n, float(f)) for p, n, f, _ in rows] == [("a-eur", 2, 201.0), ("b-eur", 1, 102.0)]
    assert {r for *_, r in rows} <= set(appraise.OPTIONS)


def test_the_terms_name_a_bad_key(tmp_path):
    bad = tmp_path / "terms.yml"
    text = DEFAULT_TERMS.read_text(encoding="utf-8")
    bad.write_text(text.replace("agency_fee_share: 0.25", "agency_fee_share: 1.5"), "utf-8")
    with pytest.raises(DebtflowError, match=r"terms.yml is not valid(.|\n)*agency_fee_share"):
        load(bad)


def test_the_value_command_takes_a_date_a_pool_and_json():
    args = parser().parse_args(["value", "--as-of", "2026-11-20", "--pool", "a-eur", "--json"])
    assert (args.spec.name, args.as_of, args.pool, args.json) == (
        "value",
        date(2026, 11, 20),
        "a-eur",
        True,
    )


def test_the_sellers_report_shows_every_pool_its_decision_and_sensitivity(tmp_path):
    curve = history([(0, p, m, 50, 1000.0, 80.0) for p in (False, True) for m in range(1, 37)])
    book = pd.DataFrame(
        [
            {"pool": pool, "invoice_id": f"I{i}", **SEGMENT, "grade": 0,
             "placed_with_agency": False, "months_since_default": 13, "face": 100.0,
             "p_collect_30d": None}
            for i, pool in enumerate(["a-eur", "b-eur"])
        ]
    )  # fmt: skip
    pools = valuation.appraise_book(book, curve, TERMS)
    html, pdf = write_valuation_report({"as_of": "2026-11-20", "pools": pools}, tmp_path)
    text = html.read_text(encoding="utf-8")
    assert text.count("<img") == 2  # the NPV bars and the expected curves
    for pool in pools:
        assert f"Sensitivity: {pool['pool']}" in text
        assert f"{pool['reserve_share']:.1%}" in text
    assert pdf.read_bytes().startswith(b"%PDF")


def backtest_pool(debtors: int, receivables_each: int, seed: int = 3) -> pd.DataFrame:
    """A pool's receivables with what was predicted and paid: a debtor pays all or nothing."""
    rng = np.random.default_rng(seed)
    paid = rng.random(debtors) < 0.4
    face = rng.lognormal(4, 0.5, (debtors, receivables_each))
    return pd.DataFrame(
        {
            "debtor_id": np.repeat([f"D{i}" for i in range(debtors)], receivables_each),
            "predicted": (0.4 * face).ravel(),
            "paid": (face * paid[:, None]).ravel(),
        }
    )


def test_the_backtest_error_interval_resamples_debtors_not_receivables():
    from debtflow.flows.value import backtest

    pool = backtest_pool(debtors=60, receivables_each=10)
    error = pool["predicted"].sum() / pool["paid"].sum() - 1
    got = backtest._interval(pool, np.random.default_rng(1))
    assert got["debtors"] == 60
    assert got["error_low"] < error < got["error_high"]
    # the same receivables each taken for a debtor of its own: ten times the debtors, and an
    # interval far narrower, which would call a pool of 60 debtors judgeable when it is not
    alone = backtest._interval(
        pool.assign(debtor_id=pool.index.astype(str)), np.random.default_rng(1)
    )
    assert alone["debtors"] == 600
    assert alone["error_high"] - alone["error_low"] < 0.6 * (got["error_high"] - got["error_low"])
    # a pool that paid exactly as predicted has no error in any draw
    exact = backtest._interval(pool.assign(paid=pool["predicted"]), np.random.default_rng(1))
    assert (exact["error_low"], exact["error_high"]) == pytest.approx((0.0, 0.0))
    # too few debtors to resample: no interval
    few = backtest._interval(
        backtest_pool(debtors=29, receivables_each=3), np.random.default_rng(1)
    )
    assert few == {"debtors": 29, "error_low": None, "error_high": None}


def test_the_backtest_summary_tells_which_pools_can_be_judged():
    from debtflow.flows.ops.summaries import value_backtested

    pool = {"pool": "consumer-nl-eur", "currency": "EUR", "receivables": 900, "debtors": 300,
            "predicted_recovery": 1100.0, "realised_recovery": 1000.0, "recovery_error": 0.1,
            "error_low": 0.02, "error_high": 0.19, "price_error": 0.03, "sell_predicted": False,
            "material": True, "decision_right": True}  # fmt: skip
    small = {**pool, "pool": "business-no-nok", "currency": "NOK", "debtors": 12,
             "recovery_error": -0.4, "error_low": None, "error_high": None}  # fmt: skip
    result = {"as_of": "2025-08-20", "months": 12, "pools": [pool, small], "within_tolerance": 1,
              "pools_large_enough": 1, "large_enough_within_tolerance": 1,
              "price_interval_level": 0.9, "price_intervals_covering": 1,
              "decisions_judged": 2, "decisions_right": 2}  # fmt: skip
    lines = value_backtested(result, None)
    assert lines[0].split()[:6] == ["POOL", "N", "DEBTORS", "PREDICTED", "REALISED", "ERROR"]
    (large,) = [line for line in lines if line.startswith("consumer-nl-eur")]
    assert large.split()[1:3] == ["900", "300"] and "10.0%   2.0% to 19.0%" in large
    (few,) = [line for line in lines if line.startswith("business-no-nok")]
    assert few.split()[7:9] == ["-40.0%", "-"]  # no interval for 12 debtors
    assert lines[-3] == (
        "12 months after 2025-08-20: 1 of 2 pools within 15% of the realised recovery; "
        "keep-or-sell right for 2 of the 2 material ones."
    )
    assert lines[-2].startswith("Of the 1 pool large enough to judge to 15% (") and lines[
        -2
    ].endswith("), 1 within it.")
    assert lines[-1] == "The price's 90% interval holds the realised price for 1 of the 2 pools."
    none = value_backtested({**result, "pools_large_enough": 0}, None)[-2]
    assert none.startswith("No pool is large enough to judge to 15%")


def test_the_curves_level_draws_resample_vintages():
    # two vintages paying at 5% a month and two at 15%, same segment: the curve says 10%
    curve = pd.concat(
        [
            history([(3, False, m, 40, 1000.0, 1000.0 * r) for m in (1, 2, 3)], vintages=1).assign(
                vintage=date(2024, v, 1)
            )
            for v, r in ((1, 0.05), (2, 0.05), (3, 0.15), (4, 0.15))
        ]
    )
    draws = curves.level_draws(curve, 400, 7)["EUR"]
    # each draw: the drawn vintages' recoveries over 10% of their open balance
    assert draws.min() >= 0.5 and draws.max() <= 1.5  # all slow .. all fast
    assert draws.std() > 0.1 and abs(draws.mean() - 1) < 0.05
    assert {0.5, 1.5} <= set(np.round(draws, 6))  # four of a kind happens in 400 draws
    # vintages that all pay as the curve does leave nothing to resample
    same = curve.assign(recovered=curve["open_at_month_start"] * 0.1)
    assert curves.level_draws(same, 50, 7)["EUR"] == pytest.approx(np.ones(50))


def test_the_price_interval_widens_with_the_curves_level_and_holds_the_price():
    pool = appraise.Pool(
        face=np.linspace(50, 500, 40),
        in_house=np.full((40, 36), 0.06),
        agency=np.full((40, 36), 0.05),
        placed=np.zeros(40, dtype=bool),
    )
    c = valuation.costs(TERMS, "EUR")
    plain = appraise.bootstrap(pool, c, 300, 0.9, 7)
    assert appraise.bootstrap(pool, c, 300, 0.9, 7, np.ones(300)) == pytest.approx(plain)
    spread = appraise.bootstrap(pool, c, 300, 0.9, 7, np.random.default_rng(1).normal(1, 0.15, 300))
    share = appraise.price(pool, c) / pool.face.sum()
    assert spread[0] < plain[0] <= share <= plain[1] < spread[1]
