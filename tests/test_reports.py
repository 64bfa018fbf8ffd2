"""Reports on small datasets whose answers are worked out by hand, counted by users, by
companies and by events, on whichever database the suite runs on.

The main dataset (January 2026, UTC unless a test sets a time zone):

- ann (acme.io): feature_used on the 5th at 08:00, before she joins acme at 10:00 (so
  that event has no company), then on the 5th at 11:00 and the 6th (acme, inferred);
- bo (beta.io): in beta; feature_used on the 5th and the 7th (beta);
- cy: in acme and beta; feature_used on the 6th with no company (two to choose from) and
  on the 7th naming acme;
- dee (staff.dev, internal): in acme; feature_used on the 6th (acme);
- eve: in no company; feature_used and a page view on the 7th.
"""

from datetime import UTC, date, datetime

import pytest
from calls import identify, in_2026, jan, join, page_view, track
from django.http import QueryDict

from analytics import reports
from analytics.deletion import delete_person
from analytics.models import Group, Person
from analytics.reports import ReportError


def query(kind, workspace, **params):
    data = QueryDict(mutable=True)
    for name, value in params.items():
        for one in value if isinstance(value, list) else [value]:
            data.appendlist(name, str(one))
    return getattr(reports, f"{kind}_from_params")(workspace, data)


def first_week(kind, workspace, **params):
    return query(kind, workspace, **{"from": "2026-01-05", "to": "2026-01-07", **params})


def activity_calls():
    """The calls of the main dataset (see above)."""
    return [
        identify("ann", email="ann@acme.io", at=jan(1)),
        identify("bo", email="bo@beta.io", at=jan(1)),
        identify("cy", email="cy@gmail.com", at=jan(1)),
        identify("dee", email="dee@staff.dev", at=jan(1)),
        identify("eve", email="eve@example.com", at=jan(1)),
        track("ann", "feature_used", jan(5, 8)),
        join("ann", "acme", jan(5, 10)),
        track("ann", "feature_used", jan(5, 11)),
        track("ann", "feature_used", jan(6)),
        join("bo", "beta", jan(5, 9)),
        track("bo", "feature_used", jan(5)),
        track("bo", "feature_used", jan(7)),
        join("cy", "acme", jan(4)),
        join("cy", "beta", jan(4)),
        track("cy", "feature_used", jan(6)),
        track("cy", "feature_used", jan(7), groups={"company": "acme"}),
        join("dee", "acme", jan(4)),
        track("dee", "feature_used", jan(6, 13)),
        track("eve", "feature_used", jan(7)),
        page_view("eve", "Pricing", jan(7, 13)),
    ]


@pytest.fixture
def activity(send, workspace, company):
    workspace.internal_domains = ["staff.dev"]
    workspace.save()
    response = send.batch(*activity_calls())
    assert response.status_code == 200, response.content


def funnel_calls():
    """A funnel signed_up → project_created → invite_sent in January. Users: 5 started
    (ann, bo, cy, gil, hal), 3 reached step 2, ann converted in 3 days. Companies: acme,
    beta, gamma, delta started, all four reached step 2, acme (3 days) and delta (2: hal
    and ida together) converted."""
    return [
        join("ann", "acme", jan(1)),
        join("cy", "acme", jan(1)),
        join("bo", "beta", jan(1)),
        join("gil", "gamma", jan(1)),
        join("hal", "delta", jan(1)),
        join("ida", "delta", jan(1)),
        # ann converts in 3 days; cy created a project before signing up.
        track("cy", "project_created", jan(5, 8)),
        track("ann", "signed_up", jan(5)),
        track("ann", "project_created", jan(6)),
        track("cy", "signed_up", jan(6, 15)),
        track("ann", "invite_sent", jan(8)),
        # bo invites before creating a project: step 2 only.
        track("bo", "signed_up", jan(5)),
        track("bo", "invite_sent", jan(6)),
        track("bo", "project_created", jan(7)),
        # gil's first chance runs out of time; his second signup reaches step 2.
        track("gil", "signed_up", jan(5)),
        track("gil", "signed_up", jan(20)),
        track("gil", "project_created", jan(25)),
        # delta converts together: hal signs up and invites, ida creates the project.
        track("hal", "signed_up", jan(10)),
        track("ida", "project_created", jan(11)),
        track("hal", "invite_sent", jan(12)),
    ]


