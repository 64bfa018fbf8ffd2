"""An email domain is read by one rule wherever one is typed or sent (the People filter,
deleting people at a domain from the page or the API, the internal domains, the demo
data): without the spaces around it, a leading @ or a trailing dot, in lower case.
(The internal domains setting is tested with the general settings.)"""

import pytest

from analytics.deletion import delete_people_by_email_domain, start_deletion
from analytics.models import Deletion, Person, normalize_domain


@pytest.mark.parametrize(
    ("typed", "domain"),
    [
        ("acme.io", "acme.io"),
        ("  @Acme.IO  ", "acme.io"),
        ("acme.io.", "acme.io"),  # the fully qualified form names the same domain
        ("@ACME.io.\n", "acme.io"),
        ("mail.acme.io", "mail.acme.io"),
        (" @ ", ""),
        ("@.", ""),
    ],
)
def test_normalize_domain(typed, domain):
    assert normalize_domain(typed) == domain


@pytest.fixture
def staff(send, workspace):
    response = send.batch(
        {"type": "identify", "userId": "ann", "traits": {"email": "ann@acme.io"}},
        {"type": "identify", "userId": "dev", "traits": {"email": "Dev@GroupSite.dev"}},
        {"type": "identify", "userId": "sam", "traits": {"email": "sam@groupsite.dev"}},
    )
    assert response.status_code == 200
    return ["dev", "sam"]


def test_people_filter_takes_a_domain_with_a_trailing_dot(alice_client, staff):
    page = alice_client.get("/people", {"domain": " @GroupSite.dev. "}).content.decode()
    assert "dev@groupsite.dev" in page and "sam@groupsite.dev" in page
    assert "ann@acme.io" not in page
    assert 'value="groupsite.dev"' in page  # the filter stays in its field, tidied


def test_api_deletes_everyone_at_a_domain_written_with_a_trailing_dot(api, staff):
    body = api.delete("people", email_domain="GroupSite.dev.", dry_run="true").json()
    assert body["email_domain"] == "groupsite.dev"
    assert [person["user_id"] for person in body["people"]] == staff


def test_api_refuses_a_domain_that_is_only_a_dot(api, staff):
    response = api.delete("people", email_domain="@.")
    assert response.status_code == 400
    assert "never deletes everyone" in response.json()["message"]
    assert Person.objects.count() == 3


def test_deleting_at_a_domain_that_is_only_a_dot_is_refused(workspace, alice, staff):
    with pytest.raises(ValueError):
        delete_people_by_email_domain(workspace, " . ")
    with pytest.raises(ValueError):
        start_deletion(workspace=workspace, requested_by=alice, email_domain="@.")
    assert Person.objects.count() == 3 and not Deletion.objects.exists()


def test_a_deletion_names_the_domain_as_tidied(workspace, alice, staff):
    deletion = start_deletion(
        workspace=workspace, requested_by=alice, email_domain=" @GroupSite.DEV."
    )
    assert deletion.email_domain == "groupsite.dev"
    assert deletion.label == "everyone at @groupsite.dev"


def test_bulk_delete_page_asks_again_for_a_domain_that_is_only_a_dot(alice_client, staff):
    page = alice_client.get("/people/delete", {"domain": "."}, follow=True).content.decode()
    assert "Enter an email domain" in page
    assert Person.objects.count() == 3



def test_internal_people_are_the_same_to_reports_and_to_the_people_list(send, workspace):
    """``PersonQuerySet.internal`` (what reports leave out) and ``Person.is_internal``
    (the badge of the people list) find the same people: an address at the domain, also
    with an ``@`` before (b), a ``_`` in the domain matching only itself (c, not d), and
    not a bare domain with no ``@`` at all (e)."""
    emails = {"a": "a@acme.io", "b": "b@x@acme.io", "c": "c@x_y.io", "d": "d@xzy.io", "e": "acme.io",
              "f": "f@mail.acme.io"}
    response = send.batch(*({"type": "identify", "userId": u, "traits": {"email": e}} for u, e in emails.items()))
    assert response.status_code == 200
    workspace.internal_domains = ["acme.io", "x_y.io"]
    people = Person.objects.filter(workspace=workspace)
    assert set(Person.objects.internal(workspace).values_list("user_id", flat=True)) == {"a", "b", "c"}
    assert {p.user_id for p in people if p.is_internal(workspace.internal_domains)} == {"a", "b", "c"}
