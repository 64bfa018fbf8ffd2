from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from analytics.models import Event, parse_iso_moment


def test_client_clock_skew_is_corrected(send):
    # The client's clock runs an hour fast: it says the event happened 5 s before sending.
    sent = timezone.now() + timedelta(hours=1)
    send.post(
        "batch",
        {
            "sentAt": sent.isoformat(),
            "batch": [{"type": "track", "userId": "u", "event": "E",
                       "timestamp": (sent - timedelta(seconds=5)).isoformat()}],
        },
    )
    event = Event.objects.get()
    expected = event.received_at - timedelta(seconds=5)
    assert abs(event.timestamp - expected) < timedelta(milliseconds=1)
    assert event.sent_at == sent


def test_per_call_sent_at_wins_over_the_batchs(send):
    now = timezone.now()
    send.post(
        "batch",
        {
            "sentAt": (now + timedelta(days=1)).isoformat(),
            "batch": [{"type": "track", "userId": "u", "event": "E",
                       "timestamp": (now - timedelta(seconds=30)).isoformat(),
                       "sentAt": now.isoformat()}],
        },
    )
    event = Event.objects.get()
    assert abs(event.timestamp - (event.received_at - timedelta(seconds=30))) < timedelta(seconds=1)


def test_historical_timestamp_without_sent_at_is_kept(send):
    send.post("track", {"userId": "u", "event": "Imported", "timestamp": "2019-03-01T10:00:00Z"})
    assert Event.objects.get().timestamp == datetime(2019, 3, 1, 10, tzinfo=UTC)


def test_naive_timestamp_is_read_as_utc(send):
    send.post("track", {"userId": "u", "event": "E", "timestamp": "2024-05-01T08:30:00"})
    assert Event.objects.get().timestamp == datetime(2024, 5, 1, 8, 30, tzinfo=UTC)


def test_missing_timestamp_is_the_receive_time(send):
    send.post("track", {"userId": "u", "event": "E"})
    event = Event.objects.get()
    assert event.timestamp == event.received_at


@pytest.mark.parametrize(
    ("text", "moment"),
    [
        ("2026-01-05T10:00:00+01:00", datetime(2026, 1, 5, 9, tzinfo=UTC)),
        ("2026-01-05T09:00:00Z", datetime(2026, 1, 5, 9, tzinfo=UTC)),
        ("2026-01-05T09:00:00", datetime(2026, 1, 5, 9, tzinfo=UTC)),  # no offset: UTC
        ("2026-01-05", datetime(2026, 1, 5, tzinfo=UTC)),
    ],
)
def test_one_reading_of_iso_moments_for_calls_and_query_parameters(text, moment):
    assert parse_iso_moment(text) == moment
    assert parse_iso_moment(text).tzinfo is UTC


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("yesterday", ValueError),
        ("0001-01-01T00:00:00+14:00", OverflowError),  # year 0 in UTC
        ("9999-12-31T23:59:59-14:00", OverflowError),  # year 10000 in UTC
    ],
)
def test_a_moment_that_is_not_one_or_that_utc_cannot_hold_is_refused(text, error):
    with pytest.raises(error):
        parse_iso_moment(text)
