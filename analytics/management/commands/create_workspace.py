import json

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from analytics.models import User, Workspace


class Command(BaseCommand):
    help = (
        "Create a workspace and its owner account (if new). Prints one JSON object with "
        "the slug, the write key (for sending events) and the secret key (for the API; "
        "shown only this once)."
    )

    def add_arguments(self, parser):
        parser.add_argument("name")
        parser.add_argument("--owner", required=True, metavar="EMAIL")
        parser.add_argument("--password", help="for a new owner account (default: generated)")
        parser.add_argument("--slug", help="default: derived from the name")
        parser.add_argument(
            "--group-types",
            default="company",
            help="comma-separated group types; the first is the default (default: company)",
        )

    def handle(self, *args, name, owner, password, slug, group_types, **options):
        email = owner.strip().lower()
        if "@" not in email:
            raise CommandError(f"--owner must be an email address, not {owner!r}")
        if slug and Workspace.objects.filter(slug=slug).exists():
            raise CommandError(f"a workspace with the slug {slug!r} already exists")
        types = [t.strip() for t in group_types.split(",") if t.strip()]
        try:
            # The account and the workspace, or neither: a refused workspace leaves no
            # account behind whose generated password was never shown.
            with transaction.atomic():
                user, generated = User.account_for(email, password=password or "")
                workspace, secret_key = Workspace.create(
                    name=name, owner=user, slug=slug, group_types=types
                )
        except ValidationError as error:
            raise CommandError("; ".join(error.messages)) from None
        result = {
            "name": workspace.name,
            "slug": workspace.slug,
            "write_key": workspace.write_key,
            "secret_key": secret_key,
            "owner": email,
            "group_types": types,
        }
        if generated:
            result["password"] = generated
        self.stdout.write(json.dumps(result, indent=2))
