"""The channel a `preferred` step takes: of the channels the step allows and the debtor can be
reached on, the one with the highest expected net value,

    P(paid within 7 days | segment, step, channel) x amount - channel cost.

P is the share of contacted debtors who paid within 7 days in marts.channel_performance (of those
contacted at least 7 days before as_of: their 7 days are over), per segment of the policy's
dimension (channel_choice.segment_dimension), shrunk towards the step's rate over every channel
and segment m with a beta prior worth k = shrinkage_prior contacted debtors:
P = (paid + k m) / (contacted + k). A small sample says little and stays near m; a channel never
used at the step gets m. A step with no contacts at all gives every channel the same P (0), so
the cheapest wins: e-mail, else SMS, else a letter, the fixed order used before; equal values
also go to the earlier channel of that order. The rates are read once per planning day.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

import duckdb
import pyarrow as pa

from debtflow.flows.core.errors import DebtflowError
from debtflow.flows.core.warehouse import table_columns
from debtflow.flows.dunning.policy import ChannelChoice, Policy

PERFORMANCE = "marts.channel_performance"
DEBTORS = "marts.dim_debtors"
ORDER = ("email", "sms", "letter", "phone")  # the old fixed order: ties go to the earlier
NAMES = {"email": "e-mail", "sms": "SMS", "letter": "letter", "phone": "phone"}


@dataclass(frozen=True)
class Rate:
    p: float  # shrunk
    contacted: int  # in the cell the rate is for
    paid: int


@dataclass
class PayRates:
    """Contacted and paid-within-7-days debtors per (step, channel, segment) of one segment
    dimension, and each debtor's segment in it."""

    dimension: str = "all"
    prior_strength: float = 0.0
    cells: dict[tuple[str, str, str], tuple[int, int]] = field(default_factory=dict)
    segments: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._steps: dict[str, list[int]] = defaultdict(lambda: [0, 0])
        self._channels: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
        self._rates: dict[tuple, Rate] = {}  # asked once per debtor and channel: computed once
        for (step, channel, _), (contacted, paid) in self.cells.items():
            for totals in (self._steps[step], self._channels[step, channel]):
                totals[0] += contacted
                totals[1] += paid

    def step_rate(self, step: str) -> float | None:
        """The step's rate over every channel and segment; None without contacts."""
        contacted, paid = self._steps.get(step, (0, 0))
        return paid / contacted if contacted else None

    def rate(self, step: str, channel: str, segment: str | None) -> Rate:
        """P for the segment (None: the debtor's segment is unknown, every segment pooled)."""
        known = self._rates.get((step, channel, segment))
        if known is None:
            known = self._rates[step, channel, segment] = self._rate(step, channel, segment)
        return known

    def _rate(self, step: str, channel: str, segment: str | None) -> Rate:
        if segment is None:
            contacted, paid = self._channels.get((step, channel), (0, 0))
        else:
            contacted, paid = self.cells.get((step, channel, segment), (0, 0))
        prior = self.step_rate(step) or 0.0
        k = self.prior_strength
        p = (paid + k * prior) / (contacted + k) if contacted + k > 0 else prior
        return Rate(p, contacted, paid)

    def segment(self, debtor_id: str) -> str | None:
        return "all" if self.dimension == "all" else self.segments.get(debtor_id)