def values(result):
    return [series.values for series in result.series]


@pytest.mark.both_stores
def test_a_trend_counts_distinct_users_per_day_without_internal_people(activity, workspace):
    result = reports.trends(workspace, first_week("trend", workspace, event="feature_used"))
    assert result.dates == [date(2026, 1, 5), date(2026, 1, 6), date(2026, 1, 7)]
    assert values(result) == [[2, 2, 3]]
    assert result.series[0].total == 4  # ann, bo, cy, eve: distinct over the period
    assert result.series[0].label == "feature_used"


@pytest.mark.both_stores
def test_internal_people_count_once_the_switch_includes_them(activity, workspace):
    result = reports.trends(
        workspace, first_week("trend", workspace, event="feature_used", internal="include")
    )
    assert values(result) == [[2, 3, 3]]


@pytest.mark.both_stores
def test_internal_people_are_included_by_default_when_no_domain_is_set(activity, workspace):
    workspace.internal_domains = []
    workspace.save()
    trend = first_week("trend", workspace, event="feature_used")
    assert not trend.exclude_internal
    assert values(reports.trends(workspace, trend)) == [[2, 3, 3]]


@pytest.mark.both_stores
def test_a_trend_by_company_counts_only_events_with_a_company(activity, workspace):
    result = reports.trends(
        workspace, first_week("trend", workspace, event="feature_used", count_by="company")
    )
    # 5th: acme (ann at 11:00; not her 08:00 event), beta. 6th: acme only (cy's event
    # has none, dee is internal). 7th: beta, acme (cy named it); eve has none.
    assert values(result) == [[2, 1, 2]]
    assert result.series[0].total == 2


@pytest.mark.both_stores
def test_a_trend_of_events_counts_every_call(activity, workspace):
    result = reports.trends(
        workspace, first_week("trend", workspace, event="feature_used", count_by="events")
    )
    assert values(result) == [[3, 2, 3]]


@pytest.mark.both_stores
def test_any_event_and_page_views_are_series_of_their_own(activity, workspace):
    result = reports.trends(
        workspace, first_week("trend", workspace, event=["", "$page"], count_by="events")
    )
    assert [s.label for s in result.series] == ["Any event", "Page viewed"]
    assert values(result) == [[3, 2, 4], [0, 0, 1]]


@pytest.mark.both_stores
def test_weeks_start_on_monday_and_months_on_the_first(activity, workspace):
    weekly = reports.trends(
        workspace,
        query("trend", workspace, event="feature_used", interval="week", **{"from": "2026-01-01", "to": "2026-01-14"}),
    )
    assert weekly.dates == [date(2025, 12, 29), date(2026, 1, 5), date(2026, 1, 12)]
    assert values(weekly) == [[0, 4, 0]]
    monthly = reports.trends(
        workspace,
        query("trend", workspace, event="feature_used", interval="month", **{"from": "2025-12-15", "to": "2026-01-31"}),
    )
    assert monthly.dates == [date(2025, 12, 1), date(2026, 1, 1)]
    assert values(monthly) == [[0, 4]]


@pytest.mark.both_stores
def test_days_are_cut_at_midnight_in_the_workspace_time_zone(send, workspace):
    send.batch(track("ann", "late", datetime(2026, 1, 5, 23, 30, tzinfo=UTC).isoformat()))
    in_utc = reports.trends(workspace, first_week("trend", workspace, event="late"))
    assert values(in_utc) == [[1, 0, 0]]
    workspace.time_zone = "Europe/Paris"  # 00:30 on the 6th there
    workspace.save()
    in_paris = reports.trends(workspace, first_week("trend", workspace, event="late"))
    assert values(in_paris) == [[0, 1, 0]]


@pytest.mark.both_stores
def test_a_late_event_shows_up_in_the_past_day_it_belongs_to(activity, workspace, send):
    before = reports.trends(workspace, first_week("trend", workspace, event="feature_used"))
    send.batch(track("eve", "feature_used", jan(5, 15)))
    after = reports.trends(workspace, first_week("trend", workspace, event="feature_used"))
    assert values(before) == [[2, 2, 3]] and values(after) == [[3, 2, 3]]


