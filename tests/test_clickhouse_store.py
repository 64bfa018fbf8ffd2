"""ClickHouse as the event store (CLICKHOUSE_URL), on its embedded engine (chdb): calls
are stored there and not in the main database, once each however often they are
retried, and answered 200 only once stored; a visitor's events become the user's, a
deleted user's go, a removed group type's context is cleared.

A real server adds what chdb cannot show: inserts buffered with other clients'
(``async_insert``), changes waited for on every replica, and a cluster's shards."""

import threading
import time
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from io import StringIO

import pytest
from calls import feb, identify, join, track
from django.core.management import call_command
from django.db import connection, connections
from django.http import QueryDict
from django.utils import timezone

from analytics import clickhouse, reports
from analytics.clickhouse import rollups, store
from analytics.clickhouse.store import apply_reassignments, continue_numbering
from analytics.event_store import purge_receipts
from analytics.reports.clickhouse.scope import Scope
from analytics.worker import Heartbeat
from analytics.deletion import delete_person
from analytics.group_types import remove_group_type
from analytics.models import (
    DailyActivity,
    DuplicateWindow,
    Event,
    EventName,
    EventReceipt,
    Group,
    GroupType,
    PendingReassignment,
    Person,
    RollupProgress,
    TaskWorker,
)


def held(client, workspace, *, final=True):
    """The workspace's events in ClickHouse, oldest first, as dicts."""
    database = clickhouse.database()
    result = client.query(
        f"SELECT id, message_id, person_id, type, name, timestamp, group_0_id, group_1_id "
        f"FROM {database}.events {'FINAL' if final else ''} WHERE workspace_id = %(w)s "
        "ORDER BY timestamp, message_id",
        parameters={"w": workspace.pk},
    )
    return [dict(zip(result.column_names, row)) for row in result.result_rows]


@contextmanager
def during_the_insert(action, *, wait):
    """While a delivery is about to insert into ClickHouse: ``action`` run in another
    thread (its own connection), the insert going on once it is done or after ``wait``
    seconds. Yields the order in which the action ended ("done") and the insert went on
    ("inserted"), and an event set once the action ended."""
    client = clickhouse.client()
    insert, done, order = client.raw_insert, threading.Event(), []

    def run():
        try:
            action()
            order.append("done")
        finally:
            connections.close_all()
            done.set()

    def insert_after_it(*args, **kwargs):
        threading.Thread(target=run).start()
        done.wait(wait)
        order.append("inserted")
        return insert(*args, **kwargs)

    client.raw_insert = insert_after_it
    try:
        yield order, done
    finally:
        del client.raw_insert


def person(user_id):
    return Person.objects.get(user_id=user_id)


def test_calls_are_stored_in_clickhouse_and_not_in_the_main_database(clickhouse_events, workspace, send):
    response = send.batch(
        {**identify("ann", email="ann@acme.com"), "messageId": "m-1"},
        join("ann", "acme", messageId="m-2"),
        track("ann", "Report Viewed", groups={"company": "acme"}, messageId="m-3"),
        track("ann", "Export", at=feb(3), messageId="m-4"),
    )
    assert response.status_code == 200, response.content
    assert response.json()["stored"] == 4
    ann, acme = person("ann"), Group.objects.get(key="acme")
    events = held(clickhouse_events, workspace)
    assert [(e["message_id"], e["type"], e["name"], e["person_id"], e["group_0_id"]) for e in events] == [
        ("m-1", "identify", "", ann.pk, None),
        ("m-2", "group", "", ann.pk, acme.pk),
        ("m-3", "track", "Report Viewed", ann.pk, acme.pk),
        # ann is in one company: her call without one is inferred to be in it.
        ("m-4", "track", "Export", ann.pk, acme.pk),
    ]
    assert events[3]["timestamp"] == datetime(2026, 2, 3, 12)  # UTC, as the client gives it
    # The main database keeps the receipts, the people and groups, the names seen; not
    # the events nor anything worked out from them.
    assert Event.objects.count() == 0
    assert DailyActivity.objects.count() == 0
    receipts = {r.message_id: r for r in EventReceipt.objects.all()}
    assert {m: r.pk for m, r in receipts.items()} == {e["message_id"]: e["id"] for e in events}
    assert all(r.stored_at is not None for r in receipts.values())
    assert set(EventName.objects.values_list("name", flat=True)) == {"Report Viewed", "Export"}


