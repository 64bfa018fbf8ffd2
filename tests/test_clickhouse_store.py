"""ClickHouse as the event store (CLICKHOUSE_URL), on its embedded engine (chdb): calls
are stored there and not in the main database, once each however often they are
retried, and answered 200 only once queued durably (stored there by the task worker,
or by a read first); a visitor's events become the user's, a
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
from analytics.clickhouse import queue, rollups, store
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
    QueuedEvents,
    RollupProgress,
    TaskWorker,
)


def held(client, workspace, *, final=True, flushed=True):
    """The workspace's events in ClickHouse, oldest first, as dicts: the events queued
    stored first, as reads do (unless not ``flushed``)."""
    if flushed:
        queue.flush(workspace.pk)
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
    """While a flush is about to insert into ClickHouse: ``action`` run in another
    thread (its own connection), the insert going on once it is done or after ``wait``
    seconds. Yields the order in which the action ended ("done") and the insert went on
    ("inserted"), and an event set once the action ended."""
    client = clickhouse.client()
    insert, done, order, started = client.raw_insert, threading.Event(), [], []

    def run():
        try:
            action()
            order.append("done")
        finally:
            connections.close_all()
            done.set()

    def insert_after_it(*args, **kwargs):
        if not started:  # the events' insert (the rollups' comes after)
            started.append(True)
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


def test_a_call_is_answered_once_queued_and_stored_by_the_flush_after_one_clickhouse_refused(
    clickhouse_events, workspace, send
):
    """A call is answered 200 once its events are queued in the main database, before
    ClickHouse holds them. A flush that ClickHouse refuses leaves them queued, tried
    once: the next stores them with their number and moment, and records that moment as
    maybe held twice (the failed insert may have written them)."""
    database = clickhouse.database()
    clickhouse_events.command(f"ALTER TABLE {database}.events ADD CONSTRAINT refuse CHECK name != 'Export'")
    call = track("ann", "Export", at=feb(3, 23, 30), messageId="m-1")
    response = send.batch(call, sentAt=feb(3, 23, 30))
    assert response.status_code == 200, response.content
    receipt = EventReceipt.objects.get(message_id="m-1")
    assert receipt.stored_at is not None
    [queued] = QueuedEvents.objects.all()
    assert held(clickhouse_events, workspace, flushed=False) == []
    with pytest.raises(Exception, match="refuse"):
        queue.flush(workspace.pk)
    queued.refresh_from_db()
    assert queued.tries == 1
    assert not DuplicateWindow.objects.exists()

    clickhouse_events.command(f"ALTER TABLE {database}.events DROP CONSTRAINT refuse")
    assert send.batch(call).json()["duplicates"] == 1  # a retry meanwhile: queued already
    assert queue.flush(workspace.pk) == 1
    assert not QueuedEvents.objects.exists()
    [event] = held(clickhouse_events, workspace, flushed=False)
    assert (event["id"], event["timestamp"].replace(tzinfo=UTC)) == (receipt.pk, receipt.timestamp)
    [window] = DuplicateWindow.objects.all()
    assert (window.start, window.end) == (receipt.timestamp, receipt.timestamp)


def test_a_flush_that_keeps_failing_records_one_window_and_holds_up_no_other_workspace(
    clickhouse_events, workspace, other_workspace, send, charlie_send, api
):
    """ClickHouse refuses one workspace's events for a while: its batches stay queued,
    their moments recorded once as maybe held twice however often the worker tries;
    the other workspace's are stored meanwhile, and reads answer with what is stored."""
    database = clickhouse.database()
    clickhouse_events.command(
        f"ALTER TABLE {database}.events ADD CONSTRAINT refuse CHECK workspace_id != {int(workspace.pk)}"
    )
    assert send.batch(track("ann", "Export", messageId="m-1")).status_code == 200
    assert charlie_send.batch(track("ann", "Export", messageId="m-2")).status_code == 200
    for _ in range(3):
        with pytest.raises(Exception, match="refuse"):
            queue.flush_all()
    assert QueuedEvents.objects.get(workspace=workspace).tries == 3
    assert not QueuedEvents.objects.filter(workspace=other_workspace).exists()
    assert DuplicateWindow.objects.filter(workspace=workspace).count() == 1
    assert [e["message_id"] for e in held(clickhouse_events, other_workspace, flushed=False)] == ["m-2"]
    # A page still answers, with what ClickHouse holds.
    assert api.get("events").status_code == 200
    clickhouse_events.command(f"ALTER TABLE {database}.events DROP CONSTRAINT refuse")
    assert queue.flush_all() == 1
    assert [e["message_id"] for e in held(clickhouse_events, workspace, flushed=False)] == ["m-1"]