@pytest.mark.both_stores
def test_a_deleted_user_disappears_from_every_report_at_once(activity, workspace):
    delete_person(Person.objects.get(user_id="bo"))
    trend = reports.trends(workspace, first_week("trend", workspace, event="feature_used"))
    assert values(trend) == [[1, 2, 2]]
    by_company = reports.trends(
        workspace, first_week("trend", workspace, event="feature_used", count_by="company")
    )
    assert values(by_company) == [[1, 1, 1]]
    active = reports.active_groups(workspace, first_week("active_groups", workspace))
    assert active.strict == [1, 1, 1]


@pytest.mark.both_stores
def test_filters_on_event_properties_person_traits_and_group_properties(send, workspace, company):
    send.batch(
        identify("ann", email="ann@acme.io", at=jan(1)),
        identify("bo", email="bo@beta.io", at=jan(1)),
        join("ann", "acme", jan(4), traits={"plan": "pro", "seats": 12}),
        join("bo", "beta", jan(4), traits={"plan": "free", "seats": 3}),
        track("ann", "export", jan(5), properties={"format": "csv", "rows": 120}),
        track("ann", "export", jan(6), properties={"format": "pdf", "rows": 8}),
        track("bo", "export", jan(6), properties={"format": "CSV file", "rows": "many"}),
        track("bo", "export", jan(7), properties={}),
    )

    def counted(*conditions):
        params = {"event": "export", "count_by": "events", "where": [], "key": [], "op": [], "value": []}
        for on, key, op, value in conditions:
            for name, part in zip(("where", "key", "op", "value"), (on, key, op, value)):
                params[name].append(part)
        return values(reports.trends(workspace, first_week("trend", workspace, **params)))[0]

    assert counted(("event", "format", "eq", "csv")) == [1, 0, 0]
    assert counted(("event", "format", "neq", "csv")) == [0, 2, 1]  # not set counts too
    assert counted(("event", "format", "contains", "csv")) == [1, 1, 0]  # any case
    assert counted(("event", "format", "set", "")) == [1, 2, 0]
    assert counted(("event", "format", "not_set", "")) == [0, 0, 1]
    assert counted(("event", "rows", "gt", "10")) == [1, 0, 0]  # "many" is no number
    assert counted(("event", "rows", "lt", "10")) == [0, 1, 0]
    assert counted(("event", "rows", "eq", "120")) == [1, 0, 0]
    assert counted(("person", "email", "contains", "@beta.io")) == [0, 1, 1]
    assert counted(("company", "plan", "eq", "pro")) == [1, 1, 0]
    assert counted(("company", "seats", "lt", "5")) == [0, 1, 1]
    assert counted(("company", "plan", "eq", "pro"), ("event", "format", "eq", "pdf")) == [0, 1, 0]


@pytest.mark.both_stores
def test_a_breakdown_shows_the_top_values_then_other(send, workspace):
    calls = [
        track(f"u{n}", "export", jan(5), properties={"format": fmt})
        for n, fmt in enumerate(["csv"] * 3 + ["pdf"] * 2 + [f"f{i}" for i in range(10)] + [None])
    ]
    send.batch(*calls)
    result = reports.trends(
        workspace,
        first_week("trend", workspace, event="export", breakdown="format", breakdown_on="event"),
    )
    labels = [s.label for s in result.series]
    # Top 10 by users (csv 3, pdf 2, then eight of the ones with 1, by value), then Other.
    assert labels[:2] == ["csv", "pdf"] and labels[-1] == "Other" and len(labels) == 11
    assert [s.values[0] for s in result.series][:2] == [3, 2]
    shown = sum(s.values[0] for s in result.series)
    assert shown == 16  # every user once: 3 + 2 + 8 + Other (two of f8, f9, (none))
    assert result.series[-1].values[0] == 3 and result.series[-1].is_other


