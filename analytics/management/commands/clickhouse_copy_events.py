from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import BaseCommand, CommandError

from analytics import clickhouse
from analytics.clickhouse.copy import copy_events
from analytics.models import Workspace


class Command(BaseCommand):
    help = (
        "Copy a workspace's events from the main database into ClickHouse (CLICKHOUSE_URL), "
        "in batches, with progress. Resumable: a run starts after the last event copied, "
        "and a batch copied twice is kept once."
    )

    def add_arguments(self, parser):
        parser.add_argument("--workspace", required=True, metavar="SLUG")
        parser.add_argument("--batch-size", type=int, default=50_000, metavar="N")

    def handle(self, *args, workspace, batch_size, **options):
        if batch_size < 1:
            raise CommandError("--batch-size must be 1 or more.")
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
            exists = client.command(
                "SELECT count() FROM system.tables WHERE database = %(db)s AND name = 'events'",
                parameters={"db": database},
            )
            if not exists:
                raise CommandError(f"ClickHouse has no table {database}.events: run manage.py clickhouse_schema first.")
            copied = copy_events(client, database, found, batch_size=batch_size, progress=progress)
            held = client.command(
                f"SELECT count() FROM {database}.events FINAL WHERE workspace_id = %(w)s",
                parameters={"w": found.pk},
            )
        finally:
            client.close()
        if copied:
            self.stdout.write(f"Done: ClickHouse holds {held:,} events of {found.slug}.")
        else:
            self.stdout.write(f"Nothing to copy: ClickHouse holds all {held:,} events of {found.slug}.")
