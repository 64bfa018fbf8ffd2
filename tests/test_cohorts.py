"""Cohorts computed by the database, on small datasets whose members are worked out by
hand, as of a known moment (AT, Saturday 31 January 2026 at noon UTC).

- ann (acme.io, trait plan=pro): in acme since the 1st; exports on the 20th, 25th and 30th
  (acme's, the one company she is in);
- bo (beta.io, plan=free): in beta until he leaves it on the 20th (an Account Removed
  User call carrying beta); exports on the 29th, in no company;
- cy (no plan): in acme and beta; exports on the 5th (no company: two to choose from)
  and on the 28th at 10:00 naming beta;
- dee (staff.dev, internal): in acme and gamma; five exports on the 30th naming acme;
- eve: in no company, no events; fay: first seen on the 22nd, no events.

Companies: acme (plan=enterprise, seats=120), beta (plan=free, seats=3), gamma (plan=free).
"""

from datetime import UTC, date, datetime
from itertools import count

import pytest
from calls import identify, jan, join, track
from django.core.exceptions import ValidationError

from analytics import event_store
from analytics.deletion import delete_person
from analytics.models import Cohort, Condition, Group, Person

AT = datetime(2026, 1, 31, 12, tzinfo=UTC)
EXPORT = "export"


@pytest.fixture
def january(send, workspace, company):
    workspace.internal_domains = ["staff.dev"]
    workspace.save()
    response = send.batch(
        identify("ann", email="ann@acme.io", at=jan(1, 9), plan="pro"),
        identify("bo", email="bo@beta.io", at=jan(1, 9), plan="free"),
        identify("cy", email="cy@gmail.com", at=jan(1, 9)),
        identify("dee", email="dee@staff.dev", at=jan(1, 9)),
        identify("eve", email="eve@example.com", at=jan(1, 9)),
        identify("fay", email="fay@example.com", at=jan(22, 9)),
        join("ann", "acme", jan(1, 10), traits={"name": "Acme", "plan": "enterprise", "seats": 120}),
        join("bo", "beta", jan(1, 10), traits={"plan": "free", "seats": 3}),
        join("cy", "acme", jan(1, 10)),
        join("cy", "beta", jan(1, 10)),
        join("dee", "acme", jan(1, 10)),
        join("dee", "gamma", jan(1, 10), traits={"plan": "free"}),
        track("bo", "Account Removed User", jan(20), groups={"company": "beta"}),
        track("ann", EXPORT, jan(20)),
        track("ann", EXPORT, jan(25)),
        track("ann", EXPORT, jan(30)),
        track("bo", EXPORT, jan(29)),
        track("cy", EXPORT, jan(5)),
        track("cy", EXPORT, jan(28, 10), groups={"company": "beta"}),
        *(track("dee", EXPORT, jan(30, 12, n), groups={"company": "acme"}) for n in range(5)),
    )
    assert response.status_code == 200, response.content


names = count()


def define(workspace, *conditions, of=None, exclude_internal=True):
    cohort = Cohort(workspace=workspace)
    cohort.define(
        name=f"cohort {next(names)}", group_type=of, conditions=list(conditions), exclude_internal=exclude_internal
    )
    return cohort


def members(cohort, at=AT):
    ids = cohort.members(at, did=event_store.units_that_did)
    if cohort.group_type:
        return set(Group.objects.filter(pk__in=ids).values_list("key", flat=True))
    return set(Person.objects.filter(pk__in=ids).values_list("user_id", flat=True))


def did(event=EXPORT, **options):
    return Condition.of_behaviour(event, **options)


@pytest.mark.both_stores
def test_behaviour_counts_the_events_of_the_days_before_the_moment(january, workspace):
    assert members(define(workspace, did(days=14))) == {"ann", "bo", "cy"}  # dee is internal
    assert members(define(workspace, did(times=2, days=14))) == {"ann"}
    # Thirty days reach back to cy's export of the 5th.
    assert members(define(workspace, did(times=2, days=30))) == {"ann", "cy"}
    # Any event, in the last three days: cy's export at 10:00 on the 28th is just out.
    assert members(define(workspace, did("", days=3))) == {"ann", "bo"}


@pytest.mark.both_stores
def test_did_not_keeps_who_did_it_fewer_times(january, workspace):
    assert members(define(workspace, did(did=False, days=14))) == {"eve", "fay"}
    assert members(define(workspace, did(did=False, times=2, days=14))) == {"bo", "cy", "eve", "fay"}


