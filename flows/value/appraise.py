"""What a pool of receivables is worth kept, placed with an agency or sold, from monthly recovery
rates: pure arithmetic on arrays, no warehouse.

A receivable's balance B is paid down at its monthly rates r_1, r_2, ...: in month j it pays
B * S_(j-1) * r_j, where S_j = (1 - r_1) ... (1 - r_j) is the expected share still open, and an
account costs its servicer a fixed amount per month while open (weighted by S_(j-1)). Values are
discounted monthly: cash in month j at (1 + m)^-j.

- keep: the book's own (in-house) rates, less the in-house cost per account and month; a
  receivable already with the agency stays there (the agency's rates, net of its fee);
- place: the agency's rates, net of its fee share, less its charge per account placed;
- sell: the buyer prices what the book would collect (its curves are on the tape) at the buyer's
  rate, less the buyer's servicing cost; the seller gets the price less its own costs.
The reserve price is the price at which selling nets as much as the better of keeping and
placing: below it, do not sell.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from debtflow.flows.value.terms import monthly

OPTIONS = ("keep", "place", "sell")


@dataclass(frozen=True)
class Pool:
    """One pool's receivables: `face` (n,) open balances; `in_house`, `agency` (n, H) monthly
    recovery rates from now on; `placed` (n,) already with the agency."""

    face: np.ndarray
    in_house: np.ndarray
    agency: np.ndarray
    placed: np.ndarray


@dataclass(frozen=True)
class Costs:
    """One currency's amounts and the rates, monthly (terms.monthly)."""

    in_house_per_month: float
    agency_fee_share: float
    agency_per_account: float
    buyer_per_month: float
    seller_share: float
    seller_per_pool: float
    buyer_rate: float
    seller_rate: float


def paid_down(face: np.ndarray, rates: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(cash, open_share), each (n, H): what each month pays, and the share of the balance open
    at the month's start."""
    survive = np.cumprod(1 - rates, axis=1)
    open_share = np.hstack([np.ones((len(face), 1)), survive[:, :-1]])
    return face[:, None] * open_share * rates, open_share


def discount(months: int, monthly_rate: float) -> np.ndarray:
    return (1 + monthly_rate) ** -np.arange(1, months + 1)


def keeping_cash(pool: Pool) -> tuple[np.ndarray, np.ndarray]:
    """What the book collects (gross) if it keeps the pool, and the share open: in house, or at
    the agency for what is placed already."""
    rates = np.where(pool.placed[:, None], pool.agency, pool.in_house)
    return paid_down(pool.face, rates)


def buyer_values(pool: Pool, costs: Costs, haircut: float = 0.0,
                 rate: float | None = None) -> np.ndarray:  # fmt: skip
    """Per receivable, the buyer's present value of collecting it (may be negative)."""
    cash, open_share = keeping_cash(pool)
    net = cash * (1 - haircut) - costs.buyer_per_month * open_share
    return net @ discount(cash.shape[1], costs.buyer_rate if rate is None else rate)


def price(pool: Pool, costs: Costs, haircut: float = 0.0, rate: float | None = None) -> float:
    """What a buyer pays for the pool: its value to the buyer, never below nothing."""
    return max(0.0, float(buyer_values(pool, costs, haircut, rate).sum()))


def npv(pool: Pool, costs: Costs) -> dict[str, float]:
    """The seller's net present value of keeping, placing and selling the pool."""
    months = pool.in_house.shape[1]
    factor = discount(months, costs.seller_rate)
    in_house, in_open = paid_down(pool.face, pool.in_house)
    agency, _ = paid_down(pool.face, pool.agency)
    net_agency = (1 - costs.agency_fee_share) * agency @ factor
    own = (in_house - costs.in_house_per_month * in_open) @ factor
    keep = np.where(pool.placed, net_agency, own)
    place = np.where(pool.placed, net_agency, net_agency - costs.agency_per_account)
    sold = price(pool, costs)
    return {
        "keep": float(keep.sum()),
        "place": float(place.sum()),
        "sell": sold * (1 - costs.seller_share) - costs.seller_per_pool,
    }


def reserve_price(values: dict[str, float], costs: Costs) -> float:
    """The price at which selling nets what the better of keeping and placing is worth."""
    return (max(values["keep"], values["place"]) + costs.seller_per_pool) / (1 - costs.seller_share)


def recommend(values: dict[str, float]) -> str:
    """The option worth most; on a tie the first of keep, place, sell (no change is simplest)."""
    return max(OPTIONS, key=lambda o: (values[o], -OPTIONS.index(o)))


def bootstrap(pool: Pool, costs: Costs, samples: int, level: float, seed: int,
              levels: np.ndarray | None = None) -> tuple[float, float]:  # fmt: skip
    """The central `level` interval of the price as a share of face, over pools of the same size
    drawn from the receivables with replacement, each valued at its own level of the curves
    (`levels`: one multiplier of the rates per sample, curves.level_draws; None: as they are)."""
    face = pool.face
    draws = np.random.default_rng(seed).integers(0, len(face), size=(samples, len(face)))
    if levels is None:
        values = buyer_values(pool, costs)[draws]
    else:
        # a few hundred draws, valued once per level rounded to a hundredth
        unique, which = np.unique(np.round(levels[:samples], 2), return_inverse=True)
        table = np.stack([buyer_values(scaled(pool, m), costs) for m in unique])
        values = table[which[:, None], draws]
    shares = np.maximum(values.sum(axis=1), 0) / face[draws].sum(axis=1)
    low, high = np.quantile(shares, [(1 - level) / 2, (1 + level) / 2])
    return float(low), float(high)


def scaled(pool: Pool, factor: float) -> Pool:
    """The pool with its monthly recovery rates times `factor` (at most 1)."""
    return Pool(
        face=pool.face,
        in_house=np.clip(pool.in_house * factor, 0, 1),
        agency=np.clip(pool.agency * factor, 0, 1),
        placed=pool.placed,
    )


def sensitivity(pool: Pool, costs: Costs, rates: tuple[float, ...],
                haircuts: tuple[float, ...]) -> list[dict]:  # fmt: skip
    """The price as a share of face per buyer's annual rate and recovery haircut."""
    face = float(pool.face.sum())
    return [
        {
            "discount_rate": annual,
            "haircut": haircut,
            "price_share": price(pool, costs, haircut, monthly(annual)) / face,
        }
        for annual in rates
        for haircut in haircuts
    ]
