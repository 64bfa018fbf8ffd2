"""Daily activity (``DailyActivity``): each person's track, page and screen calls per day
of the workspace's time zone and group context, which reports about any activity read
instead of every event. It must stay exactly what the events say through every change
to them, and the reports it answers must match the same reports read from events.
"""

from datetime import UTC, date, datetime

import pytest
from calls import identify, jan, join, page_view, track
from conftest import set_time_zone
from django.http import QueryDict
from django.utils import timezone

from analytics import event_store, reports
from analytics.deletion import delete_person
from analytics.group_types import remove_group_type
from analytics.models import DailyActivity, Person

COLUMNS = ["person_id", "day", "group_0", "group_1", "events", "first_at", "last_at"]


def rows(workspace):
    return sorted(DailyActivity.objects.filter(workspace=workspace).values_list(*COLUMNS))


def rebuilt(workspace):
    """The rows worked out again from the events, as they should already be."""
    event_store.rebuild_daily_activity(workspace)
    return rows(workspace)


def test_a_persons_calls_of_a_day_and_context_add_up_to_one_row(send, workspace, company):
    send.batch(
        join("ann", "acme", jan(1)),
        join("ann", "beta", jan(1)),
        track("ann", "feature_used", jan(5, 9)),
        page_view("ann", "Pricing", jan(5, 17)),
        track("ann", "feature_used", jan(5, 12), groups={"company": "acme"}),
        track("ann", "feature_used", jan(6, 8)),
        identify("ann", at=jan(5, 10), plan="pro"),
    )
    ann = Person.objects.get(user_id="ann").pk
    acme = company.groups.get(key="acme").pk
    assert [(r[0], r[1], r[2], r[4]) for r in rows(workspace)] == [
        (ann, date(2026, 1, 5), 0, 2),  # no company: the feature and the page, not identify
        (ann, date(2026, 1, 5), acme, 1),
        (ann, date(2026, 1, 6), 0, 1),
    ]
    day = DailyActivity.objects.get(person_id=ann, day=date(2026, 1, 5), group_0=0)
    assert (day.first_at.hour, day.last_at.hour) == (9, 17)


def test_the_rows_stay_what_the_events_say_through_every_change(send, workspace, company, team):
    send.batch(
        join("ann", "acme", jan(1)),
        track("ann", "feature_used", jan(5, 9)),
        {"type": "track", "anonymousId": "visitor-1", "event": "feature_used", "timestamp": jan(5, 7)},
        page_view("bo", "Pricing", jan(6, 23, 30)),
        track("bo", "feature_used", jan(6, 10), groups={"company": "beta", "team": "red"}),
    )
    assert rows(workspace) == rebuilt(workspace)
    # A late call adds to its own past day.
    send.batch(track("ann", "feature_used", jan(5, 6)))
    ann = Person.objects.get(user_id="ann").pk
    assert DailyActivity.objects.get(person_id=ann, day=date(2026, 1, 5)).events == 2
    assert rows(workspace) == rebuilt(workspace)
    # The visitor turns out to be ann: their day adds up into hers.
    send.batch({"type": "identify", "userId": "ann", "anonymousId": "visitor-1", "timestamp": jan(5, 8)})
    acme = company.groups.get(key="acme").pk
    assert sorted(
        DailyActivity.objects.filter(person_id=ann, day=date(2026, 1, 5)).values_list("group_0", "events")
    ) == [(0, 1), (acme, 2)]  # the visitor's call named no company
    assert set(DailyActivity.objects.filter(day=date(2026, 1, 5)).values_list("person_id", flat=True)) == {ann}
    assert rows(workspace) == rebuilt(workspace)
    # Deleting the team type empties that place in bo's context.
    remove_group_type(team)
    assert rows(workspace) == rebuilt(workspace)
    assert not DailyActivity.objects.filter(workspace=workspace).exclude(group_1=0).exists()
    # A new time zone moves bo's late-evening page to the next day.
    set_time_zone(workspace, "Asia/Tokyo")
    bo = Person.objects.get(user_id="bo").pk
    assert {r.day for r in DailyActivity.objects.filter(person_id=bo)} == {date(2026, 1, 6), date(2026, 1, 7)}
    assert rows(workspace) == rebuilt(workspace)
    # A deleted person's rows go with their events.
    delete_person(Person.objects.get(user_id="bo"))
    assert not DailyActivity.objects.filter(person_id=bo).exists()
    assert rows(workspace) == rebuilt(workspace)


def ask(kind, workspace, *, from_events=False, **params):
    """A report's query; ``from_events`` adds a filter every event passes, which daily
    activity cannot answer, so that the report reads the events themselves."""
    data = QueryDict(mutable=True)
    for name, value in params.items():
        for one in value if isinstance(value, list) else [value]:
            data.appendlist(name, str(one))
    if from_events:
        for name, value in {"where": "event", "key": "never_sent", "op": "not_set", "value": ""}.items():
            data.appendlist(name, value)
    return getattr(reports, f"{kind}_from_params")(workspace, data)


