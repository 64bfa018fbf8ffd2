"""Arriving in the dashboard, and switching between one's workspaces."""

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.views.decorators.http import require_POST

from analytics.access import remember_workspace, workspace_for
from analytics.models import Workspace


@login_required
def home(request: HttpRequest) -> HttpResponse:
    workspace_for(request)
    return redirect("groups")


@login_required
@require_POST
def switch_workspace(request: HttpRequest) -> HttpResponse:
    workspace = get_object_or_404(
        Workspace, slug=request.POST.get("workspace"), members__user=request.user
    )
    remember_workspace(request, workspace)
    return redirect("groups")
