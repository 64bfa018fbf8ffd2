"""The overview, where the dashboard opens: the figures, lists and pinned reports of the
current workspace (``analytics.overview``)."""

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from analytics.access import can, workspace_for
from analytics.forms import OverviewQuery
from analytics.models import Role
from analytics.overview import activity_of, overview_of, top_events_of


@login_required
def overview(request: HttpRequest) -> HttpResponse:
    """The overview; who was active and the top events load after it, side by side
    (``activity``, ``top_events``), unless asked in the page (``figures=1``, the link
    shown without JavaScript)."""
    workspace = workspace_for(request)
    query = OverviewQuery.parse(request.GET)
    return render(
        request,
        "analytics/overview.html",
        {
            "section": "overview",
            "overview": overview_of(workspace, active=query["figures"]),
            "can_see_keys": can(request, Role.ADMIN),
        },
    )


@login_required
def activity(request: HttpRequest) -> HttpResponse:
    """The overview's figures of who was active."""
    workspace = workspace_for(request)
    return render(request, "analytics/overview.html#figures", {"overview": activity_of(workspace)})


@login_required
def top_events(request: HttpRequest) -> HttpResponse:
    """The overview's top events."""
    workspace = workspace_for(request)
    return render(request, "analytics/overview.html#top-events", {"overview": top_events_of(workspace)})