def read(
    con: duckdb.DuckDBPyConnection, as_of: date, choice: ChannelChoice, debtor_ids: set[str]
) -> PayRates:
    """The day's rates (one query on channel_performance) and the segments of `debtor_ids`. A
    warehouse without the marts (a new book) has no rates: every step keeps the fixed order."""
    rates = PayRates(choice.segment_dimension, choice.shrinkage_prior)
    if not table_columns(con, PERFORMANCE):
        return rates
    rows = con.execute(
        f"select as_of, step, channel, segment, sum(observed_7d_debtors), "
        f"sum(paid_7d_observed_debtors) "
        f"from {PERFORMANCE} where segment_dimension = ? group by all",
        [choice.segment_dimension],
    ).fetchall()
    built = {row[0] for row in rows}
    if built - {as_of}:
        raise DebtflowError(
            f"{PERFORMANCE} is built for {max(built)}, not {as_of}: run `debtflow transform "
            f"--as-of {as_of}` first"
        )
    cells = {(step, ch, seg): (int(n), int(paid)) for _, step, ch, seg, n, paid in rows if n}
    return PayRates(choice.segment_dimension, choice.shrinkage_prior, cells,
                    _segments(con, choice.segment_dimension, debtor_ids))  # fmt: skip


def _segments(con: duckdb.DuckDBPyConnection, dimension: str, debtor_ids: set[str]) -> dict:
    if dimension == "all" or not debtor_ids or not table_columns(con, DEBTORS):
        return {}
    con.register("channel_value_debtors", pa.table({"debtor_id": sorted(debtor_ids)}))
    try:
        return dict(
            con.execute(
                f"select debtor_id, coalesce(segment_{dimension}, 'unknown') from {DEBTORS} "
                "semi join channel_value_debtors using (debtor_id)"
            ).fetchall()
        )
    finally:
        con.unregister("channel_value_debtors")


def choose(
    rates: PayRates,
    step: str,
    options: list[str],
    segment: str | None,
    amount: Decimal | None,
    costs: dict[str, Decimal],
) -> tuple[str, str]:
    """The channel of `options` with the highest expected net value for `amount` (in the cost
    currency; None: unknown, the pay rate decides), and why, in words without personal data."""
    where = f"in segment {rates.dimension}={segment}" if segment else "over all segments"
    value = float(amount) if amount is not None else 1.0
    scored = []
    for channel in sorted(options, key=ORDER.index):
        rate = rates.rate(step, channel, segment)
        cost = float(costs[channel]) if amount is not None else 0.0
        scored.append((round(rate.p * value - cost, 6), channel, rate))
    net, best, _ = max(scored, key=lambda s: (s[0], -ORDER.index(s[1])))
    if rates.step_rate(step) is None:
        listed = ", ".join(f"{NAMES[c]} {costs[c]:.2f}" for _, c, _ in scored)
        return best, f"{NAMES[best]}: no pay rates for {step} yet, the cheapest ({listed})"
    parts = []
    for ev, channel, rate in scored:
        seen = f"n={rate.contacted}" + (
            f", observed {rate.paid / rate.contacted:.0%}" if rate.contacted else ""
        )
        parts.append(
            f"{NAMES[channel]} {rate.p:.0%} paid within 7 days {where} ({seen}), "
            f"cost {costs[channel]:.2f}, net {ev:.2f}"
        )
    unit = "" if amount is not None else " (no exchange rate: the pay rate decides)"
    return best, f"{NAMES[best]}: highest expected net value{unit}; " + "; ".join(parts)


def preferred(
    step: str,
    allowed: tuple[str, ...],
    pos: tuple,
    payable: list[tuple],
    pol: Policy,
    rates: PayRates,
) -> tuple[str | None, str]:
    """Of the `allowed` channels the debtor can be reached on (contact data and consent; a
    letter always reaches), the one with the highest expected net value."""
    usable = {"email": pos.email_ok, "sms": pos.sms_ok, "phone": pos.phone_ok, "letter": True}
    options = [c for c in allowed if usable[c]]
    if not options:
        return None, f"no usable contact among {', '.join(allowed)}"
    # amounts in their currencies, weighed against the costs in the cost currency only
    converted = [pol.channel_choice.to_cost_currency(p.amount_due, p.currency) for p in payable]
    amount = None if None in converted else sum(converted, Decimal(0))
    segment = rates.segment(pos.debtor_id)
    return choose(rates, step, options, segment, amount, pol.channel_cost)
