"""Daily activity (``DailyActivity``): each person's track, page and screen calls per day
of the workspace's time zone and group context, which reports about any activity read
instead of every event. It must stay exactly what the events say through every change
to them, and the reports it answers must match the same reports read from events.
"""

from collections import Counter, defaultdict
from datetime import UTC, date, datetime

import pytest
from calls import identify, jan, join, page_view, track
from conftest import set_time_zone
from django.db import DatabaseError, connection, connections, transaction
from django.http import QueryDict
from django.utils import timezone

from analytics import event_store, reports
from analytics.deletion import delete_person
from analytics.group_types import remove_group_type
from analytics.models import GROUP_SLOTS, DailyActivity, DayTotal, Event, GroupDay, Person

COLUMNS = ["person_id", "day", "group_0", "group_1", "events", "first_at", "last_at"]


def rows(workspace):
    return sorted(DailyActivity.objects.filter(workspace=workspace).values_list(*COLUMNS))


def group_days(workspace):
    """The group days (``GroupDay``) present, and what the daily activity says they
    should be: for each slot, group and day, how many rows carry the group."""
    present = sorted(
        GroupDay.objects.filter(workspace=workspace, activity_rows__gt=0).values_list(
            "slot", "group_id", "day", "activity_rows"
        )
    )
    expected = Counter()
    for row in DailyActivity.objects.filter(workspace=workspace).values():
        for slot in range(GROUP_SLOTS):
            if row[f"group_{slot}"]:
                expected[(slot, row[f"group_{slot}"], row["day"])] += 1
    return present, sorted((*key, n) for key, n in expected.items())


def day_totals(workspace):
    """The day totals (``DayTotal``, summed over their shares) of the days with any, and
    what the events say they should be: each day's activity events, and those without a
    company (slot 0) and without a team (slot 1)."""
    present = defaultdict(Counter)
    for total in DayTotal.objects.filter(workspace=workspace):
        present[total.day].update(
            {"events": total.events, "without_0": total.without_0, "without_1": total.without_1}
        )
    expected = defaultdict(Counter)
    for event in Event.objects.filter(workspace=workspace).activity():
        expected[event.timestamp.astimezone(workspace.zone).date()].update(
            {"events": 1, "without_0": event.group_0_id is None, "without_1": event.group_1_id is None}
        )
    # The days whose events are all gone are left out (their totals all zero).
    return (
        sorted((day, dict(sums)) for day, sums in present.items() if any(sums.values())),
        sorted((day, dict(sums)) for day, sums in expected.items()),
    )


def assert_exact(workspace):
    """Daily activity is what the events say, and the group days and day totals what it
    says."""
    for derived in (group_days, day_totals):
        present, expected = derived(workspace)
        assert present == expected
    assert rows(workspace) == rebuilt(workspace)
    for derived in (group_days, day_totals):
        present, expected = derived(workspace)
        assert present == expected and present


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
    assert_exact(workspace)
    # A late call adds to its own past day.
    send.batch(track("ann", "feature_used", jan(5, 6)))
    ann = Person.objects.get(user_id="ann").pk
    assert DailyActivity.objects.get(person_id=ann, day=date(2026, 1, 5)).events == 2
    assert_exact(workspace)
    # The visitor turns out to be ann: their day adds up into hers.
    send.batch({"type": "identify", "userId": "ann", "anonymousId": "visitor-1", "timestamp": jan(5, 8)})
    acme = company.groups.get(key="acme").pk
    assert sorted(
        DailyActivity.objects.filter(person_id=ann, day=date(2026, 1, 5)).values_list("group_0", "events")
    ) == [(0, 1), (acme, 2)]  # the visitor's call named no company
    assert set(DailyActivity.objects.filter(day=date(2026, 1, 5)).values_list("person_id", flat=True)) == {ann}
    assert_exact(workspace)
    # Deleting the team type empties that place in bo's context.
    remove_group_type(team)
    assert_exact(workspace)
    assert not DailyActivity.objects.filter(workspace=workspace).exclude(group_1=0).exists()
    # A new time zone moves bo's late-evening page to the next day.
    set_time_zone(workspace, "Asia/Tokyo")
    bo = Person.objects.get(user_id="bo").pk
    assert {r.day for r in DailyActivity.objects.filter(person_id=bo)} == {date(2026, 1, 6), date(2026, 1, 7)}
    assert_exact(workspace)
    # A deleted person's rows go with their events.
    delete_person(Person.objects.get(user_id="bo"))
    assert not DailyActivity.objects.filter(person_id=bo).exists()
    assert_exact(workspace)
    # Group days of bo's companies fell to zero: they stay, and count for nothing.
    assert GroupDay.objects.filter(workspace=workspace, activity_rows=0).exists()


def test_a_workspace_with_activity_can_be_deleted(send, workspace):
    # Its days of activity and its day totals both go by the database's cascade, in
    # whichever order: the days gone after the totals take nothing off them.
    send.batch(join("ann", "acme", jan(1)), track("ann", "feature_used", jan(5, 9)), track("bo", "x", jan(6)))
    assert DayTotal.objects.filter(workspace=workspace).exists()
    workspace_id = workspace.pk
    workspace.delete()
    assert not DayTotal.objects.filter(workspace_id=workspace_id).exists()
    assert not DailyActivity.objects.filter(workspace_id=workspace_id).exists()


