"""Workspace settings: general, group types, members, API keys and ingestion problems.

Owners do everything here; admins manage the API keys and see the members list and the
ingestion problems; members get 403 and everyone else 404 (``settings_tab``). Every
change is a POST that redirects with a message, except the two that reveal a secret once
(a rotated secret key, a generated password): those answer with the page itself, marked
not to be cached, so the secret is never stored anywhere readable, the session included.
"""

from collections.abc import Callable
from functools import wraps

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.db.models import Count
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST
from django_tables2 import RequestConfig

from analytics import event_store
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
from analytics.group_types import remove_group_type
from analytics.models import (
    GROUP_SLOTS,
    GroupType,
    IngestionProblem,
    Role,
    Workspace,
    WorkspaceMember,
)
from analytics.tables import ProblemTable
from analytics.views import (
    HtmxHttpRequest,
    get_or_404,
    partial,
    refused_from_another_workspace,
    site_root,
)


def settings_tab(
    tab: str, *, role: Role, post_role: Role | None = None, get: Callable | None = None
) -> Callable:
    """Makes a view a page of the settings ``tab`` (``"group-types"``...). The view is
    called with the current workspace or, given ``get``, with what ``get(workspace,
    **url_arguments)`` finds in it (a group type, a member; a 404 if nothing).

    It needs a login and ``role`` in the workspace (``post_role`` to POST, if that needs
    more), and changes nothing for a POST whose form was shown for another workspace (see
    ``refused_from_another_workspace``): a form left open in another tab would otherwise
    rotate a key or delete a type of the wrong workspace.

    A page the view answers with (a ``TemplateResponse``) gets what the frame of every
    settings page needs: the section and the tab.
    """

    def decorator(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @login_required
        @wraps(view)
        def wrapper(request: HttpRequest, **kwargs) -> HttpResponse:
            posted = request.method == "POST"
            workspace = workspace_for(request, role=post_role if posted and post_role else role)
            found = get(workspace, **kwargs) if get else workspace
            back_to = f"settings-{tab}"
            if posted and (refused := refused_from_another_workspace(request, workspace, back_to)):
                return refused
            response = view(request, found)
            if isinstance(response, TemplateResponse):
                response.context_data = {"section": "settings", "tab": tab, **response.context_data}
            return response

        return wrapper

    return decorator


@login_required
def settings(request: HttpRequest) -> HttpResponse:
    workspace_for(request, role=Role.ADMIN)
    return redirect("settings-general" if can(request, Role.OWNER) else "settings-api-keys")


@settings_tab("general", role=Role.OWNER)
def general(request: HttpRequest, workspace: Workspace) -> HttpResponse:
    form = WorkspaceForm(request.POST or None, instance=workspace)
    if request.method == "POST":
        if form.is_valid():
            form.save()
            messages.success(request, "Settings saved.")
            return redirect("settings-general")
        # The sidebar shows the saved name, not the one that failed validation.
        workspace.refresh_from_db(fields=["name"])
    return TemplateResponse(request, "analytics/settings_general.html", {"form": form})


# Group types ----------------------------------------------------------------------


def _group_type(workspace: Workspace, name: str) -> GroupType:
    return get_or_404(
        GroupType.objects.select_related("workspace"),
        f"No group type “{name}” in this workspace.",
        workspace=workspace,
        name=name,
    )


@settings_tab("group-types", role=Role.OWNER)
def group_types(request: HttpRequest, workspace: Workspace) -> HttpResponse:
    form = GroupTypeCreateForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            group_type = GroupType.create(workspace=workspace, **form.cleaned_data)
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(request, f"Added the group type {group_type.name}.")
            return redirect("settings-group-types")
    # A GROUP BY query ignores Meta.ordering: order explicitly.
    types = workspace.group_types.annotate(group_count=Count("groups")).order_by("position", "id")
    return TemplateResponse(
        request,
        "analytics/settings_group_types.html",
        {"group_types": list(types), "form": form, "limit": GROUP_SLOTS},
    )


@settings_tab("group-types", role=Role.OWNER, get=_group_type)
def group_type(request: HttpRequest, group_type: GroupType) -> HttpResponse:
    form = GroupTypeForm(request.POST or None, instance=group_type)
    if request.method == "POST" and form.is_valid():
        form.save()
        messages.success(request, f"Saved the names of {group_type.name}.")
        return redirect("settings-group-types")
    return TemplateResponse(
        request, "analytics/settings_group_type.html", {"group_type": group_type, "form": form}
    )


@settings_tab("group-types", role=Role.OWNER, get=_group_type)
@require_POST
def move_group_type(request: HttpRequest, group_type: GroupType) -> HttpResponse:
    up = request.POST.get("direction") == "up"
    group_type.move(up=up)
    messages.success(request, f"Moved {group_type.plural} {'up' if up else 'down'}.")
    return redirect("settings-group-types")


@settings_tab("group-types", role=Role.OWNER, get=_group_type)
@require_POST
def make_default_group_type(request: HttpRequest, group_type: GroupType) -> HttpResponse:
    group_type.make_default()
    messages.success(request, f"Untyped groupIds now go to {group_type.plural}.")
    return redirect("settings-group-types")


@settings_tab("group-types", role=Role.OWNER, get=_group_type)
def delete_group_type(request: HttpRequest, group_type: GroupType) -> HttpResponse:
    form = GroupTypeDeleteForm(request.POST or None, group_type=group_type)
    if request.method == "POST" and form.is_valid():
        try:
            remove_group_type(group_type, new_default=form.cleaned_data.get("new_default"))
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(request, f"Deleted the group type {group_type.name} and its groups.")
            return redirect("settings-group-types")
    impact = {
        **group_type.deletion_impact(),
        "events": event_store.count_in_slot(group_type.workspace_id, group_type.slot),
    }
    return TemplateResponse(
        request,
        "analytics/settings_group_type_delete.html",
        {"group_type": group_type, "impact": impact, "form": form},
    )


# Members --------------------------------------------------------------------------


def _member(workspace: Workspace, pk: int) -> WorkspaceMember:
    return get_or_404(
        WorkspaceMember.objects.select_related("user", "workspace"),
        f"No member with the id {pk} in this workspace.",
        workspace=workspace,
        pk=pk,
    )


@settings_tab("members", role=Role.ADMIN, post_role=Role.OWNER)
@never_cache
def members(request: HttpRequest, workspace: Workspace) -> HttpResponse:
    """The members list (read-only for admins) and, for owners, the form to add one."""
    form = InviteForm(request.POST or None)
    created = None
    if request.method == "POST" and form.is_valid():
        try:
            member, password = workspace.invite(**form.cleaned_data)
        except ValidationError as error:
            form.add_error(None, error)
        else:
            if password is None:
                role = member.get_role_display().lower()
                messages.success(request, f"Added {member.user.email} as {role}.")
                return redirect("settings-members")
            # A generated password is shown in this response only, never stored readable.
            created = {"member": member, "password": password}
            form = InviteForm()
    people = sorted(
        workspace.members.select_related("user"),
        key=lambda member: (-RANK[member.role], member.user.email),
    )
    return TemplateResponse(
        request,
        "analytics/settings_members.html",
        {
            "members": people,
            "sole_owner": sum(member.role == Role.OWNER for member in people) == 1,
            "roles": Role.choices,
            "form": form,
            "created": created,
        },
    )


@settings_tab("members", role=Role.OWNER, get=_member)
@require_POST
def change_role(request: HttpRequest, member: WorkspaceMember) -> HttpResponse:
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


@settings_tab("members", role=Role.OWNER, get=_member)
@require_POST
def remove_member(request: HttpRequest, member: WorkspaceMember) -> HttpResponse:
    try:
        member.remove()
    except ValidationError as error:
        messages.error(request, error.messages[0])
        return redirect("settings-members")
    if member.user_id == request.user.pk:
        messages.success(request, f"You left {member.workspace}.")
        return redirect("home")
    messages.success(request, f"Removed {member.user.email} from {member.workspace}.")
    return redirect("settings-members")


# API keys -------------------------------------------------------------------------


def _api_keys_page(request: HttpRequest, **context) -> TemplateResponse:
    host = site_root(request)
    return TemplateResponse(
        request, "analytics/settings_api_keys.html", {"host": host, **context}
    )


@settings_tab("api-keys", role=Role.ADMIN)
def api_keys(request: HttpRequest, workspace: Workspace) -> HttpResponse:
    return _api_keys_page(request)


@settings_tab("api-keys", role=Role.ADMIN)
@never_cache
def rotate_secret_key(request: HttpRequest, workspace: Workspace) -> HttpResponse:
    """GET asks for confirmation; POST rotates and shows the new key, in this response only."""
    if request.method == "POST":
        return _api_keys_page(request, new_secret_key=workspace.rotate_secret_key())
    return TemplateResponse(request, "analytics/settings_rotate_key.html", {"kind": "secret"})


@settings_tab("api-keys", role=Role.ADMIN)
def rotate_write_key(request: HttpRequest, workspace: Workspace) -> HttpResponse:
    if request.method == "POST":
        workspace.rotate_write_key()
        messages.success(
            request,
            "New write key created. The old one is refused from now on: update your clients.",
        )
        return redirect("settings-api-keys")
    return TemplateResponse(request, "analytics/settings_rotate_key.html", {"kind": "write"})


# Ingestion problems ---------------------------------------------------------------

PROBLEMS_PER_PAGE = 50


@settings_tab("ingestion-problems", role=Role.ADMIN)
def ingestion_problems(request: HtmxHttpRequest, workspace: Workspace) -> HttpResponse:
    """What ingestion refused or stored with a warning, newest first, by level."""
    problems = IngestionProblem.objects.filter(workspace=workspace)
    level = ProblemsQuery.parse(request.GET)["level"]
    table = ProblemTable(problems.filter(level=level) if level else problems)
    RequestConfig(request, paginate={"per_page": PROBLEMS_PER_PAGE}).configure(table)
    return TemplateResponse(
        request,
        partial(request, "analytics/settings_ingestion_problems.html", {"problems-table": "table"}),
        {
            "table": table,
            "level": level,
            "totals": problems.totals(),
            "levels": IngestionProblem.Level.choices,
        },
    )