def test_reads_store_the_queued_events_first(clickhouse_events, workspace, send, api):
    """Every read of a workspace's events counts every call answered 200: the events API,
    a report, a group's profile all store the queued events first."""
    assert send.batch(identify("ann"), track("ann", "Export", groups={"company": "acme"})).status_code == 200
    assert QueuedEvents.objects.filter(workspace=workspace).exists()
    assert [e["name"] for e in api.get("events").json()["results"] if e["name"]] == ["Export"]
    assert not QueuedEvents.objects.exists()
    assert send.batch(track("ann", "Import", groups={"company": "acme"})).status_code == 200
    params = QueryDict("type=company&from=2026-01-01&to=2026-12-31")
    active = reports.active_groups(workspace, reports.active_groups_from_params(workspace, params))
    assert active.events == 2
    assert not QueuedEvents.objects.exists()


@pytest.mark.skipif(connection.vendor != "postgresql", reason="SQLite has one writer at a time")
def test_a_request_stores_the_calls_queued_before_it_started(transactional_db, clickhouse_events, workspace, send, api):
    """A page reads events several times: the queued ones are stored once a request (or
    task), and again after it queued some itself. So a request counts every call another
    process answered before it started."""
    from analytics import event_store

    selection = event_store.Selection(workspace.pk)
    assert send.batch(track("ann", "Export", messageId="m-1")).status_code == 200
    assert event_store.count(selection) == 1
    assert send.batch(track("ann", "Export", messageId="m-2")).status_code == 200  # queued by this thread
    assert event_store.count(selection) == 2

    def another_process_sends():
        try:
            send.batch(track("ann", "Export", messageId="m-3"))
        finally:
            connections.close_all()

    other = threading.Thread(target=another_process_sends)
    other.start()
    other.join(10)
    assert QueuedEvents.objects.exists()
    assert len(api.get("events").json()["results"]) == 3
    assert not QueuedEvents.objects.exists()


def test_the_task_worker_stores_the_queued_events_at_each_heartbeat(clickhouse_events, workspace, send):
    assert send.batch(identify("ann"), track("ann", "Export")).status_code == 200
    heartbeat = Heartbeat("worker-1", every=1)
    heartbeat.worker = TaskWorker.register("worker-1")
    heartbeat.beat()
    assert not QueuedEvents.objects.exists()
    assert [e["name"] for e in held(clickhouse_events, workspace, flushed=False)] == ["", "Export"]


def test_a_call_stored_but_not_marked_is_written_again_and_read_once(clickhouse_events, workspace, send):
    """The process stopped between ClickHouse's insert and marking the receipt: the
    retry writes the row again, with the same sorting key, and reads see one."""
    call = track("ann", "Export", messageId="m-1")
    assert send.batch(call, sentAt=feb(2, 10)).status_code == 200
    queue.flush(workspace.pk)
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
    queue.flush(workspace.pk)
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
    queue.flush(workspace.pk)
    EventReceipt.objects.filter(message_id="m-1").update(stored_at=None)
    assert send.batch(call).status_code == 200
    queue.flush(workspace.pk)
    window = DuplicateWindow.objects.get()
    later = timezone.now() + DuplicateWindow.KEPT_AT_LEAST
    assert store.purge_duplicate_windows() == 0  # too recent
    assert store.purge_duplicate_windows(later) == 0  # both copies still there
    clickhouse_events.command(f"OPTIMIZE TABLE {clickhouse.database()}.events FINAL")
    assert store.purge_duplicate_windows(later) == 1
    assert not DuplicateWindow.objects.filter(pk=window.pk).exists()


