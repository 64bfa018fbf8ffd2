"""Django's admin, for support work: every model listed for a superuser, read-only where
the product has its own way to change or delete, and closed to everyone else."""

import pytest
from django.apps import apps
from django.utils import timezone

from analytics.models import (
    Cohort,
    Deletion,
    DuplicateWindow,
    Event,
    EventReceipt,
    PendingReassignment,
    QueuedEvents,
    Person,
    RollupProgress,
    SavedReport,
    SuppressedUser,
    TaskWorker,
    User,
)

OUR_MODELS = [model for model in apps.get_app_config("analytics").get_models()]
READ_ONLY = [model for model in OUR_MODELS if model is not User]


def url(model, view="changelist", *args):
    from django.urls import reverse

    return reverse(f"admin:analytics_{model._meta.model_name}_{view}", args=args)


@pytest.fixture
def superuser(db):
    return User.objects.create_superuser("root@example.com", "root@example.com", "root-password-1")


@pytest.fixture
def admin_client(client, superuser):
    client.force_login(superuser)
    return client


@pytest.fixture
def activity(send, company, team):
    """A few people, groups, memberships, events and a refused call."""
    calls = []
    for n in range(6):
        user = f"user-{n}"
        calls += [
            {"type": "identify", "userId": user,
             "traits": {"name": f"User {n}", "email": f"u{n}@acme.io"}},
            {"type": "group", "userId": user, "groupId": f"acme-{n % 2}",
             "traits": {"name": "Acme"}},
            {"type": "group", "userId": user, "groupId": "growth",
             "context": {"groupType": "team"}},
            {"type": "track", "userId": user, "event": "Report Viewed",
             "context": {"groups": {"company": f"acme-{n % 2}", "team": "growth"}}},
        ]
    send.batch(*calls, {"type": "track", "userId": "x"})  # no event name: refused
    workspace = send.workspace
    SuppressedUser.objects.create(workspace=workspace, user_id="blocked")
    Deletion.objects.create(workspace=workspace, email_domain="acme.io", label="@acme.io")
    TaskWorker.objects.create(worker_id="worker-1")
    # A receipt, as ingestion keeps with ClickHouse as the event store.
    EventReceipt.objects.create(
        workspace=workspace, message_id="m-1", timestamp=timezone.now(), received_at=timezone.now()
    )
    PendingReassignment.objects.create(workspace=workspace, from_person_id=1, to_person_id=2)
    RollupProgress.objects.create(workspace=workspace, rolled_up_to=12)
    DuplicateWindow.objects.create(workspace=workspace, start=timezone.now(), end=timezone.now())
    QueuedEvents.objects.create(
        workspace=workspace, zone="UTC", block=b"", people=[], groups=[], first_id=1, last_id=1,
        first_at=timezone.now(), last_at=timezone.now(),
    )
    Cohort.objects.create(workspace=workspace, name="Acme people", created_by="alice@example.com")
    SavedReport.create(
        workspace=workspace, kind="trends", name="Views", query="event=Report+Viewed", user=None
    )


def test_superuser_sees_every_model_of_ours(admin_client):
    page = admin_client.get("/admin/").content.decode()
    for model in OUR_MODELS:
        assert f'href="{url(model)}"' in page, model.__name__
    # One "Groups": the customers' groups, not Django's unused groups of permissions.
    assert 'href="/admin/auth/group/"' not in page
    # Plurals in the product's words.
    assert ">People<" in page and "Persons" not in page
    assert ">Identities<" in page


@pytest.mark.parametrize("model", OUR_MODELS, ids=lambda model: model.__name__)
def test_changelists_answer_in_a_bounded_number_of_queries(
    admin_client, activity, model, django_assert_max_num_queries
):
    assert model.objects.exists(), f"no {model.__name__} to list"
    # Session and user, the list and its count, a filter's choices: not one per row.
    with django_assert_max_num_queries(8):
        response = admin_client.get(url(model))
    assert response.status_code == 200
    results = response.content.decode().split('<table id="result_list">')[1].split("</table>")[0]
    assert results.split("<tbody>")[1].count("<tr") == min(model.objects.count(), 100)


@pytest.mark.parametrize("model", READ_ONLY, ids=lambda model: model.__name__)
def test_our_data_cannot_be_added_changed_or_deleted_here(admin_client, activity, model):
    obj = model.objects.first()
    assert admin_client.get(url(model, "add")).status_code == 403
    assert admin_client.get(url(model, "delete", obj.pk)).status_code == 403
    detail = admin_client.get(url(model, "change", obj.pk))
    assert detail.status_code == 200 and 'name="_save"' not in detail.content.decode()


def test_people_and_events_go_through_the_products_deletion_only(admin_client, activity):
    before = Person.objects.count(), Event.objects.count()
    person = Person.objects.first()
    response = admin_client.post(
        url(Person), {"action": "delete_selected", "_selected_action": [person.pk], "post": "yes"}
    )
    assert response.status_code in (200, 302)
    assert (Person.objects.count(), Event.objects.count()) == before


def test_accounts_can_be_changed_not_added_or_deleted(admin_client, alice):
    assert admin_client.get(url(User, "add")).status_code == 403
    assert admin_client.get(url(User, "delete", alice.pk)).status_code == 403
    detail = admin_client.get(url(User, "change", alice.pk)).content.decode()
    assert 'name="_save"' in detail and 'name="is_active"' in detail


def test_the_secret_keys_hash_is_not_shown(admin_client, workspace):
    page = admin_client.get(url(workspace.__class__, "change", workspace.pk)).content.decode()
    assert workspace.secret_key_hash not in page
    assert workspace.secret_key_hint in page and workspace.write_key in page


def test_non_staff_cannot_get_in(client, alice, workspace):
    client.force_login(alice)  # the owner of a workspace, not staff
    for path in ("/admin/", url(Person), url(Event)):
        response = client.get(path)
        assert response.status_code == 302 and response["Location"].startswith("/admin/login/")


def test_anonymous_visitors_cannot_get_in(client, db):
    response = client.get(url(Event))
    assert response.status_code == 302 and response["Location"].startswith("/admin/login/")
