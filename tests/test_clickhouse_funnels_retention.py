"""Funnels and retention at their edges, worked out by hand and checked on both event
stores: windows and buckets cut in the workspace's time zone, the time to convert to the
millisecond, companies active only through internal people, periods not over yet, and
the parameters that make no answer."""

from datetime import UTC, date, datetime, timedelta

import pytest
from calls import identify, jan, join, track
from test_reports import query
from django.utils import timezone

from analytics import reports
from analytics.models import Group, Person
from analytics.reports import ReportError

pytestmark = pytest.mark.both_stores


def users(ids):
    return set(Person.objects.filter(pk__in=ids).values_list("user_id", flat=True))


def moment(day, hour, minute=0, second=0, microsecond=0):
    """A moment of January 2026, UTC, to the microsecond."""
    return datetime(2026, 1, day, hour, minute, second, microsecond, tzinfo=UTC).isoformat()


def test_a_funnel_window_runs_past_midnight_and_the_period_in_the_workspace_zone(send, workspace):
    """New York, the 5th of January (05:00 UTC on the 5th to 05:00 on the 6th), a window
    of one day. ann signs up at 22:00 there and creates a project 23 h 59 min later, on
    the 6th, past the period's end; dee creates hers exactly a day after signing up (the
    window includes its end). cy's first signup is on the 4th there (04:00 UTC), before
    the period, and his project after it comes too early for his second signup and his
    second project a day and an hour late. bo signs up at 01:00 on the 6th there: after
    the period."""
    workspace.time_zone = "America/New_York"
    workspace.save()
    send.batch(
        track("ann", "signed_up", moment(6, 3)),
        track("ann", "project_created", moment(7, 2, 59)),
        track("dee", "signed_up", moment(5, 10)),
        track("dee", "project_created", moment(6, 10)),
        track("cy", "signed_up", moment(5, 4)),
        track("cy", "project_created", moment(5, 6)),
        track("cy", "signed_up", moment(5, 12)),
        track("cy", "project_created", moment(6, 13)),
        track("bo", "signed_up", moment(6, 6)),
        track("bo", "project_created", moment(6, 7)),
    )
    funnel = query(
        "funnel", workspace, step=["signed_up", "project_created"], window=1,
        **{"from": "2026-01-05", "to": "2026-01-05"},
    )
    result = reports.funnel(workspace, funnel)
    assert [s.count for s in result.steps] == [3, 2]
    assert result.median_seconds_to_convert == (86_340 + 86_400) / 2
    assert users(reports.funnel_actors(workspace, funnel, step=1)) == {"ann", "cy", "dee"}
    assert users(reports.funnel_actors(workspace, funnel, step=2, dropped=True)) == {"cy"}


def test_the_time_to_convert_runs_from_the_latest_start_to_the_millisecond(send, workspace):
    """ann signs up at 10:00 and again at 11:00, then creates projects at 12:00:00.0006
    and at 13:00: an hour and a millisecond from her latest start (moments are rounded
    to the millisecond, 0.6 up). In February bo signs up at 10:00:00.0004 (rounded
    down) and creates a project at 10:00:01.2346: 1.235 s."""
    send.batch(
        track("ann", "signed_up", moment(5, 10)),
        track("ann", "signed_up", moment(5, 11)),
        track("ann", "project_created", moment(5, 12, microsecond=600)),
        track("ann", "project_created", moment(5, 13)),
        track("bo", "signed_up", datetime(2026, 2, 5, 10, 0, 0, 400, tzinfo=UTC).isoformat()),
        track("bo", "project_created", datetime(2026, 2, 5, 10, 0, 1, 234_600, tzinfo=UTC).isoformat()),
    )
    steps = ["signed_up", "project_created"]
    january = reports.funnel(workspace, query("funnel", workspace, step=steps, **{"from": "2026-01-01", "to": "2026-01-31"}))
    assert [s.count for s in january.steps] == [1, 1]
    assert january.median_seconds_to_convert == 3600.001
    february = reports.funnel(workspace, query("funnel", workspace, step=steps, **{"from": "2026-02-01", "to": "2026-02-28"}))
    assert february.median_seconds_to_convert == 1.235


