"""Workspaces (the tenants), the dashboard's accounts and their roles, and the keys."""

import hashlib
import secrets
import zoneinfo
from datetime import date, datetime, time, timedelta
from functools import cache

from django.contrib.auth.models import AbstractUser
from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.utils import timezone
from django.utils.text import slugify


class User(AbstractUser):
    """A dashboard account. The username is the email address."""

    # Where the dashboard opens next time, on any device.
    last_workspace = models.ForeignKey(
        "Workspace", models.SET_NULL, null=True, blank=True, related_name="+"
    )

    @classmethod
    def account_for(cls, email, *, password=""):
        """The account of this email address (in any case), created if there is none, with
        ``password`` or a generated one. Returns it and the generated password (None
        otherwise): the only time that is readable. A password given for an account that
        exists is refused (ValidationError on "password"): it has its own."""
        email = email.strip().lower()
        user = cls.objects.filter(username__iexact=email).first()
        if user is None:
            generated = None if password else secrets.token_urlsafe(12)
            user = cls.objects.create_user(
                username=email, email=email, password=password or generated
            )
            return user, generated
        if password:
            message = (
                f"{email} already has an account with its own password; "
                "a password is only for a new account."
            )
            raise ValidationError({"password": message})
        return user, None


@cache
def time_zone_choices() -> list[tuple[str, str]]:
    """Every IANA time zone this machine knows, as form choices, sorted by name."""
    return [(name, name.replace("_", " ")) for name in sorted(zoneinfo.available_timezones())]


def validate_time_zone(name: str):
    if name not in zoneinfo.available_timezones():
        raise ValidationError("“%(name)s” is not a time zone, such as Europe/Paris.", params={"name": name})


def new_write_key():
    return "wk_" + secrets.token_urlsafe(24)


def new_secret_key():
    return "sk_" + secrets.token_urlsafe(32)


def hash_key(key: str) -> str:
    # Keys are 256-bit random tokens, so a plain digest is enough to make the stored
    # value useless to a reader of the database while keeping lookups indexed.
    return hashlib.sha256(key.encode()).hexdigest()


class WorkspaceQuerySet(models.QuerySet):
    def for_user(self, user):
        return self.filter(members__user=user)

    def by_write_key(self, key):
        # No key holds a NUL, and PostgreSQL cannot compare text with one.
        return self.filter(write_key=key).first() if key and "\x00" not in key else None

    def by_secret_key(self, key):
        return self.filter(secret_key_hash=hash_key(key)).first() if key else None


