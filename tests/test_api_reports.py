"""The reports' JSON API (/api/v1/reports/*): known answers on the dataset of
tests/test_reports.py, counted by users, by companies, by teams and by events; the query
each answer echoes; the secret key; errors in the API's shape.

The dataset is test_reports.py's (its docstring tells it), with teams and one page view
more, all in January 2026, UTC unless a test sets a time zone:

- ann and bo in team growth and cy in team design from the 4th, so each of their events
  carries its team (cy's too: the company it names leaves the team to be inferred);
- bo views a page on the 7th at 13:00, an hour after his feature_used (beta, growth);
- eve uses the feature again on the 9th, after the first week (no company, no team).

So, of feature_used on the 5th, 6th and 7th (dee, at the internal staff.dev, left out):

| count_by | 5th                      | 6th                 | 7th                       |
|----------|--------------------------|---------------------|---------------------------|
| users    | ann, bo                  | ann, cy             | bo, cy, eve               |
| events   | ann ×2, bo               | ann, cy             | bo, cy, eve               |
| company  | acme (ann's 2nd), beta   | acme (cy's: none)   | beta, acme (cy named it)  |
| team     | growth                   | growth, design      | growth, design            |
"""

from collections import Counter
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from calls import jan, join, page_view, track
from django.db import connection
from django.db.models import F
from django.utils import timezone
from test_reports import activity_calls

from analytics.models import Event, GroupType
from analytics.reports.sql.scope import BucketAmong

FIRST_WEEK = {"from": "2026-01-05", "to": "2026-01-07"}
DAYS = ["2026-01-05", "2026-01-06", "2026-01-07"]
PATHS = {
    "trends": "reports/trends",
    "funnels": "reports/funnels",
    "retention": "reports/retention",
    "active-groups": "reports/active-groups",
}
# The least each report needs to answer.
ENOUGH = {"funnels": {"steps": "feature_used,$page"}}

# Every report page and answer, with events in either store.
pytestmark = pytest.mark.both_stores


@pytest.fixture
def activity(send, workspace, company, team):
    workspace.internal_domains = ["staff.dev"]
    workspace.save()
    response = send.batch(
        join("ann", "growth", jan(4), group_type="team"),
        join("bo", "growth", jan(4), group_type="team"),
        join("cy", "design", jan(4), group_type="team"),
        *activity_calls(),
        page_view("bo", "Pricing", jan(7, 13)),
        track("eve", "feature_used", jan(9)),
    )
    assert response.status_code == 200, response.content


def report(api, kind, **params):
    """The JSON answer of a report; fails unless it is a 200."""
    response = api.get(PATHS[kind], **params)
    assert response.status_code == 200, response.content[:500]
    assert response["Content-Type"] == "application/json"
    return response.json()


def refused(api, kind, **params):
    """The message of a report's 400, in the API's error shape."""
    response = api.get(PATHS[kind], **params)
    assert response.status_code == 400, response.content[:500]
    body = response.json()
    assert set(body) == {"error", "message"} and body["error"] == "invalid_request"
    return body["message"]


def values(body):
    return [[point["value"] for point in series["data"]] for series in body["series"]]


def dates(series):
    return [point["date"] for point in series["data"]]


# --- Trends -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "count_by, expected, total",
    [
        ("users", [2, 2, 3], 4),  # ann, bo, cy, eve
        ("events", [3, 2, 3], 8),
        ("company", [2, 1, 2], 2),  # acme, beta
        ("team", [1, 2, 2], 2),  # growth, design
    ],
)
def test_a_trend_counts_each_day_by_each_unit(api, activity, count_by, expected, total):
    body = report(api, "trends", event="feature_used", count_by=count_by, **FIRST_WEEK)
    [series] = body["series"]
    assert series == {
        "label": "feature_used",
        "event": "feature_used",
        "breakdown_value": None,
        "is_other": False,
        "total": total,
        "data": [{"date": day, "value": value} for day, value in zip(DAYS, expected)],
    }
    assert body["previous"] is None
    assert body["query"]["count_by"] == count_by