def test_a_funnel_of_three_steps_follows_the_order_of_one_moment(send, workspace):
    """Three steps; ann does the last two in one moment, in order; bo in one moment the
    other way round, so he stops at the second; cy does the second step before the
    first and the third after it: the first only."""
    send.batch(
        track("ann", "a", jan(5, 9)),
        track("ann", "b", jan(5, 10)),
        track("ann", "c", jan(5, 10)),
        track("bo", "a", jan(5, 9)),
        track("bo", "c", jan(5, 10)),
        track("bo", "b", jan(5, 10)),
        track("cy", "b", jan(5, 8)),
        track("cy", "a", jan(5, 9)),
        track("cy", "c", jan(5, 10)),
    )
    funnel = query("funnel", workspace, step=["a", "b", "c"], **{"from": "2026-01-01", "to": "2026-01-31"})
    result = reports.funnel(workspace, funnel)
    assert [s.count for s in result.steps] == [3, 2, 1]
    assert [s.median_seconds for s in result.steps] == [None, 3600, 3600]
    assert users(reports.funnel_actors(workspace, funnel, step=3, dropped=True)) == {"bo"}
    assert users(reports.funnel_actors(workspace, funnel, step=2, dropped=True)) == {"cy"}


def zone_calls():
    """Tokyo (UTC+9), weeks from Monday the 5th and the 12th of January 2026. ann (acme)
    signs up late on Sunday the 11th there and logs in half an hour past midnight, on
    Monday the 12th; bo (acme) signs up at that moment, logs in a minute before the
    next Monday and at its midnight (the 26th there); cy (beta) signs up half an hour
    into the 5th there (15:30 UTC on the 4th) and logs in on the 20th."""
    return [
        join("ann", "acme", datetime(2025, 12, 1, tzinfo=UTC).isoformat()),
        join("bo", "acme", datetime(2025, 12, 1, tzinfo=UTC).isoformat()),
        join("cy", "beta", datetime(2025, 12, 1, tzinfo=UTC).isoformat()),
        track("ann", "signed_up", moment(11, 14)),
        track("ann", "login", moment(11, 15, 30)),
        track("bo", "signed_up", moment(11, 15, 30)),
        track("bo", "login", moment(18, 14, 59)),
        track("bo", "login", moment(25, 15)),
        track("cy", "signed_up", moment(4, 15, 30)),
        track("cy", "login", moment(20, 3)),
    ]


@pytest.mark.parametrize("start_event, return_event", [("signed_up", "login"), ("", "")])
def test_retention_cuts_weeks_at_midnight_in_the_workspace_zone(send, workspace, company, start_event, return_event):
    """By users, the same named events or any activity: the week of the 5th has ann and
    cy, back in the next week (ann) and the one after (cy); the week of the 12th has bo,
    back only two weeks later (his login of the 18th is still his own week)."""
    workspace.time_zone = "Asia/Tokyo"
    workspace.save()
    send.batch(*zone_calls())
    asked = {
        "start_event": start_event, "return_event": return_event, "periods": 2,
        "from": "2026-01-05", "to": "2026-01-18",
    }
    result = reports.retention(workspace, query("retention", workspace, **asked))
    assert [(c.start, c.size, c.returned) for c in result.cohorts] == [
        (date(2026, 1, 5), 2, [1, 1]),
        (date(2026, 1, 12), 1, [0, 1]),
    ]
    retention = query("retention", workspace, **asked)
    assert users(reports.retention_actors(workspace, retention, cohort=date(2026, 1, 5), period=0)) == {"ann", "cy"}
    assert users(reports.retention_actors(workspace, retention, cohort=date(2026, 1, 5), period=1)) == {"ann"}
    assert users(reports.retention_actors(workspace, retention, cohort=date(2026, 1, 12), period=2)) == {"bo"}
    # By company: acme starts with ann on the 11th and is back the next week (ann and
    # bo), not the one after (bo's login of the 26th is a third week); beta with cy.
    companies = reports.retention(workspace, query("retention", workspace, count_by="company", **asked))
    assert [(c.start, c.size, c.returned) for c in companies.cohorts] == [
        (date(2026, 1, 5), 2, [1, 1]),
        (date(2026, 1, 12), 0, [0, 0]),
    ]


