"""Workspace settings: general, group types, members, API keys and ingestion problems.

Owners do everything here; admins manage the API keys and see the members list and the
ingestion problems; members get 403 and everyone else 404 (``workspace_for``). Every
change is a POST that redirects with a message, except the two that reveal a secret once
(a rotated secret key, a generated password): those answer with the page itself, marked
not to be cached, so the secret is never stored anywhere readable, the session included.
"""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST
from django_tables2 import RequestConfig

from analytics.access import RANK, can, workspace_for
from analytics.forms import (
    GroupTypeCreateForm,
    GroupTypeDeleteForm,
    GroupTypeForm,
    InviteForm,
    ProblemsQuery,
    RoleForm,
    WorkspaceForm,
)
from analytics.models import GROUP_SLOTS, GroupType, IngestionProblem, Role, WorkspaceMember
from analytics.tables import ProblemTable
from analytics.views import get_or_404, partial


def _switched_since(request, workspace, to):
    """A redirect if this POST's form was shown for another workspace than the current one.

    The current workspace lives in the session, so switching in one tab switches every
    tab; without this check a form left open in another would rotate a key or delete a
    type of the wrong workspace. Every settings form sends the slug it was shown for.
    """
    if request.POST.get("workspace") == workspace.slug:
        return None
    messages.error(
        request,
        f"Nothing was changed: that form belonged to another workspace, and {workspace} is "
        "the current one now. Switch back first, or do it again here.",
    )
    return redirect(to)


@login_required
def settings(request):
    workspace_for(request, role=Role.ADMIN)
    return redirect("settings-general" if can(request, Role.OWNER) else "settings-api-keys")


@login_required
def general(request):
    workspace = workspace_for(request, role=Role.OWNER)
    form = WorkspaceForm(request.POST or None, instance=workspace)
    if request.method == "POST":
        if stale := _switched_since(request, workspace, "settings-general"):
            return stale
        if form.is_valid():
            form.save()
            messages.success(request, "Settings saved.")
            return redirect("settings-general")
        # The sidebar shows the saved name, not the one that failed validation.
        workspace.refresh_from_db(fields=["name"])
    return render(
        request,
        "analytics/settings_general.html",
        {"section": "settings", "tab": "general", "form": form},
    )


# Group types ----------------------------------------------------------------------


@login_required
def group_types(request):
    workspace = workspace_for(request, role=Role.OWNER)
    form = GroupTypeCreateForm(request.POST or None)
    if request.method == "POST":
        if stale := _switched_since(request, workspace, "settings-group-types"):
            return stale
        if form.is_valid():
            try:
                group_type = GroupType.create(workspace=workspace, **form.cleaned_data)
            except ValidationError as error:
                form.add_error(None, error)
            else:
                messages.success(request, f"Added the group type {group_type.name}.")
                return redirect("settings-group-types")
    # A GROUP BY query ignores Meta.ordering: order explicitly.
    types = list(
        workspace.group_types.annotate(group_count=Count("groups")).order_by("position", "id")
    )
    return render(
        request,
        "analytics/settings_group_types.html",
        {
            "section": "settings",
            "tab": "group-types",
            "group_types": types,
            "form": form,
            "limit": GROUP_SLOTS,
        },
    )


def _group_type(request, name):
    workspace = workspace_for(request, role=Role.OWNER)
    return get_or_404(
        GroupType.objects.select_related("workspace"),
        f"No group type “{name}” in this workspace.",
        workspace=workspace,
        name=name,
    )


@login_required
def group_type(request, name):
    group_type = _group_type(request, name)
    form = GroupTypeForm(request.POST or None, instance=group_type)
    if request.method == "POST":
        if stale := _switched_since(request, request.workspace, "settings-group-types"):
            return stale
        if form.is_valid():
            form.save()
            messages.success(request, f"Saved the names of {group_type.name}.")
            return redirect("settings-group-types")
    return render(
        request,
        "analytics/settings_group_type.html",
        {"section": "settings", "tab": "group-types", "group_type": group_type, "form": form},
    )


@login_required
@require_POST
def move_group_type(request, name):
    group_type = _group_type(request, name)
    if stale := _switched_since(request, request.workspace, "settings-group-types"):
        return stale
    up = request.POST.get("direction") == "up"
    group_type.move(up=up)
    messages.success(request, f"Moved {group_type.plural} {'up' if up else 'down'}.")
    return redirect("settings-group-types")


@login_required
@require_POST
def make_default_group_type(request, name):
    group_type = _group_type(request, name)
    if stale := _switched_since(request, request.workspace, "settings-group-types"):
        return stale
    group_type.make_default()
    messages.success(request, f"Untyped groupIds now go to {group_type.plural}.")
    return redirect("settings-group-types")


@login_required
def delete_group_type(request, name):
    group_type = _group_type(request, name)
    form = GroupTypeDeleteForm(request.POST or None, group_type=group_type)
    if request.method == "POST":
        if stale := _switched_since(request, request.workspace, "settings-group-types"):
            return stale
        if form.is_valid():
            try:
                group_type.remove(new_default=form.cleaned_data.get("new_default"))
            except ValidationError as error:
                form.add_error(None, error)
            else:
                messages.success(request, f"Deleted the group type {name} and its groups.")
                return redirect("settings-group-types")
    return render(
        request,
        "analytics/settings_group_type_delete.html",
        {
            "section": "settings",
            "tab": "group-types",
            "group_type": group_type,
            "impact": group_type.deletion_impact(),
            "form": form,
        },
    )


