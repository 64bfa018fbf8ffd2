"""Saved reports: saving a report page's settings under a name (the saved URL reproduces
the report exactly), the list at /reports, renaming, deleting and pinning, and who may do
each: members their own reports; admins and owners also delete, pin and unpin anyone's."""

import re
from html import unescape
from urllib.parse import urlsplit

import pytest
from conftest import make_user
from django.db import connection
from django.http import QueryDict
from django.template.loader import render_to_string
from django.test import RequestFactory
from django.test.utils import CaptureQueriesContext

from analytics import reports
from analytics.models import Role, SavedReport, User, Workspace

QUERIES = {
    "trends": "event=Report+Viewed&event=%24page&interval=week&range=custom&from=2026-01-05"
    "&to=2026-02-01&count_by=company&where=event&key=plan&op=eq&value=pro&internal=include",
    "funnels": "steps=signed_up,project_created,invite_sent&window=7&range=90d&count_by=company",
    "retention": "start_event=signed_up&return_event=&interval=month&periods=3&range=last_month",
}


@pytest.fixture
def erin(workspace):
    """Another member of alice's workspace, beside bob."""
    user = make_user("erin")
    workspace.add_member(user, Role.MEMBER)
    return user


def save(client, workspace, kind="trends", query=QUERIES["trends"], name="Weekly pro usage", **extra):
    return client.post(
        "/reports/saved",
        {"workspace": workspace.slug, "kind": kind, "query": query, "name": name, **extra},
    )


def saved_by(user, workspace, name="Bob's report", kind="trends", query="event=Signed+Up"):
    return SavedReport.create(workspace=workspace, kind=kind, name=name, query=query, user=user)


# --- saving -----------------------------------------------------------------------------


@pytest.mark.parametrize("kind", QUERIES)
def test_the_saved_url_reproduces_the_report_exactly(client, bob, workspace, company, kind):
    client.force_login(bob)
    response = save(client, workspace, kind, QUERIES[kind])
    saved = SavedReport.objects.get()
    assert (saved.kind, saved.name, saved.query, saved.created_by) == (
        kind, "Weekly pro usage", QUERIES[kind], bob
    )
    # Back to the report page, as saved: the same query string, character for character.
    assert response.status_code == 302
    assert response["Location"] == f"/reports/{kind}?{QUERIES[kind]}"
    opened = urlsplit(response["Location"])
    parse = reports.FROM_PARAMS[kind]
    assert parse(workspace, QueryDict(opened.query)) == parse(workspace, QueryDict(QUERIES[kind]))


def test_a_report_with_its_default_settings_saves_an_empty_query(client, bob, workspace):
    client.force_login(bob)
    assert save(client, workspace, "trends", "")["Location"] == "/reports/trends"
    assert SavedReport.objects.get().get_absolute_url() == "/reports/trends"


def test_saving_says_where_the_report_went(client, bob, workspace, company):
    client.force_login(bob)
    page = client.get(save(client, workspace)["Location"].replace("/reports/trends", "/reports"))
    assert "Saved “Weekly pro usage”" in unescape(page.content.decode())


@pytest.mark.parametrize(
    "kind, query, message",
    [
        ("trends", "count_by=project", "count_by: this workspace has no group type “project”"),
        ("trends", "range=forever", "range must be one of 7d, 30d, 90d"),
        ("funnels", "step=signed_up", "A funnel has 2 to 10 steps; 1 were given."),
        ("retention", "periods=99", "periods must be between 1 and 36; not 99."),
        ("dashboards", "", "A saved report is of the kind trends, funnels or retention; not “dashboards”."),
        ("trends", "event=x&" * 800, "This report's settings are too long to save: 6400 characters, at most 4000."),
    ],
)
def test_a_report_that_makes_no_sense_is_not_saved(client, bob, workspace, company, kind, query, message):
    client.force_login(bob)
    response = save(client, workspace, kind, query)
    assert response.status_code == 400
    assert message in unescape(response.content.decode())
    assert not SavedReport.objects.exists()


@pytest.mark.parametrize("name", ["", "   "])
def test_a_report_needs_a_name(client, bob, workspace, company, name):
    client.force_login(bob)
    response = save(client, workspace, name=name)
    assert response.status_code == 200
    page = unescape(response.content.decode())
    assert "Give the report a name." in page
    # The form to try again keeps the report's settings.
    assert f'name="query" value="{QUERIES["trends"]}"' in page
    assert not SavedReport.objects.exists()


