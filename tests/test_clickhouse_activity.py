"""Active groups strictly beside the over-count, the events a report left out, the top
events and the events sent most, on small datasets worked out by hand, from either
event store: the main database reads its days of activity (or the events, with a
filter), ClickHouse its group days, the events and the memberships in the main database, and
both give the same answers.

January 2026, UTC unless a test sets a time zone; the 5th is a Monday.
"""

from datetime import date, timedelta

import pytest
from calls import identify, jan, join, page_view, track, track_in
from django.utils import timezone
from test_reports_cohorts import query

from analytics import reports
from analytics.models import Cohort, Condition, Group, Membership, Person

pytestmark = pytest.mark.both_stores


def active(workspace, **params):
    result = reports.active_groups(workspace, query("active_groups", workspace, type="company", **params))
    return result.strict, result.overcount, (result.events, result.events_without_group)


def jan_day(day):
    return date(2026, 1, day)


def keys(ids):
    return set(Group.objects.filter(pk__in=ids).values_list("key", flat=True))


FROM_APP = {"where": "event", "key": "src", "op": "eq", "value": "app"}


@pytest.fixture
def fay_moves(send, company):
    """fay is in acme, beta and gamma from 1 January; she leaves gamma on the 6th at noon
    and joins delta on the 7th at noon. Her feature_used calls (from the app) name no
    company: on the 5th, at the very moment she leaves gamma, and at the very moment she
    joins delta."""
    send.batch(
        join("fay", "acme", jan(1)),
        join("fay", "beta", jan(1)),
        join("fay", "gamma", jan(1)),
        track("fay", "feature_used", jan(5), properties={"src": "app"}),
        track("fay", "Account Removed User", jan(6), groups={"company": "gamma"}),
        track("fay", "feature_used", jan(6), properties={"src": "app"}),
        join("fay", "delta", jan(7)),
        track("fay", "feature_used", jan(7), properties={"src": "app"}),
    )


def test_a_membership_credits_from_its_first_moment_to_before_its_end(fay_moves, workspace):
    # The leaving call is left out by the filter: gamma is not active on the 6th at all,
    # and delta is, from the moment fay joined it.
    assert active(workspace, **FROM_APP) == ([0, 0, 0], [3, 2, 3], (3, 3))
    day = query("active_groups", workspace, type="company", **FROM_APP)
    assert keys(reports.active_group_actors(workspace, day, day=jan_day(6), overcount=True)) == {"acme", "beta"}
    assert keys(reports.active_group_actors(workspace, day, day=jan_day(7), overcount=True)) == {
        "acme", "beta", "delta"
    }
    assert list(reports.active_group_actors(workspace, day, day=jan_day(6))) == []


def test_a_membership_begun_during_a_day_credits_only_the_events_after_it(send, workspace, company):
    """ann and bo are in beta and delta since the 1st. ann joins acme at noon on the 6th;
    her calls (naming no company: she is in several) are at 9:00 and 15:00 that day
    (ClickHouse: her day's first and last moment do not tell, its events do). bo joins
    gamma at noon on the 6th, after his only call."""
    send.batch(
        *(join(user, key, jan(1)) for user in ("ann", "bo") for key in ("beta", "delta")),
        join("ann", "acme", jan(6, 12)), join("bo", "gamma", jan(6, 12)),
        track("ann", "feature_used", jan(6, 9)), track("ann", "feature_used", jan(6, 15)),
        track("bo", "feature_used", jan(6, 11)),
    )
    assert active(workspace) == ([0, 0, 0], [0, 3, 0], (3, 3))
    day = query("active_groups", workspace, type="company")
    assert keys(reports.active_group_actors(workspace, day, day=jan_day(6), overcount=True)) == {
        "acme", "beta", "delta"
    }


