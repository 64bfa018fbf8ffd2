import json
import time

from django.core.management.base import BaseCommand

from analytics import demo_data
from analytics.models import User, Workspace, hash_key

DEMO_SLUG = "demo"
DEMO_EMAIL = "demo@groupsite.local"
# A local demo only: the account is created on the embedded database of `make run`.
DEMO_PASSWORD = "groupsite-demo"
# Likewise the demo workspace's secret key, so that the README's API examples and every
# run of the set-up can give it (a real workspace's key is random and shown once).
DEMO_SECRET_KEY = "sk_demo_local_only"
DEMO_EVENTS = 20_000
DEMO_SEED = 1


class Command(BaseCommand):
    help = (
        "Create the demo workspace (slug 'demo', owner demo@groupsite.local) with generated "
        "data unless it exists, then print how to log in and send events. Safe to run again."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--url", default="http://127.0.0.1:8000", help="where the server listens"
        )
        parser.add_argument("--events", type=int, default=DEMO_EVENTS)

    def handle(self, *args, url, events, **options):
        url = url.rstrip("/")
        workspace = Workspace.objects.filter(slug=DEMO_SLUG).first()
        if workspace is None:
            workspace = self.create(events)
        # Unless it was rotated in the settings: the new key was shown there, once.
        demo_key_kept = workspace.secret_key_hash == hash_key(DEMO_SECRET_KEY)
        secret_key = DEMO_SECRET_KEY if demo_key_kept else None
        rotated = f"sk_…{workspace.secret_key_hint} (rotated: the new key was shown once, then)"
        self.stdout.write(
            f"\nDemo workspace {workspace.name!r} at {url}\n"
            f"  log in as   {DEMO_EMAIL}\n"
            f"  password    {DEMO_PASSWORD}\n"
            f"  write key   {workspace.write_key}   sends events (/v1/*)\n"
            f"  secret key  {secret_key or rotated}   reads and deletes (/api/v1/*)\n"
            f"Both keys are under Settings → API keys ({url}/settings/api-keys), where an "
            "admin rotates them.\n"
            "Send an event:\n"
            f"  curl -u '{workspace.write_key}:' {url}/v1/track \\\n"
            "    -H 'Content-Type: application/json' \\\n"
            f"    -d '{json.dumps(self.example_call(workspace))}'\n"
            "Read what was sent (README, API reference):\n"
            f"  export GROUPSITE={url} SK={secret_key or 'sk_…'}\n"
            '  curl -H "Authorization: Bearer $SK" "$GROUPSITE/api/v1/groups/company"\n'
        )

    def create(self, events):
        user = User.objects.filter(username=DEMO_EMAIL).first()
        if user is None:
            user = User.objects.create_user(
                username=DEMO_EMAIL, email=DEMO_EMAIL, password=DEMO_PASSWORD
            )
        workspace, _ = Workspace.create(
            name="Demo", owner=user, slug=DEMO_SLUG, group_types=("company", "team")
        )
        # The generated staff's domain, so the People list marks them internal.
        workspace.internal_domains = [demo_data.INTERNAL_DOMAIN]
        workspace.secret_key_hash = hash_key(DEMO_SECRET_KEY)
        workspace.secret_key_hint = DEMO_SECRET_KEY[-4:]
        workspace.save(update_fields=["internal_domains", "secret_key_hash", "secret_key_hint"])
        self.stdout.write(f"Creating the demo workspace with {events:,} generated events...")
        started = time.perf_counter()
        summary = demo_data.generate(workspace, events=events, seed=DEMO_SEED)
        self.stdout.write(
            f"Stored {summary.stored:,} events of {summary.companies:,} companies and "
            f"{summary.people:,} people in {time.perf_counter() - started:.1f} s."
        )
        return workspace

    def example_call(self, workspace):
        group = workspace.groups.filter(group_type__is_default=True).order_by("pk").first()
        person = workspace.people.filter(memberships__group=group).order_by("pk").first()
        return {
            "userId": person.user_id if person else "user-1",
            "event": "Report Viewed",
            "properties": {"report_type": "trend"},
            "context": {"groupId": group.key if group else "acme"},
        }