def test_a_name_is_tidied_and_has_a_limit(client, bob, workspace, company):
    client.force_login(bob)
    save(client, workspace, name="  Weekly \n  pro   usage ")
    assert SavedReport.objects.get().name == "Weekly pro usage"
    response = save(client, workspace, name="x" * 121)
    assert "A name has at most 120 characters (this one has 121)." in response.content.decode()
    assert SavedReport.objects.count() == 1


def test_a_form_shown_for_another_workspace_saves_nothing(client, alice, workspace, company):
    second, _ = Workspace.create(name="Second", owner=alice)
    client.force_login(alice)  # the current workspace is the first, Acme Analytics
    response = save(client, second)
    assert response["Location"] == "/reports"
    assert not SavedReport.objects.exists()
    page = client.get("/reports").content.decode()
    assert "Nothing was changed: that form belonged to another workspace" in page


# --- the list ---------------------------------------------------------------------------


def test_the_list_shows_the_workspace_reports(client, alice, bob, workspace, other_workspace, charlie):
    mine = saved_by(bob, workspace, "Signups by week", query="event=Signed+Up&interval=week")
    mine.pin()
    saved_by(alice, workspace, "Activation", kind="funnels", query="steps=a,b")
    saved_by(charlie, other_workspace, "Charlie's secret report")
    client.force_login(bob)
    page = unescape(client.get("/reports").content.decode())
    rows = re.findall(r"<tr>(.*?)</tr>", page, re.S)[1:]
    assert len(rows) == 2
    assert '<a href="/reports/funnels?steps=a,b">Activation</a>' in rows[0]
    assert "alice@example.com" in rows[0] and "Funnels" in rows[0]
    assert '<a href="/reports/trends?event=Signed+Up&interval=week">Signups by week</a>' in rows[1]
    assert "<td>You</td>" in rows[1] and "Pinned" in rows[1]
    # What each is, in a few words.
    assert "a → b · by user · Last 30 days" in rows[0]
    assert "Signed Up · by user · Last 30 days" in rows[1]
    assert "Charlie's secret report" not in page


@pytest.mark.parametrize(
    "kind, query, description",
    [
        ("trends", "", "Any event · by user · Last 30 days"),
        ("trends", QUERIES["trends"], "Report Viewed, Page viewed · by company · 2026-01-05 to 2026-02-01"),
        ("trends", "event=Signed+Up&count_by=events&range=7d", "Signed Up · events · Last 7 days"),
        ("funnels", QUERIES["funnels"], "signed_up → project_created → invite_sent · by company · Last 90 days"),
        ("retention", QUERIES["retention"], "signed_up, then Any event · by user · Last month"),
    ],
)
def test_the_list_says_what_each_report_shows(client, bob, workspace, kind, query, description):
    saved_by(bob, workspace, kind=kind, query=query)
    client.force_login(bob)
    assert f'<div class="muted">{description}</div>' in unescape(client.get("/reports").content.decode())


def test_an_empty_list_points_to_the_three_reports(client, bob, workspace):
    client.force_login(bob)
    page = client.get("/reports").content.decode()
    assert "No saved reports yet" in page
    for kind in ("trends", "funnels", "retention"):
        assert f'href="/reports/{kind}"' in page


def test_the_list_costs_the_same_queries_for_2_or_20_reports(client, alice, bob, dana, workspace):
    for n in range(2):
        saved_by(bob if n % 2 else dana, workspace, f"Report {n}")
    client.force_login(alice)
    with CaptureQueriesContext(connection) as few:
        client.get("/reports")
    for n in range(2, 20):
        saved_by(bob if n % 2 else dana, workspace, f"Report {n}")
    with CaptureQueriesContext(connection) as many:
        client.get("/reports")
    assert len(many) == len(few)


def test_a_report_outlives_the_account_that_saved_it(client, alice, bob, workspace):
    saved_by(bob, workspace)
    User.objects.filter(pk=bob.pk).delete()
    client.force_login(alice)
    page = client.get("/reports").content.decode()
    assert "Bob&#x27;s report" in page and "a former member" in page
    assert SavedReport.objects.get().created_by is None


# --- renaming, deleting, pinning ----------------------------------------------------------

