"""The People list: columns, search, filters, sorting, pages, and the multi-company banner."""

import pytest
from calls import identify, join, track


def rows(page):
    """The table's rows, as HTML."""
    return page.split('id="people-table"')[1].split("<tbody")[1].split("</tbody>")[0].split("<tr")[1:]


@pytest.fixture
def customers(send, company):
    """Ann at acme, Bo at acme and globex, Cy at globex (three events), staff member Dev."""
    response = send.batch(
        identify("ann", "Ann Archer", "ann@acme.io"),
        identify("bo", "Bo Brown", "bo@acme.io"),
        identify("cy", "Cy Cole", "cy@globex.com"),
        identify("dev", "Dev Doe", "dev@groupsite.dev"),
        join("ann", "acme", traits={"name": "Acme Inc"}),
        join("bo", "acme"),
        join("bo", "globex", at="2026-02-01T11:00:00Z", traits={"name": "Globex"}),
        join("cy", "globex"),
        track("cy", "Report Viewed", at="2026-03-01T10:00:00Z"),
        track("cy", "Report Viewed", at="2026-03-01T11:00:00Z"),
        track("ann", "Report Viewed", at="2026-02-20T10:00:00Z"),
    )
    assert response.status_code == 200, response.json()


# --- the list ---------------------------------------------------------------------


def test_sidebar_links_to_people(alice_client, customers):
    page = alice_client.get("/people").content.decode()
    assert '<a href="/people" aria-current="page">People</a>' in page


def test_row_shows_name_email_user_id_companies_last_seen_and_events(alice_client, customers):
    page = alice_client.get("/people").content.decode()
    head = page.split("<thead")[1].split("</thead>")[0]
    for column in ("Person", "User ID", "Companies", "Last seen", "Events"):
        assert column in head
    bo = next(row for row in rows(page) if "Bo Brown" in row)
    assert 'href="/people/' in bo and "bo@acme.io" in bo
    assert '<td class="mono">bo</td>' in bo
    assert '<a class="badge" href="/groups/company/acme">Acme Inc</a>' in bo
    assert '<a class="badge" href="/groups/company/globex">Globex</a>' in bo
    assert 'title="Sun, Feb 1, 2026, 11:00:00 UTC"' in bo  # last seen
    assert '<td class="num">3</td>' in bo  # identify and two group calls
    cy = next(row for row in rows(page) if "Cy Cole" in row)
    assert 'title="Sun, Mar 1, 2026, 11:00:00 UTC"' in cy and '<td class="num">4</td>' in cy


def test_most_recently_seen_first(alice_client, customers):
    names = [row.split("</a>")[0].rsplit(">", 1)[1] for row in rows(alice_client.get("/people").content.decode())]
    assert names == ["Cy Cole", "Ann Archer", "Bo Brown", "Dev Doe"]


def test_companies_column_shows_current_groups_of_the_default_type_only(alice_client, send, company):
    send.batch(
        join("ann", "acme"),
        join("ann", "growth", context={"groupType": "team"}),
        join("ann", "old-co"),
        track("ann", "Account Removed User", at="2026-02-03T10:00:00Z", context={"groupId": "old-co"}),
    )
    row = rows(alice_client.get("/people").content.decode())[0]
    assert "/groups/company/acme" in row
    assert "growth" not in row and "old-co" not in row


def test_column_is_named_after_the_default_type(alice_client, customers, company):
    company.plural = "Accounts"
    company.save()
    head = alice_client.get("/people").content.decode().split("<thead")[1].split("</thead>")[0]
    assert "Accounts" in head and "Companies" not in head


def test_internal_people_are_badged(alice_client, customers, workspace):
    workspace.internal_domains = ["groupsite.dev"]
    workspace.save()
    page = alice_client.get("/people").content.decode()
    dev = next(row for row in rows(page) if "Dev Doe" in row)
    assert '<span class="badge warn">internal</span>' in dev
    assert not any("internal</span>" in row for row in rows(page) if "Dev Doe" not in row)


def test_anonymous_people_are_listed(alice_client, send):
    send.batch({"type": "page", "anonymousId": "anon-1", "name": "Pricing"})
    row = rows(alice_client.get("/people").content.decode())[0]
    assert "Anonymous " in row and "—" in row


