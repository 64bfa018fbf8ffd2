"""The cohort pages (/reports/cohorts…), the cohort filter of the People and Groups lists
and the cohort picker of the report forms.

Ann and Cy are admins (a trait) at acme (plan=pro), Bo is at beta (plan=free), Eve is in
no company; Dee works at staff.dev, the workspace's internal domain, and is at acme."""

import csv
import io
from datetime import timedelta

import pytest
from calls import identify, join, track
from conftest import post
from django.template.loader import render_to_string
from django.test import RequestFactory
from django.utils import timezone

from analytics.models import Cohort, Condition


def recently(days=1):
    return (timezone.now() - timedelta(days=days)).isoformat()


@pytest.fixture
def customers(send, workspace, company):
    workspace.internal_domains = ["staff.dev"]
    workspace.save()

    response = send.batch(
        identify("ann", "Ann Archer", "ann@acme.io", at=recently(60), role="admin"),
        identify("bo", "Bo Brown", "bo@beta.io", at=recently(60)),
        identify("cy", "Cy Cole", "cy@acme.io", at=recently(60), role="admin"),
        identify("dee", "Dee Dev", "dee@staff.dev", at=recently(60), role="admin"),
        identify("eve", "Eve Example", "eve@example.com", at=recently(60)),
        join("ann", "acme", recently(50), traits={"name": "Acme Inc", "plan": "pro"}),
        join("bo", "beta", recently(50), traits={"name": "Beta LLC", "plan": "free"}),
        join("cy", "acme", recently(50)),
        join("dee", "acme", recently(50)),
        track("ann", "export", recently(2)),
        track("bo", "export", recently(3)),
    )
    assert response.status_code == 200, response.content


def define(workspace, name, *conditions, of=None, by=""):
    cohort = Cohort(workspace=workspace, created_by=by)
    cohort.define(name=name, group_type=of, conditions=list(conditions))
    return cohort


@pytest.fixture
def admins(workspace, bob):
    """Bob's cohort of users whose role is admin: Ann and Cy (Dee is internal)."""
    return define(workspace, "Admins", Condition.of_property("role", "eq", "admin"), by=bob.email)


@pytest.fixture
def pro(workspace, company, alice):
    """Alice's cohort of companies on the pro plan: acme."""
    return define(workspace, "Pro companies", Condition.of_property("plan", "eq", "pro"), of=company, by=alice.email)


def form(workspace, name, unit="users", rows=(), button="save"):
    """What the cohort form posts: its name, unit and a row per condition (dicts of the
    row's fields, ``kind`` first), and the button pressed."""
    data = {
        "workspace": workspace.slug,
        "name": name,
        "unit": unit,
        "exclude_internal": "on",
        "condition-TOTAL_FORMS": str(len(rows)),
        "condition-INITIAL_FORMS": "0",
        "condition-MIN_NUM_FORMS": "0",
        "condition-MAX_NUM_FORMS": "20",
        button: "1",
    }
    for i, row in enumerate(rows):
        data.update({f"condition-{i}-{name}": value for name, value in row.items()})
    return data


def table_rows(page, table_id):
    return page.split(f'id="{table_id}"')[1].split("<tbody")[1].split("</tbody>")[0].split("<tr")[1:]


# --- the list ----------------------------------------------------------------------


def test_the_list_shows_each_cohort_with_its_unit_and_size_now(alice_client, customers, admins, pro):
    page = alice_client.get("/reports/cohorts").content.decode()
    assert '<a href="/reports/cohorts" aria-describedby="nav-reports" aria-current="page">Cohorts</a>' in page
    admins_row, pro_row = table_rows(page, "cohorts-table")
    assert f'<a href="/reports/cohorts/{admins.pk}">Admins</a>' in admins_row
    assert "<td>Users</td>" in admins_row and '#members">2</a>' in admins_row
    assert "by bob@example.com" in admins_row
    assert "<td>Companies</td>" in pro_row and '#members">1</a>' in pro_row
    assert "<time" in pro_row  # updated


