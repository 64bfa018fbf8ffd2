from django.contrib.auth import views as auth_views
from django.urls import path, re_path

from analytics import api, ingest_views
from analytics.views import groups, people, workspace

urlpatterns = [
    # The tracking API (Segment-compatible), authenticated by the write key.
    re_path(
        r"^v1/(?P<call_type>identify|track|page|screen|group|alias|batch)/?$",
        ingest_views.ingest_call,
        name="ingest",
    ),
    # The read and delete API, authenticated by the secret key.
    path("api/v1/group-types", api.group_types, name="api-group-types"),
    path("api/v1/groups/<slug:type_name>", api.groups, name="api-groups"),
    path("api/v1/groups/<slug:type_name>/<path:key>", api.group, name="api-group"),
    path("api/v1/people", api.people, name="api-people"),
    path("api/v1/people/<path:user_id>", api.person, name="api-person"),
    path("api/v1/events", api.events, name="api-events"),
    path("api/v1/ingestion-problems", api.ingestion_problems, name="api-ingestion-problems"),
    # The dashboard.
    path("", workspace.home, name="home"),
    path("login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("workspace", workspace.switch_workspace, name="switch_workspace"),
    path("groups", groups.groups, name="groups"),
    path("groups/<slug:type_name>", groups.groups, name="groups"),
    path("groups/<slug:type_name>/<path:key>", groups.group, name="group"),
    path("people/<int:pk>", people.person, name="person"),
]