@pytest.mark.parametrize(("query", "found"), [("archer", "Ann Archer"), ("GLOBEX.COM", "Cy Cole"), ("bo", "Bo Brown")])
def test_search_by_name_email_or_user_id(alice_client, customers, query, found):
    names = [row for row in rows(alice_client.get("/people", {"q": query}).content.decode())]
    assert len(names) == 1 and found in names[0]


def test_filter_by_email_domain(alice_client, customers):
    page = alice_client.get("/people", {"domain": "@Acme.io"}).content.decode()
    assert [("Ann" in row, "Bo" in row) for row in rows(page)] == [(True, False), (False, True)]
    assert 'value="acme.io"' in page  # the filter stays in its field


def test_a_domain_does_not_match_its_subdomains_or_lookalikes(alice_client, send):
    send.batch(identify("x", "X", "x@mail.acme.io"), identify("y", "Y", "y@notacme.io"), identify("z", "Z", "z@acme.io"))
    page = alice_client.get("/people", {"domain": "acme.io"}).content.decode()
    assert [row.count("z@acme.io") > 0 for row in rows(page)] == [True]


def test_internal_domains_get_a_quick_filter(alice_client, customers, workspace):
    workspace.internal_domains = ["groupsite.dev"]
    workspace.save()
    page = alice_client.get("/people").content.decode()
    assert 'href="/people?domain=groupsite.dev">Internal: @groupsite.dev</a>' in page


def test_sort_by_last_seen(alice_client, customers):
    ascending = alice_client.get("/people", {"sort": "last_seen_at"}).content.decode()
    assert ascending.index("Ann Archer") < ascending.index("Cy Cole")
    descending = alice_client.get("/people", {"sort": "-last_seen_at"}).content.decode()
    assert descending.index("Cy Cole") < descending.index("Ann Archer")


def test_sort_links_keep_the_filters(alice_client, customers):
    page = alice_client.get("/people", {"domain": "acme.io", "q": "b"}).content.decode()
    head = page.split("<thead")[1].split("</thead>")[0]
    assert "domain=acme.io" in head and "q=b" in head and "sort=last_seen_at" in head


def test_pages_of_fifty(alice_client, send):
    send.batch(*(identify(f"u{n:02d}", f"User {n:02d}", f"u{n}@x.io") for n in range(55)))
    first = alice_client.get("/people").content.decode()
    assert len(rows(first)) == 50 and "1–50 of 55" in first
    assert len(rows(alice_client.get("/people", {"page": 2}).content.decode())) == 5


def test_htmx_table_request_gets_the_table_only(alice_client, customers):
    response = alice_client.get(
        "/people", {"q": "cy"}, headers={"HX-Request": "true", "HX-Target": "people-table"}
    )
    html = response.content.decode()
    assert html.lstrip().startswith('<div class="table-container" id="people-table"')
    assert "Cy Cole" in html and "Ann Archer" not in html and "<html" not in html


def test_search_form_swaps_the_table_and_works_without_javascript(alice_client, customers):
    page = alice_client.get("/people").content.decode()
    form = page.split('<form class="toolbar"')[1].split("</form>")[0]
    assert 'action="/people"' in form and 'hx-get="/people"' in form and 'hx-target="#people-table"' in form
    assert 'name="q"' in form and 'name="domain"' in form and "<noscript>" in form


def test_no_match_says_so(alice_client, customers):
    page = alice_client.get("/people", {"q": "nobody-at-all"}).content.decode()
    assert 'No person matches “nobody-at-all”. <a href="/people">Show everyone</a>' in page
    assert "0 of 4 people matching “nobody-at-all”." in page
    page = alice_client.get("/people", {"domain": "initech.com"}).content.decode()
    assert "No person has an email address at @initech.com." in page
    page = alice_client.get("/people", {"domain": "initech.com", "q": "ann"}).content.decode()
    assert "No person matches “ann” at @initech.com." in page


def test_empty_workspace_tells_how_to_send_an_identify_call(alice_client, workspace):
    page = alice_client.get("/people").content.decode()
    assert "No people yet" in page
    assert "analytics.identify(" in page and workspace.write_key in page
    assert 'id="people-table"' not in page


def test_outsider_sees_none_of_alices_people(client, charlie, other_workspace, customers):
    client.force_login(charlie)
    page = client.get("/people").content.decode()
    assert "Ann Archer" not in page and "No people yet" in page


def test_logged_out_visitor_is_sent_to_log_in(client):
    response = client.get("/people")
    assert response.status_code == 302 and response["Location"].startswith("/login/")


