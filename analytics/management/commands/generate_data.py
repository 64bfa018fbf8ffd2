from django.core.management.base import BaseCommand, CommandError
from django.db.models import Count

from analytics import demo_data, event_store
from analytics.models import Group, Membership, Person, Workspace


class Command(BaseCommand):
    help = (
        "Fill a workspace with realistic B2B data (companies, teams, people, ~90 days of "
        "events), stored through the real ingestion path. Deterministic for a --seed."
    )

    def add_arguments(self, parser):
        parser.add_argument("--workspace", required=True, metavar="SLUG")
        parser.add_argument("--events", type=int, required=True, help="calls to store, all types")
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument("--companies", type=int, help="default: events / 100")
        parser.add_argument("--people", type=int, help="identified people, default: events / 20")
        parser.add_argument(
            "--internal-domain",
            default=demo_data.INTERNAL_DOMAIN,
            help="email domain of the staff (default: %(default)s)",
        )
        parser.add_argument("--batch-size", type=int, default=demo_data.BATCH_SIZE)

    def handle(
        self,
        *args,
        workspace,
        events,
        seed,
        companies,
        people,
        internal_domain,
        batch_size,
        **options,
    ):
        found = Workspace.objects.filter(slug=workspace).first()
        if found is None:
            raise CommandError(f"no workspace with the slug {workspace!r}")
        if events < 1 or batch_size < 1:
            raise CommandError("--events and --batch-size must be positive")
        summary = demo_data.generate(
            found,
            events=events,
            seed=seed,
            companies=companies,
            people=people,
            internal_domain=internal_domain,
            batch_size=batch_size,
            progress=self._progress(),
        )
        self.report(found, summary)

    def _progress(self):
        shown = [0]

        def progress(summary):
            if summary.sent >= summary.calls or summary.seconds - shown[0] >= 5:
                shown[0] = summary.seconds
                self.stdout.write(
                    f"  {summary.sent:>10,} / {summary.calls:,} calls sent, "
                    f"{summary.rate:,.0f} events/s"
                )

        return progress

    def report(self, workspace, summary):
        write = self.stdout.write
        write(
            f"Invented {summary.companies:,} companies ({summary.teams:,} teams), "
            f"{summary.people:,} people ({summary.staff} staff, {summary.multi_company:,} in "
            f"several companies, {summary.removed:,} removed from their account) and "
            f"{summary.visitors:,} anonymous visitors."
        )
        write(
            f"Sent {summary.sent:,} calls in {summary.seconds:.1f} s: {summary.stored:,} stored "
            f"({summary.rate:,.0f} events/s), {summary.duplicates:,} duplicates, "
            f"{summary.rejected:,} refused, {summary.warnings:,} warnings."
        )
        for problem in summary.problems:
            write(self.style.WARNING(f"  {problem}"))
        company = workspace.group_types.get(name="company")
        people = Person.objects.filter(workspace=workspace)
        in_several = list(
            Membership.objects.current()
            .filter(workspace=workspace, group_type=company)
            .values("person")
            .annotate(n=Count("id"))
            .filter(n__gt=1)
            .values_list("person", flat=True)
        )
        events = event_store.count(event_store.Selection(workspace.pk))
        without_company = event_store.count(
            event_store.Selection(workspace.pk, people=tuple(in_several), without_slot=company.slot)
        )
        write(
            f"The workspace now holds {events:,} events, {people.count():,} people, "
            + ", ".join(
                f"{n:,} {name.lower()}"
                for name, n in Group.objects.filter(workspace=workspace)
                .values_list("group_type__plural")
                .annotate(n=Count("id"))
                .order_by("group_type__position")
            )
            + f", {Membership.objects.filter(workspace=workspace).count():,} memberships; "
            f"{len(in_several):,} people are in several companies, and "
            f"{without_company:,} "
            "of their events carry no company."
        )