def test_a_retried_call_is_a_duplicate_and_written_once(clickhouse_events, workspace, send):
    calls = [track("ann", "Export", messageId="m-1"), track("ann", "Export", messageId="m-2")]
    assert send.batch(*calls).json()["stored"] == 2
    again = send.batch(*calls, track("ann", "Export", messageId="m-3")).json()
    assert (again["stored"], again["duplicates"]) == (1, 2)
    assert len(held(clickhouse_events, workspace, final=False)) == 3


def test_a_call_clickhouse_did_not_store_is_stored_on_retry_with_its_first_number_and_moment(
    clickhouse_events, workspace, send
):
    """The first delivery fails after the main database committed (ClickHouse refuses
    the insert): the client is asked to retry. The retry's moment, corrected for another
    clock skew, would fall on another day; it keeps the first one, and its number."""
    database = clickhouse.database()
    clickhouse_events.command(f"ALTER TABLE {database}.events ADD CONSTRAINT refuse CHECK name != 'Export'")
    call = track("ann", "Export", at=feb(3, 23, 30), messageId="m-1")
    first = send.batch(call, sentAt=feb(3, 23, 30))
    assert first.status_code == 503
    assert first["Retry-After"]
    receipt = EventReceipt.objects.get(message_id="m-1")
    assert receipt.stored_at is None
    assert held(clickhouse_events, workspace) == []

    clickhouse_events.command(f"ALTER TABLE {database}.events DROP CONSTRAINT refuse")
    # The client's clock was a day behind when it retried: corrected, the call would
    # move a day on.
    retry = send.batch(call, sentAt=feb(2, 23, 30))
    assert retry.status_code == 200, retry.content
    assert (retry.json()["stored"], retry.json()["duplicates"]) == (1, 0)
    [event] = held(clickhouse_events, workspace)
    assert (event["id"], event["timestamp"].replace(tzinfo=UTC)) == (receipt.pk, receipt.timestamp)
    receipt.refresh_from_db()
    assert receipt.stored_at is not None
    assert send.batch(call).json()["duplicates"] == 1


def test_a_call_stored_but_not_marked_is_written_again_and_read_once(clickhouse_events, workspace, send):
    """The process stopped between ClickHouse's insert and marking the receipt: the
    retry writes the row again, with the same sorting key, and reads see one."""
    call = track("ann", "Export", messageId="m-1")
    assert send.batch(call, sentAt=feb(2, 10)).status_code == 200
    EventReceipt.objects.update(stored_at=None)
    assert send.batch(call, sentAt=feb(1, 10)).json()["stored"] == 1
    assert len(held(clickhouse_events, workspace, final=False)) == 2
    assert len(held(clickhouse_events, workspace)) == 1
    assert EventReceipt.objects.get().stored_at is not None


def test_counts_read_a_call_held_twice_once(clickhouse_events, workspace, send):
    """A retry is written with the moment of its first delivery, which may have written
    it already: that moment is recorded (``DuplicateWindow``) before the retry is stored,
    and counts of its days read the events with FINAL; those of other days without."""
    call = track("ann", "Export", at=feb(2, 10), groups={"company": "acme"}, messageId="m-1")
    assert send.batch(identify("ann"), call).status_code == 200
    assert not DuplicateWindow.objects.exists()
    EventReceipt.objects.filter(message_id="m-1").update(stored_at=None)
    assert send.batch(call).json()["stored"] == 1
    receipt = EventReceipt.objects.get(message_id="m-1")
    [window] = DuplicateWindow.objects.all()
    assert (window.start, window.end) == (receipt.timestamp, receipt.timestamp)
    assert [e["message_id"] for e in held(clickhouse_events, workspace, final=False)].count("m-1") == 2
    params = QueryDict("type=company&from=2026-02-01&to=2026-02-03")
    active = reports.active_groups(workspace, reports.active_groups_from_params(workspace, params))
    assert (active.events, active.strict) == (1, [0, 1, 0])
    scope = Scope(workspace, reports.active_groups_from_params(workspace, params))
    assert scope.counted_events(reports.Period(date(2026, 2, 1), date(2026, 2, 3))).endswith(" FINAL")
    assert not scope.counted_events(reports.Period(date(2026, 2, 3), date(2026, 2, 4))).endswith(" FINAL")