@pytest.mark.both_stores
def test_compare_to_the_previous_period(send, workspace):
    send.batch(
        track("a", "login", jan(2)),
        track("b", "login", jan(3)),
        track("c", "login", jan(3)),
        track("a", "login", jan(6)),
    )
    result = reports.trends(workspace, first_week("trend", workspace, event="login", compare="1"))
    assert result.previous_dates == [date(2026, 1, 2), date(2026, 1, 3), date(2026, 1, 4)]
    assert values(result) == [[0, 1, 0]]
    assert [s.values for s in result.previous] == [[1, 2, 0]]


@pytest.mark.both_stores
def test_behind_a_trend_point_are_the_people_it_counts(activity, workspace):
    trend = first_week("trend", workspace, event="feature_used")
    ids = reports.trend_actors(workspace, trend, series=0, day=date(2026, 1, 7))
    assert set(Person.objects.filter(pk__in=ids).values_list("user_id", flat=True)) == {"bo", "cy", "eve"}
    by_company = first_week("trend", workspace, event="feature_used", count_by="company")
    ids = reports.trend_actors(workspace, by_company, series=0, day=date(2026, 1, 6))
    assert set(Group.objects.filter(pk__in=ids).values_list("key", flat=True)) == {"acme"}


@pytest.mark.both_stores
def test_active_companies_strict_beside_the_over_count(activity, workspace):
    result = reports.active_groups(workspace, first_week("active_groups", workspace, type="company"))
    assert result.strict == [2, 1, 2]
    # On the 6th cy's event named no company: over-counted, both of cy's companies count.
    assert result.overcount == [2, 2, 2]
    # Nine activity events without dee's; ann's first, cy's on the 6th, eve's two: none.
    assert (result.events, result.events_without_group) == (9, 4)
    strict = reports.active_group_actors(workspace, first_week("active_groups", workspace), day=date(2026, 1, 6))
    over = reports.active_group_actors(
        workspace, first_week("active_groups", workspace), day=date(2026, 1, 6), overcount=True
    )
    keys = dict(Group.objects.values_list("pk", "key"))
    assert {keys[pk] for pk in strict} == {"acme"} and {keys[pk] for pk in over} == {"acme", "beta"}


@pytest.mark.both_stores
def test_the_over_count_credits_only_groups_the_person_was_in_at_the_time(send, workspace, company):
    send.batch(
        join("fay", "acme", jan(1)),
        join("fay", "beta", jan(1)),
        join("fay", "gamma", jan(1)),
        track("fay", "Account Removed User", jan(6), groups={"company": "gamma"}),
        track("fay", "feature_used", jan(5)),  # in three companies then
        track("fay", "feature_used", jan(7)),  # in two
    )
    result = reports.active_groups(workspace, first_week("active_groups", workspace, type="company"))
    assert result.strict == [0, 1, 0]  # the leaving call carries gamma
    assert result.overcount == [3, 1, 2]


@pytest.mark.both_stores
def test_a_funnel_by_users_and_by_company(send, workspace, company):
    send.batch(*funnel_calls())
    steps = ["signed_up", "project_created", "invite_sent"]
    params = {"step": steps, "from": "2026-01-01", "to": "2026-01-31"}
    users = reports.funnel(workspace, query("funnel", workspace, **params))
    assert [s.count for s in users.steps] == [5, 3, 1]
    assert users.median_seconds_to_convert == 3 * 86400
    companies = reports.funnel(workspace, query("funnel", workspace, count_by="company", **params))
    assert [s.count for s in companies.steps] == [4, 4, 2]
    assert companies.median_seconds_to_convert == 2.5 * 86400  # acme 3 days, delta 2
    short = reports.funnel(workspace, query("funnel", workspace, window=1, **params))
    assert [s.count for s in short.steps] == [5, 1, 0]  # ann's project came exactly a day later
    dropped = reports.funnel_actors(workspace, query("funnel", workspace, **params), step=3, dropped=True)
    assert set(Person.objects.filter(pk__in=dropped).values_list("user_id", flat=True)) == {"bo", "gil"}


