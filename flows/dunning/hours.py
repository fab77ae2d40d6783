"""When a debtor may be contacted, per country and channel, in the debtor's own time zone.

Two layers of windows from statutes.yml must both allow a moment, so the stricter wins: the law's
contact hours of the debtor's country (NL: no contact 20:00-07:00, on Sundays or public holidays;
NO: calls on weekdays 08-21 and Saturdays 08-15 only) and the platform's sending hours (as
shipped: e-mail, SMS, app and letters on weekdays 09:00-17:00, calls Monday to Saturday
08:00-21:00). Nothing goes out on a public holiday of the debtor's country: the `holidays`
package's plus the country's extra_holidays. A window's end is exclusive: a ban from 20:00 makes
19:59 the last minute.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from debtflow.flows.core.errors import DebtflowError
from debtflow.flows.dunning.statutes import CHANNELS, WEEKDAYS, Statutes, Window, default_statutes

SEARCH_DAYS = 31  # a run of closed days longer than this means the windows never open


def may_contact(
    country: str, channel: str, at: datetime, *, statutes: Statutes | None = None
) -> tuple[bool, str | None]:
    """Whether `channel` may reach a debtor in `country` at `at`; if not, why: 'weekend',
    'public_holiday' or 'outside_hours'."""
    statutes = statutes or default_statutes()
    local = _aware(at).astimezone(statutes.timezone(country))
    reason = _closed(statutes, country, _channel(channel), local.date(), local.time())
    return reason is None, reason


def next_window(
    country: str, channel: str, after: datetime, *, statutes: Statutes | None = None
) -> datetime:
    """The first moment at or after `after` when `channel` may reach a debtor in `country`, in
    the country's time zone."""
    statutes = statutes or default_statutes()
    zone = statutes.timezone(country)
    channel = _channel(channel)
    local = _aware(after).astimezone(zone)
    if _closed(statutes, country, channel, local.date(), local.time()) is None:
        return local
    layers = _layers(statutes, country, channel)
    for offset in range(SEARCH_DAYS):
        day = local.date() + timedelta(days=offset)
        # Allowed time is an intersection of unions of windows, so it opens at a window's start.
        starts = sorted({w.from_ for layer in layers for w in layer if _weekday(day) in w.days})
        for start in starts:
            later = offset > 0 or start > local.time()
            if later and _closed(statutes, country, channel, day, start) is None:
                return datetime.combine(day, start, tzinfo=zone)
    raise DebtflowError(
        f"no {channel} window in {country} within {SEARCH_DAYS} days of {after}; "
        "fix: check sending_hours and contact_hours in statutes.yml"
    )


def _aware(moment: datetime) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(
            f"{moment} has no time zone; pass an aware datetime, e.g. "
            "moment.replace(tzinfo=UTC) for the ledger's naive UTC timestamps"
        )
    return moment


def _channel(channel: str) -> str:
    if channel not in CHANNELS:
        raise DebtflowError(f"unknown channel {channel!r}; use one of {', '.join(CHANNELS)}")
    return channel


def _weekday(day: date) -> str:
    return WEEKDAYS[day.weekday()]


def _layers(statutes: Statutes, country: str, channel: str) -> list[list[Window]]:
    """The platform's windows for the channel, and the law's where it has any for it."""
    layers = [[w for w in statutes.sending_hours if w.covers(channel)]]
    rules = statutes.country(country)
    if rules and rules.contact_hours:
        statutory = [w for w in rules.contact_hours.windows if w.covers(channel)]
        layers += [statutory] if statutory else []
    return layers


def _closed(statutes: Statutes, country: str, channel: str, day: date, at: time) -> str | None:
    """Why contact is not allowed on `day` at local time `at`, or None when it is."""
    if statutes.is_holiday(country, day):
        return "public_holiday"
    for layer in _layers(statutes, country, channel):
        today = [w for w in layer if _weekday(day) in w.days]
        if not today:
            return "weekend" if day.weekday() >= 5 else "outside_hours"
        if not any(w.from_ <= at < w.to for w in today):
            return "outside_hours"
    return None