@pytest.mark.skipif(connection.vendor != "postgresql", reason="SQLite has one writer at a time")
def test_a_call_stored_by_a_concurrent_request_is_a_duplicate(transactional_db, clickhouse_events, workspace, send, monkeypatch):
    """A retry sent while the first request of its call still ran (the client gave up
    waiting): both found it not stored yet. The second to number it finds the first's
    receipt, starts over, and counts it a duplicate: it is queued once."""
    from analytics.ingestion import store as ingestion

    call = track("ann", "Export", messageId="m-1")
    store_calls, first = ingestion.store_calls, []

    def other_request_stores_it_first(*args, **kwargs):
        # Once this request found the call not stored, before it writes anything.
        if not first:
            first.append(True)
            other = threading.Thread(target=lambda: (first.append(send.batch(call).status_code), connections.close_all()))
            other.start()
            other.join(10)
        return store_calls(*args, **kwargs)

    monkeypatch.setattr(ingestion, "store_calls", other_request_stores_it_first)
    response = send.batch(call)
    assert first == [True, 200]
    assert (response.json()["stored"], response.json()["duplicates"]) == (0, 1)
    assert QueuedEvents.objects.count() == 1
    assert [e["message_id"] for e in held(clickhouse_events, workspace, final=False)] == ["m-1"]


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
    queue.flush(workspace.pk)
    visitor = Person.objects.exclude(user_id="ann").get()
    # As if the request that merged them had stopped between its commit and ClickHouse.
    PendingReassignment.objects.create(workspace=workspace, from_person_id=visitor.pk, to_person_id=person("ann").pk)
    heartbeat = Heartbeat("worker-1", every=1)
    heartbeat.worker = TaskWorker.register("worker-1")
    heartbeat.beat()
    assert {e["person_id"] for e in held(clickhouse_events, workspace)} == {person("ann").pk}
    # Made, and kept a while for the visitor's events still queued.
    assert PendingReassignment.objects.get().made_at is not None


def test_merges_are_made_in_the_order_they_were_recorded(clickhouse_events, workspace, send):
    """v-1 became ann's, then ann was merged into bob: v-1's events end with bob."""
    assert send.batch(identify("ann"), identify("bob"), {"type": "page", "anonymousId": "v-1", "name": "Home"}).status_code == 200
    queue.flush(workspace.pk)
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
    assert response.status_code == 200
    assert [e["group_1_id"] for e in held(clickhouse_events, workspace) if e["message_id"] == "m-wait"] == [None]


@pytest.mark.skipif(connection.vendor != "postgresql", reason="SQLite locks no rows")
def test_a_group_type_removed_while_a_flush_holds_its_group_clears_it_after(
    transactional_db, clickhouse_events, workspace, send, api
):
    """A flush of an event carrying team growth is writing to ClickHouse when the team
    type is removed: the removal waits for it (the flush holds the group), then clears
    the event's team, and the events API still reads it."""
    assert send.batch(join("ann", "growth", group_type="team")).status_code == 200
    team = workspace.group_types.get(name="team")

    def remove():
        remove_group_type(GroupType.objects.get(pk=team.pk))

    assert send.batch(track("ann", "Export", groups={"team": "growth"}, messageId="m-race")).status_code == 200
    # The removal starts and finds the group locked; the insert goes on after a second.
    with during_the_insert(remove, wait=1) as (order, removed):
        queue.flush(workspace.pk)
    removed.wait(10)
    assert order == ["inserted", "done"]
    assert [e["group_1_id"] for e in held(clickhouse_events, workspace) if e["message_id"] == "m-race"] == [None]
    assert api.get("events").status_code == 200


def test_queued_events_are_stored_as_people_and_groups_are_now(clickhouse_events, workspace, send):
    """Events queued before a change are stored after it as it left them: a deleted
    user's are not stored, a merged visitor's are the user's, a removed group type's
    group leaves their context, and their day is the new time zone's."""
    assert send.batch(identify("ann"), identify("bob")).status_code == 200
    queue.flush(workspace.pk)
    assert send.batch(
        track("ann", "Export", at=feb(2, 23, 30), groups={"company": "acme", "team": "growth"}, messageId="m-ann"),
        track("bob", "Export", at=feb(2, 23, 30), groups={"company": "acme", "team": "growth"}, messageId="m-bob"),
        {"type": "page", "anonymousId": "v-1", "name": "Pricing", "timestamp": feb(2, 9), "messageId": "m-visit"},
    ).status_code == 200
    # Each change below runs while the events wait in the queue.
    ann = person("ann")
    Person.objects.filter(pk=ann.pk).delete()  # as a deletion does, its events in ClickHouse none yet
    bob = person("bob")
    visitor = Person.objects.get(user_id=None)
    Person.objects.filter(pk=visitor.pk).delete()
    PendingReassignment.objects.create(workspace=workspace, from_person_id=visitor.pk, to_person_id=bob.pk, made_at=timezone.now())
    team = workspace.group_types.get(name="team")
    team.groups.all().delete()
    workspace.time_zone = "Pacific/Auckland"  # 12 hours ahead of UTC in February
    workspace.save(update_fields=["time_zone"])
    assert queue.flush(workspace.pk) == 2
    events = {e["message_id"]: e for e in held(clickhouse_events, workspace, flushed=False)}
    assert "m-ann" not in events
    assert events["m-visit"]["person_id"] == bob.pk
    assert (events["m-bob"]["group_0_id"], events["m-bob"]["group_1_id"]) == (Group.objects.get(key="acme").pk, None)
    [(day,)] = clickhouse_events.query(
        f"SELECT day FROM {clickhouse.database()}.events WHERE message_id = 'm-bob'"
    ).result_rows
    assert day == date(2026, 2, 3)