# For a report bob (a member) saved: what each of alice's workspace's people gets.
ALLOWED = {
    "rename": {"bob"},
    "delete": {"bob", "dana", "alice"},
    "pin": {"bob", "dana", "alice"},
    "move": {"bob", "dana", "alice"},
}
FORMS = {
    "rename": ("/reports/saved/{pk}/rename", {"name": "Renamed"}),
    "delete": ("/reports/saved/{pk}/delete", {}),
    "pin": ("/reports/saved/{pk}/pin", {"pinned": "1"}),
    "move": ("/reports/saved/{pk}/move", {"direction": "earlier"}),
}


def state(report):
    """Its name, whether it is pinned and where (None once deleted)."""
    return SavedReport.objects.filter(pk=report.pk).values_list("name", "pinned", "position").first()


@pytest.mark.parametrize("actor", ["bob", "erin", "dana", "alice"])
@pytest.mark.parametrize("action", FORMS)
def test_who_may_rename_delete_and_pin_a_members_report(
    client, workspace, alice, bob, erin, dana, action, actor
):
    saved_by(erin, workspace, "Erin's").pin()
    report = saved_by(bob, workspace)
    if action == "move":
        report.pin()  # second: it can move earlier
    before = state(report)
    client.force_login({"alice": alice, "bob": bob, "erin": erin, "dana": dana}[actor])
    path, data = FORMS[action]
    response = client.post(path.format(pk=report.pk), {"workspace": workspace.slug, **data})
    if actor in ALLOWED[action]:
        assert response.status_code == 302
        assert state(report) == {
            "rename": ("Renamed", False, None),
            "delete": None,
            "pin": ("Bob's report", True, 2),
            "move": ("Bob's report", True, 1),
        }[action]
    else:
        assert response.status_code == 403
        assert state(report) == before


@pytest.mark.parametrize("actor", ["bob", "erin", "dana", "alice"])
@pytest.mark.parametrize("action", ["rename", "delete"])
def test_who_may_open_the_rename_and_delete_pages(client, workspace, alice, bob, erin, dana, action, actor):
    report = saved_by(bob, workspace)
    client.force_login({"alice": alice, "bob": bob, "erin": erin, "dana": dana}[actor])
    response = client.get(FORMS[action][0].format(pk=report.pk))
    assert response.status_code == (200 if actor in ALLOWED[action] else 403)


def test_an_admin_or_owner_renames_only_their_own(client, workspace, alice, dana):
    report = saved_by(dana, workspace, "Dana's")
    client.force_login(alice)
    assert client.post(f"/reports/saved/{report.pk}/rename", {"workspace": workspace.slug, "name": "x"}).status_code == 403
    client.force_login(dana)
    response = client.post(f"/reports/saved/{report.pk}/rename", {"workspace": workspace.slug, "name": " Dana's  best "})
    assert response["Location"] == "/reports"
    assert SavedReport.objects.get().name == "Dana's best"


def test_an_outsider_finds_no_report_of_the_workspace(client, workspace, bob, charlie, other_workspace):
    report = saved_by(bob, workspace)
    client.force_login(charlie)
    for path, data in FORMS.values():
        path = path.format(pk=report.pk)
        assert client.get(path).status_code in (404, 405)
        assert client.post(path, {"workspace": other_workspace.slug, **data}).status_code == 404
    assert state(report) == ("Bob's report", False, None)


def test_the_rename_page_shows_the_name_and_errors(client, workspace, bob):
    report = saved_by(bob, workspace)
    client.force_login(bob)
    page = unescape(client.get(f"/reports/saved/{report.pk}/rename").content.decode())
    assert 'value="Bob\'s report"' in page
    response = client.post(f"/reports/saved/{report.pk}/rename", {"workspace": workspace.slug, "name": " "})
    assert "Give the report a name." in response.content.decode()
    assert state(report) == ("Bob's report", False, None)


def test_deleting_asks_first_and_says_what_goes(client, workspace, bob):
    report = saved_by(bob, workspace)
    report.pin()
    client.force_login(bob)
    page = unescape(client.get(f"/reports/saved/{report.pk}/delete").content.decode())
    assert "Delete the saved report “Bob's report”?" in page
    assert "and from the overview, where it is pinned" in page
    response = client.post(f"/reports/saved/{report.pk}/delete", {"workspace": workspace.slug})
    assert response["Location"] == "/reports"
    assert not SavedReport.objects.exists()
    assert "Deleted the saved report “Bob's report”." in unescape(client.get("/reports").content.decode())