class Workspace(models.Model):
    name = models.CharField(max_length=100)
    slug = models.SlugField(unique=True)
    write_key = models.CharField(max_length=64, unique=True, default=new_write_key)
    secret_key_hash = models.CharField(max_length=64, unique=True, editable=False)
    secret_key_hint = models.CharField(max_length=8, editable=False)
    # People whose email is at one of these domains are the workspace's own staff.
    internal_domains = models.JSONField(default=list, blank=True)
    # Reports cut days, ISO weeks (from Monday) and months at midnight here.
    time_zone = models.CharField(max_length=64, default="UTC", validators=[validate_time_zone])
    created_at = models.DateTimeField(default=timezone.now)

    objects = WorkspaceQuerySet.as_manager()

    def __str__(self):
        return self.name

    @property
    def zone(self) -> zoneinfo.ZoneInfo:
        """The workspace's time zone, where its reports' days begin."""
        return zoneinfo.ZoneInfo(self.time_zone)

    def last_days(self, days: int, *, now: datetime | None = None) -> datetime:
        """When "the last ``days`` days" began, today included: midnight in the
        workspace's time zone, ``days - 1`` days before today's."""
        today = timezone.localtime(now or timezone.now(), self.zone).date()
        return datetime.combine(today - timedelta(days=days - 1), time(), tzinfo=self.zone)

    def weeks_since(self, since: datetime, *, now: datetime | None = None) -> list[date]:
        """The Mondays that begin the ISO weeks from the one holding ``since`` to the
        current one, in the workspace's time zone, oldest first."""
        first = timezone.localtime(since, self.zone).date()
        today = timezone.localtime(now or timezone.now(), self.zone).date()
        monday = first - timedelta(days=first.weekday())
        return [monday + timedelta(weeks=n) for n in range((today - monday).days // 7 + 1)]

    @classmethod
    def create(cls, *, name, owner, slug=None, group_types=("company",)):
        """Create a workspace owned by ``owner``; returns it and its secret key.

        The first group type becomes the default one, the type of Segment's untyped
        ``groupId``.
        """
        slug = slug or cls._free_slug(name)
        workspace = cls(name=name, slug=slug)
        secret_key = workspace.set_new_secret_key()
        with transaction.atomic():
            workspace.full_clean()
            workspace.save()
            workspace.add_member(owner, Role.OWNER)
            for group_type in group_types:
                # Through the relation: group types depend on workspaces, not the reverse.
                workspace.group_types.model.create(workspace=workspace, name=group_type)
        return workspace, secret_key

    @classmethod
    def _free_slug(cls, name):
        base = slugify(name)[:40] or "workspace"
        slug, n = base, 1
        while cls.objects.filter(slug=slug).exists():
            n += 1
            slug = f"{base}-{n}"
        return slug

    def set_new_secret_key(self) -> str:
        """Replace the secret key (not saved) and return it: the only time it is readable."""
        key = new_secret_key()
        self.secret_key_hash = hash_key(key)
        self.secret_key_hint = key[-4:]
        return key

    def rotate_secret_key(self) -> str:
        """Replace and save the secret key, and return the new one: the only time it is readable.

        The old key stops opening the API at once.
        """
        key = self.set_new_secret_key()
        self.save(update_fields=["secret_key_hash", "secret_key_hint"])
        return key

    def rotate_write_key(self):
        """Replace and save the write key; calls sent with the old one are refused from now on."""
        self.write_key = new_write_key()
        self.save(update_fields=["write_key"])

    def invite(self, email, role, *, password=""):
        """Add the account with this email as ``role``, creating the account if there is none.

        A new account gets ``password``, or a generated one. Returns the membership and
        the generated password (None otherwise): the only time it is readable. Raises
        ValidationError if the account is already a member, or if a password is given for
        an account that already has its own.
        """
        email = email.strip().lower()
        with transaction.atomic():
            if self.members.filter(user__username__iexact=email).exists():
                raise ValidationError({"email": f"{email} is already a member of {self}."})
            user, generated = User.account_for(email, password=password)
            return WorkspaceMember.objects.create(workspace=self, user=user, role=role), generated

    def add_member(self, user, role):
        return WorkspaceMember.objects.update_or_create(
            workspace=self, user=user, defaults={"role": role}
        )[0]

    def role_of(self, user):
        member = self.members.filter(user=user).first()
        return member.role if member else None

    @property
    def default_group_type(self):
        return self.group_types.filter(is_default=True).first()


class Role(models.TextChoices):
    OWNER = "owner", "Owner"
    ADMIN = "admin", "Admin"
    MEMBER = "member", "Member"


class WorkspaceMember(models.Model):
    workspace = models.ForeignKey(Workspace, models.CASCADE, related_name="members")
    user = models.ForeignKey(User, models.CASCADE, related_name="workspace_memberships")
    role = models.CharField(max_length=10, choices=Role, default=Role.MEMBER)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["workspace", "user"], name="one_role_per_user"),
        ]

    def __str__(self):
        return f"{self.user} ({self.get_role_display()})"

    def change_role(self, role):
        """Change the role; refused if the workspace would be left without an owner."""
        with transaction.atomic():
            if role != Role.OWNER:
                self._check_another_owner()
            self.role = role
            self.save(update_fields=["role"])

    def remove(self):
        """Take this account out of the workspace; refused for the last owner."""
        with transaction.atomic():
            self._check_another_owner()
            self.delete()

    def _check_another_owner(self):
        # The workspace row is locked first, so two owners cannot each demote the other.
        Workspace.objects.select_for_update().get(pk=self.workspace_id)
        owners = WorkspaceMember.objects.filter(workspace_id=self.workspace_id, role=Role.OWNER)
        if set(owners.values_list("pk", flat=True)) == {self.pk}:
            raise ValidationError(
                "A workspace needs at least one owner: make someone else an owner first."
            )