def test_queued_events_follow_merges_of_merges(clickhouse_events, workspace, send):
    """A visitor merged into a user later merged into another: the visitor's queued
    events are stored as the last one's."""
    assert send.batch(identify("ann"), identify("bob")).status_code == 200
    queue.flush(workspace.pk)
    assert send.batch({"type": "page", "anonymousId": "v-1", "name": "Pricing", "messageId": "m-visit"}).status_code == 200
    ann, bob, visitor = person("ann"), person("bob"), Person.objects.get(user_id=None)
    Person.objects.filter(pk__in=[visitor.pk, ann.pk]).delete()
    PendingReassignment.objects.create(workspace=workspace, from_person_id=visitor.pk, to_person_id=ann.pk)
    PendingReassignment.objects.create(workspace=workspace, from_person_id=ann.pk, to_person_id=bob.pk)
    queue.flush(workspace.pk)
    [event] = [e for e in held(clickhouse_events, workspace) if e["message_id"] == "m-visit"]
    assert event["person_id"] == bob.pk


def test_a_made_merge_is_kept_while_events_queued_before_it_wait(clickhouse_events, workspace, send):
    """A merge made in ClickHouse is forgotten an hour on, once no event queued before it
    is left: until then, a visitor's events queued before it still become the user's."""
    assert send.batch(identify("ann")).status_code == 200
    queue.flush(workspace.pk)
    assert send.batch({"type": "page", "anonymousId": "v-1", "name": "Pricing", "messageId": "m-visit"}).status_code == 200
    login = {"type": "identify", "userId": "ann", "anonymousId": "v-1"}
    assert send.batch(login).status_code == 200
    apply_reassignments(workspace.pk)
    merge = PendingReassignment.objects.get()
    PendingReassignment.objects.update(made_at=timezone.now() - PendingReassignment.KEPT_MADE * 2)
    QueuedEvents.objects.update(created_at=timezone.now() - PendingReassignment.KEPT_MADE * 3)
    assert queue._forget_made_reassignments() == 0  # events queued before it wait
    assert queue.flush_all() == 2
    assert not PendingReassignment.objects.filter(pk=merge.pk).exists()
    assert {e["person_id"] for e in held(clickhouse_events, workspace, flushed=False)} == {person("ann").pk}


@pytest.mark.skipif(connection.vendor != "postgresql", reason="SQLite has one writer at a time: the catch-up waits")
def test_a_catch_up_neither_waits_for_a_flush_nor_loses_its_events(
    transactional_db, clickhouse_events, workspace, send
):
    """A report adds the stored events to the rollups while a flush is inserting:
    neither waits for the other. The catch-up claims what ClickHouse holds, which the
    flush's events (numbered after) are not part of: the flush adds them itself, and
    records it, so the next catch-up has nothing to read."""
    assert send.batch(identify("ann"), track("ann", "Import", groups={"company": "acme"})).status_code == 200
    queue.flush(workspace.pk)
    assert send.batch(track("ann", "Export", at=feb(9, 10), groups={"company": "acme"}, messageId="m-race")).status_code == 200
    with during_the_insert(lambda: rollups.catch_up(workspace.pk), wait=5) as (order, _):
        queue.flush(workspace.pk)
    assert order == ["done", "inserted"]
    [race] = [e for e in held(clickhouse_events, workspace) if e["message_id"] == "m-race"]
    progress = RollupProgress.objects.get(workspace=workspace)
    assert progress.rolled_up_to == progress.claimed_to == race["id"]

    def days():
        return clickhouse_events.query(
            f"SELECT day, count() FROM {clickhouse.database()}.group_days FINAL WHERE workspace_id = %(w)s "
            "GROUP BY day ORDER BY day",
            parameters={"w": workspace.pk},
        ).result_rows

    added = days()
    assert (race["timestamp"].date(), 1) in added
    assert rollups.catch_up(workspace.pk) == 0
    assert days() == added