def test_a_duplicate_window_is_forgotten_once_clickhouse_merged_the_copies(clickhouse_events, workspace, send):
    """Hourly, the task worker forgets the windows recorded an hour ago or more whose
    calls ClickHouse holds once each; not before (the copy of a retry is written after
    its window), and not while the copies are there."""
    call = track("ann", "Export", at=feb(2, 10), messageId="m-1")
    assert send.batch(identify("ann"), call).status_code == 200
    EventReceipt.objects.filter(message_id="m-1").update(stored_at=None)
    assert send.batch(call).status_code == 200
    window = DuplicateWindow.objects.get()
    later = timezone.now() + DuplicateWindow.KEPT_AT_LEAST
    assert store.purge_duplicate_windows() == 0  # too recent
    assert store.purge_duplicate_windows(later) == 0  # both copies still there
    clickhouse_events.command(f"OPTIMIZE TABLE {clickhouse.database()}.events FINAL")
    assert store.purge_duplicate_windows(later) == 1
    assert not DuplicateWindow.objects.filter(pk=window.pk).exists()


def test_a_retry_that_waited_for_the_first_delivery_writes_nothing(clickhouse_events, workspace, send, monkeypatch):
    """A retry sent while the first delivery of its call still ran (the client gave up
    waiting) waits for the receipt that delivery holds, then finds it stored."""
    call = track("ann", "Export", messageId="m-1")
    assert send.batch(call).status_code == 200
    EventReceipt.objects.update(stored_at=None)  # the first delivery, still running
    [first] = clickhouse_events.query(f"SELECT _inserted_at FROM {clickhouse.database()}.events").result_rows
    lock, ended = store._lock, timezone.now()

    def first_delivery_ends_while_waiting(rows):
        EventReceipt.objects.update(stored_at=ended)
        return lock(rows)

    monkeypatch.setattr(store, "_lock", first_delivery_ends_while_waiting)
    assert send.batch(call).status_code == 200
    # Neither written again nor marked again.
    assert clickhouse_events.query(f"SELECT _inserted_at FROM {clickhouse.database()}.events").result_rows == [first]
    assert EventReceipt.objects.get().stored_at == ended


def test_a_visitor_s_events_become_the_user_s(clickhouse_events, workspace, send):
    assert send.batch(identify("ann"), track("ann", "Export")).status_code == 200
    visit = {"type": "page", "anonymousId": "v-1", "name": "Pricing", "timestamp": feb(2, 9)}
    assert send.batch(visit).status_code == 200
    visitor = Person.objects.exclude(user_id="ann").get()
    assert {e["person_id"] for e in held(clickhouse_events, workspace)} == {person("ann").pk, visitor.pk}
    # ann signs in on the device she visited from.
    login = {"type": "identify", "userId": "ann", "anonymousId": "v-1", "timestamp": feb(2, 11)}
    assert send.batch(login).status_code == 200
    assert not Person.objects.filter(pk=visitor.pk).exists()
    assert {e["person_id"] for e in held(clickhouse_events, workspace)} == {person("ann").pk}
    assert len(held(clickhouse_events, workspace)) == 4


