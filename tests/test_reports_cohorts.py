"""The cohort filter of reports (``cohort=<id>``), on a dataset whose answers are worked
out by hand (January 2026, UTC):

- ann (trait role=admin): in acme (plan=pro) and in team growth; feature_used on the 5th
  and the 6th (acme and growth, her only company and team);
- bo: in beta (plan=free); feature_used on the 5th and the 7th (beta); upgraded yesterday;
- cy (role=admin): in acme and beta; feature_used on the 6th with no company (two to
  choose from) and on the 7th naming acme;
- eve: in no company; feature_used on the 7th.

Without a cohort, feature_used by users on the 5th, 6th and 7th: 2, 2, 3.
"""

from datetime import date, timedelta

import pytest
from calls import identify, jan, join, track
from django.http import QueryDict
from django.utils import timezone

from analytics import reports
from analytics.models import Cohort, Condition, Group, Person
from analytics.reports import ReportError


@pytest.fixture
def activity(send, workspace, company, team):
    response = send.batch(
        identify("ann", email="ann@example.com", at=jan(1, 9), role="admin"),
        identify("bo", email="bo@example.com", at=jan(1, 9)),
        identify("cy", email="cy@example.com", at=jan(1, 9), role="admin"),
        identify("eve", email="eve@example.com", at=jan(1, 9)),
        join("ann", "acme", jan(1), traits={"plan": "pro"}),
        join("ann", "growth", jan(1), group_type="team"),
        join("bo", "beta", jan(1), traits={"plan": "free"}),
        join("cy", "acme", jan(1)),
        join("cy", "beta", jan(1)),
        track("ann", "feature_used", jan(5)),
        track("ann", "feature_used", jan(6)),
        track("bo", "feature_used", jan(5)),
        track("bo", "feature_used", jan(7)),
        track("cy", "feature_used", jan(6)),
        track("cy", "feature_used", jan(7), groups={"company": "acme"}),
        track("eve", "feature_used", jan(7)),
        track("bo", "upgraded", (timezone.now() - timedelta(days=1)).isoformat()),
    )
    assert response.status_code == 200, response.content


def define(workspace, name, *conditions, of=None):
    cohort = Cohort(workspace=workspace)
    cohort.define(name=name, group_type=of, conditions=list(conditions))
    return cohort


@pytest.fixture
def admins(workspace):
    """Users whose role is admin: ann and cy."""
    return define(workspace, "Admins", Condition.of_property("role", "eq", "admin"))


@pytest.fixture
def pro_companies(workspace, company):
    """Companies on the pro plan: acme."""
    return define(workspace, "Pro companies", Condition.of_property("plan", "eq", "pro"), of=company)


def query(kind, workspace, **params):
    data = QueryDict(mutable=True)
    for name, value in {"from": "2026-01-05", "to": "2026-01-07", **params}.items():
        for one in value if isinstance(value, list) else [value]:
            data.appendlist(name, str(one))
    return getattr(reports, f"{kind}_from_params")(workspace, data)


def trend(workspace, **params):
    result = reports.trends(workspace, query("trend", workspace, event="feature_used", **params))
    return result.series[0].values


@pytest.mark.both_stores
def test_a_user_cohort_keeps_the_events_of_its_people(activity, workspace, admins):
    assert trend(workspace) == [2, 2, 3]
    assert trend(workspace, cohort=admins.pk) == [1, 2, 1]  # ann; ann and cy; cy
    assert trend(workspace, cohort=admins.pk, count_by="events") == [1, 2, 1]
    # Counted by company, their events that carry one: ann's in acme, cy's of the 7th.
    assert trend(workspace, cohort=admins.pk, count_by="company") == [1, 1, 1]


@pytest.mark.both_stores
def test_a_group_cohort_keeps_the_events_carrying_one_of_its_groups(activity, workspace, pro_companies):
    assert trend(workspace, count_by="company") == [2, 1, 2]
    assert trend(workspace, cohort=pro_companies.pk, count_by="company") == [1, 1, 1]
    # Counted by users it still filters by the company on the event: cy's event of the
    # 6th carries none, so only ann counts that day.
    assert trend(workspace, cohort=pro_companies.pk) == [1, 1, 1]
    assert trend(workspace, cohort=pro_companies.pk, count_by="events") == [1, 1, 1]


@pytest.mark.both_stores
def test_a_cohort_of_teams_filters_a_report_counted_by_company(activity, workspace, team):
    teams = define(workspace, "Every team", of=team)
    # Only ann's events carry a team (growth); both carry acme too.
    assert trend(workspace, cohort=teams.pk, count_by="company") == [1, 1, 0]
    assert trend(workspace, cohort=teams.pk) == [1, 1, 0]


@pytest.mark.both_stores
def test_a_behaviour_cohort_is_evaluated_now(activity, workspace):
    upgraded = define(workspace, "Upgraded this week", Condition.of_behaviour("upgraded", days=7))
    assert trend(workspace, cohort=upgraded.pk) == [1, 0, 1]  # bo


def test_every_report_honours_the_cohort(activity, workspace, admins, pro_companies):
    strict = reports.active_groups(workspace, query("active_groups", workspace, cohort=pro_companies.pk))
    assert strict.strict == [1, 1, 1]
    steps = {"step": ["feature_used", "feature_used"], "from": "2026-01-01", "to": "2026-01-31"}
    assert [s.count for s in reports.funnel(workspace, query("funnel", workspace, **steps)).steps] == [4, 3]
    assert [s.count for s in reports.funnel(workspace, query("funnel", workspace, cohort=admins.pk, **steps)).steps] == [2, 2]
    # Acme's events: ann's two, then cy's of the 7th alone.
    by_company = query("funnel", workspace, cohort=pro_companies.pk, **steps)
    assert [s.count for s in reports.funnel(workspace, by_company).steps] == [2, 1]
    ids = reports.trend_actors(
        workspace, query("trend", workspace, event="feature_used", cohort=admins.pk), series=0, day=date(2026, 1, 6)
    )
    assert set(Person.objects.filter(pk__in=ids).values_list("user_id", flat=True)) == {"ann", "cy"}
    ids = reports.trend_actors(
        workspace,
        query("trend", workspace, event="feature_used", cohort=admins.pk, count_by="company"),
        series=0,
        day=date(2026, 1, 7),
    )
    assert set(Group.objects.filter(pk__in=ids).values_list("key", flat=True)) == {"acme"}


def test_the_cohort_is_kept_in_the_reports_address(workspace, admins):
    trend = query("trend", workspace, cohort=admins.pk)
    assert ("cohort", str(admins.pk)) in trend.to_params()


def test_an_unknown_cohort_is_a_report_error(activity, workspace):
    with pytest.raises(ReportError, match="No cohort with the number 999 in this workspace."):
        reports.trends(workspace, query("trend", workspace, cohort=999))


def test_another_workspaces_cohort_is_unknown_here(activity, workspace, other_workspace):
    theirs = define(other_workspace, "Charlie's users")
    with pytest.raises(ReportError, match=f"No cohort with the number {theirs.pk} in this workspace."):
        reports.trends(workspace, query("trend", workspace, cohort=theirs.pk))
