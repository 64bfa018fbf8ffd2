"""The rollups ClickHouse keeps of the events (``group_days``: each group's days of
activity in the workspace's time zone and who was active; ``group_firsts``: when each
group first did each event; ``person_days``: each person's days of activity, by the
slots their context filled), on its embedded engine (chdb): added to as calls are
stored, and worked out again when stored events change — people deleted or merged, a
group type removed, the time zone changed, a retry carrying another context. After each,
they hold exactly what the events they stand for give."""

from datetime import date, datetime
from io import StringIO

from calls import feb, identify, join, track
from django.core.management import call_command
from django.db import transaction
from django.http import QueryDict

from analytics import clickhouse, event_store, reports
from analytics.clickhouse import queue
from analytics.clickhouse.rollups import catch_up
from analytics.clickhouse.schema import rollup_select
from analytics.deletion import delete_person
from analytics.group_types import remove_group_type
from analytics.models import EventReceipt, Group, Person, RollupProgress, TaskWorker
from analytics.worker import Heartbeat


def rollups(client, workspace, *, caught_up=True):
    """What the rollups hold for the workspace, each group's rows merged: as a report
    reads them, the events stored so far added first (``rollups.catch_up``), or as they
    are."""
    if caught_up:
        queue.flush(workspace.pk)
        catch_up(workspace.pk)
    database = clickhouse.database()
    days = client.query(
        f"SELECT slot, day, group_id, arraySort(bitmapToArray(groupBitmapMergeState(people))), "
        f"min(least_person), max(greatest_person) "
        f"FROM {database}.group_days WHERE workspace_id = %(w)s GROUP BY slot, day, group_id "
        "ORDER BY slot, day, group_id",
        parameters={"w": workspace.pk},
    ).result_rows
    firsts = client.query(
        f"SELECT slot, type, name, group_id, min(first) FROM {database}.group_firsts "
        "WHERE workspace_id = %(w)s GROUP BY slot, type, name, group_id ORDER BY slot, type, name, group_id",
        parameters={"w": workspace.pk},
    ).result_rows
    return days, firsts


def worked_out(client, workspace):
    """What the rollups should hold: worked out of the workspace's events now (the
    queued ones stored first)."""
    queue.flush(workspace.pk)
    database = clickhouse.database()
    events = f"{database}.events FINAL"
    days = client.query(
        f"SELECT slot, day, group_id, arraySort(bitmapToArray(people)), least_person, greatest_person FROM "
        f"({rollup_select('group_days', events, 'workspace_id = %(w)s')}) ORDER BY slot, day, group_id",
        parameters={"w": workspace.pk},
    ).result_rows
    firsts = client.query(
        f"SELECT slot, type, name, group_id, first FROM "
        f"({rollup_select('group_firsts', events, 'workspace_id = %(w)s')}) ORDER BY slot, type, name, group_id",
        parameters={"w": workspace.pk},
    ).result_rows
    return days, firsts


def person_days(client, workspace, *, events=None):
    """People's days (``person_days``), each key's rows merged; or, given ``events``,
    what they should be, worked out of those events."""
    queue.flush(workspace.pk)
    if events is None:
        catch_up(workspace.pk)
        sql = (
            f"SELECT day, person_id, groups, min(first), max(last) FROM {clickhouse.database()}.person_days "
            "WHERE workspace_id = %(w)s GROUP BY day, person_id, groups"
        )
    else:
        sql = f"SELECT day, person_id, groups, first, last FROM ({rollup_select('person_days', events, 'workspace_id = %(w)s')})"
    return sorted(client.query(sql, parameters={"w": workspace.pk}).result_rows)


def assert_exact(client, workspace):
    """The rollups are what the events give, each group day's extremes its people's
    least and greatest; its days as (slot, day, group, people)."""
    days, firsts = rollups(client, workspace)
    assert (days, firsts) == worked_out(client, workspace)
    assert person_days(client, workspace) == person_days(
        client, workspace, events=f"{clickhouse.database()}.events FINAL"
    )
    assert all((least, greatest) == (people[0], people[-1]) for *_, people, least, greatest in days)
    return [row[:4] for row in days], firsts


def ids(*users):
    return sorted(Person.objects.get(user_id=user).pk for user in users)


def group(key):
    return Group.objects.get(key=key).pk