def test_the_list_takes_six_queries_however_many_cohorts(
    alice_client, customers, workspace, django_assert_num_queries
):
    # The session, the user, the membership with its workspace, the table's count and
    # page, and the sizes of the page's cohorts, counted together.
    define(workspace, "One", Condition.of_behaviour("export", days=7))
    with django_assert_num_queries(6):
        assert alice_client.get("/reports/cohorts").status_code == 200
    for n in range(5):
        define(workspace, f"More {n}", Condition.of_property("role", "set"))
    with django_assert_num_queries(6):
        assert alice_client.get("/reports/cohorts").status_code == 200


def test_an_empty_list_offers_to_define_one(alice_client):
    page = alice_client.get("/reports/cohorts").content.decode()
    assert "No cohort yet." in page and 'href="/reports/cohorts/new"' in page


# --- defining one ------------------------------------------------------------------


def test_a_member_defines_a_cohort_with_conditions(client, bob, workspace, customers):
    client.force_login(bob)
    page = client.get("/reports/cohorts/new").content.decode()
    assert 'name="condition-0-kind"' in page and 'name="condition-1-kind"' not in page
    assert "A member meets <strong>all</strong> of them (AND)." in page
    assert '<option value="export">export</option>' in page  # events seen, for the datalist
    response = client.post(
        "/reports/cohorts/new",
        form(workspace, "Exporting admins", rows=[
            {"kind": "behaviour", "did": "did", "event": "export", "times": "1", "days": "7"},
            {"kind": "property", "key": "role", "op": "eq", "value": "admin"},
        ]),
    )
    cohort = Cohort.objects.get(name="Exporting admins")
    assert response.status_code == 302 and response["Location"] == f"/reports/cohorts/{cohort.pk}"
    assert cohort.created_by == "bob@example.com" and cohort.group_type is None
    assert cohort.condition_list == [
        Condition.of_behaviour("export", times=1, days=7),
        Condition.of_property("role", "eq", "admin"),
    ]
    page = client.get(response["Location"]).content.decode()
    assert "Did “export” in the last 7 days" in page and "Trait role equals admin" in page
    assert "The cohort “Exporting admins” was saved." in page


def test_adding_a_condition_without_javascript_posts_the_form_back_with_another_row(
    alice_client, workspace
):
    rows = [{"kind": "property", "key": "plan", "op": "set"}, {"kind": ""}]
    response = alice_client.post("/reports/cohorts/new", form(workspace, "Planned", rows=rows, button="add"))
    page = response.content.decode()
    assert response.status_code == 200 and not Cohort.objects.exists()
    # The condition kept, as a row of its own, and an empty one after it.
    assert 'name="condition-0-key" value="plan"' in page
    assert 'name="condition-1-kind"' in page and 'name="condition-2-kind"' not in page
    assert 'name="condition-TOTAL_FORMS" value="2"' in page


def test_a_condition_that_cannot_be_evaluated_says_why_in_its_row(alice_client, workspace, company):
    rows = [
        {"kind": "property", "key": "seats", "op": "gt", "value": "many"},
        {"kind": "membership", "group_type": "company", "key": "", "op": "eq"},
    ]
    page = alice_client.post("/reports/cohorts/new", form(workspace, "Big", unit="company", rows=rows)).content.decode()
    assert "“seats greater than” compares numbers; “many” is not one." in page
    # A cohort of companies has no membership condition to choose.
    assert "Select a valid choice. membership is not one of the available choices." in page
    assert not Cohort.objects.exists()


def test_a_row_filled_in_without_its_kind_is_refused(alice_client, workspace):
    rows = [{"kind": "", "key": "plan", "op": "eq", "value": "pro"}]
    page = alice_client.post("/reports/cohorts/new", form(workspace, "Pro", rows=rows)).content.decode()
    assert "Choose what this condition is about, or clear the row." in page
    assert not Cohort.objects.exists()


def test_a_name_is_used_once_in_a_workspace(alice_client, workspace, admins):
    page = alice_client.post("/reports/cohorts/new", form(workspace, "admins")).content.decode()
    assert "There is a cohort named “admins” already." in page


