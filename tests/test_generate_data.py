"""generate_data: realistic B2B data, stored through the real ingestion path."""

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