def test_stored_calls_add_to_the_rollups(clickhouse_events, workspace, send):
    assert send.batch(
        identify("ann"), identify("bob"),
        track("ann", "Export", feb(2, 10), groups={"company": "acme", "team": "growth"}),
        track("bob", "Export", feb(2, 11), groups={"company": "acme"}),
        track("bob", "Import", feb(3, 9), groups={"company": "acme"}),
        {"type": "page", "userId": "ann", "name": "Home", "timestamp": feb(1, 8), "context": {"groups": {"company": "acme"}}},
    ).status_code == 200
    days, firsts = assert_exact(clickhouse_events, workspace)
    acme, growth = group("acme"), group("growth")
    assert days == [
        (0, date(2026, 2, 1), acme, ids("ann")),
        (0, date(2026, 2, 2), acme, ids("ann", "bob")),
        (0, date(2026, 2, 3), acme, ids("bob")),
        (1, date(2026, 2, 2), growth, ids("ann")),
    ]
    assert [(slot, kind, name, g) for slot, kind, name, g, _ in firsts] == [
        (0, "page", "Home", acme), (0, "track", "Export", acme), (0, "track", "Import", acme),
        (1, "track", "Export", growth),
    ]
    assert firsts[1][4] == datetime(2026, 2, 2, 10)


def test_stored_calls_are_added_to_the_rollups_when_a_report_reads_them(clickhouse_events, workspace, send):
    """A delivery does not add to the rollups: a report adds every event stored since
    the last time, up to the last, first."""
    assert send.batch(identify("ann"), track("ann", "Export", feb(2, 10), groups={"company": "acme"})).status_code == 200
    assert send.batch(track("ann", "Import", feb(3, 9), groups={"company": "acme"})).status_code == 200
    assert rollups(clickhouse_events, workspace, caught_up=False) == ([], [])
    params = QueryDict("type=company&from=2026-02-02&to=2026-02-04")
    assert reports.active_groups(workspace, reports.active_groups_from_params(workspace, params)).strict == [1, 1, 0]
    days, _ = assert_exact(clickhouse_events, workspace)
    assert days == [(0, date(2026, 2, 2), group("acme"), ids("ann")), (0, date(2026, 2, 3), group("acme"), ids("ann"))]
    last = clickhouse_events.command(f"SELECT max(id) FROM {clickhouse.database()}.events")
    progress = RollupProgress.objects.get(workspace=workspace)
    assert (progress.rolled_up_to, progress.claimed_to) == (last, last)


def test_a_flush_of_events_numbered_at_or_below_a_claim_adds_them_itself(
    clickhouse_events, workspace, send, monkeypatch
):
    """Numbers are taken at ingestion: a flush may store events numbered below others
    that a catch-up claimed and read already, while the flush was inserting. Those it
    adds to the rollups itself, the claim read once its insert returned."""
    assert send.batch(identify("ann")).status_code == 200
    queue.flush(workspace.pk)
    assert send.batch(track("ann", "Export", feb(2, 10), groups={"company": "acme"})).status_code == 200
    client = clickhouse.client()
    insert = client.raw_insert

    def a_catch_up_claims_meanwhile(*args, **kwargs):
        RollupProgress.objects.filter(workspace=workspace).update(rolled_up_to=10**12, claimed_to=10**12)
        return insert(*args, **kwargs)

    monkeypatch.setattr(client, "raw_insert", a_catch_up_claims_meanwhile)
    queue.flush(workspace.pk)
    monkeypatch.undo()
    assert rollups(clickhouse_events, workspace, caught_up=False) == worked_out(clickhouse_events, workspace)
    assert rollups(clickhouse_events, workspace, caught_up=False)[0] == [
        (0, date(2026, 2, 2), group("acme"), ids("ann"), *ids("ann", "ann"))
    ]


def test_the_task_worker_adds_stored_calls_to_the_rollups_at_each_heartbeat(clickhouse_events, workspace, send):
    """So that a report finds few to add."""
    assert send.batch(identify("ann"), track("ann", "Export", feb(2, 10), groups={"company": "acme"})).status_code == 200
    # Queued: the heartbeat stores them (the workspace's first flush records its
    # progress, for the catch-up after to find), then adds them to the rollups.
    assert not RollupProgress.objects.exists()
    heartbeat = Heartbeat("worker-1", every=1)
    heartbeat.worker = TaskWorker.register("worker-1")
    heartbeat.beat()
    assert rollups(clickhouse_events, workspace, caught_up=False) == worked_out(clickhouse_events, workspace) != ([], [])
    last = clickhouse_events.command(f"SELECT max(id) FROM {clickhouse.database()}.events")
    assert RollupProgress.objects.get(workspace=workspace).rolled_up_to == last


