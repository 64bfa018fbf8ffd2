"""Deleting people from the dashboard: one from their profile, or everyone at an email
domain from the People list; a confirmation with exact figures, then a background job
with visible progress that deletes everything or, if it fails, nothing."""

import re
import threading

import psycopg
import pytest
from calls import at
from conftest import rows_of, stored_events, wait_until
from django import db
from django.db import connection, transaction
from django_tasks_db.models import DBTaskResult

from analytics import event_store
from analytics.deletion import run_deletion, start_deletion, summarize_deletion
from analytics.models import (
    Deletion,
    Group,
    Identity,
    IngestionProblem,
    Membership,
    Person,
    SuppressedUser,
)

# The deletion runs for real, outside the test's transaction: its progress is written
# through the second connection ("progress"), which must see the job's row.
RUNS = pytest.mark.django_db(transaction=True, databases=["default", "progress"])


def pk_of(user_id):
    return Person.objects.by_user_id(user_id).pk


def figures(html):
    """{label: figure} of a deletion summary (the first one in the page)."""
    summary = html.split('class="props-list deletion-summary"')[1].split("</dl>")[0]
    return dict(re.findall(r"<dt>([^<]+)</dt>\s*<dd><strong>([\d,]+)</strong>", summary))


def groups_left_empty(html):
    summary = html.split("<dt>Groups that stay with no member</dt>")[1].split("</dd>")[0]
    # Each group by its type and name (its key when it has none), linked to its profile.
    return [
        f"{re.sub(r'<[^>]+>', '', text)} -> {href}"
        for href, text in re.findall(r'<a class="badge warn" href="([^"]+)"[^>]*>(.+?)</a>', summary)
    ]


# --- confirming the deletion of one person ------------------------------------------


@pytest.mark.both_stores
def test_confirmation_shows_exactly_what_will_go(alice_client, people, send):
    send.batch(
        {"type": "track", "userId": "dev", "event": "Debugged again", "timestamp": at(30)},
        {"type": "group", "userId": "dev", "groupId": "solo", "timestamp": at(31),
         "traits": {"name": "Solo Labs"}},
    )
    page = alice_client.get(f"/people/{pk_of('dev')}/delete").content.decode()
    assert "<h1>Delete Dev?</h1>" in page
    assert figures(page) == {
        "Events": "2", "Identify calls": "1", "Group calls": "2", "Memberships": "2",
    }
    assert groups_left_empty(page) == ["Company Solo Labs -> /groups/company/solo"]  # sam stays in internal


def test_confirmations_say_what_goes_and_what_stays(alice_client, people):
    """The kinds of data that go, and that reports stop counting them (test_reports checks
    that a deleted user disappears from every report at once)."""
    for path in (f"/people/{pk_of('ann')}/delete", "/people/delete?domain=acme.io"):
        page = alice_client.get(path).content.decode()
        subtitle = page.split('<p class="subtitle">')[1].split("</p>")[0]
        for what in (
            "track, page and screen events", "identify, group and alias calls",
            "anonymous ones from before they logged in", "their memberships", "their ids",
            "their calls refused at ingestion", "Their groups stay",
            "no report, cohort or count of active groups counts them",
        ):
            assert what in subtitle, (path, what)
        assert "<dt>Groups that stay with no member</dt>" in page


@pytest.mark.both_stores
def test_confirmation_counts_every_call_type_and_id(alice_client, people):
    page = alice_client.get(f"/people/{pk_of('ann')}/delete").content.decode()
    summary = summarize_deletion(Person.objects.by_user_id("ann"))
    assert figures(page) == {
        "Events": "3",  # page, track and screen
        "Identify calls": "1",
        "Group calls": "2",
        "Alias calls": "1",
        "Memberships": "2",
    }
    assert summary.events == 7 and "7 calls in all" in page
    assert groups_left_empty(page) == []  # bob stays in acme and growth
    assert "<code>ann</code>" in page and "<code>anon-ann</code>" in page and "<code>ann-old</code>" in page