def test_editing_shows_the_conditions_and_saves_the_change(client, bob, workspace, admins):
    client.force_login(bob)
    page = client.get(f"/reports/cohorts/{admins.pk}/edit").content.decode()
    assert 'name="condition-0-key" value="role"' in page and 'name="condition-0-DELETE"' in page
    response = client.post(
        f"/reports/cohorts/{admins.pk}/edit",
        {
            **form(workspace, "Admins and owners", rows=[
                {"kind": "property", "key": "role", "op": "eq", "value": "admin", "DELETE": "on"},
                {"kind": "property", "key": "role", "op": "contains", "value": "o"},
            ]),
            "condition-INITIAL_FORMS": "1",
        },
    )
    assert response.status_code == 302
    admins.refresh_from_db()
    assert admins.name == "Admins and owners"
    assert admins.condition_list == [Condition.of_property("role", "contains", "o")]


# --- a cohort's page -----------------------------------------------------------------


def test_the_page_shows_the_definition_the_size_over_time_and_the_members(
    alice_client, customers, workspace, admins
):
    page = alice_client.get(f"/reports/cohorts/{admins.pk}").content.decode()
    assert "A cohort of users: " in page and ">2 users</a> now." in page
    assert "Users for whom <strong>all</strong> of these hold:" in page
    assert "<li>Trait role equals admin</li>" in page
    assert "Internal people (at @staff.dev) are left out." in page
    assert 'id="cohort-size"' in page  # the chart's data
    weeks = page.split("Members at its end")[1].split("</tbody>")[0].split("<tr>")[1:]
    # Ann and Cy were first seen 60 days ago: members at the end of the last 8 weeks.
    assert len(weeks) == 12 and all("2</a>" in week for week in weeks[-8:])
    assert "now</td>" in weeks[-1]
    members = table_rows(page, "people-table")
    assert sorted(row.split("</a>")[0].rsplit(">", 1)[1] for row in members) == ["Ann Archer", "Cy Cole"]
    assert 'href="/people/' in members[0]
    assert f'href="/reports/cohorts/{admins.pk}?format=csv"' in page
    assert 'href="/groups/company/acme"' in page  # their companies
    assert f'href="/people?cohort={admins.pk}"' in page


def test_the_members_download_as_csv(alice_client, customers, admins, pro):
    response = alice_client.get(f"/reports/cohorts/{admins.pk}", {"format": "csv"})
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == f'attachment; filename="cohort-{admins.pk}.csv"'
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows[0] == ["user_id", "email", "name", "last_seen_at"]
    assert sorted(row[:3] for row in rows[1:]) == [["ann", "ann@acme.io", "Ann Archer"], ["cy", "cy@acme.io", "Cy Cole"]]
    response = alice_client.get(f"/reports/cohorts/{pro.pk}", {"format": "csv"})
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows[0] == ["key", "name", "members", "last_updated"]
    assert [row[:3] for row in rows[1:]] == [["acme", "Acme Inc", "3"]]


def test_a_cell_a_spreadsheet_would_run_is_written_as_text(alice_client, send, workspace):
    send.batch({"type": "identify", "userId": "=HYPERLINK(1)", "traits": {"name": "+1"}})
    everyone = define(workspace, "Everyone")
    response = alice_client.get(f"/reports/cohorts/{everyone.pk}", {"format": "csv"})
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows[1] == ["'=HYPERLINK(1)", "", "'+1", rows[1][3]]


def test_the_members_as_of_a_past_week(alice_client, send, workspace):
    send.batch(
        {"type": "identify", "userId": "old", "traits": {"email": "old@acme.io"}, "timestamp": recently(30)},
        {"type": "identify", "userId": "new", "traits": {"email": "new@acme.io"}, "timestamp": recently(1)},
    )
    everyone = define(workspace, "Everyone")
    as_of = (timezone.now() - timedelta(days=14)).date()
    page = alice_client.get(f"/reports/cohorts/{everyone.pk}", {"as_of": as_of.isoformat()}).content.decode()
    assert "Members at the end of" in page and 'href="/reports/cohorts/' in page
    assert len(table_rows(page, "people-table")) == 1 and "old@acme.io" in page and "new@acme.io" not in page
    response = alice_client.get(f"/reports/cohorts/{everyone.pk}", {"as_of": "2999-01-01"})
    assert response.status_code == 400 and "as_of must be a day that has begun" in response.content.decode()
    response = alice_client.get(f"/reports/cohorts/{everyone.pk}", {"as_of": "yesterday"})
    assert response.status_code == 400 and "as_of must be a date such as 2026-01-31" in response.content.decode()