@pytest.mark.both_stores
def test_a_funnel_takes_events_of_the_same_moment_in_the_order_they_came(send, workspace):
    """Events of one moment count in the order they were sent (their ids): ann signs up
    and then creates a project in the same instant, which is the funnel's order; bo does
    the two the other way round. One event is never two steps: cy logs in twice in one
    instant, dee once."""
    send.batch(
        track("ann", "signed_up", jan(5)),
        track("ann", "project_created", jan(5)),
        track("bo", "project_created", jan(5)),
        track("bo", "signed_up", jan(5)),
        track("cy", "login", jan(6)),
        track("cy", "login", jan(6)),
        track("dee", "login", jan(6)),
    )
    period = {"from": "2026-01-01", "to": "2026-01-31"}
    funnel = query("funnel", workspace, step=["signed_up", "project_created"], **period)
    result = reports.funnel(workspace, funnel)
    assert [s.count for s in result.steps] == [2, 1]
    assert result.median_seconds_to_convert == 0
    reached = reports.funnel_actors(workspace, funnel, step=2)
    assert list(Person.objects.filter(pk__in=reached).values_list("user_id", flat=True)) == ["ann"]
    logins = reports.funnel(workspace, query("funnel", workspace, step=["login", "login"], **period))
    assert [s.count for s in logins.steps] == [2, 1]


@pytest.mark.both_stores
def test_a_funnel_of_ten_steps_counts_each_step(send, workspace):
    """The longest funnel allowed: every backend runs it (SQLite's parser once overflowed
    on ten nested steps). ann does all ten in order, bo the first four, cy the first
    and then the rest out of order."""
    names = [f"step_{i}" for i in range(1, 11)]
    send.batch(
        *(track("ann", name, jan(5, 8 + i)) for i, name in enumerate(names)),
        *(track("bo", name, jan(5, 8 + i)) for i, name in enumerate(names[:4])),
        track("cy", names[0], jan(5, 8)),
        *(track("cy", name, jan(4, 8 + i)) for i, name in enumerate(names[1:])),
    )
    params = {"step": names, "from": "2026-01-01", "to": "2026-01-31"}
    result = reports.funnel(workspace, query("funnel", workspace, **params))
    assert [s.count for s in result.steps] == [3, 2, 2, 2, 1, 1, 1, 1, 1, 1]
    assert result.median_seconds_to_convert == 9 * 3600


@pytest.mark.both_stores
def test_retention_by_week_for_users_and_companies(send, workspace, company):
    send.batch(
        join("ann", "acme", datetime(2025, 12, 1, tzinfo=UTC).isoformat()),
        join("bo", "acme", datetime(2025, 12, 1, tzinfo=UTC).isoformat()),
        join("cy", "beta", datetime(2025, 12, 1, tzinfo=UTC).isoformat()),
        track("ann", "signed_up", jan(5)),
        track("ann", "login", jan(13)),
        track("ann", "login", jan(27)),
        track("bo", "signed_up", jan(7)),
        track("bo", "login", jan(20)),
        track("cy", "signed_up", jan(14)),
        track("cy", "login", jan(15)),  # the same week: not a return
        track("cy", "login", jan(19)),
        # dee signed up before the period: in no cohort of it.
        track("dee", "signed_up", datetime(2025, 12, 29, 12, tzinfo=UTC).isoformat()),
        track("dee", "signed_up", jan(6)),
        track("dee", "login", jan(13)),
    )
    params = {"start_event": "signed_up", "periods": 3, "from": "2026-01-05", "to": "2026-01-18"}
    users = reports.retention(workspace, query("retention", workspace, **params))
    assert [(c.start, c.size, c.returned) for c in users.cohorts] == [
        (date(2026, 1, 5), 2, [1, 1, 1]),
        (date(2026, 1, 12), 1, [1, 0, 0]),
    ]
    companies = reports.retention(workspace, query("retention", workspace, count_by="company", **params))
    assert [(c.start, c.size, c.returned) for c in companies.cohorts] == [
        (date(2026, 1, 5), 1, [1, 1, 1]),
        (date(2026, 1, 12), 1, [1, 0, 0]),
    ]
    back = reports.retention_actors(
        workspace, query("retention", workspace, **params), cohort=date(2026, 1, 5), period=2
    )
    assert set(Person.objects.filter(pk__in=back).values_list("user_id", flat=True)) == {"bo"}
    # Each cohort's people: those whose first signed_up fell in its week, no one else's.
    for monday, expected in [(date(2026, 1, 5), {"ann", "bo"}), (date(2026, 1, 12), {"cy"})]:
        cohort = reports.retention_actors(
            workspace, query("retention", workspace, **params), cohort=monday, period=0
        )
        assert set(Person.objects.filter(pk__in=cohort).values_list("user_id", flat=True)) == expected