def test_confirmation_offers_to_block_the_user_id(alice_client, people):
    page = alice_client.get(f"/people/{pk_of('ann')}/delete").content.decode()
    form = page.split('<form class="card-body confirm-form" method="post">')[1].split("</form>")[0]
    assert '<input type="checkbox" id="suppress" name="suppress" value="1">' in form
    assert "Block this user id from coming back" in form
    assert "csrfmiddlewaretoken" in form and "<button class=\"danger\" type=\"submit\">Delete Ann</button>" in form


def test_an_anonymous_visitor_has_no_id_to_block(alice_client, send):
    send.batch({"type": "page", "anonymousId": "a-1", "name": "Pricing"})
    page = alice_client.get(f"/people/{Person.objects.get().pk}/delete").content.decode()
    assert 'name="suppress"' not in page and "an anonymous visitor" in page


def test_admins_may_delete(client, dana, people):
    client.force_login(dana)
    assert client.get(f"/people/{pk_of('ann')}/delete").status_code == 200


def test_members_cannot_delete(client, bob, people):
    client.force_login(bob)
    ann = pk_of("ann")
    assert client.get(f"/people/{ann}/delete").status_code == 403
    assert client.post(f"/people/{ann}/delete", {"suppress": "1"}).status_code == 403
    assert client.get("/people/delete", {"domain": "acme.io"}).status_code == 403
    assert client.post("/people/delete", {"domain": "acme.io"}).status_code == 403
    assert rows_of("ann")["events"] == 7 and not Deletion.objects.exists()


def test_outsiders_get_404(client, charlie, other_workspace, people):
    client.force_login(charlie)
    ann = pk_of("ann")
    assert client.get(f"/people/{ann}/delete").status_code == 404
    assert client.post(f"/people/{ann}/delete").status_code == 404
    assert rows_of("ann")["person"] and not Deletion.objects.exists()


def test_outsiders_without_a_workspace_get_404(client, charlie, people):
    client.force_login(charlie)
    assert client.get(f"/people/{pk_of('ann')}/delete").status_code == 404


def test_asking_again_while_a_deletion_is_pending_shows_it(
    alice_client, alice, people, workspace, django_capture_on_commit_callbacks
):
    ann = Person.objects.by_user_id("ann")
    with django_capture_on_commit_callbacks(execute=True):  # queues its task
        pending = start_deletion(workspace=workspace, requested_by=alice, person=ann)
    response = alice_client.post(f"/people/{ann.pk}/delete")
    assert response.status_code == 302 and response["Location"] == f"/deletions/{pending.pk}"
    assert Deletion.objects.count() == 1


# --- deleting ---------------------------------------------------------------------


@RUNS
@pytest.mark.both_stores
def test_deleting_removes_everything_they_sent(alice_client, people, inline_tasks, workspace):
    bob_before = rows_of("bob")
    response = alice_client.post(f"/people/{pk_of('ann')}/delete")
    deletion = Deletion.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/deletions/{deletion.pk}"
    assert rows_of("ann") == {"person": False, "events": 0, "memberships": 0, "identities": 0}
    assert not [event for event in stored_events(workspace) if event.anonymous_id == "anon-ann"]
    assert not Identity.objects.filter(value__in=["ann", "anon-ann", "ann-old"]).exists()
    assert rows_of("bob") == bob_before
    assert Group.objects.get(key="acme").member_count == 2  # bob and sam
    assert (deletion.status, deletion.person, deletion.deleted, deletion.total) == ("done", None, 7, 7)
    assert deletion.requested_by == "alice@example.com" and deletion.label == "Ann (ann)"
    assert deletion.summary["totals"]["events"] == 7
    assert not SuppressedUser.objects.exists()


@RUNS
@pytest.mark.both_stores
def test_the_result_page_shows_what_was_deleted(alice_client, people, inline_tasks):
    page = alice_client.post(f"/people/{pk_of('dev')}/delete", follow=True).content.decode()
    assert "<h1>Deleted Dev (dev)</h1>" in page
    assert "Deleted 1 person and 3 calls" in page
    assert figures(page) == {
        "People": "1", "Events": "1", "Identify calls": "1", "Group calls": "1", "Memberships": "1",
    }
    assert 'href="/people">Back to People</a>' in page
    assert "hx-trigger" not in page and 'http-equiv="refresh"' not in page


