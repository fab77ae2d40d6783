"""A/B tests of the dunning policy: sticky assignment (flows/dunning/experiments.py), overlays
validated on load (policy.py), the planner applying a debtor's arm and storing it (plan.py), and
the report's intervals (experiment_report.py) against statsmodels and scipy directly."""

from __future__ import annotations

from collections import Counter
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from dunning_world import AS_OF, candidates
from scipy import stats
from statsmodels.stats.power import NormalIndPower
from statsmodels.stats.proportion import confint_proportions_2indep, proportion_effectsize

from debtflow.flows.core.errors import DebtflowError
from debtflow.flows.core.settings import Settings, get_settings
from debtflow.flows.dunning import compose, experiment_report, policy, send
from debtflow.flows.dunning import plan as planner
from debtflow.flows.dunning.experiments import CONTROL
from debtflow.flows.dunning.wording import wording

EARLY = {"name": "early", "share": 0.3,
         "overlay": {"ladders": {"default": {"steps": {"reminder_1": {"min_days_past_due": 3}}}}}}  # fmt: skip
BY_SMS = {"name": "by_sms", "share": 0.2,
          "overlay": {"ladders": {"default": {"steps": {"reminder_1": {"channel": "sms"}}}}}}  # fmt: skip


def experiment(
    name="timing", start=AS_OF - timedelta(days=10), days=60, holdout=0.5, variants=None
):
    return {"name": name, "start": start, "end": start + timedelta(days=days), "holdout": holdout,
            "variants": variants if variants is not None else [EARLY, BY_SMS]}  # fmt: skip


def write_policy(path: Path, *experiments: dict, version: str = "2026-12-06") -> Path:
    spec = yaml.safe_load(policy.DEFAULT_POLICY.read_text())
    path.write_text(yaml.safe_dump({**spec, "version": version, "experiments": list(experiments)}))
    return path


def arms(pol: policy.Policy, ids: list[str], day: date = AS_OF) -> list[tuple]:
    return [pol.for_debtor(i, day)[1:] for i in ids]


def test_assignment_is_sticky_and_follows_the_shares(tmp_path):
    """10,000 debtors: the arms hold their shares (within 3 standard errors), and a reload, a new
    version, another experiment added or another run give every debtor the same arm."""
    ids = [f"D{n:05d}" for n in range(10_000)]
    first = policy.load(write_policy(tmp_path / "a.yml", experiment()))
    assigned = arms(first, ids)
    shares = Counter(arm for _, arm in assigned)
    for arm, share in {CONTROL: 0.5, "early": 0.3, "by_sms": 0.2}.items():
        assert abs(shares[arm] / 10_000 - share) < 3 * (share * (1 - share) / 10_000) ** 0.5
    later = experiment("another", start=AS_OF + timedelta(days=100), variants=[BY_SMS], holdout=0.8)
    reloaded = policy.load(write_policy(tmp_path / "b.yml", later, experiment(), version="v2"))
    assert reloaded.label != first.label
    assert arms(reloaded, ids) == assigned == arms(policy.load(tmp_path / "a.yml"), ids)
    # outside its dates nobody is in it, and everyone gets the base policy
    pol, *arm = first.for_debtor("D00001", AS_OF + timedelta(days=90))
    assert arm == [None, None] and pol is first


def one_variant(ladders: dict) -> dict:
    """An experiment's change: one variant, half the debtors, with this overlay of ladders."""
    return {"variants": [{"name": "by_sms", "share": 0.5, "overlay": {"ladders": ladders}}]}


REORDERED = ["reminder_2", "reminder_1", "final_notice", "phone", "agency"]
BAD_EXPERIMENTS = {
    "shares": ({"holdout": 0.6}, "sum to 1.1, not 1"),
    "variant-names": (
        {"variants": [EARLY, {**EARLY, "share": 0.2}]},
        "variant names must be unique",
    ),
    "control-is-reserved": (
        {"variants": [{**EARLY, "name": "control", "share": 0.5}]},
        "not 'control'",
    ),
    "ladder": (
        one_variant({"vip": {"steps": {"reminder_1": {"channel": "sms"}}}}),
        "variant 'by_sms': ladders.vip: no such ladder (have ['default'])",
    ),
    "step": (
        one_variant({"default": {"steps": {"reminder_9": {"channel": "sms"}}}}),
        "ladders.default.steps.reminder_9: no such step in ladder default",
    ),
    "field": (
        one_variant({"default": {"steps": {"reminder_1": {"colour": "red"}}}}),
        "ladders.default.steps.reminder_1: give fields to change, any of channel",
    ),
    "value": (
        one_variant({"default": {"steps": {"reminder_1": {"channel": "pigeon"}}}}),
        "variant 'by_sms': the overlaid policy is not valid: ladders.0.steps.0.channel",
    ),
    "order-breaks-timing": (
        one_variant({"default": {"order": REORDERED}}),
        "min_days_past_due must not decrease",
    ),
    "wording": (
        one_variant({"default": {"steps": {"reminder_1": {"wording": "shouting"}}}}),
        "no wording variant 'shouting' under `variants:` in templates/en.yml",
    ),
}