def test_a_catch_up_stopped_after_its_claim_is_finished_by_the_next(clickhouse_events, workspace, send):
    """A catch-up that claimed events and failed before adding them: the next adds them.
    (Events stored otherwise than by a flush, which adds its own: by an earlier
    version, which inserted each request's events before answering.)"""
    assert send.batch(identify("ann"), track("ann", "Export", feb(2, 10), groups={"company": "acme"})).status_code == 200
    queue.flush(workspace.pk)
    for rollup in ("group_days", "group_firsts", "person_days"):
        clickhouse_events.command(f"TRUNCATE TABLE {clickhouse.database()}.{rollup}")
    last = clickhouse_events.command(f"SELECT max(id) FROM {clickhouse.database()}.events")
    RollupProgress.objects.update_or_create(workspace=workspace, defaults={"rolled_up_to": 0, "claimed_to": last})
    assert rollups(clickhouse_events, workspace, caught_up=False) == ([], [])
    assert catch_up(workspace.pk) == last
    assert_exact(clickhouse_events, workspace)
    assert RollupProgress.objects.get(workspace=workspace).rolled_up_to == last


def test_a_deleted_user_leaves_the_rollups(clickhouse_events, workspace, send):
    assert send.batch(
        track("ann", "Export", feb(2, 10), groups={"company": "acme"}),
        track("bob", "Export", feb(2, 11), groups={"company": "acme"}),
        track("ann", "Import", feb(3, 10), groups={"company": "acme"}),
    ).status_code == 200
    delete_person(Person.objects.get(user_id="ann"), suppress=False)
    days, firsts = assert_exact(clickhouse_events, workspace)
    acme = group("acme")
    assert days == [(0, date(2026, 2, 2), acme, ids("bob"))]
    # acme did Import only through ann: not any more.
    assert [(name, first) for _, _, name, _, first in firsts] == [("Export", datetime(2026, 2, 2, 11))]


def test_a_merged_visitor_becomes_the_user_in_the_rollups(clickhouse_events, workspace, send):
    assert send.batch(identify("ann"), join("ann", "acme")).status_code == 200
    visit = {"type": "page", "anonymousId": "v-1", "name": "Pricing", "timestamp": feb(2, 9),
             "context": {"groups": {"company": "acme"}}}
    assert send.batch(visit).status_code == 200
    visitor = Person.objects.exclude(user_id="ann").get()
    assert rollups(clickhouse_events, workspace)[0] == [(0, date(2026, 2, 2), group("acme"), [visitor.pk], visitor.pk, visitor.pk)]
    login = {"type": "identify", "userId": "ann", "anonymousId": "v-1", "timestamp": feb(2, 11)}
    assert send.batch(login).status_code == 200
    days, _ = assert_exact(clickhouse_events, workspace)
    assert days == [(0, date(2026, 2, 2), group("acme"), ids("ann"))]


def test_a_removed_group_type_leaves_the_rollups(clickhouse_events, workspace, send):
    assert send.batch(
        track("ann", "Export", feb(2, 10), groups={"company": "acme", "team": "growth"}),
    ).status_code == 200
    remove_group_type(workspace.group_types.get(name="team"))
    days, firsts = assert_exact(clickhouse_events, workspace)
    assert {slot for slot, *_ in days} == {slot for slot, *_ in firsts} == {0}


def test_a_new_time_zone_moves_the_days(clickhouse_events, workspace, send):
    # 03:00 UTC on 3 February is still 2 February in New York.
    assert send.batch(
        track("ann", "Export", feb(3, 3), groups={"company": "acme"}),
        track("ann", "Export", feb(3, 12), groups={"company": "acme"}),
    ).status_code == 200
    assert [day for _, day, *_ in rollups(clickhouse_events, workspace)[0]] == [date(2026, 2, 3)]
    with transaction.atomic():
        workspace.time_zone = "America/New_York"
        workspace.save(update_fields=["time_zone"])
        event_store.rebuild_daily_activity(workspace)
    days, _ = assert_exact(clickhouse_events, workspace)
    assert [day for _, day, *_ in days] == [date(2026, 2, 2), date(2026, 2, 3)]
    # Calls stored from now on are given their day in the new zone.
    assert send.batch(track("ann", "Import", feb(5, 2), groups={"company": "acme"})).status_code == 200
    days, _ = assert_exact(clickhouse_events, workspace)
    assert [day for _, day, *_ in days] == [date(2026, 2, 2), date(2026, 2, 3), date(2026, 2, 4)]