@RUNS
def test_blocking_refuses_later_calls_for_the_user_id(alice_client, people, inline_tasks, send):
    page = alice_client.post(f"/people/{pk_of('ann')}/delete", {"suppress": "1"}, follow=True).content.decode()
    assert "Blocked user ids" in page and "<code>ann</code>" in page
    assert set(SuppressedUser.objects.values_list("user_id", flat=True)) == {"ann"}
    response = send.batch({"type": "track", "userId": "ann", "event": "Back", "messageId": "m-back"})
    assert response.status_code == 400
    assert response.json()["rejected"][0]["error"] == "user 'ann' was deleted and is blocked"
    assert Person.objects.by_user_id("ann") is None


@RUNS
def test_without_blocking_the_user_can_come_back(alice_client, people, inline_tasks, send):
    alice_client.post(f"/people/{pk_of('ann')}/delete")
    assert send.batch({"type": "track", "userId": "ann", "event": "Back"}).status_code == 200
    assert event_store.with_event_count(Person.objects.all()).by_user_id("ann").event_count == 1


@RUNS
def test_deleting_someone_deleted_meanwhile_deletes_no_one(alice_client, people, workspace, api):
    ann = Person.objects.by_user_id("ann")
    deletion = Deletion.objects.create(workspace=workspace, person=ann, label="Ann")
    api.delete("people/ann")  # through the API, before the job runs
    run_deletion.call(deletion.pk)
    deletion.refresh_from_db()
    assert deletion.status == "done" and deletion.summary["totals"]["people"] == 0
    page = alice_client.get(f"/deletions/{deletion.pk}").content.decode()
    assert "No one was left to delete: this user was deleted already." in page
    assert Person.objects.count() == 3


# --- all or nothing ---------------------------------------------------------------


@RUNS
@pytest.mark.both_stores
def test_a_failing_deletion_keeps_everything_and_says_so(
    alice_client, people, inline_tasks, failing_suppression, workspace
):
    counts = (len(stored_events(workspace)), Membership.objects.count(), Identity.objects.count())
    page = alice_client.post(f"/people/{pk_of('dev')}/delete", {"suppress": "1"}, follow=True).content.decode()
    assert "<h1>Could not delete Dev (dev)</h1>" in page
    assert "The deletion failed, and nothing was deleted" in page
    assert "refused by the test" in page
    assert f'href="/people/{pk_of("dev")}/delete">Try again</a>' in page
    assert rows_of("dev") == {"person": True, "events": 3, "memberships": 1, "identities": 1}
    assert (len(stored_events(workspace)), Membership.objects.count(), Identity.objects.count()) == counts
    assert Group.objects.get(key="internal").member_count == 2
    deletion = Deletion.objects.get()
    assert (deletion.status, deletion.deleted, deletion.person_id) == ("failed", 0, pk_of("dev"))
    assert deletion.finished_at is not None


@RUNS
@pytest.mark.both_stores
def test_a_failing_bulk_deletion_keeps_everyone(alice_client, people, inline_tasks, failing_suppression):
    page = alice_client.post(
        "/people/delete", {"domain": "groupsite.dev", "suppress": "1"}, follow=True
    ).content.decode()
    assert "Could not delete everyone at @groupsite.dev" in page
    assert 'href="/people/delete?domain=groupsite.dev">Try again</a>' in page
    assert rows_of("dev")["events"] == 3 and rows_of("sam")["events"] == 3


# --- the progress page ------------------------------------------------------------


@pytest.fixture
def job(workspace, alice, people, django_capture_on_commit_callbacks):
    """Ann's deletion, queued (no worker runs here), with 20,000 events to delete."""
    ann = Person.objects.by_user_id("ann")
    with django_capture_on_commit_callbacks(execute=True):  # queues its task
        job = start_deletion(workspace=workspace, requested_by=alice, person=ann)
    Deletion.objects.filter(pk=job.pk).update(total=20000)
    job.refresh_from_db()
    return job