def test_people_page_takes_ten_queries_whatever_the_page_size(
    alice_client, send, company, django_assert_num_queries
):
    send.batch(
        *(identify(f"u{n:02d}", f"User {n:02d}", f"u{n}@x.io") for n in range(60)),
        *(join(f"u{n:02d}", f"co-{n % 7}") for n in range(60)),
        *(join(f"u{n:02d}", f"co-{(n + 1) % 7}") for n in range(0, 60, 5)),
        *(track(f"u{n:02d}", "E") for n in range(60)),
    )
    # The session, the user, the membership with its workspace, the group types, the
    # banner's count, the table's count (everyone), its page of people and their current
    # companies, how many of everyone are anonymous, and the cohorts to filter by; with
    # the banner's filter on, the banner counts the table's people, and everyone is
    # counted for "n of everyone".
    for filters, expected in (({}, 10), ({"several": "1"}, 9)):
        for per_page in (5, 50):
            with django_assert_num_queries(expected, info=f"per_page={per_page} {filters}"):
                response = alice_client.get("/people", {"per_page": per_page, **filters})
            assert "User " in response.content.decode()
    assert "12 users belong" in loaded_banner(alice_client)


# --- bulk deletion form -------------------------------------------------------------


def test_admins_get_the_bulk_delete_form_prefilled_with_the_internal_domain(alice_client, customers, workspace):
    workspace.internal_domains = ["groupsite.dev"]
    workspace.save()
    form = alice_client.get("/people").content.decode().split('id="bulk-delete"')[1].split("</form>")[0]
    assert 'action="/people/delete"' in form and 'method="get"' in form
    assert 'name="domain" value="groupsite.dev"' in form


def test_bulk_delete_form_takes_the_domain_filter(alice_client, customers, workspace):
    workspace.internal_domains = ["groupsite.dev"]
    workspace.save()
    form = alice_client.get("/people", {"domain": "acme.io"}).content.decode().split('id="bulk-delete"')[1]
    assert 'name="domain" value="acme.io"' in form


def test_members_get_no_bulk_delete_form(client, bob, customers):
    client.force_login(bob)
    assert 'id="bulk-delete"' not in client.get("/people").content.decode()


# --- the multi-company banner -------------------------------------------------------


def banner(page):
    if '<section class="banner" id="several-banner"' not in page:
        return None
    return page.split('id="several-banner"')[1].split("</section>")[0]


def loaded_banner(client):
    """The banner at the top of the People list."""
    response = client.get("/people")
    assert response.status_code == 200
    return banner(response.content.decode())


def test_banner_is_at_the_top_of_the_people_list(alice_client, customers, send):
    send.batch(track("bo", "Clicked", at="2026-03-01T12:00:00Z"))  # in acme and globex
    page = alice_client.get("/people").content.decode()
    assert page.index('id="several-banner"') < page.index('id="people-table"')


def test_banner_counts_users_in_several_companies_with_events_without_one(alice_client, customers, send):
    send.batch(track("bo", "Invite Sent"), track("bo", "Report Viewed"))
    shown = loaded_banner(alice_client)
    assert "1 user belongs to several companies, and some of their events carry no company" in shown
    assert 'href="/people?several=1">See this user</a>' in shown
    assert "active companies is over-counted" in shown


def test_banner_gives_both_fixes_with_the_sdk_snippet(alice_client, customers, send, workspace):
    workspace.internal_domains = ["groupsite.dev"]
    workspace.save()
    send.batch(track("bo", "Invite Sent"))
    shown = loaded_banner(alice_client)
    assert "as <code>groupId</code> in the context of your track calls" in shown
    assert "analytics.track(" in shown and 'context={"groupId": "56"}' in shown
    assert "delete your internal users" in shown
    assert 'href="#bulk-delete"' in shown
    assert "/api/v1/people?email_domain=groupsite.dev&amp;suppress=true" in shown


def test_banner_counts_several_users(alice_client, customers, send):
    send.batch(
        join("ann", "globex"),
        join("cy", "initech"),
        track("bo", "Invite Sent", at="2026-03-05T10:00:00Z"),
        track("ann", "Invite Sent", at="2026-03-05T10:00:00Z"),
        track("cy", "Invite Sent", at="2026-03-05T10:00:00Z"),
    )
    shown = loaded_banner(alice_client)
    assert shown.count("3 users belong to several companies") == 1
    assert ">See these 3 users</a>" in shown