@pytest.mark.skipif(connection.vendor != "postgresql", reason="SQLite takes one writer at a time")
def test_transactions_writing_at_once_add_to_day_totals_of_their_own(transactional_db, send, workspace):
    """Each open transaction adds to a share of the day totals no other holds, so none
    waits on another's rows (nor deadlocks on them, whatever order it writes days in)."""
    send.batch(track("ann", "feature_used", jan(5, 9)), track("bo", "feature_used", jan(5, 10)))
    people = [Person.objects.get(user_id=user_id).pk for user_id in ("ann", "bo")]
    writers = [connections.create_connection("default") for _ in people]
    try:
        shares = []
        for writer, person in zip(writers, people):
            writer.set_autocommit(False)
            with writer.cursor() as cursor:
                cursor.execute(
                    "UPDATE analytics_dailyactivity SET events = events + 1 WHERE person_id = %s", [person]
                )
                cursor.execute("SELECT current_setting('groupsite.day_total_share')")
                shares.append(cursor.fetchone()[0])
        assert shares[0] != shares[1]
        for writer in writers:
            writer.commit()
    finally:
        for writer in writers:
            writer.close()
    assert day_totals(workspace)[0] == [(date(2026, 1, 5), {"events": 4, "without_0": 4, "without_1": 4})]


def test_a_days_group_context_cannot_change_under_its_group_days(send, workspace, company):
    """Group days follow rows added and deleted; the database refuses to change a row's
    context in place, which they would miss."""
    send.batch(track("ann", "feature_used", jan(5, 9), groups={"company": "acme"}))
    acme = company.groups.get(key="acme").pk
    with pytest.raises(DatabaseError, match="does not change"), transaction.atomic():
        DailyActivity.objects.filter(workspace=workspace).update(group_0=acme + 1)
    DailyActivity.objects.filter(workspace=workspace).update(events=5)  # the rest may change
    assert list(GroupDay.objects.values_list("group_id", "activity_rows")) == [(acme, 1)]


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
    # The groups' figures alone (the card of /groups) are the same, without the users.
    groups_only = reports.active_counts(workspace, company, (1, 3), users=False)
    assert [(w.strict, w.overcount, w.events, w.events_without_group) for w in groups_only] == [
        (0, 2, 1, 1),
        (1, 3, 6, 5),
    ]
    assert [w.users for w in windows] == [1, 1] and [w.users for w in groups_only] == [None, None]


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


@pytest.mark.parametrize("internal", ["exclude", "include"])
def test_a_group_active_only_through_internal_people_counts_only_with_them(
    send, workspace, company, internal, monkeypatch
):
    """Group days count every person's rows; left out, internal people's rows are taken
    off: acme is active on the 5th through dee (staff) alone, on the 6th through ann too."""
    workspace.internal_domains = ["staff.dev"]
    workspace.save()
    send.batch(
        identify("dee", email="dee@staff.dev", at=jan(1)),
        identify("ann", email="ann@acme.io", at=jan(1)),
        join("dee", "acme", jan(1)),
        join("dee", "beta", jan(1)),
        track("dee", "feature_used", jan(5, 9), groups={"company": "acme"}),
        track("dee", "feature_used", jan(6, 9), groups={"company": "acme"}),
        track("ann", "feature_used", jan(6, 10), groups={"company": "acme"}),
        track("dee", "feature_used", jan(7, 9)),  # no company: over-counted for acme and beta
        track("ann", "feature_used", jan(12, 9), groups={"company": "acme"}),
    )
    asked = {"type": "company", "internal": internal, "from": "2026-01-05", "to": "2026-01-13"}
    expected = {
        "exclude": {"day": ([0, 1, 0, 0, 0, 0, 0, 1, 0], [0, 1, 0, 0, 0, 0, 0, 1, 0]), "week": ([1, 1], [1, 1])},
        "include": {"day": ([1, 1, 0, 0, 0, 0, 0, 1, 0], [1, 1, 2, 0, 0, 0, 0, 1, 0]), "week": ([1, 1], [2, 1])},
    }[internal]
    for interval in ("day", "week"):
        days = reports.active_groups(workspace, ask("active_groups", workspace, interval=interval, **asked))
        events = reports.active_groups(
            workspace, ask("active_groups", workspace, interval=interval, from_events=True, **asked)
        )
        assert (days.strict, days.overcount) == expected[interval]
        assert (events.strict, events.overcount) == expected[interval]
        trend = {"event": "", "count_by": "company", "interval": interval, **asked}
        del trend["type"]
        days = reports.trends(workspace, ask("trend", workspace, **trend))
        assert days.series[0].values == expected[interval][0]
        assert days.series[0].total == 1
    monkeypatch.setattr(timezone, "now", lambda: datetime(2026, 1, 7, 18, tzinfo=UTC))
    if internal == "exclude":  # as the overview counts, leaving internal people out
        windows = reports.active_counts(workspace, company, (1, 3))
        assert [(w.strict, w.overcount) for w in windows] == [(0, 0), (1, 1)]