def claim(job, worker):
    """The job's task, claimed by ``worker`` as a worker claims it, and the job running."""
    DBTaskResult.objects.get(pk=job.task_id).claim(worker.worker_id)
    Deletion.objects.filter(pk=job.pk).update(status="running")


def test_a_queued_deletion_waits_and_polls(alice_client, job, live_worker):
    page = alice_client.get(f"/deletions/{job.pk}").content.decode()
    assert "<h1>Deleting Ann (ann)</h1>" in page and "Waiting to start…" in page
    assert f'hx-get="/deletions/{job.pk}" hx-trigger="every 1s"' in page
    assert '<noscript><meta http-equiv="refresh" content="2"></noscript>' in page
    assert "No task worker is running" not in page


def test_a_queued_deletion_says_when_no_worker_runs(alice_client, job, dead_worker):
    page = alice_client.get(f"/deletions/{job.pk}").content.decode()
    assert "Waiting to start…" in page
    assert "No task worker is running: the deletion waits for one to start" in page
    assert 'hx-trigger="every 1s"' in page


@pytest.fixture
def alive(job, live_worker):
    """The job runs: its task is claimed by a live worker and, on PostgreSQL, its lock is
    held from another connection, as the process running it holds it."""
    claim(job, live_worker)
    if connection.vendor != "postgresql":
        yield
        return
    with psycopg.connect(**connection.get_connection_params(), autocommit=True) as other:
        other.execute("SELECT pg_advisory_lock(%s, %s)", [Deletion.LOCK_SPACE, job.pk])
        yield


def test_a_running_deletion_shows_its_progress(alice_client, job, alive):
    Deletion.objects.filter(pk=job.pk).update(deleted=5000)
    page = alice_client.get(f"/deletions/{job.pk}").content.decode()
    assert '<progress class="meter" max="20000" value="5000">' in page
    assert "<strong>5,000</strong> of 20,000 calls deleted" in page and "25%" in page
    assert 'hx-trigger="every 1s"' in page and 'http-equiv="refresh"' in page
    assert "Its worker stopped" not in page and "No task worker is running" not in page


def test_polling_gets_the_progress_alone(alice_client, job):
    html = alice_client.get(
        f"/deletions/{job.pk}", headers={"HX-Request": "true", "HX-Target": "deletion-progress"}
    ).content.decode()
    assert html.lstrip().startswith('<div id="deletion-progress"') and "<html" not in html


def test_a_finished_deletion_stops_polling(alice_client, job):
    Deletion.objects.filter(pk=job.pk).update(status="failed", error="disk full")
    html = alice_client.get(
        f"/deletions/{job.pk}", headers={"HX-Request": "true", "HX-Target": "deletion-progress"}
    ).content.decode()
    assert "hx-trigger" not in html and "disk full" in html


def test_a_deletion_whose_worker_died_starts_again_by_itself(alice_client, job, dead_worker):
    # Running, but its worker died (a restart in the middle): no one holds its lock.
    claim(job, dead_worker)
    Deletion.objects.filter(pk=job.pk).update(deleted=5000)
    page = alice_client.get(f"/deletions/{job.pk}").content.decode()
    assert '<span class="badge warn">Interrupted</span>' in page
    assert "Its worker stopped before it finished (a restart), so nothing was deleted yet" in page
    assert "It starts again by itself as soon as a worker is free" in page
    assert "Waiting to start again…" in page and "5,000" not in page
    assert "No task worker is running" in page
    # Nothing to press: the page follows it, and asking again leads to it.
    assert "Try again" not in page and 'hx-trigger="every 1s"' in page
    response = alice_client.get(f"/people/{job.person_id}/delete")
    assert response.status_code == 302 and response["Location"] == f"/deletions/{job.pk}"
    assert "This user is being deleted" in alice_client.get(f"/people/{job.person_id}").text