@pytest.fixture
def memberships_that_change_within_a_day(send, workspace, company):
    """fay is in acme and beta (so her calls name no company); on the 5th she joins
    gamma at noon, between her calls at 9 and 15; on the 6th she leaves beta at noon,
    between calls at 8 and 16; on the 7th she joins delta at 20:00, after her last call
    (14:00) of the day."""
    send.batch(join("fay", "acme", jan(1)), join("fay", "beta", jan(1)))
    send.batch(track("fay", "feature_used", jan(5, 9)))
    send.batch(join("fay", "gamma", jan(5, 12)))
    send.batch(track("fay", "feature_used", jan(5, 15)), track("fay", "feature_used", jan(6, 8)))
    send.batch(track("fay", "Account Removed User", jan(6, 12), groups={"company": "beta"}))
    send.batch(track("fay", "feature_used", jan(6, 16)), track("fay", "feature_used", jan(7, 14)))
    send.batch(join("fay", "delta", jan(7, 20)))


@pytest.mark.parametrize("from_events", [False, True])
def test_the_over_count_credits_groups_at_each_calls_moment_within_a_day(
    memberships_that_change_within_a_day, workspace, from_events
):
    query = ask("active_groups", workspace, from_events=from_events, type="company",
                **{"from": "2026-01-05", "to": "2026-01-07"})
    result = reports.active_groups(workspace, query)
    assert result.strict == [0, 1, 0]  # the leaving call names beta
    # 5th: acme, beta, and gamma for the call at 15:00. 6th: acme, beta (the call at 8:00
    # and the leaving call), gamma. 7th: acme and gamma, not delta (joined after).
    assert result.overcount == [3, 3, 2]
    assert (result.events, result.events_without_group) == (6, 5)


def test_the_overview_counts_from_daily_activity_as_reports_do_from_events(
    memberships_that_change_within_a_day, workspace, company, monkeypatch
):
    monkeypatch.setattr(timezone, "now", lambda: datetime(2026, 1, 7, 18, tzinfo=UTC))
    windows = reports.active_counts(workspace, company, (1, 3))
    assert [(w.strict, w.overcount, w.events, w.events_without_group) for w in windows] == [
        (0, 2, 1, 1),
        (1, 3, 6, 5),
    ]


@pytest.mark.parametrize("count_by", ["users", "company", "events"])
def test_a_trend_of_any_event_is_the_same_from_daily_activity(
    memberships_that_change_within_a_day, send, workspace, count_by
):
    send.batch(
        track("gil", "feature_used", jan(6, 9), groups={"company": "acme"}),
        page_view("gil", "Pricing", jan(12)),
    )
    asked = {"event": "", "count_by": count_by, "from": "2026-01-04", "to": "2026-01-14"}
    for interval in ("day", "week", "month"):
        days = reports.trends(workspace, ask("trend", workspace, interval=interval, **asked))
        events = reports.trends(workspace, ask("trend", workspace, interval=interval, from_events=True, **asked))
        assert [s.values for s in days.series] == [s.values for s in events.series]
        assert [s.total for s in days.series] == [s.total for s in events.series]
    days = reports.trends(workspace, ask("trend", workspace, interval="day", **asked))
    expected = {"users": [0, 1, 2, 1], "company": [0, 0, 2, 0], "events": [0, 2, 4, 1]}[count_by]
    assert days.series[0].values[:4] == expected


@pytest.mark.parametrize("count_by", ["users", "company"])
def test_retention_of_any_event_is_the_same_from_daily_activity(
    memberships_that_change_within_a_day, send, workspace, count_by
):
    send.batch(
        track("gil", "signed_up", jan(5, 9), groups={"company": "acme"}),
        page_view("gil", "Pricing", jan(13), groups={"company": "acme"}),
        page_view("hal", "Pricing", jan(6), groups={"company": "beta"}),
        page_view("hal", "Pricing", jan(20), groups={"company": "beta"}),
    )
    for start_event in ("", "signed_up"):
        asked = {"start_event": start_event, "return_event": "", "count_by": count_by,
                 "interval": "week", "periods": 3, "from": "2026-01-05", "to": "2026-01-25"}
        days = reports.retention(workspace, ask("retention", workspace, **asked))
        events = reports.retention(workspace, ask("retention", workspace, from_events=True, **asked))
        assert [(c.start, c.size, c.returned) for c in days.cohorts] == [
            (c.start, c.size, c.returned) for c in events.cohorts
        ]
        cohort = days.cohorts[0]
        back = reports.retention_actors(workspace, ask("retention", workspace, **asked),
                                        cohort=cohort.start, period=1)
        assert len(back) == cohort.returned[0]
