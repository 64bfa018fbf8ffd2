"""The project's URLs and, where the project has none yet, a stand-in report page at
/reports/<kind> for the browser test of saving reports (tests/test_browser_overview.py):
a page of the dashboard with the report's save control (analytics/report_save.html) in
its head, given what a report page gives it: the kind and the current query string."""

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.template import engines
from django.urls import include, path

from analytics.access import workspace_for

PAGE = """{% extends "base.html" %}
{% block title %}{{ report_kind|capfirst }}{% endblock %}
{% block content %}
<div class="page-head">
  <div><h1>{{ report_kind|capfirst }}</h1><p class="subtitle">A stand-in report page</p></div>
  {% include "analytics/report_save.html" %}
</div>
<div class="card"><div class="card-body"><code>{{ report_query }}</code></div></div>
{% endblock %}"""


@login_required
def report_page(request, kind: str) -> HttpResponse:
    workspace_for(request)
    context = {"report_kind": kind, "report_query": request.META.get("QUERY_STRING", "")}
    return HttpResponse(engines["django"].from_string(PAGE).render(context, request))


urlpatterns = [
    path("", include("groupsite.urls")),
    path("reports/<str:kind>", report_page),
]