def test_pinning_goes_back_where_it_was_asked_and_unpinning_frees_the_place(client, workspace, bob):
    first, second = saved_by(bob, workspace, "First"), saved_by(bob, workspace, "Second")
    client.force_login(bob)
    pin = f"/reports/saved/{second.pk}/pin"
    response = client.post(pin, {"workspace": workspace.slug, "pinned": "1", "next": "/reports?sort=name"})
    assert response["Location"] == "/reports?sort=name"
    client.post(f"/reports/saved/{first.pk}/pin", {"workspace": workspace.slug, "pinned": "1"})
    assert list(SavedReport.objects.pinned().values_list("name", "position")) == [("Second", 1), ("First", 2)]
    # Elsewhere than this site is not a way back.
    response = client.post(pin, {"workspace": workspace.slug, "pinned": "0", "next": "https://evil.test/"})
    assert response["Location"] == "/reports"
    assert list(SavedReport.objects.pinned().values_list("name", flat=True)) == ["First"]
    assert SavedReport.objects.get(name="Second").position is None
    assert client.post(pin, {"workspace": workspace.slug, "pinned": "maybe"}).status_code == 400


def test_moving_a_pinned_report_swaps_it_with_its_neighbour(client, workspace, bob):
    a, b, c = (saved_by(bob, workspace, name) for name in ("A", "B", "C"))
    for report in (a, b, c):
        report.pin()
    b.unpin()  # A 1, C 3: moving renumbers from 1
    client.force_login(bob)

    def move(report, direction):
        return client.post(
            f"/reports/saved/{report.pk}/move", {"workspace": workspace.slug, "direction": direction}
        )

    def order():
        return list(SavedReport.objects.pinned().values_list("name", "position"))

    assert move(c, "earlier")["Location"] == "/"  # back to the overview
    assert order() == [("C", 1), ("A", 2)]
    move(c, "earlier")  # first already: stays
    move(a, "later")  # last already: stays
    move(b, "earlier")  # not pinned: nothing
    assert order() == [("C", 1), ("A", 2)]
    move(c, "later")
    assert order() == [("A", 1), ("C", 2)]
    assert move(c, "sideways").status_code == 400


def test_pinning_twice_keeps_one_place(workspace, bob):
    report = saved_by(bob, workspace)
    report.pin()
    report.pin()
    assert SavedReport.objects.get().position == 1


# --- the save control on the report pages -------------------------------------------------


def control(workspace, user, kind, query):
    request = RequestFactory().get(f"/reports/{kind}?{query}")
    request.user, request.workspace = user, workspace
    request.role = workspace.role_of(user)
    html = render_to_string(
        "analytics/report_save.html",
        {"report_kind": kind, "report_query": query, "request": request},
        request=request,
    )
    return " ".join(unescape(re.sub(r"<(?!input|form)[^>]+>", " ", html)).split())


def test_the_save_control_saves_the_page_settings_then_offers_to_pin(workspace, bob, erin, alice):
    query = QUERIES["funnels"]
    html = control(workspace, bob, "funnels", query)
    assert 'action="/reports/saved"' in html and 'name="name"' in html
    assert f'name="query" value="{query}"' in html and 'name="kind" value="funnels"' in html
    assert f'name="workspace" value="{workspace.slug}"' in html
    assert "Saved as" not in html
    report = saved_by(bob, workspace, "Activation", kind="funnels", query=query)
    html = control(workspace, bob, "funnels", query)
    assert "Saved as “Activation”" in html and "Pin to overview" in html
    assert "Pin to overview" not in control(workspace, erin, "funnels", query)  # not erin's
    assert "Pin to overview" in control(workspace, alice, "funnels", query)  # an owner's
    report.pin()
    assert "Unpin" in control(workspace, bob, "funnels", query)
    # Another query string, or the same one of another kind, is another report.
    assert 'action="/reports/saved"' in control(workspace, bob, "funnels", query + "&window=8")
    assert 'action="/reports/saved"' in control(workspace, bob, "retention", query)


def test_the_save_control_prefers_the_users_own_report(workspace, bob, erin):
    saved_by(erin, workspace, "Erin's", query="range=7d")
    saved_by(bob, workspace, "Bob's", query="range=7d")
    saved_by(erin, workspace, "Erin's again", query="range=7d")
    assert "Saved as “Bob's”" in control(workspace, bob, "trends", "range=7d")
    assert "Saved as “Erin's again”" in control(workspace, erin, "trends", "range=7d")
