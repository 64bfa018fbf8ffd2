from datetime import timedelta

from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import BaseCommand, CommandError

from analytics import clickhouse
from analytics.clickhouse import memberships
from analytics.clickhouse.copy import copied_up_to, copy_events
from analytics.clickhouse.schema import Target, up_to_date
from analytics.clickhouse.store import continue_numbering
from analytics.models import Event, Workspace


class Command(BaseCommand):
    help = (
        "Copy a workspace's events from the main database into ClickHouse (CLICKHOUSE_URL), "
        "in batches, with progress. Resumable: a run starts after the last batch stored, "
        "and a batch copied twice is kept once. Events received in the last --settle "
        "seconds are left for a later run (their numbers may still have gaps below them)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--workspace", required=True, metavar="SLUG")
        parser.add_argument("--batch-size", type=int, default=50_000, metavar="N")
        parser.add_argument("--settle", type=int, default=300, metavar="SECONDS")

    def handle(self, *args, workspace, batch_size, settle, **options):
        if batch_size < 1:
            raise CommandError("--batch-size must be 1 or more.")
        if settle < 0:
            raise CommandError("--settle must be 0 seconds or more.")
        found = Workspace.objects.filter(slug=workspace).first()
        if found is None:
            raise CommandError(f"No workspace has the slug {workspace!r}.")
        try:
            client = clickhouse.connect()
        except ImproperlyConfigured as error:
            raise CommandError(str(error)) from None
        database = clickhouse.database()

        def progress(copied, total):
            share = f" ({100 * copied // total}%)" if total else ""
            self.stdout.write(f"Copied {copied:,} of {total:,} events{share}.")

        try:
            if not up_to_date(client, Target(database)):
                raise CommandError(
                    f"ClickHouse's schema in {database} is missing or out of date: run manage.py clickhouse_schema first."
                )
            # Events ingested into ClickHouse are numbered after every event copied.
            continue_numbering()
            copied = copy_events(
                client, database, found, batch_size=batch_size, settle=timedelta(seconds=settle), progress=progress
            )
            held = client.command(
                f"SELECT count() FROM {database}.events FINAL WHERE workspace_id = %(w)s",
                parameters={"w": found.pk},
            )
            left = Event.objects.filter(workspace=found, pk__gt=copied_up_to(client, database, found)).count()
        finally:
            client.close()
        if copied:
            self.stdout.write(f"Done: ClickHouse holds {held:,} events of {found.slug}.")
        else:
            self.stdout.write(f"Nothing to copy: ClickHouse holds {held:,} events of {found.slug}.")
        if left:
            self.stdout.write(
                f"{left:,} events received in the last {settle:,} seconds (or after one of those) "
                "are left for a later run."
            )
        # The memberships whole too: a site still on PostgreSQL alone keeps no record of
        # their changes for ClickHouse.
        mirrored = memberships.mirror(found.pk)
        self.stdout.write(f"Memberships copied: {mirrored:,}.")