def test_a_group_cohort_lists_its_groups(alice_client, customers, pro):
    page = alice_client.get(f"/reports/cohorts/{pro.pk}").content.decode()
    assert "A cohort of companies: " in page and ">1 company</a> now." in page
    assert "Property plan equals pro" in page
    assert "An event counts for the company it carries as its context" in page
    (row,) = table_rows(page, "groups-table")
    assert 'href="/groups/company/acme"' in row and "Acme Inc" in row
    assert f'href="/groups/company?cohort={pro.pk}"' in page


def test_htmx_paging_of_the_members_gets_the_table_only(alice_client, customers, admins):
    response = alice_client.get(
        f"/reports/cohorts/{admins.pk}", headers={"HX-Request": "true", "HX-Target": "people-table"}
    )
    page = response.content.decode()
    assert page.lstrip().startswith('<div class="table-container" id="people-table"')
    assert "Members at its end" not in page


# --- who may see and change it -------------------------------------------------------


def test_another_workspaces_cohort_is_not_found(client, charlie, other_workspace, admins):
    client.force_login(charlie)
    for path in (f"/reports/cohorts/{admins.pk}", f"/reports/cohorts/{admins.pk}/edit", f"/reports/cohorts/{admins.pk}/delete"):
        response = client.get(path)
        assert response.status_code == 404, path
        assert f"No cohort with the number {admins.pk} in this workspace." in response.content.decode()
    assert client.post(f"/reports/cohorts/{admins.pk}/delete", {"workspace": other_workspace.slug}).status_code == 404
    assert Cohort.objects.filter(pk=admins.pk).exists()


def test_its_creator_deletes_a_cohort(client, bob, workspace, admins):
    client.force_login(bob)
    page = client.get(f"/reports/cohorts/{admins.pk}").content.decode()
    assert f'href="/reports/cohorts/{admins.pk}/delete"' in page
    response = post(client, f"/reports/cohorts/{admins.pk}/delete", workspace)
    assert response.status_code == 302 and response["Location"] == "/reports/cohorts"
    assert not Cohort.objects.exists()


def test_a_member_cannot_change_someone_elses_cohort(client, bob, workspace, pro):
    client.force_login(bob)
    page = client.get(f"/reports/cohorts/{pro.pk}").content.decode()
    assert "/delete" not in page and "/edit" not in page
    for path in (f"/reports/cohorts/{pro.pk}/edit", f"/reports/cohorts/{pro.pk}/delete"):
        assert client.get(path).status_code == 403
        assert post(client, path, workspace, name="Mine now").status_code == 403
    pro.refresh_from_db()
    assert pro.name == "Pro companies"


def test_an_admin_deletes_anyones_cohort(client, dana, workspace, admins):
    client.force_login(dana)
    assert post(client, f"/reports/cohorts/{admins.pk}/delete", workspace).status_code == 302
    assert not Cohort.objects.exists()


def test_a_form_shown_for_another_workspace_changes_nothing(client, alice, workspace, admins):
    client.force_login(alice)
    response = client.post(f"/reports/cohorts/{admins.pk}/delete", {"workspace": "another"})
    assert response.status_code == 302 and Cohort.objects.filter(pk=admins.pk).exists()


# --- the People and Groups lists -----------------------------------------------------


def test_people_are_filtered_by_a_cohort_of_users(alice_client, customers, admins, pro):
    page = alice_client.get("/people", {"cohort": admins.pk}).content.decode()
    names = sorted(row.split("</a>")[0].rsplit(">", 1)[1] for row in table_rows(page, "people-table"))
    assert names == ["Ann Archer", "Cy Cole"]
    assert "2 of 5 people in cohort “Admins”." in page
    picker = page.split('id="people-cohort"')[1].split("</select>")[0]
    assert '<option value="">Everyone</option>' in picker
    assert f'<option value="{admins.pk}" selected>Admins</option>' in picker
    assert "Pro companies" not in picker  # a cohort of companies filters no people