def test_deleting_a_user_deletes_their_events(clickhouse_events, workspace, other_workspace, send, charlie_send):
    assert send.batch(
        identify("ann"), track("ann", "Export"), identify("bob"), track("bob", "Export")
    ).status_code == 200
    assert charlie_send.batch(identify("ann"), track("ann", "Export")).status_code == 200
    ann = Person.objects.get(workspace=workspace, user_id="ann")
    summary = delete_person(ann, suppress=True)
    assert summary.events == 2
    assert {e["person_id"] for e in held(clickhouse_events, workspace)} == {person("bob").pk}
    # Counted without FINAL too: the rows are gone, not only hidden.
    assert len(held(clickhouse_events, workspace, final=False)) == 2
    assert len(held(clickhouse_events, other_workspace)) == 2
    # Blocked from now on.
    assert send.batch(track("ann", "Export")).json()["rejected"]


def test_removing_a_group_type_clears_it_from_events(clickhouse_events, workspace, send):
    assert send.batch(
        track("ann", "Export", feb(2, 10), groups={"company": "acme", "team": "growth"}),
        track("ann", "Import", feb(2, 11), groups={"company": "acme"}),
    ).status_code == 200
    events = held(clickhouse_events, workspace)
    assert all(e["group_0_id"] is not None for e in events)
    assert [e["group_1_id"] is not None for e in events] == [True, False]
    remove_group_type(workspace.group_types.get(name="team"))
    events = held(clickhouse_events, workspace)
    assert [(e["group_0_id"] is not None, e["group_1_id"]) for e in events] == [(True, None), (True, None)]


def test_receipts_are_kept_eight_days(clickhouse_events, workspace, send):
    assert send.batch(track("ann", "Export", messageId="m-1"), track("ann", "Export", messageId="m-2")).status_code == 200
    now = datetime.now(UTC)
    EventReceipt.objects.filter(message_id="m-1").update(received_at=now - timedelta(days=8, minutes=1))
    EventReceipt.objects.filter(message_id="m-2").update(received_at=now - timedelta(days=7, hours=23))
    assert purge_receipts(now) == 1
    assert list(EventReceipt.objects.values_list("message_id", flat=True)) == ["m-2"]


def test_the_task_worker_purges_receipts_once_an_hour(clickhouse_events, workspace, send):
    assert send.batch(track("ann", "Export", messageId="m-1"), track("ann", "Export", messageId="m-2")).status_code == 200
    EventReceipt.objects.filter(message_id="m-1").update(received_at=datetime.now(UTC) - timedelta(days=9))
    heartbeat = Heartbeat("worker-1", every=1)
    heartbeat.worker = TaskWorker.register("worker-1")
    heartbeat.beat()
    assert list(EventReceipt.objects.values_list("message_id", flat=True)) == ["m-2"]
    # Not again within the hour.
    EventReceipt.objects.update(received_at=datetime.now(UTC) - timedelta(days=9))
    heartbeat.beat()
    assert EventReceipt.objects.count() == 1


@pytest.mark.skipif(connection.vendor != "postgresql", reason="SQLite numbers rows without a sequence")
def test_new_events_are_numbered_after_the_main_database_s(chdb, settings, workspace, send):
    config, settings.CLICKHOUSE = settings.CLICKHOUSE, None
    assert send.batch(track("ann", "Export"), track("ann", "Import")).status_code == 200
    last = Event.objects.order_by("-pk").first().pk
    settings.CLICKHOUSE = config
    # As when the receipts' table is new: its numbers start at 1.
    with connection.cursor() as cursor:
        cursor.execute("SELECT setval(pg_get_serial_sequence('analytics_eventreceipt', 'id'), 1, false)")
    call_command("clickhouse_schema", stdout=StringIO())
    assert send.batch(track("ann", "Export", messageId="m-new")).status_code == 200
    assert EventReceipt.objects.get(message_id="m-new").pk == last + 1
    continue_numbering()  # again: it never goes back
    assert send.batch(track("ann", "Export", messageId="m-next")).status_code == 200
    assert EventReceipt.objects.get(message_id="m-next").pk == last + 2


