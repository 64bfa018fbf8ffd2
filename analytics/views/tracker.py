"""The browser tracker's demo page: click to send identify, group and track calls into
the current workspace with /static/groupsite/tracker.js, then look at them in Groupsite.

It sends real data with the workspace's write key, so outside development (``DEBUG``) it
is for owners only: members get 403 and everyone else 404, as in the settings.
"""

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from analytics.access import workspace_for
from analytics.models import Role
from analytics.views import site_root


@login_required
def tracker_demo(request: HttpRequest) -> HttpResponse:
    workspace = workspace_for(request, role=Role.MEMBER if settings.DEBUG else Role.OWNER)
    return render(
        request,
        "analytics/tracker_demo.html",
        {
            "host": site_root(request),
            "group_types": list(workspace.group_types.all()),
        },
    )
