"""Switching between one's workspaces, and one's password."""

from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.views.decorators.http import require_POST

from analytics.access import remember_workspace, workspace_if_any
from analytics.models import Workspace
from analytics.views import get_or_404


@login_required
@require_POST
def switch_workspace(request: HttpRequest) -> HttpResponse:
    workspace = get_or_404(
        Workspace.objects,
        "You are not a member of that workspace.",
        slug=request.POST.get("workspace"),
        members__user=request.user,
    )
    remember_workspace(request, workspace)
    return redirect("groups")


@login_required
def password_change(request: HttpRequest) -> HttpResponse:
    workspace_if_any(request)  # the sidebar shows the workspace, as on every other page
    return auth_views.PasswordChangeView.as_view()(request)


@login_required
def password_change_done(request: HttpRequest) -> HttpResponse:
    workspace_if_any(request)
    return auth_views.PasswordChangeDoneView.as_view()(request)