# Members --------------------------------------------------------------------------


@login_required
@never_cache
def members(request):
    """The members list (read-only for admins) and, for owners, the form to add one."""
    workspace = workspace_for(request, role=Role.ADMIN)
    form = InviteForm(request.POST or None)
    created = None
    if request.method == "POST":
        if not can(request, Role.OWNER):
            raise PermissionDenied("Only owners add members.")
        if stale := _switched_since(request, workspace, "settings-members"):
            return stale
        if form.is_valid():
            try:
                member, password = workspace.invite(**form.cleaned_data)
            except ValidationError as error:
                form.add_error(None, error)
            else:
                if password is None:
                    messages.success(
                        request,
                        f"Added {member.user.email} as {member.get_role_display().lower()}.",
                    )
                    return redirect("settings-members")
                # A generated password is shown in this response only, never stored readable.
                created = {"member": member, "password": password}
                form = InviteForm()
    people = sorted(
        workspace.members.select_related("user"),
        key=lambda member: (-RANK[member.role], member.user.email),
    )
    return render(
        request,
        "analytics/settings_members.html",
        {
            "section": "settings",
            "tab": "members",
            "members": people,
            "sole_owner": sum(member.role == Role.OWNER for member in people) == 1,
            "roles": Role.choices,
            "form": form,
            "created": created,
        },
    )


def _member(request, pk):
    workspace = workspace_for(request, role=Role.OWNER)
    return get_or_404(
        WorkspaceMember.objects.select_related("user"),
        f"No member with the id {pk} in this workspace.",
        workspace=workspace,
        pk=pk,
    )


@login_required
@require_POST
def change_role(request, pk):
    member = _member(request, pk)
    if stale := _switched_since(request, request.workspace, "settings-members"):
        return stale
    form = RoleForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose owner, admin or member.")
        return redirect("settings-members")
    try:
        member.change_role(form.cleaned_data["role"])
    except ValidationError as error:
        messages.error(request, error.messages[0])
        return redirect("settings-members")
    messages.success(request, f"{member.user.email} is now {member.get_role_display().lower()}.")
    if member.user_id == request.user.pk and member.role != Role.OWNER:
        return redirect("settings" if member.role == Role.ADMIN else "home")
    return redirect("settings-members")


@login_required
@require_POST
def remove_member(request, pk):
    member = _member(request, pk)
    if stale := _switched_since(request, request.workspace, "settings-members"):
        return stale
    try:
        member.remove()
    except ValidationError as error:
        messages.error(request, error.messages[0])
        return redirect("settings-members")
    if member.user_id == request.user.pk:
        messages.success(request, f"You left {request.workspace}.")
        return redirect("home")
    messages.success(request, f"Removed {member.user.email} from {request.workspace}.")
    return redirect("settings-members")


# API keys -------------------------------------------------------------------------


def _api_keys_page(request, **context):
    return render(
        request,
        "analytics/settings_api_keys.html",
        {
            "section": "settings",
            "tab": "api-keys",
            "host": request.build_absolute_uri("/").rstrip("/"),
            **context,
        },
    )


PROBLEMS_PER_PAGE = 50


@login_required
def ingestion_problems(request):
    """What ingestion refused or stored with a warning, newest first, by level."""
    workspace = workspace_for(request, role=Role.ADMIN)
    problems = IngestionProblem.objects.filter(workspace=workspace)
    level = ProblemsQuery.parse(request.GET)["level"]
    table = ProblemTable(problems.filter(level=level) if level else problems)
    RequestConfig(request, paginate={"per_page": PROBLEMS_PER_PAGE}).configure(table)
    return render(
        request,
        partial(request, "analytics/settings_ingestion_problems.html", {"problems-table": "table"}),
        {
            "section": "settings",
            "tab": "ingestion-problems",
            "table": table,
            "level": level,
            "totals": problems.totals(),
            "levels": IngestionProblem.Level.choices,
        },
    )


@login_required
def api_keys(request):
    workspace_for(request, role=Role.ADMIN)
    return _api_keys_page(request)


@login_required
@never_cache
def rotate_secret_key(request):
    """GET asks for confirmation; POST rotates and shows the new key, in this response only."""
    workspace = workspace_for(request, role=Role.ADMIN)
    if request.method == "POST":
        if stale := _switched_since(request, workspace, "settings-api-keys"):
            return stale
        return _api_keys_page(request, new_secret_key=workspace.rotate_secret_key())
    return render(
        request,
        "analytics/settings_rotate_key.html",
        {"section": "settings", "tab": "api-keys", "kind": "secret"},
    )


@login_required
def rotate_write_key(request):
    workspace = workspace_for(request, role=Role.ADMIN)
    if request.method == "POST":
        if stale := _switched_since(request, workspace, "settings-api-keys"):
            return stale
        workspace.rotate_write_key()
        messages.success(
            request,
            "New write key created. The old one is refused from now on: update your clients.",
        )
        return redirect("settings-api-keys")
    return render(
        request,
        "analytics/settings_rotate_key.html",
        {"section": "settings", "tab": "api-keys", "kind": "write"},
    )
