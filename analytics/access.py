"""Who may see and do what in the dashboard.

A user sees only the workspaces they are a member of; anything else is a 404, not a
glimpse. Within a workspace, roles rank member < admin < owner: members browse, admins
also delete people and manage keys, owners also define group types and manage members.
"""

from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest

from analytics.models import Role, Workspace, WorkspaceMember

RANK = {Role.MEMBER: 0, Role.ADMIN: 1, Role.OWNER: 2}


def workspace_for(request: HttpRequest, role: Role = Role.MEMBER) -> Workspace:
    """The user's current workspace, with ``request.role`` and ``request.workspaces`` set.

    The current workspace is the one chosen last (kept in the session and on the user, so
    it follows them to other devices), else their first. One query.
    """
    memberships = list(
        WorkspaceMember.objects.filter(user=request.user)
        .select_related("workspace")
        .order_by("workspace__name", "workspace_id")
    )
    if not memberships:
        raise Http404("You are not a member of any workspace yet.")
    wanted = request.session.get("workspace_id") or request.user.last_workspace_id
    current = next((m for m in memberships if m.workspace_id == wanted), memberships[0])
    request.workspaces = [m.workspace for m in memberships]
    request.workspace = current.workspace
    request.role = current.role
    if RANK[current.role] < RANK[role]:
        raise PermissionDenied(f"This needs the {Role(role).label.lower()} role in {current.workspace}.")
    return current.workspace


def workspace_if_any(request: HttpRequest) -> Workspace | None:
    """``workspace_for`` for pages every account may open (its password, an error page):
    the current workspace, or None for someone in no workspace yet."""
    try:
        return workspace_for(request)
    except Http404:
        return None


def can(request: HttpRequest, role: Role) -> bool:
    """Whether the current user has at least ``role`` (after ``workspace_for``)."""
    return RANK[request.role] >= RANK[role]


def remember_workspace(request: HttpRequest, workspace: Workspace) -> None:
    request.session["workspace_id"] = workspace.pk
    if request.user.last_workspace_id != workspace.pk:
        request.user.last_workspace = workspace
        request.user.save(update_fields=["last_workspace"])