def test_no_banner_when_everyone_is_in_one_company(alice_client, customers, send):
    send.batch(track("ann", "Invite Sent"), track("cy", "Invite Sent"))
    assert loaded_banner(alice_client) is None


def test_no_banner_when_users_in_several_companies_name_one_in_every_event(alice_client, customers, send):
    send.batch(
        track("bo", "Invite Sent", context={"groupId": "acme"}),
        {"type": "page", "userId": "bo", "name": "Home", "timestamp": "2026-02-03T10:00:00Z",
         "context": {"groups": {"company": "globex"}}},
    )
    assert loaded_banner(alice_client) is None


def test_calls_from_before_their_first_company_do_not_count(alice_client, send, company):
    # A visit before signing up, then one company, then a second: the early events had
    # nothing to choose from, so nothing is over-counted.
    send.batch(
        {"type": "page", "anonymousId": "a-1", "name": "Pricing", "timestamp": "2026-01-01T10:00:00Z"},
        {"type": "identify", "userId": "eve", "anonymousId": "a-1", "timestamp": "2026-01-02T10:00:00Z"},
        join("eve", "acme", at="2026-01-03T10:00:00Z"),
        track("eve", "Report Viewed", at="2026-01-04T10:00:00Z"),
        join("eve", "globex", at="2026-01-05T10:00:00Z"),
        track("eve", "Report Viewed", at="2026-01-06T10:00:00Z", context={"groupId": "globex"}),
    )
    assert loaded_banner(alice_client) is None
    send.batch(track("eve", "Invite Sent", at="2026-01-07T10:00:00Z"))
    assert "1 user belongs" in loaded_banner(alice_client)


def test_identify_and_group_calls_without_a_company_do_not_count(alice_client, customers, send):
    send.batch(identify("bo", "Bo B.", "bo@acme.io", at="2026-03-01T10:00:00Z"))
    assert loaded_banner(alice_client) is None


def test_someone_who_left_one_of_their_companies_is_not_counted(alice_client, customers, send):
    send.batch(
        track("bo", "Invite Sent", at="2026-02-02T10:00:00Z"),
        track("bo", "Account Removed User", at="2026-02-03T10:00:00Z", context={"groupId": "globex"}),
    )
    assert loaded_banner(alice_client) is None


def test_banner_uses_the_default_types_names(alice_client, customers, send, company):
    company.singular, company.plural = "Account", "Accounts"
    company.save()
    send.batch(track("bo", "Invite Sent"))
    shown = loaded_banner(alice_client)
    assert "belongs to several accounts, and some of their events carry no account" in shown
    assert "company" not in shown.lower().split("how to fix it")[0]


def test_filtered_list_shows_exactly_those_users(alice_client, customers, send):
    send.batch(
        join("ann", "globex"),
        track("bo", "Invite Sent"),
        track("ann", "Invite Sent", context={"groupId": "acme"}),  # named: not counted
        track("cy", "Invite Sent"),  # one company: fine
    )
    page = alice_client.get("/people", {"several": "1"}).content.decode()
    assert [("Bo Brown" in row) for row in rows(page)] == [True]
    assert '<input type="hidden" name="several" value="1">' in page  # searching keeps it
    assert 'href="/people">Show everyone</a>' in banner(page)


def test_filtered_list_says_when_no_one_is_in_it(alice_client, customers):
    page = alice_client.get("/people", {"several": "1"}).content.decode()
    assert "No user in several companies sends events without one" in page
    assert "No person matches." in page


def test_filtered_list_combines_with_search(alice_client, customers, send):
    send.batch(join("ann", "globex"), track("bo", "Invite Sent"), track("ann", "Invite Sent"))
    page = alice_client.get("/people", {"several": "1", "q": "archer"}).content.decode()
    assert [("Ann Archer" in row) for row in rows(page)] == [True]


def test_banner_is_not_in_htmx_table_swaps(alice_client, customers, send):
    send.batch(track("bo", "Invite Sent"))
    html = alice_client.get(
        "/people", {"several": "1"}, headers={"HX-Request": "true", "HX-Target": "people-table"}
    ).content.decode()
    assert "several-banner" not in html and "Bo Brown" in html


def test_banner_only_counts_the_workspaces_own_people(client, charlie, other_workspace, charlie_send, customers, send):
    send.batch(track("bo", "Invite Sent"))
    charlie_send.batch(join("zed", "a"), join("zed", "b"), track("zed", "E"))
    client.force_login(charlie)
    assert "1 user belongs" in loaded_banner(client)