def test_a_membership_of_an_hour_credits_only_the_events_in_it(send, workspace, company):
    """bo and dee, in beta and delta since the 1st, were in gamma from 10:00 to 11:00 on
    the 6th (written as such: ingestion ends a membership with a call in its group, which
    makes the group active of its own anyway). bo's calls naming no company are at 9:00
    and 12:00: gamma is credited with neither; dee's at 9:00 and 10:30: with the second.
    On the 7th, only bo's call at 9:00 (gamma is not his then)."""
    send.batch(
        *(join(user, key, jan(1)) for user in ("bo", "dee") for key in ("beta", "delta")),
        join("cy", "gamma", jan(1)),
    )
    for user in ("bo", "dee"):
        Membership.objects.create(
            workspace=workspace, person=Person.objects.get(user_id=user), group=Group.objects.get(key="gamma"),
            group_type=company, started_at=jan(6, 10), ended_at=jan(6, 11),
        )
    send.batch(
        track("bo", "feature_used", jan(6, 9)), track("bo", "feature_used", jan(6, 12)),
        track("bo", "feature_used", jan(7, 9)),
    )
    day = query("active_groups", workspace, type="company")
    assert active(workspace) == ([0, 0, 0], [0, 2, 2], (3, 3))
    assert keys(reports.active_group_actors(workspace, day, day=jan_day(6), overcount=True)) == {"beta", "delta"}
    send.batch(track("dee", "feature_used", jan(6, 9)), track("dee", "feature_used", jan(6, 10, 30)))
    assert active(workspace) == ([0, 0, 0], [0, 3, 2], (5, 5))
    assert keys(reports.active_group_actors(workspace, day, day=jan_day(6), overcount=True)) == {
        "beta", "delta", "gamma"
    }


def test_the_leaving_call_makes_its_group_active_of_its_own(fay_moves, workspace):
    assert active(workspace) == ([0, 1, 0], [3, 3, 3], (4, 3))
    day = query("active_groups", workspace, type="company")
    assert keys(reports.active_group_actors(workspace, day, day=jan_day(6))) == {"gamma"}


def test_internal_people_are_credited_to_no_group_unless_included(send, workspace, company):
    workspace.internal_domains = ["staff.dev"]
    workspace.save()
    send.batch(
        identify("dee", email="dee@staff.dev", at=jan(1)),
        identify("ann", email="ann@acme.io", at=jan(1)),
        join("dee", "acme", jan(1)),
        join("dee", "beta", jan(1)),
        join("ann", "acme", jan(1)),
        track("dee", "feature_used", jan(5)),  # two companies: none named
        track("ann", "feature_used", jan(6)),  # acme, her only one
    )
    assert active(workspace) == ([0, 1, 0], [0, 1, 0], (1, 0))
    assert active(workspace, internal="include") == ([0, 1, 0], [2, 1, 0], (2, 1))


@pytest.fixture
def staff_around_ann(send, workspace, company):
    """dee and eve are staff, with the least and the greatest id in acme (ClickHouse
    reads its group days' extremes before their people): acme has dee, ann and eve on
    the 5th and the 19th, only dee and eve on the 6th and the 12th, only eve on the 7th."""
    workspace.internal_domains = ["staff.dev"]
    workspace.save()
    people = {"dee": "dee@staff.dev", "ann": "ann@acme.io", "eve": "eve@staff.dev"}
    days = {5: people, 6: ["dee", "eve"], 7: ["eve"], 12: ["dee", "eve"], 19: people}
    send.batch(
        *(identify(user, email=email, at=jan(1)) for user, email in people.items()),
        *(track_in(user, "acme", jan(day), event="feature_used") for day, users in days.items() for user in users),
    )
    ids = [Person.objects.get(workspace=workspace, user_id=user).pk for user in people]
    assert ids == sorted(ids)


def test_a_day_counts_for_a_customer_active_between_internal_people(staff_around_ann, workspace):
    assert active(workspace) == ([1, 0, 0], [1, 0, 0], (1, 0))
    assert active(workspace, internal="include") == ([1, 1, 1], [1, 1, 1], (6, 0))
    weeks = {"start_event": "", "return_event": "", "periods": 2, "from": "2026-01-05", "to": "2026-01-11"}
    retention = reports.retention(workspace, query("retention", workspace, count_by="company", **weeks))
    assert [(c.start, c.size, c.returned) for c in retention.cohorts] == [(date(2026, 1, 5), 1, [0, 1])]
    retention = reports.retention(
        workspace, query("retention", workspace, count_by="company", internal="include", **weeks)
    )
    assert [(c.start, c.size, c.returned) for c in retention.cohorts] == [(date(2026, 1, 5), 1, [1, 1])]


def test_a_user_cohort_credits_only_its_peoples_events(send, workspace, company):
    send.batch(
        identify("bo", role="admin", at=jan(1)),
        identify("cy", role="member", at=jan(1)),
        join("bo", "acme", jan(1)),
        join("bo", "beta", jan(1)),
        join("cy", "gamma", jan(1)),
        join("cy", "delta", jan(1)),
        track("bo", "feature_used", jan(5)),
        track("cy", "feature_used", jan(5)),
    )
    admins = Cohort(workspace=workspace)
    admins.define(name="Admins", group_type=None, conditions=[Condition.of_property("role", "eq", "admin")])
    assert active(workspace) == ([0, 0, 0], [4, 0, 0], (2, 2))
    assert active(workspace, cohort=admins.pk) == ([0, 0, 0], [2, 0, 0], (1, 1))


