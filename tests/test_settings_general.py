"""General settings: the workspace's name, its time zone and its internal email domains."""


from analytics.models import Workspace
from conftest import post


def submit(client, workspace, **data):
    """Send the general settings form, keeping the time zone unless ``data`` sets it."""
    return post(client, "/settings/general", workspace, **{"time_zone": workspace.time_zone, **data})


def saved(workspace):
    return Workspace.objects.get(pk=workspace.pk)


def test_page_shows_the_name_and_domains_one_per_line(alice_client, workspace):
    workspace.internal_domains = ["acme.com", "acme.io"]
    workspace.save()
    page = alice_client.get("/settings/general").content.decode()
    assert 'value="Acme Analytics"' in page
    assert "acme.com\nacme.io</textarea>" in page
    assert "flagged as internal in the People list" in page


def test_save_name_and_domains_normalized(alice_client, workspace):
    response = submit(
        alice_client,
        workspace,
        name="Acme Inc.",
        internal_domains=" @Acme.COM\nacme.io, ACME.com.\n\n",
    )
    assert response.status_code == 302 and response["Location"] == "/settings/general"
    assert saved(workspace).name == "Acme Inc."
    assert saved(workspace).internal_domains == ["acme.com", "acme.io"]
    assert "Settings saved." in alice_client.get("/settings/general").content.decode()


def test_domains_can_be_cleared(alice_client, workspace):
    workspace.internal_domains = ["acme.com"]
    workspace.save()
    submit(alice_client, workspace, name="Acme Analytics", internal_domains="")
    assert saved(workspace).internal_domains == []


def test_invalid_domains_are_refused_inline(alice_client, workspace):
    response = submit(
        alice_client,
        workspace,
        name="Renamed",
        internal_domains="acme.com\nnot_a domain\nlocalhost",
    )
    assert response.status_code == 200
    assert "Not a domain name: not_a, domain, localhost." in response.content.decode()
    assert saved(workspace).name == "Acme Analytics" and saved(workspace).internal_domains == []


def test_a_name_is_required(alice_client, workspace):
    response = submit(alice_client, workspace, name="  ", internal_domains="")
    assert "This field is required." in response.content.decode()
    assert saved(workspace).name == "Acme Analytics"
    # The sidebar and title still show the saved name.
    assert "Acme Analytics" in response.content.decode().split("<main")[0]


def test_internal_people_are_flagged_once_their_domain_is_saved(alice_client, workspace, send):
    send.batch(
        {"type": "identify", "userId": "u1", "traits": {"email": "ada@acme.com"}},
        {"type": "group", "userId": "u1", "groupId": "initech"},
    )
    assert "internal</span>" not in alice_client.get("/groups/company/initech").content.decode()
    submit(alice_client, workspace, name="Acme Analytics", internal_domains="@ACME.com")
    assert "internal</span>" in alice_client.get("/groups/company/initech").content.decode()


def test_time_zone_is_utc_until_chosen_and_then_kept(alice_client, workspace):
    assert workspace.time_zone == "UTC"
    page = alice_client.get("/settings/general").content.decode()
    assert '<option value="Europe/Paris">Europe/Paris</option>' in page
    assert '<option value="America/New_York">America/New York</option>' in page
    response = submit(alice_client, workspace, name="Acme Analytics", time_zone="Europe/Paris")
    assert response.status_code == 302
    assert saved(workspace).time_zone == "Europe/Paris"
    assert str(saved(workspace).zone) == "Europe/Paris"
    page = alice_client.get("/settings/general").content.decode()
    assert '<option value="Europe/Paris" selected>' in page


def test_an_unknown_time_zone_is_refused(alice_client, workspace):
    response = submit(alice_client, workspace, name="Acme Analytics", time_zone="Mars/Olympus")
    assert response.status_code == 200
    assert "Select a valid choice. Mars/Olympus is not one of the available choices." in (
        response.content.decode()
    )
    assert saved(workspace).time_zone == "UTC"
