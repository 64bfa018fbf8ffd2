import re

from django.contrib.auth import views as auth_views
from django.urls import path, re_path, register_converter

from analytics import api, ingest_views, openapi, report_api
from analytics.forms import LoginForm
from analytics.views import (
    cohorts,
    groups,
    overview,
    people,
    reports,
    saved_reports,
    settings,
    tracker,
    workspace,
)


class KeyConverter:
    """A group key or user id, any text a client sent, as one segment of a URL.

    ``reverse()`` percent-encodes all but ``/``, ``~`` and a few punctuation marks; this
    writes ``/`` as ``~2F``, ``~`` as ``~7E`` and a key of dots only with ``~2E`` for each
    dot, so no browser or proxy resolves ``..`` or merges slashes in it. A literal ``/``
    (or ``%2F``, which arrives as one) is read as itself, so clients may also send a key
    as it is.
    """

    regex = "(?s:.+)"  # newlines too
    ESCAPES = {"~2F": "/", "~7E": "~", "~2E": "."}

    def to_python(self, value):
        return re.sub("~2F|~7E|~2E", lambda escape: self.ESCAPES[escape[0]], value)

    def to_url(self, value):
        if not value.strip("."):
            return "~2E" * len(value)
        return value.replace("~", "~7E").replace("/", "~2F")


register_converter(KeyConverter, "key")

urlpatterns = [
    # The tracking API (Segment-compatible), authenticated by the write key.
    re_path(
        r"^v1/(?P<call_type>identify|track|page|screen|group|alias|batch)/?$",
        ingest_views.ingest_call,
        name="ingest",
    ),
    # The read and delete API, authenticated by the secret key, and its description.
    path("api/v1/openapi.json", openapi.openapi_json, name="api-openapi"),
    path("api/v1/group-types", api.group_types, name="api-group-types"),
    path("api/v1/groups/<slug:type_name>", api.groups, name="api-groups"),
    path("api/v1/groups/<slug:type_name>/<key:key>", api.group, name="api-group"),
    path("api/v1/people", api.people, name="api-people"),
    path("api/v1/people/<key:user_id>", api.person, name="api-person"),
    path("api/v1/events", api.events, name="api-events"),
    path("api/v1/ingestion-problems", api.ingestion_problems, name="api-ingestion-problems"),
    path("api/v1/reports/trends", report_api.trends, name="api-report-trends"),
    path("api/v1/reports/funnels", report_api.funnels, name="api-report-funnels"),
    path("api/v1/reports/retention", report_api.retention, name="api-report-retention"),
    path(
        "api/v1/reports/active-groups", report_api.active_groups, name="api-report-active-groups"
    ),
    # The dashboard.
    path("", overview.overview, name="home"),
    path("overview/activity", overview.activity, name="overview-activity"),
    path("overview/top-events", overview.top_events, name="overview-top-events"),
    path(
        "login/",
        auth_views.LoginView.as_view(
            authentication_form=LoginForm, redirect_authenticated_user=True
        ),
        name="login",
    ),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("account/password", workspace.password_change, name="password_change"),
    path("account/password/done", workspace.password_change_done, name="password_change_done"),
    path("workspace", workspace.switch_workspace, name="switch_workspace"),
    path("groups", groups.groups, name="groups"),
    path("groups/<slug:type_name>", groups.groups, name="groups"),
    path("groups/<slug:type_name>/<key:key>", groups.group, name="group"),
    path("active-groups/<slug:type_name>", groups.active, name="active-groups"),
    path("people", people.people, name="people"),
    path("people/delete", people.delete_people_by_domain, name="delete_people"),
    path("people/<int:pk>", people.person, name="person"),
    path("people/<int:pk>/delete", people.delete_person, name="delete_person"),
    path("deletions/<int:pk>", people.deletion, name="deletion"),
    path("reports/trends", reports.trends, name="report-trends"),
    path("reports/funnels", reports.funnels, name="report-funnels"),
    path("reports/retention", reports.retention, name="report-retention"),
    path("reports/<slug:kind>/people", reports.actors, name="report-actors"),
    path("reports/cohorts", cohorts.cohorts, name="cohorts"),
    path("reports/cohorts/new", cohorts.new_cohort, name="cohort-new"),
    path("reports/cohorts/<int:pk>", cohorts.cohort, name="cohort"),
    path("reports/cohorts/<int:pk>/edit", cohorts.edit_cohort, name="cohort-edit"),
    path("reports/cohorts/<int:pk>/delete", cohorts.delete_cohort, name="cohort-delete"),
    path("reports", saved_reports.saved_reports, name="reports"),
    path("reports/saved", saved_reports.save_report, name="saved-report-save"),
    path("reports/saved/<int:pk>/rename", saved_reports.rename_report, name="saved-report-rename"),
    path("reports/saved/<int:pk>/delete", saved_reports.delete_report, name="saved-report-delete"),
    path("reports/saved/<int:pk>/pin", saved_reports.pin_report, name="saved-report-pin"),
    path("reports/saved/<int:pk>/move", saved_reports.move_report, name="saved-report-move"),
    path("settings", settings.settings, name="settings"),
    path("settings/general", settings.general, name="settings-general"),
    path("settings/group-types", settings.group_types, name="settings-group-types"),
    path("settings/group-types/<slug:name>", settings.group_type, name="settings-group-type"),
    path(
        "settings/group-types/<slug:name>/move",
        settings.move_group_type,
        name="settings-move-group-type",
    ),
    path(
        "settings/group-types/<slug:name>/default",
        settings.make_default_group_type,
        name="settings-default-group-type",
    ),
    path(
        "settings/group-types/<slug:name>/delete",
        settings.delete_group_type,
        name="settings-delete-group-type",
    ),
    path("settings/members", settings.members, name="settings-members"),
    path("settings/members/<int:pk>/role", settings.change_role, name="settings-change-role"),
    path("settings/members/<int:pk>/remove", settings.remove_member, name="settings-remove-member"),
    path("settings/api-keys", settings.api_keys, name="settings-api-keys"),
    path(
        "settings/api-keys/secret-key",
        settings.rotate_secret_key,
        name="settings-rotate-secret-key",
    ),
    path(
        "settings/api-keys/write-key", settings.rotate_write_key, name="settings-rotate-write-key"
    ),
    path(
        "settings/ingestion-problems",
        settings.ingestion_problems,
        name="settings-ingestion-problems",
    ),
    path("tracker-demo", tracker.tracker_demo, name="tracker_demo"),
]