def test_weeks_of_active_groups_are_the_workspace_time_zones(send, workspace, company):
    workspace.time_zone = "America/New_York"
    workspace.save()
    send.batch(
        join("bo", "acme", jan(1)),
        join("bo", "beta", jan(1)),
        track("bo", "feature_used", jan(5, 3)),  # Sunday the 4th in New York: before
        track("bo", "feature_used", jan(12, 3)),  # Sunday the 11th in New York: week 1
        track_in("bo", "beta", jan(12, 15), "Export"),  # week 2
    )
    weeks = {"from": "2026-01-05", "to": "2026-01-18", "interval": "week"}
    assert active(workspace, **weeks) == ([0, 1], [2, 1], (2, 1))


@pytest.fixture
def logins(send, workspace, company):
    """cy is in acme and beta; eve in no company. Without a company: cy's login (5th),
    his first export (6th) and page view (7th), eve's login (7th); cy's second export
    names acme."""
    send.batch(
        join("cy", "acme", jan(1)),
        join("cy", "beta", jan(1)),
        track("cy", "login", jan(5)),
        track("cy", "export", jan(6)),
        track("cy", "export", jan(6, 13), groups={"company": "acme"}),
        track("eve", "login", jan(7)),
        page_view("cy", "Pricing", jan(7)),
    )


def test_the_events_a_report_left_out_are_those_of_its_events(logins, workspace):
    def left_out(kind, **params):
        return reports.events_without_group(workspace, query(kind, workspace, **params))

    assert left_out("trend", event="login", count_by="company") == 2
    assert left_out("trend", event="export", count_by="company") == 1
    assert left_out("trend", event="$page", count_by="company") == 1
    assert left_out("trend", count_by="company") == 4
    assert left_out("funnel", step=["login", "export"], count_by="company") == 3
    assert left_out("trend", event="login") is None  # users: nothing left out


def test_the_top_events_pass_the_reports_filters(send, workspace):
    workspace.internal_domains = ["staff.dev"]
    workspace.save()
    send.batch(
        identify("ann", email="ann@acme.io", at=jan(1)),
        identify("bo", email="bo@beta.io", at=jan(1)),
        identify("dee", email="dee@staff.dev", at=jan(1)),
        track("ann", "login", jan(5)),
        track("ann", "login", jan(6)),
        track("bo", "login", jan(6)),
        track("bo", "export", jan(6)),
        page_view("ann", "Pricing", jan(7)),
        *(track("dee", "debug", jan(7)) for _ in range(4)),  # internal: left out
        track("ann", "login", jan(8)),  # after the period
    )

    def top(**params):
        found = reports.top_events(workspace, query("trend", workspace, **params), limit=3)
        return [(e.event, e.events, e.users) for e in found]

    assert top() == [("login", 3, 2), ("$page", 1, 1), ("export", 1, 1)]
    assert top(where="person", key="email", op="contains", value="acme") == [("login", 2, 1), ("$page", 1, 1)]


def test_the_events_sent_most_are_counted_among_the_latest(send, workspace):
    now = timezone.now()
    period = reports.Period.preset_ending("30d", now.date())
    send.batch(
        *(track("a", "old", (now - timedelta(days=2, minutes=n)).isoformat()) for n in range(5)),
        *(track("b", "new", (now - timedelta(hours=1, minutes=n)).isoformat()) for n in range(3)),
        track("c", "newest", (now - timedelta(minutes=1)).isoformat()),
        page_view("c", "Home", (now - timedelta(seconds=30)).isoformat()),  # no track call
    )
    assert reports.most_sent_events(workspace, period, limit=2) == ["old", "new"]
    assert reports.most_sent_events(workspace, period, limit=2, sample=4) == ["new", "newest"]


def test_the_groups_figures_alone_count_no_users(overview_data, company):
    counts = reports.active_counts(overview_data, company, (1, 7, 30), users=False)
    assert [(c.users, c.strict, c.overcount) for c in counts] == [(None, 1, 2), (None, 2, 4), (None, 3, 5)]