@pytest.mark.both_stores
def test_retention_of_companies_active_in_any_way_by_month_and_by_day(send, workspace, company):
    """Companies' first days and returns of any activity, by month, and by day over more
    buckets (72) than one 64-bit word of them holds."""

    def day(month, d):
        return in_2026(month, d, 12, 0)

    send.batch(
        *(join(user, key, datetime(2025, 12, 1, tzinfo=UTC).isoformat())
          for user, key in [("ann", "acme"), ("bo", "beta"), ("cy", "gamma"), ("dan", "delta")]),
        track("bo", "login", datetime(2025, 12, 20, tzinfo=UTC).isoformat()),  # beta: before the period
        track("bo", "login", day(2, 1)),
        track("ann", "login", day(1, 10)),  # acme: January
        track("ann", "login", day(2, 3)),
        track("ann", "login", day(4, 2)),  # the third month after: beyond 2 periods
        track("cy", "login", day(2, 14)),  # gamma: February
        track("cy", "login", day(2, 20)),  # the same month: not a return
        track("cy", "login", day(3, 5)),
        track("cy", "login", day(3, 6)),
        track("cy", "login", day(3, 8)),
        track("dan", "login", day(3, 3)),  # delta: day 61 from Jan 1, back on 62 and 63 (a second word)
        track("dan", "login", day(3, 4)),
        track("dan", "login", day(3, 5)),
    )
    months = query(
        "retention", workspace, count_by="company", interval="month", periods=2,
        **{"from": "2026-01-01", "to": "2026-03-31"},
    )
    assert [(c.start, c.size, c.returned) for c in reports.retention(workspace, months).cohorts] == [
        (date(2026, 1, 1), 1, [1, 0]),  # acme: back in February, not in March
        (date(2026, 2, 1), 1, [1, 0]),  # gamma: back in March, not in April
        (date(2026, 3, 1), 1, [0, 0]),  # delta
    ]
    days = query(
        "retention", workspace, count_by="company", interval="day", periods=3,
        **{"from": "2026-01-01", "to": "2026-03-10"},
    )
    cohorts = {c.start: (c.size, c.returned) for c in reports.retention(workspace, days).cohorts}
    assert len(cohorts) == 69 and sum(size for size, _ in cohorts.values()) == 3
    assert cohorts[date(2026, 1, 10)] == (1, [0, 0, 0])  # acme
    assert cohorts[date(2026, 2, 14)] == (1, [0, 0, 0])  # gamma
    assert cohorts[date(2026, 3, 3)] == (1, [1, 1, 0])  # delta, across the words' boundary
    back = reports.retention_actors(workspace, days, cohort=date(2026, 3, 3), period=2)
    assert list(Group.objects.filter(pk__in=back).values_list("key", flat=True)) == ["delta"]
    assert reports.retention_actors(workspace, days, cohort=date(2026, 3, 3), period=3) == []


@pytest.mark.both_stores
@pytest.mark.parametrize("count_by, start_event", [("users", ""), ("company", "login")])
def test_retention_by_day_over_the_longest_range(send, workspace, company, count_by, start_event):
    """A daily retention over the longest period a report covers: more cohorts (1,098)
    than a database may take as terms of one compound query (SQLite: 500)."""
    send.batch(
        join("ann", "acme", jan(1)),
        track("ann", "login", jan(2)),
        track("ann", "login", jan(3)),
        track("ann", "login", jan(5)),
    )
    params = {"start_event": start_event, "interval": "day", "periods": 3}
    longest = query(
        "retention", workspace, count_by=count_by, **params, **{"from": "2023-01-05", "to": "2026-01-06"}
    )
    cohorts = {c.start: (c.size, c.returned) for c in reports.retention(workspace, longest).cohorts}
    assert len(cohorts) == 1098
    assert cohorts[date(2026, 1, 2)] == (1, [1, 0, 1])
    assert sum(size for size, _ in cohorts.values()) == 1
    back = reports.retention_actors(workspace, longest, cohort=date(2026, 1, 2), period=3)
    assert len(back) == 1


