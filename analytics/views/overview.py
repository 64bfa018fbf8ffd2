"""The overview, where the dashboard opens: the figures, lists and pinned reports of the
current workspace (``analytics.overview``)."""

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from analytics.access import can, workspace_for
from analytics.models import Role
from analytics.overview import overview_of


@login_required
def overview(request: HttpRequest) -> HttpResponse:
    workspace = workspace_for(request)
    return render(
        request,
        "analytics/overview.html",
        {
            "section": "overview",
            "overview": overview_of(workspace),
            "can_see_keys": can(request, Role.ADMIN),
        },
    )