def test_a_deletion_put_back_in_the_queue_says_it_starts_again(alice_client, job, live_worker):
    # A worker took the task back from a dead one; a live worker will claim it.
    Deletion.objects.filter(pk=job.pk).update(status="running")
    page = alice_client.get(f"/deletions/{job.pk}").content.decode()
    assert "It starts again by itself as soon as a worker is free" in page
    assert "No task worker is running" not in page and "Try again" not in page


@pytest.mark.parametrize("task_ends", ["failed", "gone", "never queued"])
def test_a_deletion_whose_task_ended_says_so_and_can_be_asked_again(alice_client, job, task_ends):
    # Its task failed before the deletion could record why, or is gone from the queue, or
    # there was none (a deletion asked for before deletions were queued in the database).
    Deletion.objects.filter(pk=job.pk).update(status="running")
    task = DBTaskResult.objects.get(pk=job.task_id)
    if task_ends == "failed":
        task.set_failed(ConnectionError("the database went away"))
    elif task_ends == "gone":
        task.delete()
    else:
        Deletion.objects.filter(pk=job.pk).update(task_id="")
    page = alice_client.get(f"/deletions/{job.pk}").content.decode()
    assert "<h1>Could not delete Ann (ann)</h1>" in page
    assert '<span class="badge danger">Stopped</span>' in page
    assert "This deletion stopped before it finished, and nothing was deleted." in page
    assert "It will not start again by itself." in page
    assert "hx-trigger" not in page and 'http-equiv="refresh"' not in page
    assert f'href="/people/{job.person_id}/delete">Try again</a>' in page
    assert alice_client.get(f"/people/{job.person_id}/delete").status_code == 200
    assert "This user is being deleted" not in alice_client.get(f"/people/{job.person_id}").text


def test_a_running_deletion_is_pending_while_its_process_runs(alice_client, job, alive):
    assert "This user is being deleted" in alice_client.get(f"/people/{job.person_id}").text
    response = alice_client.get(f"/people/{job.person_id}/delete")
    assert response.status_code == 302 and response["Location"] == f"/deletions/{job.pk}"


def test_members_and_outsiders_cannot_see_deletions(client, bob, charlie, other_workspace, job):
    client.force_login(bob)
    assert client.get(f"/deletions/{job.pk}").status_code == 403
    client.force_login(charlie)
    assert client.get(f"/deletions/{job.pk}").status_code == 404


# --- everyone at an email domain ----------------------------------------------------


@pytest.mark.both_stores
def test_bulk_preview_counts_people_and_what_they_sent(alice_client, people):
    page = alice_client.get("/people/delete", {"domain": "@GroupSite.dev"}).content.decode()
    assert "<h1>Delete everyone at @groupsite.dev?</h1>" in page
    assert figures(page) == {
        "People": "2", "Events": "1", "Identify calls": "2", "Group calls": "3", "Memberships": "3",
    }
    assert groups_left_empty(page) == ["Company internal -> /groups/company/internal"]  # acme keeps ann and bob
    who = page.split("<h3>Who</h3>")[1].split("</ul>")[0]
    assert ">Sam</a>" in who and ">Dev</a>" in who and "ann" not in who
    assert '<input type="hidden" name="domain" value="groupsite.dev">' in page
    assert "Delete 2 people</button>" in page
    assert Person.objects.count() == 4


def test_bulk_preview_of_a_domain_with_no_one(alice_client, people):
    page = alice_client.get("/people/delete", {"domain": "nowhere.example"}).content.decode()
    assert "No one at @nowhere.example" in page and "<form" not in page.split("<main")[1]


@pytest.mark.parametrize("domain", ["", "  ", "@"])
def test_an_empty_domain_is_refused(alice_client, people, domain):
    response = alice_client.get("/people/delete", {"domain": domain}, follow=True)
    assert "an empty one would match everyone" in response.content.decode()
    response = alice_client.post("/people/delete", {"domain": domain})
    assert response.status_code == 302 and response["Location"] == "/people"
    assert Person.objects.count() == 4 and not Deletion.objects.exists()


