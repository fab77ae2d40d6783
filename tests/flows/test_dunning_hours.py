"""Contact windows per country and channel: the law's hours and the platform's, in local time."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from debtflow.flows.core.errors import DebtflowError
from debtflow.flows.dunning.hours import may_contact, next_window

AMS = ZoneInfo("Europe/Amsterdam")
BRU = ZoneInfo("Europe/Brussels")
OSL = ZoneInfo("Europe/Oslo")


def test_the_same_utc_time_is_inside_in_summer_and_outside_in_winter():
    # 07:30 UTC is 09:30 in Amsterdam after the clocks go forward (29 March 2026), 08:30 before.
    assert may_contact("NL", "email", datetime(2026, 3, 30, 7, 30, tzinfo=UTC)) == (True, None)
    assert may_contact("NL", "email", datetime(2026, 3, 23, 7, 30, tzinfo=UTC)) == (
        False,
        "outside_hours",
    )


def test_next_window_crosses_the_weekend_and_the_clock_change():
    friday_evening = datetime(2026, 3, 27, 16, 30, tzinfo=UTC)  # 17:30 CET
    assert may_contact("NL", "email", friday_evening) == (False, "outside_hours")
    opens = next_window("NL", "email", friday_evening)
    assert opens == datetime(2026, 3, 30, 9, 0, tzinfo=AMS)
    assert opens.utcoffset().total_seconds() == 2 * 3600
    assert opens.astimezone(UTC) == datetime(2026, 3, 30, 7, 0, tzinfo=UTC)


def test_next_window_after_the_clocks_go_back():
    saturday = datetime(2026, 10, 24, 12, 0, tzinfo=AMS)  # CEST; Sunday 25 October ends it
    assert next_window("NL", "sms", saturday).astimezone(UTC) == datetime(
        2026, 10, 26, 8, 0, tzinfo=UTC
    )


def test_next_window_is_now_when_the_window_is_open():
    now = datetime(2026, 3, 30, 8, 15, tzinfo=UTC)
    assert next_window("NL", "email", now) == now
    assert next_window("NL", "email", now).tzinfo == AMS


@pytest.mark.parametrize(
    ("country", "channel", "at", "reason"),
    [
        pytest.param("NL", "phone", datetime(2026, 3, 29, 12, 0, tzinfo=AMS), "weekend", id="nl-sunday-call"),
        pytest.param("NL", "email", datetime(2026, 3, 28, 12, 0, tzinfo=AMS), "weekend", id="nl-saturday-email"),
        pytest.param("NL", "phone", datetime(2026, 3, 28, 19, 59, tzinfo=AMS), None, id="nl-saturday-1959"),
        pytest.param("NL", "phone", datetime(2026, 3, 28, 20, 0, tzinfo=AMS), "outside_hours", id="nl-no-call-from-20"),
        pytest.param("NL", "email", datetime(2026, 4, 27, 10, 0, tzinfo=AMS), "public_holiday", id="kings-day"),
        pytest.param("NL", "email", datetime(2026, 5, 5, 10, 0, tzinfo=AMS), "public_holiday", id="liberation-day"),
        pytest.param("NL", "email", datetime(2026, 4, 3, 10, 0, tzinfo=AMS), "public_holiday", id="good-friday"),
        pytest.param("NO", "sms", datetime(2028, 5, 17, 10, 0, tzinfo=OSL), "public_holiday", id="17-may"),
        pytest.param("BE", "sms", datetime(2028, 5, 17, 10, 0, tzinfo=BRU), None, id="17-may-not-in-be"),
        pytest.param("BE", "sms", datetime(2026, 7, 21, 10, 0, tzinfo=BRU), "public_holiday", id="be-national-day"),
        pytest.param("NO", "phone", datetime(2026, 3, 28, 7, 59, tzinfo=OSL), "outside_hours", id="no-saturday-0759"),
        pytest.param("NO", "phone", datetime(2026, 3, 28, 8, 0, tzinfo=OSL), None, id="no-saturday-0800"),
        pytest.param("NO", "phone", datetime(2026, 3, 28, 14, 59, tzinfo=OSL), None, id="no-saturday-1459"),
        pytest.param("NO", "phone", datetime(2026, 3, 28, 15, 0, tzinfo=OSL), "outside_hours", id="no-saturday-1500"),
        pytest.param("NO", "phone", datetime(2026, 3, 26, 20, 59, tzinfo=OSL), None, id="no-weekday-2059"),
        pytest.param("NO", "phone", datetime(2026, 3, 26, 21, 0, tzinfo=OSL), "outside_hours", id="no-weekday-2100"),
        pytest.param("NO", "phone", datetime(2026, 3, 29, 12, 0, tzinfo=OSL), "weekend", id="no-sunday-call"),
        pytest.param("NO", "sms", datetime(2026, 3, 28, 12, 0, tzinfo=OSL), "weekend", id="no-saturday-sms"),
        pytest.param("NO", "email", datetime(2026, 3, 26, 17, 0, tzinfo=OSL), "outside_hours", id="email-until-17"),
        pytest.param("DE", "email", datetime(2026, 3, 28, 12, 0, tzinfo=UTC), "weekend", id="elsewhere-no-weekend"),
    ],
)  # fmt: skip
def test_may_contact(country, channel, at, reason):
    assert may_contact(country, channel, at) == (reason is None, reason)


def test_the_debtors_zone_decides_not_the_callers():
    # 14:30 in Oslo on a Saturday is 13:30 UTC: the call may still be made there.
    assert may_contact("NO", "phone", datetime(2026, 3, 28, 13, 30, tzinfo=UTC)) == (True, None)
    assert may_contact("NO", "phone", datetime(2026, 3, 28, 14, 30, tzinfo=UTC)) == (
        False,
        "outside_hours",
    )


def test_after_kings_day_the_next_window_is_the_following_morning():
    assert next_window("NL", "email", datetime(2026, 4, 24, 17, 0, tzinfo=AMS)) == datetime(
        2026, 4, 28, 9, 0, tzinfo=AMS
    )


def test_a_norwegian_saturday_call_after_15_waits_for_monday():
    assert next_window("NO", "phone", datetime(2026, 3, 28, 15, 0, tzinfo=OSL)) == datetime(
        2026, 3, 30, 8, 0, tzinfo=OSL
    )


def test_naive_datetimes_are_rejected():
    with pytest.raises(ValueError, match="no time zone"):
        may_contact("NL", "email", datetime(2026, 3, 30, 10, 0))
    with pytest.raises(ValueError, match="no time zone"):
        next_window("NL", "email", datetime(2026, 3, 30, 10, 0))


def test_an_unknown_channel_is_refused():
    with pytest.raises(DebtflowError, match="unknown channel 'fax'"):
        may_contact("NL", "fax", datetime(2026, 3, 30, 10, 0, tzinfo=AMS))