def test_a_trend_echoes_the_query_it_answered(api, activity):
    body = report(
        api, "trends", event=["feature_used", "$page"], interval="day", count_by="users",
        where="person", key="email", op="contains", value="acme.io", **FIRST_WEEK,
    )
    assert body["query"] == {
        "events": ["feature_used", "$page"],
        "interval": "day",
        "count_by": "users",
        "range": "custom",
        "from": "2026-01-05",
        "to": "2026-01-07",
        "time_zone": "UTC",
        "filters": [{"where": "person", "key": "email", "op": "contains", "value": "acme.io"}],
        "internal": "exclude",  # the workspace has an internal domain
        "cohort": None,
        "breakdown_on": None,
        "breakdown": None,
        "compare": False,
    }
    # Only ann's e-mail is at acme.io; she viewed no page.
    assert values(body) == [[1, 1, 0], [0, 0, 0]]
    assert [series["label"] for series in body["series"]] == ["feature_used", "Page viewed"]


def test_internal_people_count_when_asked(api, activity):
    body = report(api, "trends", event="feature_used", internal="include", **FIRST_WEEK)
    assert values(body) == [[2, 3, 3]]  # dee on the 6th
    assert body["query"]["internal"] == "include"


def test_a_trend_of_any_event_and_of_page_views(api, activity):
    body = report(api, "trends", event=["", "$page"], count_by="events", **FIRST_WEEK)
    assert [series["label"] for series in body["series"]] == ["Any event", "Page viewed"]
    assert values(body) == [[3, 2, 5], [0, 0, 2]]  # eve's and bo's page views on the 7th
    assert report(api, "trends", count_by="events", **FIRST_WEEK)["query"]["events"] == [""]


def test_a_preset_range_echoes_the_days_it_came_to_in_the_workspace_time_zone(api, workspace):
    workspace.time_zone = "Pacific/Kiritimati"  # UTC+14: often a day ahead of UTC
    workspace.save()
    today = timezone.now().astimezone(ZoneInfo("Pacific/Kiritimati")).date()
    body = report(api, "trends", range="7d")
    assert {name: body["query"][name] for name in ("range", "from", "to", "time_zone")} == {
        "range": "7d",
        "from": (today - timedelta(days=6)).isoformat(),
        "to": today.isoformat(),
        "time_zone": "Pacific/Kiritimati",
    }
    assert dates(body["series"][0])[-1] == today.isoformat()
    assert body["query"]["internal"] == "include"  # no internal domain


def test_days_begin_at_midnight_in_the_workspace_time_zone(api, send, workspace):
    send.batch(track("ann", "late", jan(5, 23, 30)))
    assert values(report(api, "trends", event="late", **FIRST_WEEK)) == [[1, 0, 0]]
    workspace.time_zone = "Europe/Paris"  # 00:30 on the 6th there
    workspace.save()
    body = report(api, "trends", event="late", **FIRST_WEEK)
    assert values(body) == [[0, 1, 0]]
    assert body["query"]["time_zone"] == "Europe/Paris"


@pytest.mark.parametrize(
    ("zone", "first"),
    [
        # Clocks go back an hour at 03:00 on Sunday 25 October: a day of 25 hours, then
        # a week that begins on Monday the 26th an hour later in UTC than the one before.
        ("Europe/Paris", datetime(2026, 10, 24, 20, tzinfo=UTC)),
        # Clocks go forward at midnight on 6 September: that day has no midnight and
        # begins at 01:00, 04:00 UTC.
        ("America/Santiago", datetime(2026, 9, 5, 22, tzinfo=UTC)),
    ],
)
def test_days_and_weeks_follow_the_time_zone_across_a_clock_change(
    api, send, workspace, zone, first
):
    workspace.time_zone = zone
    workspace.save()
    # A call every half hour for 32 hours, by three people in turn.
    moments = [first + timedelta(minutes=30 * n) for n in range(64)]
    send.batch(*(track(f"u{n % 3}", "tick", at.isoformat()) for n, at in enumerate(moments)))
    local = ZoneInfo(zone)
    assert moments[0].astimezone(local).utcoffset() != moments[-1].astimezone(local).utcoffset()
    days = Counter(moment.astimezone(local).date() for moment in moments)
    span = {"from": min(days).isoformat(), "to": max(days).isoformat()}
    body = report(api, "trends", event="tick", count_by="events", **span)
    assert dict(zip(dates(body["series"][0]), values(body)[0])) == {
        day.isoformat(): n for day, n in sorted(days.items())
    }
    weeks = Counter(day - timedelta(days=day.weekday()) for day in days.elements())
    body = report(api, "trends", event="tick", count_by="events", interval="week", **span)
    assert dict(zip(dates(body["series"][0]), values(body)[0])) == {
        week.isoformat(): n for week, n in sorted(weeks.items())
    }
    # Counted by users: each day has calls of all three people (at least 3 calls, in turn).
    assert min(days.values()) >= 3
    body = report(api, "trends", event="tick", **span)
    assert values(body) == [[3] * len(days)]