def test_the_table_says_how_many_match(alice_client, customers):
    html = alice_client.get(
        "/people", {"domain": "acme.io"}, headers={"HX-Request": "true", "HX-Target": "people-table"}
    ).content.decode()
    assert '<nav class="pagination" aria-label="Pages"><span>2 people</span></nav>' in html
    page = alice_client.get("/people").content.decode()
    assert "4 people using your product" in page


@pytest.mark.parametrize(("name", "shown"), [(42, "42"), (True, "true"), (1.5, "1.5")])
def test_names_sent_as_numbers_or_booleans_show_as_text(alice_client, send, company, name, shown):
    response = send.batch(
        {"type": "identify", "userId": "ann", "traits": {"name": name}},
        join("ann", "acme", traits={"name": name}),
    )
    assert response.status_code == 200, response.json()
    table = rows(alice_client.get("/people").content.decode())[0]
    assert f">{shown}</a>" in table  # the person
    assert f'<a class="badge" href="/groups/company/acme">{shown}</a>' in table  # their company


# --- what the counts count ------------------------------------------------------------


def subtitle(html):
    return html.split('id="people-count"')[1].split(">", 1)[1].split("</p>")[0]


def words(html):
    return " ".join(html.split())


def test_the_count_explains_the_anonymous_visitors(alice_client, customers, send):
    assert words(subtitle(alice_client.get("/people").content.decode())) == (
        "4 people using your product, known by their user id."
    )
    send.batch({"type": "page", "anonymousId": "visitor-1", "name": "Pricing"})
    shown = words(subtitle(alice_client.get("/people").content.decode()))
    assert shown.startswith("5 people using your product, 1 of them an anonymous visitor. ")
    assert "known only by the anonymous id of their browser or device" in shown
    send.batch({"type": "page", "anonymousId": "visitor-2", "name": "Pricing"})
    shown = words(subtitle(alice_client.get("/people").content.decode()))
    assert shown.startswith("6 people using your product, 2 of them anonymous visitors. ")


def test_anonymous_visitors_are_marked_in_the_table(alice_client, send):
    send.batch({"type": "page", "anonymousId": "visitor-1", "name": "Pricing"})
    row = rows(alice_client.get("/people").content.decode())[0]
    assert '<span class="badge" title="An anonymous visitor: known only by the anonymous id of their browser or device">anonymous</span>' in row


@pytest.mark.parametrize(
    ("filters", "shown"),
    [
        ({"q": "archer"}, "1 of 4 people matching “archer”."),
        ({"domain": "acme.io"}, "2 of 4 people at @acme.io."),
        ({"q": "b", "domain": "acme.io"}, "1 of 4 people matching “b” at @acme.io."),
        ({"several": "1"}, "1 of 4 people in several companies with events without one."),
    ],
)
def test_the_count_says_how_many_of_everyone_the_filters_keep(alice_client, customers, send, filters, shown):
    send.batch(track("bo", "Invite Sent"))  # in acme and globex, no company named
    assert words(subtitle(alice_client.get("/people", filters).content.decode())) == shown


def test_the_count_follows_the_table_as_you_type(alice_client, customers):
    html = alice_client.get(
        "/people", {"q": "acme"}, headers={"HX-Request": "true", "HX-Target": "people-table"}
    ).content.decode()
    assert html.lstrip().startswith('<div class="table-container" id="people-table"')
    assert '<p class="subtitle" id="people-count" role="status" hx-swap-oob="true">' in html
    assert words(subtitle(html)) == "2 of 4 people matching “acme”."
    html = alice_client.get(
        "/people", headers={"HX-Request": "true", "HX-Target": "people-table"}
    ).content.decode()
    assert words(subtitle(html)) == "4 people using your product, known by their user id."


def test_a_history_restore_has_one_count(alice_client, customers):
    html = alice_client.get(
        "/people", {"q": "co"},
        headers={"HX-Request": "true", "HX-Target": "people-table", "HX-History-Restore-Request": "true"},
    ).content.decode()
    assert html.count('id="people-count"') == 1 and "hx-swap-oob" not in html


def test_counts_have_thousands_separators(alice_client, customers, workspace):
    from analytics.models import Person

    Person.objects.bulk_create(Person(workspace=workspace) for _ in range(1000))
    page = alice_client.get("/people").content.decode()
    assert words(subtitle(page)).startswith("1,004 people using your product, 1,000 of them anonymous visitors.")
    assert "1–50 of 1,004" in page