@RUNS
@pytest.mark.both_stores
def test_bulk_deletion_deletes_everyone_at_the_domain_and_no_one_else(alice_client, people, inline_tasks):
    response = alice_client.post("/people/delete", {"domain": "groupsite.dev", "suppress": "1"})
    deletion = Deletion.objects.get()
    assert response["Location"] == f"/deletions/{deletion.pk}"
    assert sorted(Person.objects.values_list("user_id", flat=True)) == ["ann", "bob"]
    assert rows_of("ann")["events"] == 7
    assert set(SuppressedUser.objects.values_list("user_id", flat=True)) == {"dev", "sam"}
    assert (deletion.email_domain, deletion.label, deletion.status) == (
        "groupsite.dev", "everyone at @groupsite.dev", "done",
    )
    page = alice_client.get(response["Location"]).content.decode()
    assert "Deleted 2 people and 6 calls" in page


@RUNS
def test_bulk_deletion_takes_their_refused_calls_too(alice_client, people, inline_tasks, send):
    send.batch({"type": "track", "userId": "dev", "messageId": "no-event"})  # refused: no event name
    assert IngestionProblem.objects.filter(user_id="dev").exists()
    alice_client.post("/people/delete", {"domain": "groupsite.dev"})
    assert not IngestionProblem.objects.filter(user_id="dev").exists()


# --- running again after an interruption ------------------------------------------


@RUNS
def test_a_deletion_left_running_by_a_dead_run_is_taken_over(people, job):
    # What a killed worker leaves: the job running, its progress, its transaction gone.
    Deletion.objects.filter(pk=job.pk).update(status="running", deleted=7)
    assert run_deletion.call(job.pk) == "done"
    job.refresh_from_db()
    assert (job.status, job.deleted, job.total) == ("done", 7, 7)
    assert job.summary["totals"]["people"] == 1 and job.summary["totals"]["events"] == 7
    assert rows_of("ann")["person"] is False and rows_of("bob")["events"] == 7


@RUNS
@pytest.mark.parametrize("status", ["done", "failed"])
def test_a_finished_deletion_is_not_run_again(people, job, status):
    Deletion.objects.filter(pk=job.pk).update(status=status, summary={"kept": True})
    assert run_deletion.call(job.pk) == status
    job.refresh_from_db()
    assert job.status == status and job.summary == {"kept": True}
    assert rows_of("ann")["events"] == 7


def test_a_deletion_runs_in_a_transaction_of_its_own(people, job):
    # Its "done" must be committed before its lock lets another run in: inside a
    # caller's transaction it would not be, so the run is refused and deletes nothing.
    with transaction.atomic(), pytest.raises(RuntimeError, match="durable"):
        run_deletion.call(job.pk)
    assert rows_of("ann")["person"] is True and rows_of("ann")["events"] == 7


@RUNS
@pytest.mark.skipif(connection.vendor != "postgresql", reason="SQLite has no advisory locks")
def test_a_second_run_waits_for_the_first_and_does_not_run_it_again(people, job):
    """Two runs of one deletion never overlap: the second waits for the first's lock,
    then finds it done and deletes nothing more."""
    Deletion.objects.filter(pk=job.pk).update(status="running")
    outcome = []

    def run_again():
        try:
            outcome.append(run_deletion.call(job.pk))
        finally:
            db.connection.close()

    with psycopg.connect(**connection.get_connection_params(), autocommit=True) as first:
        first.execute("SELECT pg_advisory_lock(%s, %s)", [Deletion.LOCK_SPACE, job.pk])
        second = threading.Thread(target=run_again)
        second.start()
        wait_until(
            lambda: first.execute(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
                " AND classid = %s AND objid = %s",
                [Deletion.LOCK_SPACE, job.pk],
            ).fetchone()[0],
            "the second run to wait for the first",
        )
        assert rows_of("ann")["events"] == 7  # the second run waits, deleting nothing
        first.execute("UPDATE analytics_deletion SET status = 'done' WHERE id = %s", [job.pk])
        first.execute("SELECT pg_advisory_unlock(%s, %s)", [Deletion.LOCK_SPACE, job.pk])
        second.join()
    assert outcome == ["done"]
    assert rows_of("ann")["events"] == 7  # left as the first run left it