def test_a_merge_rolled_back_changes_nothing_in_clickhouse(clickhouse_events, workspace, send, refuse_inserts):
    """The merge of a visitor into a user is made in ClickHouse only once its transaction
    has committed: here a later write of the same transaction fails."""
    assert send.batch(identify("ann"), track("ann", "Export")).status_code == 200
    visit = {"type": "page", "anonymousId": "v-1", "name": "Pricing", "timestamp": feb(2, 9)}
    assert send.batch(visit).status_code == 200
    visitor = Person.objects.exclude(user_id="ann").get()
    refuse_inserts("analytics_eventreceipt")  # after the merge, in the same transaction
    login = {"type": "identify", "userId": "ann", "anonymousId": "v-1", "timestamp": feb(2, 11)}
    # Refused (PostgreSQL's error is a failure, SQLite's a conflict retried until busy).
    assert send.batch(login).status_code in (500, 503)
    assert Person.objects.filter(pk=visitor.pk).exists()
    assert not PendingReassignment.objects.exists()
    by_person = {e["message_id"]: e["person_id"] for e in held(clickhouse_events, workspace)}
    assert sorted(by_person.values()) == sorted([person("ann").pk, person("ann").pk, visitor.pk])


def test_a_merge_recorded_but_not_made_is_made_by_the_task_worker(clickhouse_events, workspace, send):
    assert send.batch(identify("ann"), {"type": "page", "anonymousId": "v-1", "name": "Home"}).status_code == 200
    visitor = Person.objects.exclude(user_id="ann").get()
    # As if the request that merged them had stopped between its commit and ClickHouse.
    PendingReassignment.objects.create(workspace=workspace, from_person_id=visitor.pk, to_person_id=person("ann").pk)
    heartbeat = Heartbeat("worker-1", every=1)
    heartbeat.worker = TaskWorker.register("worker-1")
    heartbeat.beat()
    assert {e["person_id"] for e in held(clickhouse_events, workspace)} == {person("ann").pk}
    assert not PendingReassignment.objects.exists()


def test_merges_are_made_in_the_order_they_were_recorded(clickhouse_events, workspace, send):
    """v-1 became ann's, then ann was merged into bob: v-1's events end with bob."""
    assert send.batch(identify("ann"), identify("bob"), {"type": "page", "anonymousId": "v-1", "name": "Home"}).status_code == 200
    ann, bob, visitor = person("ann"), person("bob"), Person.objects.get(user_id=None)
    PendingReassignment.objects.create(workspace=workspace, from_person_id=visitor.pk, to_person_id=ann.pk)
    PendingReassignment.objects.create(workspace=workspace, from_person_id=ann.pk, to_person_id=bob.pk)
    assert apply_reassignments(workspace.pk) == 2
    assert {e["person_id"] for e in held(clickhouse_events, workspace)} == {bob.pk}


@pytest.mark.skipif(connection.vendor != "postgresql", reason="SQLite locks no rows")
def test_a_call_during_a_group_type_s_removal_waits_for_it(
    transactional_db, clickhouse_events, workspace, send, monkeypatch
):
    """The team type's removal has locked its groups and the workspace when a call
    carrying team growth comes: ingestion waits for it (the removal locks the groups
    before the workspace, in the order ingestion takes them), so neither deadlocks. The
    call is then stored without the team, its group gone."""
    from analytics import event_store

    assert send.batch(join("ann", "growth", group_type="team")).status_code == 200
    team = workspace.group_types.get(name="team")
    clear, locked, removed = event_store.clear_group_type, threading.Event(), threading.Event()
    errors = []

    def clear_after_a_while(group_type):
        locked.set()  # the groups and the workspace are locked
        time.sleep(1.5)  # past PostgreSQL's deadlock_timeout: a cycle would be found
        return clear(group_type)

    def remove():
        try:
            remove_group_type(GroupType.objects.get(pk=team.pk))
        except Exception as error:  # a deadlock
            errors.append(error)
        finally:
            connections.close_all()
            removed.set()

    monkeypatch.setattr(event_store, "clear_group_type", clear_after_a_while)
    threading.Thread(target=remove).start()
    assert locked.wait(10)
    call = track("ann", "Export", groups={"team": "growth"}, messageId="m-wait")
    response = send.batch(call)
    assert removed.wait(10)
    assert errors == []
    assert not GroupType.objects.filter(pk=team.pk).exists()
    if response.status_code == 503:  # the group went between the call's two steps
        response = send.batch(call)
    assert response.status_code == 200
    assert [e["group_1_id"] for e in held(clickhouse_events, workspace) if e["message_id"] == "m-wait"] == [None]