@pytest.mark.parametrize("internal, expected", [
    ("exclude", [(date(2026, 1, 5), 0, [0]), (date(2026, 1, 12), 1, [0])]),
    ("include", [(date(2026, 1, 5), 1, [1]), (date(2026, 1, 12), 0, [0])]),
])
def test_a_company_active_only_through_internal_people_starts_when_a_customer_is(
    send, workspace, company, internal, expected
):
    """dee (staff) is active in acme on the 5th, ann (a customer) on the 13th: left out,
    dee's activity does not make acme's first day."""
    workspace.internal_domains = ["staff.dev"]
    workspace.save()
    send.batch(
        identify("dee", email="dee@staff.dev", at=jan(1)),
        identify("ann", email="ann@acme.io", at=jan(1)),
        join("dee", "acme", jan(1)),
        join("ann", "acme", jan(1)),
        track("dee", "feature_used", jan(5)),
        track("ann", "feature_used", jan(13)),
    )
    asked = {"count_by": "company", "periods": 1, "internal": internal, "from": "2026-01-05", "to": "2026-01-18"}
    result = reports.retention(workspace, query("retention", workspace, **asked))
    assert [(c.start, c.size, c.returned) for c in result.cohorts] == expected
    first = expected[0][0] if expected[0][1] else expected[1][0]
    ids = reports.retention_actors(workspace, query("retention", workspace, **asked), cohort=first, period=0)
    assert list(Group.objects.filter(pk__in=ids).values_list("key", flat=True)) == ["acme"]


def test_periods_not_over_yet_are_none(send, workspace):
    """ann signs up yesterday (UTC) and logs in today: back in period 1, which has begun;
    periods 2 and 3 are still to come."""
    today = timezone.now().date()
    yesterday = today - timedelta(days=1)
    send.batch(
        track("ann", "signed_up", datetime.combine(yesterday, datetime.min.time(), UTC).replace(hour=12).isoformat()),
        track("ann", "login", datetime.combine(today, datetime.min.time(), UTC).isoformat()),
    )
    asked = {"start_event": "signed_up", "return_event": "login", "interval": "day", "periods": 3,
             "from": yesterday.isoformat(), "to": yesterday.isoformat()}
    result = reports.retention(workspace, query("retention", workspace, **asked))
    assert [(c.start, c.size, c.returned) for c in result.cohorts] == [(yesterday, 1, [1, None, None])]


def test_parameters_of_actors_that_name_no_one_say_why(send, workspace):
    funnel = query("funnel", workspace, step=["a", "b"], **{"from": "2026-01-01", "to": "2026-01-31"})
    with pytest.raises(ReportError, match="step must be between 2 and 2; not 1."):
        reports.funnel_actors(workspace, funnel, step=1, dropped=True)
    with pytest.raises(ReportError, match="step must be between 1 and 2; not 3."):
        reports.funnel_actors(workspace, funnel, step=3)
    retention = query("retention", workspace, periods=2, **{"from": "2026-01-05", "to": "2026-01-18"})
    with pytest.raises(ReportError, match="2026-01-06 is not the first day of a cohort of this report."):
        reports.retention_actors(workspace, retention, cohort=date(2026, 1, 6), period=0)
    with pytest.raises(ReportError, match="period must be between 0 and 2; not 3."):
        reports.retention_actors(workspace, retention, cohort=date(2026, 1, 5), period=3)
