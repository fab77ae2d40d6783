"""The closed loop: the production planner and senders on a small simulated book that reacts to
what was sent, the policy beside the fixed letter ladder (flows/simulation/closed_loop.py)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import numpy as np
import pytest

from debtflow.flows.core.settings import Settings
from debtflow.flows.core.warehouse import LEDGER, session
from debtflow.flows.dunning.policy import CENT, DEFAULT_POLICY
from debtflow.flows.dunning.policy import load as load_policy
from debtflow.flows.simulation import closed_loop, world


def test_the_world_reacts_to_the_channel_sent_and_history_is_unchanged():
    """respond() is the history's contact with the channel as a parameter: the same channel
    gives the history's outcome, and a debtor's uplift scales with its affinity for the channel."""
    w = world.make_world(400, 200, 100, seed=3)
    w.traits["email_fixed_day"] = np.full(400, 1 << 30, dtype=np.int32)
    idx, d0 = np.arange(400), np.full(400, 50)
    hist = world.contact(w, idx, d0, 0)
    again = world.respond(w, idx, d0, 0, hist["channel"], d0 + 7, 1.5)
    for k in hist:
        assert np.array_equal(hist[k], again[k])
    letters = world.respond(w, idx, d0, 0, np.full(400, world.LETTER, np.int8), d0 + 7, 1.5)
    got = letters["uplift"][letters["delivered"]]
    assert np.allclose(got, 1.5 * w["aff_letter"][idx][letters["delivered"]])


@pytest.mark.slow  # a simulated world loaded and built, then two days of three arms (~1 min)
def test_simulate_policy_beats_fixed_letters_where_email_works_and_reconciles(tmp_path):
    settings = Settings(home=tmp_path / "home")
    result = closed_loop.simulate_policy(
        settings, None, days=2, debtors=300, seed=1, out=tmp_path / "loop",
        arms=("policy", "fixed_ladder", "oracle"), first_day=date(2026, 3, 2), email_affinity=4.0,
    )  # fmt: skip
    policy, fixed = result["arms"]["policy"], result["arms"]["fixed_ladder"]
    pol = load_policy(DEFAULT_POLICY)
    # every message in the outbox is a sent action in the ledger, channel by channel
    for name, arm in result["arms"].items():
        with session(Settings(home=tmp_path / "loop" / name)) as con:
            sent = dict(
                con.execute(
                    f"select channel, count(*) from {LEDGER} "
                    "where state in ('sent', 'recalled') group by all"
                ).fetchall()
            )
            costs = con.execute(
                f"select channel, currency, channel_cost, count(*) from {LEDGER} "
                "where state in ('sent', 'recalled') group by all"
            ).fetchall()
            oracle = con.execute(
                f"select count(*) from {LEDGER} where why_channel like 'oracle:%'"
            ).fetchone()[0]
        assert arm["outbox"] == sent == arm["messages"]
        # each action's cost is its channel's (the oracle's rewritten one) in its own currency,
        # and the report's costs per currency are the ledger's
        assert all(cost == pol.cost_of(ch, cur) for ch, cur, cost, _ in costs)
        assert (oracle > 0) == (name == "oracle")
        for currency, money in arm["money"].items():
            total = sum(cost * n for _, cur, cost, n in costs if cur == currency)
            assert Decimal(money["costs"]) == total
        # a NOK cost is the EUR cost at 1 NOK = 0.085 EUR, not the EUR figure
        nok = [(pol.channel_cost[ch], c) for ch, cur, c, _ in costs if cur == "NOK" and c]
        assert nok and all(c == (e / Decimal("0.085")).quantize(CENT) > e for e, c in nok)
        # what the world paid is what the warehouse loaded, to the cent, per currency
        assert arm["payments_written"] == arm["payments_loaded"]
    assert set(fixed["messages"]) <= {"letter", "agency"} and fixed["messages"]["letter"] > 0
    assert policy["messages"].get("email", 0) > 0
    eur_policy, eur_fixed = Decimal(policy["money"]["EUR"]["net"]), fixed["money"]["EUR"]
    assert eur_policy > Decimal(eur_fixed["net"])
    diff = result["vs_fixed_ladder"]["policy"]["EUR"]
    assert diff["difference"] == pytest.approx(
        float(eur_policy - Decimal(eur_fixed["net"])), abs=0.01
    )
    assert diff["interval_95"][0] <= diff["difference"] <= diff["interval_95"][1]