def test_the_people_filter_combines_with_the_search(alice_client, customers, admins):
    page = alice_client.get("/people", {"cohort": admins.pk, "q": "cy"}).content.decode()
    assert len(table_rows(page, "people-table")) == 1
    assert "1 of 5 people matching “cy” in cohort “Admins”." in page


def test_people_refuse_a_cohort_of_groups_and_an_unknown_one(alice_client, customers, pro, other_workspace):
    response = alice_client.get("/people", {"cohort": pro.pk})
    assert response.status_code == 400
    assert f"Cohort {pro.pk} (“Pro companies”) is a cohort of companies; this list shows users" in response.content.decode()
    theirs = define(other_workspace, "Theirs")
    for pk in (theirs.pk, 999):
        response = alice_client.get("/people", {"cohort": pk})
        assert response.status_code == 404
        assert f"No cohort with the number {pk} in this workspace." in response.content.decode()


def test_groups_are_filtered_by_a_cohort_of_their_type(alice_client, customers, workspace, pro, admins, team):
    define(workspace, "Every team", of=team)
    page = alice_client.get("/groups/company", {"cohort": pro.pk}).content.decode()
    (row,) = table_rows(page, "groups-table")
    assert "Acme Inc" in row
    assert "1 of 2 companies in cohort “Pro companies”" in page
    picker = page.split('id="group-cohort"')[1].split("</select>")[0]
    assert '<option value="">All companies</option>' in picker
    assert f'<option value="{pro.pk}" selected>Pro companies</option>' in picker
    assert "Admins" not in picker and "Every team" not in picker
    assert alice_client.get("/groups/team", {"cohort": pro.pk}).status_code == 400


def test_the_groups_search_keeps_the_cohort(alice_client, customers, pro):
    page = alice_client.get("/groups/company", {"cohort": pro.pk, "q": "beta"}).content.decode()
    assert "0 of 2 companies in cohort “Pro companies”" in page
    assert 'hx-include="closest form"' in page


# --- the report forms' picker --------------------------------------------------------


def test_the_report_forms_offer_every_cohort_with_everyone_first(workspace, alice, admins, pro):
    request = RequestFactory().get("/reports/trends")
    request.user, request.workspace = alice, workspace

    class Query:
        cohort = pro.pk

    html = render_to_string("analytics/report_cohort_field.html", {"query": Query(), "request": request})
    options = html.split("<select")[1].split("</select>")[0].split("<option")[1:]
    assert options[0].startswith(' value="">Everyone')
    assert f'value="{admins.pk}">Admins (users)' in options[1]
    assert f'value="{pro.pk}" selected>Pro companies (companies)' in options[2]


def test_a_member_of_another_workspace_sees_none_of_these_cohorts(workspace, admins, charlie, other_workspace):
    request = RequestFactory().get("/reports/trends")
    request.user, request.workspace = charlie, other_workspace
    html = render_to_string("analytics/report_cohort_field.html", {"query": None, "request": request})
    assert "Admins" not in html and '<option value="">Everyone</option>' in html


def test_the_picker_keeps_the_cohort_of_an_address_that_made_no_report(workspace, alice, admins):
    request = RequestFactory().get("/reports/trends", {"cohort": admins.pk, "interval": "hour"})
    request.user, request.workspace = alice, workspace
    html = render_to_string("analytics/report_cohort_field.html", {"query": None, "request": request})
    assert f'<option value="{admins.pk}" selected>Admins (users)</option>' in html


def test_a_report_page_filters_by_the_cohort_picked(alice_client, customers, admins):
    page = alice_client.get("/reports/trends", {"event": "export", "cohort": admins.pk}).content.decode()
    assert f'<option value="{admins.pk}" selected>Admins (users)</option>' in page
    response = alice_client.get("/reports/trends", {"event": "export", "cohort": 999})
    assert response.status_code == 400
    assert "No cohort with the number 999 in this workspace." in response.content.decode()
    assert '<option value="">Everyone</option>' in response.content.decode()
