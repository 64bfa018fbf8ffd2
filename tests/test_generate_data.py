"""generate_data: realistic B2B data, stored through the real ingestion path."""

from collections import Counter
from datetime import UTC, datetime, timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.db.models import Count

from analytics import demo_data
from analytics.models import Event, Group, GroupType, Identity, Membership, Person, Workspace

EVENTS = 4000


@pytest.fixture
def generated(workspace):
    """Alice's workspace filled by the command; its output is ``workspace.output``."""
    out = StringIO()
    call_command("generate_data", workspace=workspace.slug, events=EVENTS, seed=5, stdout=out)
    workspace.output = out.getvalue()
    return workspace


def company_memberships(workspace):
    return Membership.objects.filter(
        workspace=workspace, ended_at__isnull=True, group__group_type__name="company"
    )


def people_in_several_companies(workspace):
    return set(
        company_memberships(workspace)
        .values("person")
        .annotate(n=Count("id"))
        .filter(n__gt=1)
        .values_list("person", flat=True)
    )


def test_every_call_is_stored_without_refusal_or_warning(generated):
    assert Event.objects.filter(workspace=generated).count() == EVENTS
    assert f"{EVENTS:,} stored" in generated.output
    assert "0 refused, 0 warnings" in generated.output
    types = set(Event.objects.filter(workspace=generated).values_list("type", flat=True))
    assert types == {"identify", "group", "track", "page"}


def test_people_in_several_companies_have_events_without_a_company(generated, company):
    several = people_in_several_companies(generated)
    assert len(several) >= 5
    without_company = Event.objects.without_group_of(company).filter(
        person__in=several, type__in=["track", "page"]
    )
    assert without_company.count() > 50
    assert f"{len(several):,} people are in several companies" in generated.output


def test_people_in_one_company_get_it_by_implicit_context(generated, company):
    ever_in_several = (
        Membership.objects.filter(workspace=generated, group__group_type=company)
        .values("person")
        .annotate(n=Count("id"))
        .filter(n__gt=1)
        .values_list("person", flat=True)
    )
    single = Person.objects.filter(workspace=generated, user_id__isnull=False).exclude(
        pk__in=ever_in_several
    )
    # Pages never name the company; signed-in ones all get it from the membership.
    pages = Event.objects.filter(person__in=single, type="page").exclude(user_id="")
    assert pages.count() > 100
    assert not pages.filter(group_0=None).exists()


def test_some_events_name_their_company_and_team_explicitly(generated):
    explicit = Event.objects.filter(workspace=generated, type="track")
    assert explicit.filter(context__has_key="groupId").exists()
    assert explicit.filter(context__groups__has_key="team").exists()


def test_internal_staff_joined_customers_accounts(generated, company):
    staff = Person.objects.with_email_domain(demo_data.INTERNAL_DOMAIN).filter(workspace=generated)
    assert staff.count() >= 2
    internal = Group.objects.get(
        group_type=company, properties__website=f"https://{demo_data.INTERNAL_DOMAIN}"
    )
    for person in staff:
        joined = Membership.objects.filter(person=person, group__group_type=company)
        assert joined.filter(group=internal).exists()
        assert joined.exclude(group=internal).exists()


def test_companies_and_teams_have_traits(generated, company, team):
    companies = Group.objects.filter(group_type=company)
    teams = Group.objects.filter(group_type=team)
    assert companies.count() == EVENTS // 100 + 1  # and the internal one
    assert teams.count() >= companies.count()
    for group in companies:
        assert {"name", "plan", "industry", "employees", "createdAt", "website"} <= set(
            group.properties
        )
        assert group.last_updated is not None
    assert all(group.properties.get("name") for group in teams)


def test_people_have_identify_traits_at_their_company_domain(generated, company):
    person = (
        Person.objects.filter(workspace=generated, user_id__isnull=False).order_by("pk").first()
    )
    assert {"email", "name", "title", "role", "createdAt"} <= set(person.traits)
    home = company_memberships(generated).filter(person=person).order_by("started_at").first().group
    assert person.email.endswith("@" + home.properties["website"].removeprefix("https://"))


def test_memberships_of_companies_and_teams_exist(generated, company, team):
    people = Person.objects.filter(workspace=generated, user_id__isnull=False)
    joined = Membership.objects.filter(workspace=generated, group__group_type=company)
    assert joined.values("person").distinct().count() == people.count()
    assert Membership.objects.filter(group__group_type=team).count() >= people.count() * 0.9


def test_anonymous_visitors_some_of_whom_identify_later(generated):
    identified_visitors = Person.objects.filter(
        workspace=generated, user_id__isnull=False, identities__kind=Identity.Kind.ANONYMOUS
    )
    assert identified_visitors.exists()
    assert Event.objects.filter(person__in=identified_visitors, user_id="").exists()
    assert Person.objects.filter(workspace=generated, user_id__isnull=True).exists()


def test_account_removed_user_ends_memberships(generated):
    removals = Event.objects.filter(workspace=generated, name="Account Removed User")
    assert removals.exists()
    for removal in removals:
        ended = Membership.objects.filter(person=removal.person_id, ended_at=removal.timestamp)
        assert ended.exists()