@pytest.mark.skipif(connection.vendor != "postgresql", reason="SQLite locks no rows")
def test_a_group_type_removed_while_a_delivery_holds_its_group_clears_it_after(
    transactional_db, clickhouse_events, workspace, send, api
):
    """A delivery of an event carrying team growth is writing to ClickHouse when the
    team type is removed: the removal waits for it (the delivery holds the group), then
    clears the event's team, and the events API still reads it."""
    assert send.batch(join("ann", "growth", group_type="team")).status_code == 200
    team = workspace.group_types.get(name="team")

    def remove():
        remove_group_type(GroupType.objects.get(pk=team.pk))

    # The removal starts and finds the group locked; the insert goes on after a second.
    with during_the_insert(remove, wait=1) as (order, removed):
        response = send.batch(track("ann", "Export", groups={"team": "growth"}, messageId="m-race"))
    removed.wait(10)
    assert response.status_code == 200
    assert order == ["inserted", "done"]
    assert [e["group_1_id"] for e in held(clickhouse_events, workspace) if e["message_id"] == "m-race"] == [None]
    assert api.get("events").status_code == 200


def test_a_call_whose_person_went_before_its_delivery_is_not_marked_stored(
    clickhouse_events, workspace, send, monkeypatch
):
    """The person of a call numbered in ingestion's transaction is gone by the time its
    delivery locks them (a merge, a deletion): nothing is written, the client is asked
    to retry, and the receipt stays unmarked, so that the retry stores it."""
    assert send.batch(identify("ann")).status_code == 200
    lock = store._lock

    def person_gone_first(rows):
        Person.objects.filter(pk__in=[row["person_id"] for row in rows]).delete()
        return lock(rows)

    monkeypatch.setattr(store, "_lock", person_gone_first)
    response = send.batch(track("ann", "Export", messageId="m-gone"))
    assert response.status_code == 503
    assert EventReceipt.objects.get(message_id="m-gone").stored_at is None
    assert [e for e in held(clickhouse_events, workspace) if e["message_id"] == "m-gone"] == []
    monkeypatch.setattr(store, "_lock", lock)
    assert send.batch(track("ann", "Export", messageId="m-gone")).status_code == 200
    assert EventReceipt.objects.get(message_id="m-gone").stored_at is not None
    assert [e["person_id"] for e in held(clickhouse_events, workspace) if e["message_id"] == "m-gone"] == [
        person("ann").pk
    ]


@pytest.mark.skipif(connection.vendor != "postgresql", reason="SQLite has one writer at a time: the catch-up waits")
def test_a_catch_up_neither_waits_for_a_delivery_nor_loses_its_events(
    transactional_db, clickhouse_events, workspace, send
):
    """A report adds the stored events to the rollups while a delivery is inserting:
    neither waits for the other. The catch-up claims what ClickHouse holds, which the
    delivery's events (numbered after) are not part of; the next catch-up adds them."""
    assert send.batch(identify("ann"), track("ann", "Import", groups={"company": "acme"})).status_code == 200
    with during_the_insert(lambda: rollups.catch_up(workspace.pk), wait=5) as (order, _):
        response = send.batch(track("ann", "Export", at=feb(9, 10), groups={"company": "acme"}, messageId="m-race"))
    assert response.status_code == 200
    assert order == ["done", "inserted"]
    [race] = [e for e in held(clickhouse_events, workspace) if e["message_id"] == "m-race"]
    progress = RollupProgress.objects.get(workspace=workspace)
    assert progress.rolled_up_to == progress.claimed_to < race["id"]
    assert rollups.catch_up(workspace.pk) == race["id"]
    days = clickhouse_events.query(
        f"SELECT day FROM {clickhouse.database()}.group_days WHERE workspace_id = %(w)s",
        parameters={"w": workspace.pk},
    ).result_rows
    assert (race["timestamp"].date(),) in days