@pytest.mark.main_store
@pytest.mark.skipif(connection.vendor != "postgresql", reason="SQLite truncates each moment")
def test_a_moment_outside_the_buckets_has_none(send, workspace):
    # In Paris: Sunday the 4th at 13:00, Monday the 5th at 00:30, Tuesday the 6th at
    # 00:30, Tuesday the 13th at 00:30.
    moments = (jan(4, 12), jan(4, 23, 30), jan(5, 23, 30), jan(12, 23, 30))
    send.batch(*(track("ann", "tick", at) for at in moments))
    weeks = BucketAmong(F("timestamp"), [date(2026, 1, 5)], "week", ZoneInfo("Europe/Paris"))
    found = Event.objects.for_workspace(workspace).annotate(week=weeks).order_by("timestamp")
    monday = date(2026, 1, 5)
    assert list(found.values_list("week", flat=True)) == [None, monday, monday, None]


def test_weeks_are_dated_by_their_monday(api, activity):
    body = report(api, "trends", event="feature_used", interval="week",
                  **{"from": "2026-01-01", "to": "2026-01-14"})
    assert body["series"][0]["data"] == [
        {"date": "2025-12-29", "value": 0},
        {"date": "2026-01-05", "value": 4},
        {"date": "2026-01-12", "value": 0},
    ]


def test_a_trend_compared_with_the_period_before(api, activity, send):
    send.batch(track("bo", "feature_used", jan(3)))
    body = report(api, "trends", event="feature_used", compare="1", **FIRST_WEEK)
    assert body["query"]["compare"] is True
    previous = body["previous"]
    assert (previous["from"], previous["to"]) == ("2026-01-02", "2026-01-04")
    [series] = previous["series"]
    assert series["data"] == [
        {"date": "2026-01-02", "value": 0},
        {"date": "2026-01-03", "value": 1},
        {"date": "2026-01-04", "value": 0},
    ]
    assert series["total"] == 1
    assert values(body) == [[2, 2, 3]]


def test_a_trend_broken_down_by_a_person_trait(api, activity):
    body = report(api, "trends", event="feature_used", breakdown_on="person", breakdown="email",
                  **FIRST_WEEK)
    assert [
        (series["breakdown_value"], series["is_other"], series["total"], values(body)[i])
        for i, series in enumerate(body["series"])
    ] == [
        ("ann@acme.io", False, 1, [1, 1, 0]),
        ("bo@beta.io", False, 1, [1, 0, 1]),
        ("cy@gmail.com", False, 1, [0, 1, 1]),
        ("eve@example.com", False, 1, [0, 0, 1]),
    ]
    assert (body["query"]["breakdown_on"], body["query"]["breakdown"]) == ("person", "email")


# --- Funnels ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "count_by, entered, converted",
    [
        # ann, bo, cy and eve used the feature; bo and eve viewed a page an hour later.
        ("users", 4, 2),
        # acme and beta; only bo's page view carries a company (beta).
        ("company", 2, 1),
        # growth and design; bo's page view is growth's.
        ("team", 2, 1),
    ],
)
def test_a_funnel_by_each_unit(api, activity, count_by, entered, converted):
    body = report(api, "funnels", steps="feature_used,$page", count_by=count_by, **FIRST_WEEK)
    assert body["steps"] == [
        {
            "event": "feature_used",
            "label": "feature_used",
            "count": entered,
            "conversion_rate": 1.0,
            "conversion_from_previous": None,
            "dropped": None,
            "median_seconds": None,
        },
        {
            "event": "$page",
            "label": "Page viewed",
            "count": converted,
            "conversion_rate": 0.5,
            "conversion_from_previous": 0.5,
            "dropped": entered - converted,
            "median_seconds": 3600.0,
        },
    ]
    assert (body["entered"], body["converted"]) == (entered, converted)
    assert body["conversion_rate"] == 0.5
    assert body["median_seconds_to_convert"] == 3600.0


