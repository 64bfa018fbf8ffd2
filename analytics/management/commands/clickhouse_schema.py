import re

from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from analytics import clickhouse
from analytics.clickhouse import memberships
from analytics.clickhouse.schema import REBUILD_AFTER, Target, migrate, statements
from analytics import event_store
from analytics.clickhouse.store import continue_numbering
from analytics.models import Workspace


class Command(BaseCommand):
    help = (
        "Create or bring up to date the ClickHouse schema at CLICKHOUSE_URL (safe to run "
        "again), and number new events after the main database's; or with --print write its statements out instead. With --cluster, for a "
        "sharded, replicated cluster of that name (ON CLUSTER)."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--cluster", metavar="NAME",
            help="the cluster's name in the servers' remote_servers configuration",
        )
        parser.add_argument(
            "--print", action="store_true", dest="print_only",
            help="write the statements out (for a database administrator) instead of running them",
        )
        parser.add_argument(
            "--database", help="with --print: the database's name (default: CLICKHOUSE_URL's, else groupsite)",
        )
        parser.add_argument(
            "--rebuild-rollups", action="store_true",
            help="work every workspace's event days and rollups out again in its time zone, and copy its memberships (done once by "
            "itself when a migration of the rollups is applied; again after applying --print's statements by "
            "hand, or if that stopped half way)",
        )

    def handle(self, *args, cluster, print_only, database, rebuild_rollups, **options):
        # Both go into the statements as they are.
        if cluster is not None and not re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,99}", cluster):
            raise CommandError(f"--cluster takes a cluster's name (letters, digits, _ . -); not {cluster!r}.")
        if database is not None and not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]{0,62}", database):
            raise CommandError(f"--database takes letters, digits and underscores; not {database!r}.")
        if print_only:
            name = database or (clickhouse.database() if clickhouse.configured() else "groupsite")
            for migration, sqls in statements(Target(name, cluster)):
                self.stdout.write(f"-- {migration or 'the database and its applied migrations'}")
                for sql in sqls:
                    self.stdout.write(f"{sql};\n")
            return
        if database:
            raise CommandError("--database goes with --print; otherwise CLICKHOUSE_URL names the database.")
        try:
            client = clickhouse.connect()
        except ImproperlyConfigured as error:
            raise CommandError(str(error)) from None
        target = Target(clickhouse.database(), cluster)
        try:
            applied = migrate(client, target)
        finally:
            client.close()
        # Events ingested from now on are numbered after the main database's.
        continue_numbering()
        where = f"{target.database}" + (f" on cluster {cluster}" if cluster else "")
        if applied:
            self.stdout.write(f"Applied to {where}: {', '.join(applied)}.")
        else:
            self.stdout.write(f"The schema of {where} is up to date.")
        if rebuild_rollups or REBUILD_AFTER.intersection(applied):
            # Events stored before the rollups were given their day in UTC, and group
            # days written before their people's extremes hold none: each workspace's
            # own, one workspace at a time (a run stopped half way is run again with
            # --rebuild-rollups); and its memberships copied whole.
            for workspace in Workspace.objects.order_by("pk"):
                with transaction.atomic():
                    event_store.rebuild_daily_activity(workspace)
                mirrored = memberships.mirror(workspace.pk)
                self.stdout.write(
                    f"Worked out the rollups of {workspace.slug} in {workspace.time_zone}; "
                    f"memberships copied: {mirrored:,}."
                )
