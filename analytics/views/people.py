"""People: the person profile."""

from django.contrib.auth.decorators import login_required
from django.shortcuts import get_object_or_404, render

from analytics.access import workspace_for
from analytics.models import Person
from analytics.timeline import Timeline
from analytics.views import partial


@login_required
def person(request, pk):
    workspace = workspace_for(request)
    person = get_object_or_404(Person, pk=pk, workspace=workspace)
    memberships = person.memberships.select_related("group__group_type").order_by(
        "ended_at", "-started_at"
    )
    timeline = Timeline.for_person(person, before=request.GET.get("before"))
    template = partial(request, "analytics/person.html", {"timeline-more": "timeline_page"})
    return render(
        request,
        template,
        {"section": "people", "person": person, "memberships": memberships, "timeline": timeline},
    )