def test_a_retry_in_another_context_takes_the_first_one_s_place(clickhouse_events, workspace, send):
    """The call was stored, but its receipt not marked (the process stopped between); by
    its retry, ann is in two companies, so the call no longer falls to acme."""
    assert send.batch(identify("ann"), join("ann", "acme")).status_code == 200
    call = track("ann", "Export", feb(2, 10), messageId="m-1")
    assert send.batch(call).status_code == 200
    assert [g for _, _, g, *_ in rollups(clickhouse_events, workspace)[0]] == [group("acme")]
    EventReceipt.objects.filter(message_id="m-1").update(stored_at=None)
    assert send.batch(join("ann", "globex", feb(1, 11))).status_code == 200
    assert send.batch(call).json()["stored"] == 1
    days, firsts = assert_exact(clickhouse_events, workspace)
    assert days == firsts == []


def test_a_deletion_retried_after_its_events_went_still_works_the_rollups_out(clickhouse_events, workspace, send):
    """An earlier attempt deleted ann's events in ClickHouse, then failed before working
    the rollups out (the main database's deletion rolled back). The retry finds no event
    of hers left, and her groups by the rollups, which still name her."""
    assert send.batch(
        track("ann", "Export", feb(2, 10), groups={"company": "acme"}),
        track("bob", "Export", feb(3, 11), groups={"company": "acme"}),
    ).status_code == 200
    ann = Person.objects.get(user_id="ann")
    clickhouse_events.command(
        f"DELETE FROM {clickhouse.database()}.events WHERE person_id = %(p)s", parameters={"p": ann.pk}
    )
    delete_person(ann, suppress=False)
    days, _ = assert_exact(clickhouse_events, workspace)
    assert days == [(0, date(2026, 2, 3), group("acme"), ids("bob"))]


def test_the_schema_command_works_every_workspace_s_days_out_again(clickhouse_events, workspace, send):
    """Events stored before the rollups have their day in UTC: ``clickhouse_schema
    --rebuild-rollups`` (run by itself when their migration is applied) gives each its
    day in its workspace's zone."""
    assert send.batch(track("ann", "Export", feb(3, 3), groups={"company": "acme"})).status_code == 200
    queue.flush(workspace.pk)
    type(workspace).objects.filter(pk=workspace.pk).update(time_zone="America/New_York")
    assert [day for _, day, *_ in rollups(clickhouse_events, workspace)[0]] == [date(2026, 2, 3)]
    out = StringIO()
    call_command("clickhouse_schema", "--rebuild-rollups", stdout=out)
    assert f"Worked out the rollups of {workspace.slug} in America/New_York; memberships copied: 0." in (
        out.getvalue()
    )
    days, _ = assert_exact(clickhouse_events, workspace)
    assert [day for _, day, *_ in days] == [date(2026, 2, 2)]


def test_group_days_written_before_their_extremes_are_read_by_their_people(clickhouse_events, workspace, send):
    """Rows of ``group_days`` from before migration 0005 hold 0 for their people's
    extremes: reports leaving internal people out read those days' people instead, and
    ``clickhouse_schema`` (run by itself after the migration) writes them."""
    workspace.internal_domains = ["staff.dev"]
    workspace.save()
    assert send.batch(
        identify("dee", email="dee@staff.dev"), identify("ann", email="ann@acme.io"),
        track("dee", "Export", feb(2, 10), groups={"company": "acme"}),
        track("ann", "Export", feb(2, 11), groups={"company": "acme"}),
        track("dee", "Export", feb(3, 10), groups={"company": "acme"}),
    ).status_code == 200
    params = QueryDict("type=company&from=2026-02-02&to=2026-02-03")
    active = reports.active_groups(workspace, reports.active_groups_from_params(workspace, params))
    assert active.strict == [1, 0]
    clickhouse_events.command(
        f"ALTER TABLE {clickhouse.database()}.group_days UPDATE least_person = 0, greatest_person = 0 WHERE 1",
        settings={"mutations_sync": 2},
    )
    assert {row[4:] for row in rollups(clickhouse_events, workspace)[0]} == {(0, 0)}
    assert reports.active_groups(workspace, reports.active_groups_from_params(workspace, params)) == active
    call_command("clickhouse_schema", "--rebuild-rollups", stdout=StringIO())
    assert_exact(clickhouse_events, workspace)