def test_funnel_steps_one_by_one_or_together_and_the_echo(api, activity):
    together = report(api, "funnels", steps="feature_used,$page", window="2", **FIRST_WEEK)
    one_by_one = report(api, "funnels", step=["feature_used", "$page"], window="2", **FIRST_WEEK)
    assert together == one_by_one
    assert together["query"] == {
        "steps": ["feature_used", "$page"],
        "window": 2,
        "count_by": "users",
        "range": "custom",
        "from": "2026-01-05",
        "to": "2026-01-07",
        "time_zone": "UTC",
        "filters": [],
        "internal": "exclude",
        "cohort": None,
    }


def test_a_funnel_nobody_entered_has_no_rates(api, activity):
    body = report(api, "funnels", steps="nothing,$page", **FIRST_WEEK)
    steps = [(step["count"], step["conversion_rate"]) for step in body["steps"]]
    assert steps == [(0, None), (0, None)]
    assert body["steps"][1]["conversion_from_previous"] is None
    assert body["conversion_rate"] is None and body["median_seconds_to_convert"] is None


# --- Retention ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "count_by, cohorts",
    [
        # First feature_used: ann and bo on the 5th, cy the 6th, eve the 7th. Back (any
        # event): ann the 6th, bo the 7th; cy the 7th; eve the 9th, two days later.
        ("users", [("2026-01-05", 2, [1, 1]), ("2026-01-06", 1, [1, 0]),
                   ("2026-01-07", 1, [0, 1])]),
        # acme and beta first on the 5th; acme back the 6th, both the 7th.
        ("company", [("2026-01-05", 2, [1, 2]), ("2026-01-06", 0, [0, 0]),
                     ("2026-01-07", 0, [0, 0])]),
        # growth first on the 5th, back the 6th and 7th; design first the 6th, back the 7th.
        ("team", [("2026-01-05", 1, [1, 1]), ("2026-01-06", 1, [1, 0]),
                  ("2026-01-07", 0, [0, 0])]),
    ],
)
def test_retention_by_each_unit(api, activity, count_by, cohorts):
    body = report(api, "retention", start_event="feature_used", interval="day", periods="2",
                  count_by=count_by, **FIRST_WEEK)
    assert body["cohorts"] == [
        {"start": start, "size": size, "returned": returned} for start, size, returned in cohorts
    ]
    assert body["query"] == {
        "start_event": "feature_used",
        "return_event": "",
        "interval": "day",
        "periods": 2,
        "count_by": count_by,
        "range": "custom",
        "from": "2026-01-05",
        "to": "2026-01-07",
        "time_zone": "UTC",
        "filters": [],
        "internal": "exclude",
        "cohort": None,
    }


def test_retention_periods_not_over_are_null(api, send, workspace):
    today = timezone.now().date()
    send.batch(track("ann", "signed_up", timezone.now().isoformat()))
    body = report(api, "retention", start_event="signed_up", interval="day", periods="2",
                  range="7d")
    *_, yesterday, last = body["cohorts"]
    assert yesterday == {"start": (today - timedelta(days=1)).isoformat(), "size": 0,
                         "returned": [0, None]}
    assert last == {"start": today.isoformat(), "size": 1, "returned": [None, None]}


# --- Active groups ------------------------------------------------------------------


@pytest.mark.parametrize(
    "type_name, strict, overcount, without",
    [
        # On the 6th cy's event named no company: over-counted, both of cy's count. Of the
        # ten events, ann's first, cy's on the 6th and eve's two carry no company.
        ("company", [2, 1, 2], [2, 2, 2], 4),
        # eve's two events carry no team, and she is in none.
        ("team", [1, 2, 2], [1, 2, 2], 2),
    ],
)
def test_active_groups_strict_beside_the_over_count(
    api, activity, type_name, strict, overcount, without
):
    body = report(api, "active-groups", type=type_name, **FIRST_WEEK)
    assert body["data"] == [
        {"date": day, "strict": s, "overcount": o} for day, s, o in zip(DAYS, strict, overcount)
    ]
    assert (body["events"], body["events_without_group"]) == (10, without)
    assert body["query"] == {
        "type": type_name,
        "interval": "day",
        "range": "custom",
        "from": "2026-01-05",
        "to": "2026-01-07",
        "time_zone": "UTC",
        "filters": [],
        "internal": "exclude",
        "cohort": None,
    }