@pytest.mark.both_stores
def test_the_last_cohort_counts_its_last_period(send, workspace):
    send.batch(track("ann", "signed_up", jan(5)), track("ann", "login", jan(7)))
    params = {"start_event": "signed_up", "return_event": "login", "interval": "day", "periods": 2}
    result = reports.retention(
        workspace, query("retention", workspace, **params, **{"from": "2026-01-05", "to": "2026-01-05"})
    )
    assert [(c.start, c.size, c.returned) for c in result.cohorts] == [(date(2026, 1, 5), 1, [0, 1])]


@pytest.mark.parametrize(
    "kind, params, message",
    [
        ("trend", {"interval": "hour"}, "interval must be one of day, week, month; not “hour”."),
        ("trend", {"range": "custom"}, "from is needed with a custom range"),
        ("trend", {"from": "2026-02-30"}, "from must be a date such as 2026-01-31; not “2026-02-30”."),
        ("trend", {"from": "2026-01-09", "to": "2026-01-02"}, "to (2026-01-02) is before from (2026-01-09)."),
        ("trend", {"count_by": "project"}, "count_by: this workspace has no group type “project”"),
        ("trend", {"where": "event", "key": "plan", "op": "eq"}, "Each filter needs where, key, op and value"),
        ("trend", {"where": "event", "key": "n", "op": "gt", "value": "ten"}, "compares numbers; “ten” is not one."),
        ("trend", {"from": "2020-01-01", "to": "2026-01-01"}, "A report covers at most"),
        (
            "trend",
            {"where": ["event"] * 21, "key": ["plan"] * 21, "op": ["set"] * 21, "value": [""] * 21},
            "A report has at most 20 filters; 21 were given.",
        ),
        ("trend", {"from": "1999-12-31"}, "from must be between 2000-01-01 and 2999-12-31; not 1999-12-31."),
        ("trend", {"from": "2026-01-01", "to": "9999-12-31"}, "to must be between 2000-01-01 and 2999-12-31"),
        ("trend", {"cohort": "²"}, "cohort must be a saved cohort's number; not “²”."),
        ("funnel", {"step": "signed_up"}, "A funnel has 2 to 10 steps; 1 were given."),
        ("funnel", {"steps": "a,b", "window": "0"}, "window must be between 1 and 180; not 0."),
        ("funnel", {"steps": "a,b", "count_by": "events"}, "count_by=events is for Trends"),
        ("retention", {"periods": "x"}, "periods must be a whole number; not “x”."),
    ],
)
def test_parameters_that_make_no_report_say_why(workspace, company, team, kind, params, message):
    with pytest.raises(ReportError, match=message.replace("(", r"\(").replace(")", r"\)")):
        query(kind, workspace, **params)


def test_a_query_writes_back_the_parameters_it_was_read_from(workspace, company):
    params = {
        "event": ["signed_up", "$page"],
        "interval": "week",
        "range": "custom",
        "from": "2026-01-01",
        "to": "2026-02-01",
        "count_by": "company",
        "where": "event",
        "key": "plan",
        "op": "eq",
        "value": "pro",
        "internal": "include",
        "compare": "1",
    }
    trend = query("trend", workspace, **params)
    again = query("trend", workspace, **{k: [v for n, v in trend.to_params() if n == k] for k in dict(trend.to_params())})
    assert again == trend


def test_pickers_list_the_events_seen_track_names_first(send, workspace, other_workspace, charlie_send):
    assert reports.event_names(workspace) == []
    send.batch(
        track("ann", "signed_up", jan(5)),
        track("ann", "Added to cart", jan(5)),
        page_view("ann", "Pricing", jan(5)),
        identify("ann", at=jan(5), plan="pro"),
        track("bo", "signed_up", jan(6)),
    )
    charlie_send.batch(track("zed", "theirs", jan(5)))
    assert reports.event_names(workspace) == ["Added to cart", "signed_up", "$page"]
    delete_person(Person.objects.get(user_id="ann"))
    # Seen once, listed still: a picker may offer an event with no count left.
    assert reports.event_names(workspace) == ["Added to cart", "signed_up", "$page"]