@pytest.mark.both_stores
def test_internal_people_count_once_the_cohort_includes_them(january, workspace):
    assert members(define(workspace, did(days=14), exclude_internal=False)) == {"ann", "bo", "cy", "dee"}
    workspace.internal_domains = []
    workspace.save()
    assert members(define(workspace, did(days=14))) == {"ann", "bo", "cy", "dee"}


@pytest.mark.both_stores
def test_traits_use_the_operators_of_report_filters(january, workspace):
    def having(op, value="", key="plan"):
        return members(define(workspace, Condition.of_property(key, op, value)))

    assert having("eq", "pro") == {"ann"}
    assert having("neq", "pro") == {"bo", "cy", "eve", "fay"}  # no plan counts as not pro
    assert having("not_set") == {"cy", "eve", "fay"}
    assert having("set") == {"ann", "bo"}
    assert having("contains", "@ACME", key="email") == {"ann"}


@pytest.mark.both_stores
def test_membership_in_a_group_whose_property_matches(january, workspace):
    in_company = Condition.of_membership
    assert members(define(workspace, in_company("company", "plan", "eq", "enterprise"))) == {"ann", "cy"}
    assert members(define(workspace, in_company("company", "seats", "gt", "100"))) == {"ann", "cy"}
    # bo left beta on the 20th: out now, in on the 15th (when fay was not yet seen).
    any_company = define(workspace, in_company("company"))
    assert members(any_company) == {"ann", "cy"}
    assert members(any_company, at=datetime(2026, 1, 15, tzinfo=UTC)) == {"ann", "bo", "cy"}
    small = define(workspace, in_company("company", "seats", "lt", "10"))
    assert members(small) == {"cy"}
    assert members(small, at=datetime(2026, 1, 15, tzinfo=UTC)) == {"bo", "cy"}
    assert members(any_company, at=None) == {"ann", "cy"}  # now: the memberships open now


@pytest.mark.both_stores
def test_every_condition_must_hold(january, workspace):
    big = Condition.of_membership("company", "seats", "gt", "100")
    assert members(define(workspace, did(days=14), big)) == {"ann", "cy"}
    assert members(define(workspace, did(days=14), big, Condition.of_property("plan", "eq", "pro"))) == {"ann"}


@pytest.mark.both_stores
def test_a_company_did_an_event_when_the_event_carries_it(january, workspace, company):
    def companies(*conditions, **options):
        return members(define(workspace, *conditions, of=company, **options))

    assert companies(did(days=14)) == {"acme", "beta"}
    assert companies(did(did=False, days=14)) == {"gamma"}
    assert companies(did(times=3, days=14)) == {"acme"}  # ann's three
    # dee's five exports in acme count only once internal people do.
    assert companies(did(times=4, days=14)) == set()
    assert companies(did(times=4, days=14), exclude_internal=False) == {"acme"}
    # cy's export of the 5th carries no company: beta has one export in thirty days.
    assert companies(did(times=2, days=30)) == {"acme"}
    # Any event: bo's leaving call carried beta, and cy's export of the 28th.
    assert companies(did("", times=2, days=14)) == {"acme", "beta"}


@pytest.mark.both_stores
def test_a_group_cohort_reads_the_groups_properties(january, workspace, company):
    def companies(op, value="", key="plan"):
        return members(define(workspace, Condition.of_property(key, op, value), of=company))

    assert companies("eq", "free") == {"beta", "gamma"}
    assert companies("lt", "10", key="seats") == {"beta"}
    assert companies("not_set", key="seats") == {"gamma"}


@pytest.mark.both_stores
def test_the_weekly_sizes_reevaluate_the_definition_at_each_weeks_end(
    january, workspace, django_assert_num_queries
):
    exported = define(workspace, did(days=14))
    # With ClickHouse, the first read stores the events queued (once a request or task).
    exported.weekly_sizes(4, now=AT, did=event_store.units_that_did)
    with django_assert_num_queries(1):
        sizes = exported.weekly_sizes(4, now=AT, did=event_store.units_that_did)
    # Week ends: Jan 12 (cy's export of the 5th), Jan 19 (the same), Jan 26 (ann's of
    # the 20th and 25th), and now (ann, bo, cy).
    assert sizes == [(date(2026, 1, 5), 1), (date(2026, 1, 12), 1), (date(2026, 1, 19), 1), (date(2026, 1, 26), 3)]
    in_company = define(workspace, Condition.of_membership("company"))
    assert [size for _, size in in_company.weekly_sizes(4, now=AT, did=event_store.units_that_did)] == [3, 3, 2, 2]  # bo left on the 20th
    everyone = define(workspace)
    assert [size for _, size in everyone.weekly_sizes(4, now=AT, did=event_store.units_that_did)] == [4, 4, 5, 5]  # fay came on the 22nd