@pytest.mark.parametrize("change, message", BAD_EXPERIMENTS.values(), ids=BAD_EXPERIMENTS)
def test_a_bad_experiment_names_the_key_and_why(tmp_path, change, message):
    path = write_policy(tmp_path / "policy.yml", {**experiment(), **change})
    with pytest.raises(DebtflowError) as error:
        policy.load(path)
    assert str(path) in str(error.value) and message in str(error.value)


def test_the_documented_example_is_a_valid_experiment(tmp_path):
    text = policy.DEFAULT_POLICY.read_text()
    head, example = text.split("experiments: []\n")
    path = tmp_path / "p.yml"
    path.write_text(head + "experiments:\n" + example.replace("#  ", "  "))
    [exp] = policy.load(path).experiments
    assert [v.name for v in exp.variants] == ["sms_early", "direct_wording"]


def test_overlapping_experiments_are_refused(tmp_path):
    path = write_policy(tmp_path / "p.yml", experiment("a"), experiment("b", start=AS_OF))
    with pytest.raises(DebtflowError, match="experiments 'a' .* and 'b' .* overlap"):
        policy.load(path)


@pytest.fixture
def settings(home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setenv(
        "DEBTFLOW_DUNNING_POLICY", str(write_policy(tmp_path / "policy.yml", experiment()))
    )
    return get_settings()


def test_the_planner_applies_each_debtors_arm_and_stores_it(con, settings):
    """Five days overdue: only the 'early' arm's first reminder is due (3 days, not 7); a week
    overdue: every arm's is, by SMS in 'by_sms'. Each action stores its arm and channel cost."""
    pol = policy.policy(settings)
    debtors = {f"D{n:03d}": {"days_past_due": 5 if n < 60 else 8} for n in range(120)}
    candidates(con, AS_OF, debtors)
    planner.plan(con, settings, AS_OF)
    rows = con.execute(
        "select debtor_id, step, channel, experiment, variant, channel_cost from dunning.ledger"
    ).fetchall()
    planned = {r[0]: r[1:] for r in rows}
    arm = {d: pol.for_debtor(d, AS_OF)[2] for d in debtors}
    expected = {
        d: ("reminder_1", "sms" if arm[d] == "by_sms" else "email", "timing", arm[d],
            pol.channel_cost["sms" if arm[d] == "by_sms" else "email"])
        for d, row in debtors.items()
        if row["days_past_due"] == 8 or arm[d] == "early"
    }  # fmt: skip
    assert planned == expected
    assert {arm[d] for d in expected} == {CONTROL, "early", "by_sms"}


def test_the_report_intervals_are_statsmodels_and_scipy_on_the_same_counts():
    results = pd.DataFrame(
        [
            {"variant": CONTROL, "currency": "EUR", "debtors_7d": 400, "paid_7d_debtors": 80,
             "debtors_14d": 380, "paid_14d_debtors": 120, "debtors_30d": 300, "paid_30d_debtors": 150},
            {"variant": "early", "currency": "EUR", "debtors_7d": 410, "paid_7d_debtors": 110,
             "debtors_14d": 390, "paid_14d_debtors": 150, "debtors_30d": 310, "paid_30d_debtors": 171},
        ]
    )  # fmt: skip
    rng = np.random.default_rng(3)
    net_c, net_v = rng.normal(40, 30, 300), rng.normal(47, 35, 310)
    nets = pd.DataFrame(
        {"variant": [CONTROL] * 300 + ["early"] * 310, "currency": "EUR",
         "net_30d": [Decimal(f"{x:.2f}") for x in (*net_c, *net_v)]}
    )  # fmt: skip
    [c] = experiment_report.compare(results, nets)
    for days, (pv, nv, pc, nc) in {"7d": (110, 410, 80, 400), "30d": (171, 310, 150, 300)}.items():
        low, high = confint_proportions_2indep(pv, nv, pc, nc, method="newcomb", compare="diff")
        got = c["pay_rate"][days]
        assert got["diff"] == pytest.approx(pv / nv - pc / nc)
        assert (got["ci_low"], got["ci_high"]) == pytest.approx((low, high), abs=1e-12)
        n = NormalIndPower().solve_power(
            proportion_effectsize(pv / nv, pc / nc), alpha=0.05, power=0.8, ratio=1.0
        )
        assert got["n_needed_per_arm"] == int(np.ceil(n))
    welch = stats.ttest_ind(np.round(net_v, 2), np.round(net_c, 2), equal_var=False)
    net = c["net_30d_per_debtor"]
    assert (net["ci_low"], net["ci_high"]) == pytest.approx(welch.confidence_interval(0.95))
    assert net["diff"] == pytest.approx(np.round(net_v, 2).mean() - np.round(net_c, 2).mean())


def test_the_report_command_prints_the_differences_and_writes_a_page(
    con, settings, capsys, tmp_path
):
    """From the marts: the arms, each variant against the control, the sample note, and a
    self-contained page with its charts and no debtor ids."""
    rng = np.random.default_rng(5)
    debtors = pd.DataFrame(
        {"experiment": "timing", "variant": [CONTROL] * 60 + ["early"] * 60,
         "debtor_id": [f"DEBTOR{n:03d}" for n in range(120)], "currency": "EUR",
         "observed_30d": True, "net_30d": np.round(rng.normal(40, 20, 120), 2)}
    )  # fmt: skip
    con.register("debtors", debtors)
    con.execute("create table marts.experiment_debtors as select * from debtors")
    con.execute(
        "create table marts.experiment_results as select experiment, variant, currency, "
        "count(*)::integer as debtors, count(*)::integer as actions, "
        "count(*)::integer as debtors_7d, (count(*) // 4)::integer as paid_7d_debtors, "
        "count(*)::integer as debtors_14d, (count(*) // 3)::integer as paid_14d_debtors, "
        "count(*)::integer as debtors_30d, (count(*) // 2)::integer as paid_30d_debtors, "
        "sum(net_30d)::decimal(18,2) as collected_30d, 0::decimal(18,2) as channel_cost_30d, "
        "avg(net_30d)::decimal(18,2) as net_30d_per_debtor, date '2026-11-20' as as_of, "
        "0.25 as pay_rate_7d, 0.2 as pay_rate_7d_ci_low, 0.3 as pay_rate_7d_ci_high, "
        "0.33 as pay_rate_14d, 0.3 as pay_rate_14d_ci_low, 0.4 as pay_rate_14d_ci_high, "
        "0.5 as pay_rate_30d, 0.4 as pay_rate_30d_ci_low, 0.6 as pay_rate_30d_ci_high "
        "from debtors group by all"
    )
    con.close()
    from debtflow.flows import cli

    page = tmp_path / "report.html"
    assert cli.main(["experiments", "report", "timing", "--html", str(page)]) == 0
    out = capsys.readouterr().out
    assert "early vs control (EUR, 95%): paid within 7d +0.0 pp [" in out
    assert "debtors per arm" in out and f"Report: {page}" in out
    html = page.read_text()
    assert html.count("<img") == 2 and "experiment report: timing" in html
    assert "DEBTOR0" not in html
    assert cli.main(["experiments", "list"]) == 0
    listed = capsys.readouterr().out
    assert "timing" in listed and "control 50% (60), early 30% (60), by_sms 20% (0)" in listed


def test_a_wording_variant_is_planned_and_written(con, tmp_path, monkeypatch):
    """A variant whose first reminder has the direct wording: its actions store it, and their
    message reads it; the control's reads the standard wording."""
    direct = {"name": "direct", "share": 0.5, "overlay": {"ladders": {"default": {
        "steps": {"reminder_1": {"wording": "direct"}}}}}}  # fmt: skip
    path = write_policy(tmp_path / "w.yml", experiment("words", variants=[direct]))
    monkeypatch.setenv("DEBTFLOW_DUNNING_POLICY", str(path))
    candidates(con, AS_OF, {f"D{n}": {} for n in range(12)})
    planner.plan(con, get_settings(), AS_OF)
    actions = send.pending(con, AS_OF)
    messages = compose.messages(con, actions, policy.load(path), AS_OF)
    seen = set()
    for a in actions:
        direct_words = a["variant"] == "direct"
        assert a["wording"] == ("direct" if direct_words else None)
        subject = wording(messages[a["idempotency_key"]]).subject
        assert subject.startswith("Achterstallig: " if direct_words else "Betalingsherinnering")
        seen.add(a["variant"])
    assert seen == {CONTROL, "direct"}


def test_check_policy_names_each_experiment_with_its_dates_and_shares(tmp_path):
    path = write_policy(tmp_path / "policy.yml", experiment())
    outline = policy.outline(policy.load(path), path)
    assert outline["experiments"] == {
        "timing": f"{AS_OF - timedelta(days=10)} to {AS_OF + timedelta(days=50)}: "
        "control 50%, early 30%, by_sms 20%"
    }