def test_active_groups_are_of_the_default_type_unless_asked(api, activity):
    body = report(api, "active-groups", **FIRST_WEEK)
    assert body["query"]["type"] == "company"
    assert [point["strict"] for point in body["data"]] == [2, 1, 2]


# --- the secret key -----------------------------------------------------------------


@pytest.mark.parametrize("kind", PATHS)
def test_a_report_needs_the_secret_key(client, workspace, activity, kind):
    path = f"/api/v1/{PATHS[kind]}"
    response = client.get(path, ENOUGH.get(kind, {}))
    assert response.status_code == 401 and response["WWW-Authenticate"] == "Bearer"
    assert response.json()["error"] == "unauthorized"
    response = client.get(path, ENOUGH.get(kind, {}),
                          headers={"Authorization": f"Bearer {workspace.write_key}"})
    assert response.status_code == 401
    assert "write key, which only sends events" in response.json()["message"]


@pytest.fixture
def charlies_data(charlie_send, other_workspace):
    """Charlie's workspace: zed in initech, feature_used on the 6th; a type of its own."""
    GroupType.create(workspace=other_workspace, name="project")
    response = charlie_send.batch(
        join("zed", "initech", jan(4)),
        track("zed", "feature_used", jan(6)),
    )
    assert response.status_code == 200, response.content


def test_each_key_counts_its_own_workspace_only(api, charlie_api, activity, charlies_data):
    for count_by in ("users", "company"):
        mine = report(api, "trends", event="feature_used", count_by=count_by, **FIRST_WEEK)
        theirs = report(
            charlie_api, "trends", event="feature_used", count_by=count_by, **FIRST_WEEK
        )
        assert values(theirs) == [[0, 1, 0]], count_by
        assert values(mine) == ([[2, 2, 3]] if count_by == "users" else [[2, 1, 2]])
    active = report(charlie_api, "active-groups", **FIRST_WEEK)
    assert [point["strict"] for point in active["data"]] == [0, 1, 0]
    funnel = report(charlie_api, "funnels", steps="feature_used,$page", **FIRST_WEEK)
    assert (funnel["entered"], funnel["converted"]) == (1, 0)


@pytest.mark.parametrize(
    "kind, params",
    [
        ("trends", {"count_by": "team"}),
        ("trends", {"where": "team", "key": "name", "op": "set", "value": ""}),
        ("trends", {"breakdown_on": "team", "breakdown": "name"}),
        ("funnels", {"steps": "a,b", "count_by": "team"}),
        ("retention", {"count_by": "team"}),
        ("active-groups", {"type": "team"}),
    ],
)
def test_a_key_cannot_name_a_group_type_of_another_workspace(
    api, charlie_api, activity, charlies_data, kind, params
):
    # team is alice's; charlie's workspace has company and project.
    message = refused(charlie_api, kind, **params)
    assert "this workspace has no group type “team” (it has company, project)" in message
    swapped = {name: "project" if value == "team" else value for name, value in params.items()}
    message = refused(api, kind, **swapped)
    assert "this workspace has no group type “project” (it has company, team)" in message