@pytest.mark.both_stores
def test_weeks_end_at_midnight_in_the_workspace_time_zone(january, workspace):
    twice = define(workspace, did(times=2, days=7))
    # In UTC the week ending on Sunday the 25th reaches 12:00 on the 25th: ann's exports
    # of the 20th and 25th. Midnight in Auckland is 11:00 UTC: only the 20th's.
    assert twice.weekly_sizes(2, now=AT, did=event_store.units_that_did) == [(date(2026, 1, 19), 1), (date(2026, 1, 26), 1)]
    workspace.time_zone = "Pacific/Auckland"
    workspace.save()
    assert twice.weekly_sizes(2, now=AT, did=event_store.units_that_did) == [(date(2026, 1, 19), 0), (date(2026, 1, 26), 1)]


def test_members_are_one_query_without_events_in_python(january, workspace, django_assert_num_queries):
    cohort = define(workspace, did(times=2, days=30), Condition.of_membership("company", "plan", "eq", "enterprise"))
    with django_assert_num_queries(1):
        found = list(Person.objects.filter(pk__in=cohort.members(AT, did=event_store.units_that_did)).values_list("user_id", flat=True))
    assert sorted(found) == ["ann", "cy"]


def test_sizes_of_several_cohorts_are_counted_in_one_query(january, workspace, company, django_assert_num_queries):
    cohorts = [define(workspace, did("", days=1000)), define(workspace, Condition.of_property("plan", "eq", "free"), of=company)]
    with django_assert_num_queries(1):
        sizes = Cohort.sizes_now(cohorts, did=event_store.units_that_did)
    # Who did anything in the last 1,000 days, dee (internal) aside: ann, bo and cy.
    # Companies on the free plan: beta and gamma.
    assert sizes == {cohorts[0].pk: 3, cohorts[1].pk: 2}


@pytest.mark.both_stores
def test_a_deleted_person_leaves_every_cohort(january, workspace):
    exported = define(workspace, did(days=14))
    delete_person(Person.objects.get(user_id="ann"))
    assert members(exported) == {"bo", "cy"}


def test_conditions_read_in_words(workspace, company):
    users = define(
        workspace,
        did(times=3, days=30),
        did(did=False, days=1),
        did("$page", did=False, times=2, days=7),
        did(""),
        Condition.of_property("plan", "eq", "pro"),
        Condition.of_property("email", "set"),
        Condition.of_membership("company", "seats", "gt", "100"),
        Condition.of_membership("team"),
    )
    assert users.describe() == [
        "Did “export” at least 3 times in the last 30 days",
        "Did not do “export” in the last day",
        "Did “Page viewed” fewer than 2 times in the last 7 days",
        "Did any event in the last 30 days",
        "Trait plan equals pro",
        "Trait email is set",
        "In a company whose seats greater than 100",
        "In a team",
    ]
    groups = define(workspace, Condition.of_property("plan", "neq", "free"), of=company)
    assert groups.describe() == ["Property plan does not equal free"]
    assert (users.unit, users.noun, groups.unit, groups.noun) == ("users", "user", "companies", "company")


@pytest.mark.parametrize(
    "condition, message",
    [
        (Condition.of_membership("company"), "Being in a group is a condition on users"),
        (Condition.of_property("", "eq", "x"), "needs the name of the property"),
        (Condition.of_property("seats", "gt", "many"), "compares numbers; “many” is not one."),
        (Condition.of_property("plan", "eq"), "needs a value to compare with"),
        (did(days=0), "“In the last” is a number of days from 1"),
        (did(times=0), "“At least” is a number of times from 1"),
    ],
)
def test_a_group_cohort_refuses_conditions_it_cannot_evaluate(workspace, company, condition, message):
    with pytest.raises(ValidationError, match=message):
        define(workspace, condition, of=company)


def test_a_membership_names_a_type_of_the_workspace(workspace):
    with pytest.raises(ValidationError, match="This workspace has no group type “project”"):
        define(workspace, Condition.of_membership("project"))


def test_two_cohorts_of_a_workspace_cannot_share_a_name(workspace):
    Cohort(workspace=workspace).define(name="Power users", group_type=None, conditions=[])
    with pytest.raises(ValidationError, match="There is a cohort named “power users” already"):
        Cohort(workspace=workspace).define(name="power users", group_type=None, conditions=[])
