"""The latent side of the simulated billing world: debtors' traits, invoices and the payment process.

Everything here is vectorised numpy over integer day numbers (day 0 = the history start). The
payment hazard is a pure function of (debtor, oldest overdue due date, day), and every random draw
in the overdue process is a counter-based hash of (seed, debtor, day or episode, step), so the
ground truth can replay any no-payment path without state.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

ARCHETYPES = (
    "reliable",
    "forgetful",
    "temporarily_struggling",
    "chronic_non_payer",
    "disputer",
    "unreachable",
)
ARCHETYPE_SHARES = (0.50, 0.18, 0.14, 0.06, 0.05, 0.07)
RELIABLE, FORGETFUL, STRUGGLING, CHRONIC, DISPUTER, UNREACHABLE = range(6)
COUNTRIES = ("NL", "BE", "NO")
CURRENCY = ("EUR", "EUR", "NOK")
ACQUISITION = ("online", "offline", "partner")
CONTACT_CHANNELS = ("email", "sms", "letter", "phone")
EMAIL, SMS, LETTER, PHONE = range(4)

# Historical dunning schedule: (step name, days past due of the oldest overdue invoice).
SCHEDULE = (
    ("reminder_1", 7),
    ("reminder_2", 21),
    ("final_notice", 35),
    ("phone", 50),
    ("agency", 80),
)
AGENCY_DPD = 80
UPLIFT_DAYS = 5  # a contact lifts the hazard on its day and the next four
HORIZON = 30  # collectability label window in days
MAX_HAZARD = 0.7

# Hash streams: one per kind of draw, so draws never collide.
S_PAY, S_CHANNEL, S_DELIVER, S_OPEN, S_CLICK, S_CONNECT, S_PROMISE, S_DISPUTE = range(1, 9)
S_MODE, S_TIME, S_METHOD, S_PLAN, S_PLAN_END = range(9, 14)

# Step index per days past due (-1: no contact window), for the dunning uplift.
_STEP_AT_DPD = np.full(AGENCY_DPD + UPLIFT_DAYS + 1, -1, dtype=np.int8)
for _i, (_, _dpd) in enumerate(SCHEDULE[:-1]):
    _STEP_AT_DPD[_dpd : _dpd + UPLIFT_DAYS] = _i


def _mix(x: np.ndarray) -> np.ndarray:
    """splitmix64 finaliser (wrapping uint64 arithmetic)."""
    x = x ^ (x >> np.uint64(30))
    x = x * np.uint64(0xBF58476D1CE4E5B9)
    x = x ^ (x >> np.uint64(27))
    x = x * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


def uniform(seed: int, stream: int, *keys: np.ndarray | int) -> np.ndarray:
    """Counter-based U(0,1): the same (seed, stream, keys) always give the same number."""
    with np.errstate(over="ignore"):
        h = _mix(np.asarray([(seed * 1_000_003 + stream) & 0xFFFFFFFFFFFFFFFF], dtype=np.uint64))
        for k in keys:
            k = np.asarray(k).astype(np.int64).astype(np.uint64)
            h = _mix(h ^ (k * np.uint64(0x9E3779B97F4A7C15) + np.uint64(0x632BE59BD9B4E019)))
    return (h >> np.uint64(11)).astype(np.float64) * (1.0 / (1 << 53))


@dataclass
class World:
    seed: int
    n_days: int  # days 0 .. n_days-1 are history (the last one is end_date - 1)
    stress_start: int
    stress_days: int
    traits: dict[str, np.ndarray] = field(default_factory=dict)

    def __getitem__(self, name: str) -> np.ndarray:
        return self.traits[name]

    def stress(self, t: np.ndarray) -> np.ndarray:
        """Shock intensity in [0, 1]: ramps up over 15 days, holds, ramps down over 15 days."""
        a = (t - self.stress_start) / 15.0
        b = (self.stress_start + self.stress_days - t) / 15.0
        return np.clip(np.minimum(a, b), 0.0, 1.0)


def make_world(
    n: int, n_days: int, history_start_offset: int, seed: int, email_affinity: float = 1.0
) -> World:
    """Draw every debtor's latent traits. `history_start_offset`: days of customer_since before 0."""
    rng = np.random.default_rng([seed, 1])
    w = World(seed, n_days, int(n_days * 0.55), min(91, max(30, n_days // 5)))
    arch = rng.choice(6, size=n, p=ARCHETYPE_SHARES).astype(np.int8)
    business = rng.random(n) < 0.15
    country = rng.choice(3, size=n, p=(0.55, 0.25, 0.20)).astype(np.int8)
    # Acquisition channel leans with archetype (partner sales bring more chronic non-payers).
    acq_p = np.array([[0.6, 0.25, 0.15]] * 6)
    acq_p[CHRONIC] = (0.35, 0.25, 0.40)
    acq_p[UNREACHABLE] = (0.45, 0.25, 0.30)
    acq = _choice_rows(rng, acq_p[arch]).astype(np.int8)
    paperless = rng.random(n) < np.where(acq == 0, 0.8, 0.4)
    unreach = arch == UNREACHABLE
    email_present = rng.random(n) < np.where(unreach, 0.55, np.where(paperless, 0.97, 0.7))
    email_valid = email_present & (rng.random(n) < np.where(unreach, 0.2, 0.94))
    mobile_present = rng.random(n) < np.where(business, 0.6, 0.82)
    mobile_valid = mobile_present & (rng.random(n) < np.where(unreach, 0.25, 0.95))
    address_valid = rng.random(n) < np.where(unreach, 0.55, 0.99)

    # Channel response multipliers, log-normal, correlated with acquisition channel and archetype.
    aff = rng.lognormal(0.0, 0.55, size=(n, 4))
    aff[:, EMAIL] *= np.where(acq == 0, 1.5, 0.7)
    aff[:, LETTER] *= np.where(acq == 1, 1.6, 0.8)
    aff[:, SMS] *= np.where(business, 0.6, 1.2)
    aff[:, PHONE] *= np.where(business, 1.4, 1.0)
    aff[arch == FORGETFUL] *= 1.8
    aff[arch == CHRONIC] *= 0.3
    aff[arch == STRUGGLING] *= 0.8

    base = np.array([0.12, 0.05, 0.04, 0.015, 0.035, 0.025])[arch] * rng.lognormal(0, 0.6, n)
    ontime_logit = np.array([3.2, 0.3, 1.3, -0.9, 1.0, -0.2])[arch] + rng.normal(0, 0.7, n)
    mandate = rng.random(n) < np.array([0.55, 0.3, 0.25, 0.1, 0.25, 0.1])[arch]
    ontime_logit += np.where(mandate, 1.2, 0.0)
    sensitivity = np.where(arch == STRUGGLING, 0.85, np.where(arch == CHRONIC, 0.4, 0.15))

    # Customer since: most before the history, some joining during it (fewer invoices).
    new = rng.random(n) < 0.25
    since = np.where(
        new,
        rng.integers(0, max(1, n_days - 20), n),
        -rng.integers(1, history_start_offset + 1, n),
    )
    # Rare life events from an onset day on; they damp the hazard (bankrupt, deceased, WSNP).
    onset = rng.integers(0, n_days + 365, n)
    restructuring = (np.isin(arch, (STRUGGLING, CHRONIC))) & (rng.random(n) < 0.03)
    bankrupt = business & (rng.random(n) < 0.01)
    deceased = ~business & (rng.random(n) < 0.002)
    w.traits = dict(
        archetype=arch,
        business=business,
        country=country,
        acquisition=acq,
        paperless=paperless,
        email_present=email_present,
        email_valid=email_valid,
        mobile_present=mobile_present,
        mobile_valid=mobile_valid,
        address_valid=address_valid,
        aff_email=aff[:, EMAIL] * email_affinity,  # > 1: a world where e-mail works better
        aff_sms=aff[:, SMS],
        aff_letter=aff[:, LETTER],
        aff_phone=aff[:, PHONE],
        base_hazard=base,
        ontime_logit=ontime_logit,
        mandate=mandate,
        stress_sensitivity=sensitivity,
        since=since.astype(np.int32),
        billing_day=rng.integers(1, 29, n).astype(np.int8),
        amount_mu=np.where(business, np.log(600), np.log(45)) + rng.normal(0, 0.5, n),
        event_onset=onset.astype(np.int32),
        restructuring=restructuring,
        bankrupt=bankrupt,
        deceased=deceased,
        has_bureau=rng.random(n) < 0.4,
        bureau_mean=np.array([720, 650, 590, 470, 640, 520])[arch] + rng.normal(0, 70, n),
    )
    return w


def _choice_rows(rng: np.random.Generator, p: np.ndarray) -> np.ndarray:
    """One categorical draw per row of probabilities."""
    return (rng.random(len(p))[:, None] > np.cumsum(p, axis=1)[:, :-1]).sum(axis=1)


def p_ontime(w: World, idx: np.ndarray, issue_day: np.ndarray) -> np.ndarray:
    logit = w["ontime_logit"][idx] - 2.0 * w.stress(issue_day) * w["stress_sensitivity"][idx]
    return 1.0 / (1.0 + np.exp(-logit))


def disputed_episode(w: World, idx: np.ndarray, d0: np.ndarray) -> np.ndarray:
    """Disputers dispute the oldest invoice of about half their episodes (opened at dpd 3)."""
    return (w["archetype"][idx] == DISPUTER) & (uniform(w.seed, S_DISPUTE, idx, d0) < 0.5)


STRENGTH = {"reminder_1": 1.5, "reminder_2": 1.5, "final_notice": 2.0, "phone": 1.5}


def contact(w: World, idx: np.ndarray, d0: np.ndarray, step: int) -> dict[str, np.ndarray]:
    """What the dunning contact of `step` in the episode (idx, d0) is and how it lands."""
    name = SCHEDULE[step][0]
    if name in ("reminder_1", "reminder_2"):  # historical channel experiment
        channel = (uniform(w.seed, S_CHANNEL, idx, d0, step) * 3).astype(np.int8)
    else:
        channel = np.full(len(idx), PHONE if name == "phone" else LETTER, dtype=np.int8)
    return respond(w, idx, d0, step, channel, d0 + SCHEDULE[step][1], STRENGTH.get(name, 0))


def respond(
    w: World,
    idx: np.ndarray,
    d0: np.ndarray,
    step: int | np.ndarray,
    channel: np.ndarray,
    day: np.ndarray,
    strength: float | np.ndarray,
) -> dict[str, np.ndarray]:
    """How a contact by `channel` on `day` in the episode (idx, d0) lands, through the debtor's
    contact data and channel affinities: delivered, opened, clicked, a promise to pay, and the
    uplift it gives the payment hazard (history and the closed loop alike)."""
    u_del = uniform(w.seed, S_DELIVER, idx, d0, step)
    delivered = np.select(
        [channel == EMAIL, channel == SMS, channel == LETTER],
        [
            w["email_valid"][idx] | (day >= w["email_fixed_day"][idx]),
            w["mobile_valid"][idx],
            w["address_valid"][idx] | (u_del < 0.3),
        ],
        default=w["mobile_valid"][idx] & (u_del < 0.45 + 0.15 * np.minimum(w["aff_phone"][idx], 2)),
    )
    aff = np.select(
        [channel == EMAIL, channel == SMS, channel == LETTER],
        [w["aff_email"][idx], w["aff_sms"][idx], w["aff_letter"][idx]],
        default=w["aff_phone"][idx],
    )
    opened = (
        (channel == EMAIL)
        & delivered
        & (uniform(w.seed, S_OPEN, idx, d0, step) < np.minimum(0.85, 0.35 * aff))
    )
    clicked = opened & (uniform(w.seed, S_CLICK, idx, d0, step) < np.minimum(0.8, 0.3 * aff))
    promise = (
        (channel == PHONE)
        & delivered
        & (uniform(w.seed, S_PROMISE, idx, d0, step) < np.minimum(0.8, 0.3 * aff))
    )
    uplift = delivered * strength * aff * (1 + 0.5 * clicked + 1.5 * promise)
    return dict(
        channel=channel,
        delivered=delivered,
        opened=opened,
        clicked=clicked,
        promise=promise,
        uplift=uplift,
    )


def hazard(
    w: World,
    idx: np.ndarray,
    d0: np.ndarray,
    t: np.ndarray,
    schedule_before: int | None = None,
    factor: np.ndarray | None = None,
) -> np.ndarray:
    """Daily probability that the debtor pays everything overdue on day t (no payment since d0).

    The closed loop passes `schedule_before` (only the historical schedule's contacts before that
    day count) and `factor`, the uplift of the contacts debtflow actually sent."""
    dpd = t - d0
    h = w["base_hazard"][idx] * (0.45 + 0.55 * np.exp(-dpd / 30.0))
    h = h * (1.0 - w.stress(t) * w["stress_sensitivity"][idx])
    h = h * np.where(dpd >= AGENCY_DPD, 0.6, 1.0)
    life = w["restructuring"][idx] | w["bankrupt"][idx] | w["deceased"][idx]
    h = h * np.where(life & (t >= w["event_onset"][idx]), 0.2, 1.0)
    disputed = disputed_episode(w, idx, d0)
    h = h * np.where(disputed, 0.6, 1.0)
    step = _STEP_AT_DPD[np.minimum(dpd, len(_STEP_AT_DPD) - 1)]
    for s in range(len(SCHEDULE) - 1):
        sent = (step == s) & ~disputed
        if schedule_before is not None:
            sent &= d0 + SCHEDULE[s][1] < schedule_before
        sel = np.flatnonzero(sent)
        if len(sel):
            h[sel] *= 1.0 + contact(w, idx[sel], d0[sel], s)["uplift"]
    if factor is not None:
        h = h * np.where(disputed, 1.0, factor)
    return np.minimum(h, MAX_HAZARD)


def run_overdue_process(
    w: World, late_debtor: np.ndarray, late_due: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Day by day, each debtor's overdue episode ends with one payment event that pays all overdue.

    `late_debtor`/`late_due`: the invoices that missed their due date, sorted by (debtor, due).
    Returns episodes (debtor, d0 = oldest overdue due date, event day or -1 if still open).
    """
    n = len(w["archetype"])
    key = late_debtor.astype(np.int64) * (1 << 20) + late_due
    starts = np.searchsorted(late_debtor, np.arange(n))
    ends = np.searchsorted(late_debtor, np.arange(n), side="right")
    ptr = starts.copy()
    d0 = np.full(n, -1, dtype=np.int64)
    in_ep = np.zeros(n, dtype=bool)
    ep_debtor, ep_d0, ev_debtor, ev_day = [], [], [], []
    # Next episode start per debtor (the day after the next late invoice's due date).
    next_due = np.where(ptr < ends, late_due[np.minimum(ptr, len(late_due) - 1)], 1 << 30)
    for t in range(w.n_days + 1):  # day n_days (end_date) only opens episodes, for the truth
        new = np.flatnonzero(~in_ep & (next_due < t))
        if len(new):
            in_ep[new] = True
            d0[new] = next_due[new]
            ep_debtor.append(new)
            ep_d0.append(next_due[new])
        active = np.flatnonzero(in_ep)
        if not len(active) or t == w.n_days:
            continue
        pay = uniform(w.seed, S_PAY, active, t) < hazard(
            w, active, d0[active], np.full(len(active), t)
        )
        paid = active[pay]
        if len(paid):
            ev_debtor.append(paid)
            ev_day.append(np.full(len(paid), t))
            in_ep[paid] = False
            ptr[paid] = np.searchsorted(key, paid.astype(np.int64) * (1 << 20) + t)
            more = ptr[paid] < ends[paid]
            next_due[paid] = np.where(
                more, late_due[np.minimum(ptr[paid], len(late_due) - 1)], 1 << 30
            )
    ep_debtor_a = _cat(ep_debtor)
    ep_d0_a = _cat(ep_d0)
    order = np.lexsort((ep_d0_a, ep_debtor_a))
    ep_debtor_a, ep_d0_a = ep_debtor_a[order], ep_d0_a[order]
    ev_debtor_a, ev_day_a = _cat(ev_debtor), _cat(ev_day)
    order = np.lexsort((ev_day_a, ev_debtor_a))
    ev_debtor_a, ev_day_a = ev_debtor_a[order], ev_day_a[order]
    # Episodes and events pair up in order per debtor; the last episode may still be open.
    ep_event = np.full(len(ep_debtor_a), -1, dtype=np.int64)
    ep_rank = np.arange(len(ep_debtor_a)) - np.searchsorted(ep_debtor_a, ep_debtor_a)
    ev_rank = np.arange(len(ev_debtor_a)) - np.searchsorted(ev_debtor_a, ev_debtor_a)
    pos = np.searchsorted(ep_debtor_a, ev_debtor_a) + ev_rank
    ep_event[pos] = ev_day_a
    assert np.array_equal(ep_rank[pos], ev_rank)
    return ep_debtor_a, ep_d0_a, ep_event


def _cat(parts: list[np.ndarray]) -> np.ndarray:
    return np.concatenate(parts).astype(np.int64) if parts else np.zeros(0, dtype=np.int64)


def collectability_truth(
    w: World,
    ep_debtor: np.ndarray,
    ep_d0: np.ndarray,
    ep_event: np.ndarray,
    day: int,
    observed: bool,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """p_true and label for the debtors overdue at the start of `day` (snapshot D)."""
    sel = np.flatnonzero((ep_d0 < day) & ((ep_event >= day) | (ep_event < 0)))
    idx, d0 = ep_debtor[sel], ep_d0[sel]
    log_surv = np.zeros(len(sel))
    for j in range(HORIZON):
        log_surv += np.log1p(-hazard(w, idx, d0, np.full(len(sel), day + j)))
    p_true = 1.0 - np.exp(log_surv)
    ev = ep_event[sel]
    label = np.where(observed, ((ev >= day) & (ev < day + HORIZON)).astype(float), np.nan)
    return idx, p_true, label