def test_events_span_the_last_ninety_days(generated):
    events = Event.objects.filter(workspace=generated)
    now = datetime.now(UTC)
    assert events.filter(timestamp__lt=now - timedelta(days=60)).exists()
    assert events.filter(timestamp__gt=now - timedelta(days=7)).exists()
    assert not events.filter(timestamp__lt=now - timedelta(days=93)).exists()


def test_team_group_type_is_created_when_missing(alice):
    workspace, _ = Workspace.create(name="Only companies", owner=alice)
    demo_data.generate(workspace, events=300, seed=1)
    assert set(GroupType.objects.filter(workspace=workspace).values_list("name", flat=True)) == {
        "company",
        "team",
    }
    assert Group.objects.filter(workspace=workspace, group_type__name="team").exists()


def snapshot(workspace):
    return list(
        Event.objects.filter(workspace=workspace)
        .order_by("message_id")
        .values_list(
            "message_id", "type", "name", "timestamp", "user_id", "group_0__key", "group_1__key"
        )
    )


def test_the_same_seed_gives_the_same_data(alice):
    until = datetime(2026, 3, 1, tzinfo=UTC)
    first, _ = Workspace.create(name="First", owner=alice, group_types=("company", "team"))
    second, _ = Workspace.create(name="Second", owner=alice, group_types=("company", "team"))
    other, _ = Workspace.create(name="Other", owner=alice, group_types=("company", "team"))
    demo_data.generate(first, events=1000, seed=9, until=until)
    demo_data.generate(second, events=1000, seed=9, until=until)
    demo_data.generate(other, events=1000, seed=10, until=until)
    assert snapshot(first) == snapshot(second)
    assert len(snapshot(first)) == 1000
    assert snapshot(first) != snapshot(other)


# --- looking like a real product's data ------------------------------------------------


def per_minute(moments):
    return Counter(moment.replace(second=0, microsecond=0) for moment in moments)


def test_few_events_share_a_minute(generated):
    moments = Event.objects.filter(workspace=generated).values_list("timestamp", flat=True)
    busiest = per_minute(moments).most_common(1)[0][1]
    assert busiest <= EVENTS * 0.005  # 20 of 4,000 events; a person signs up with 3 calls


def test_people_are_not_first_or_last_seen_in_the_same_minute(generated):
    people = Person.objects.filter(workspace=generated)
    for field in ("created_at", "last_seen_at"):
        busiest = per_minute(people.values_list(field, flat=True)).most_common(1)[0][1]
        assert busiest <= max(3, people.count() * 0.01), field


def test_activity_spreads_over_the_ninety_days_and_grows(generated):
    now = datetime.now(UTC)
    weeks = Counter(
        (now - moment).days // 7
        for moment in Event.objects.filter(workspace=generated).values_list("timestamp", flat=True)
    )
    assert set(weeks) >= set(range(12))  # every week of the window
    assert sum(weeks[w] for w in range(4)) > 1.3 * sum(weeks[w] for w in range(8, 12))


def test_weekdays_are_busier_than_weekends(generated):
    days = Counter(
        moment.weekday()
        for moment in Event.objects.filter(workspace=generated, type__in=["track", "page"])
        .values_list("timestamp", flat=True)
    )
    weekday = sum(days[d] for d in range(5)) / 5
    weekend = (days[5] + days[6]) / 2
    assert weekend < weekday / 3


def test_people_arrive_and_groups_are_updated_all_along(generated):
    now = datetime.now(UTC)

    def weeks(moments):
        return {(now - moment).days // 7 for moment in moments if moment}

    people = Person.objects.filter(workspace=generated, user_id__isnull=False)
    assert len(weeks(people.values_list("created_at", flat=True))) >= 11
    groups = Group.objects.filter(workspace=generated)
    assert len(weeks(groups.values_list("last_updated", flat=True))) >= 8


def test_companies_have_at_least_as_many_employees_as_members(generated, company):
    for group in Group.objects.filter(group_type=company):
        assert group.properties["employees"] >= group.member_count, group.properties["name"]


def test_plan_and_mrr_agree(generated, company):
    for group in Group.objects.filter(group_type=company):
        plan, mrr = group.properties["plan"], group.properties["mrr"]
        price = demo_data.SEAT_PRICES[plan]
        if plan == "free":
            assert mrr == 0
        else:
            assert mrr % price == 0
            assert mrr // price >= max(demo_data.MIN_SEATS[plan], group.member_count)


def test_created_at_traits_come_before_the_first_calls(generated, company):
    for group in Group.objects.filter(group_type=company):
        first = Membership.objects.filter(group=group).order_by("started_at").first()
        assert datetime.fromisoformat(group.properties["createdAt"]) <= first.started_at
    for person in Person.objects.filter(workspace=generated, user_id__isnull=False):
        identified = Event.objects.filter(person=person, type="identify").order_by("timestamp")
        assert datetime.fromisoformat(person.traits["createdAt"]) <= identified.first().timestamp
