from django.urls import path, re_path

from analytics import api, ingest_views

urlpatterns = [
    re_path(
        r"^v1/(?P<call_type>identify|track|page|screen|group|alias|batch)/?$",
        ingest_views.ingest_call,
        name="ingest",
    ),
    path("api/v1/group-types", api.group_types, name="api-group-types"),
    path("api/v1/groups/<slug:type_name>", api.groups, name="api-groups"),
    path("api/v1/groups/<slug:type_name>/<path:key>", api.group, name="api-group"),
    path("api/v1/people", api.people, name="api-people"),
    path("api/v1/people/<path:user_id>", api.person, name="api-person"),
    path("api/v1/events", api.events, name="api-events"),
    path("api/v1/ingestion-problems", api.ingestion_problems, name="api-ingestion-problems"),
]