# --- errors -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kind, params, message",
    [
        ("trends", {"interval": "hour"}, "interval must be one of day, week, month; not “hour”."),
        ("trends", {"range": "1y"},
         "range must be one of 7d, 30d, 90d, this_month, last_month, custom; not “1y”."),
        ("trends", {"from": "2026-02-30"},
         "from must be a date such as 2026-01-31; not “2026-02-30”."),
        ("trends", {"from": "2026-01-09", "to": "2026-01-02"},
         "to (2026-01-02) is before from (2026-01-09)."),
        ("trends", {"count_by": "planet"},
         "count_by: this workspace has no group type “planet” (it has company, team)."),
        ("trends", {"where": "event", "key": "plan", "op": "eq"},
         "Each filter needs where, key, op and value (value may be empty); "
         "got 1 where, 1 key, 1 op, 0 value."),
        ("trends", {"where": "event", "key": "plan", "op": "like", "value": "x"},
         "op must be one of eq, neq, contains, set, not_set, gt, lt; not “like”."),
        ("trends", {"event": ["a", "b"], "breakdown": "plan"},
         "A breakdown splits one series; remove the other events or the breakdown."),
        ("trends", {"interval": ["day", "week"]}, "interval is given 2 times; give it once."),
        # Days no report can count (the day after 9999-12-31 is no date).
        ("trends", {"from": "9999-12-30", "to": "9999-12-31"},
         "from must be between 2000-01-01 and 2999-12-31; not 9999-12-30."),
        ("retention", {"from": "0001-01-01", "to": "0001-01-03"},
         "from must be between 2000-01-01 and 2999-12-31; not 0001-01-01."),
        ("trends", {"cohort": "²"}, "cohort must be a saved cohort's number; not “²”."),
        ("funnels", {"steps": "signed_up"}, "A funnel has 2 to 10 steps; 1 were given."),
        ("funnels", {}, "A funnel has 2 to 10 steps; 0 were given."),
        ("funnels", {"steps": "a,b", "window": "0"}, "window must be between 1 and 180; not 0."),
        ("funnels", {"steps": "a,b", "count_by": "events"},
         "count_by=events is for Trends; count users or groups here."),
        ("retention", {"periods": "x"}, "periods must be a whole number; not “x”."),
        ("retention", {"count_by": "events"},
         "count_by=events is for Trends; count users or groups here."),
        ("active-groups", {"type": "planet"},
         "type: this workspace has no group type “planet” (it has company, team)."),
        ("active-groups", {"interval": "year"},
         "interval must be one of day, week, month; not “year”."),
    ],
)
def test_a_parameter_that_makes_no_report_is_400_saying_why(api, activity, kind, params, message):
    assert refused(api, kind, **params) == message


@pytest.mark.parametrize(
    "kind, taken",
    [
        ("trends", "event, interval, range, from, to, count_by, where, key, op, value, internal, "
                   "cohort, breakdown_on, breakdown and compare"),
        ("funnels", "steps, step, window, range, from, to, count_by, where, key, op, value, "
                    "internal and cohort"),
        ("retention", "start_event, return_event, interval, periods, range, from, to, count_by, "
                      "where, key, op, value, internal and cohort"),
        ("active-groups", "type, interval, range, from, to, where, key, op, value, internal and "
                          "cohort"),
    ],
)
def test_a_parameter_a_report_does_not_take_is_400_naming_those_it_does(api, activity, kind, taken):
    message = refused(api, kind, colour="red", **ENOUGH.get(kind, {}))
    assert message == f"GET /api/v1/{PATHS[kind]} takes only {taken}, not colour"


def test_active_groups_take_a_type_not_count_by(api, activity):
    assert refused(api, "active-groups", count_by="team").endswith(", not count_by")


# --- the echo, sent back ------------------------------------------------------------


def params_of(query):
    """The parameters that ask again for what an answer's ``query`` says it answered."""
    params = {}
    for name, value in query.items():
        if name == "filters":
            for part in ("where", "key", "op", "value"):
                params[part] = [condition[part] for condition in value]
        elif name in ("events", "steps"):
            params[name[:-1]] = value  # event=…&event=…, step=…&step=…
        elif name == "time_zone" or value is None:
            continue
        elif isinstance(value, bool):
            params[name] = "1" if value else "0"
        else:
            params[name] = str(value)
    return params


@pytest.mark.parametrize(
    "kind, params",
    [
        ("trends", {"event": ["feature_used", "$page"], "interval": "week", "count_by": "team",
                    "where": "event", "key": "plan", "op": "not_set", "value": "",
                    "internal": "include", "compare": "1", "range": "custom",
                    "from": "2026-01-01", "to": "2026-01-20"}),
        ("trends", {"event": "feature_used", "breakdown_on": "company", "breakdown": "plan",
                    "range": "30d"}),
        ("funnels", {"steps": "feature_used,$page", "window": "3", "count_by": "company",
                     "where": "person", "key": "email", "op": "set", "value": "",
                     **FIRST_WEEK}),
        ("retention", {"start_event": "feature_used", "return_event": "$page", "interval": "day",
                       "periods": "3", "count_by": "team", **FIRST_WEEK}),
        ("active-groups", {"type": "team", "interval": "week", "range": "this_month"}),
    ],
)
def test_the_query_an_answer_echoes_asks_for_the_same_answer(api, activity, kind, params):
    first = report(api, kind, **params)
    again = report(api, kind, **params_of(first["query"]))
    assert again == first
