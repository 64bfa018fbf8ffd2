"""How pages write numbers and moments (analytics/templatetags/groupsite.py)."""

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.template import Context, Template
from django.test import override_settings
from django.utils import timezone

from analytics.templatetags.groupsite import count, full_date, number, relative, shown, when

NOW = datetime(2026, 3, 4, 15, 30, tzinfo=UTC)


def render(source, **context):
    return Template("{% load groupsite %}" + source).render(Context(context))


# --- counts -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "written"),
    [(0, "0"), (999, "999"), (1000, "1,000"), (17366, "17,366"), (1234567, "1,234,567"), (-4500, "-4,500")],
)
def test_numbers_get_thousands_separators(value, written):
    assert number(value) == written


def test_what_is_not_a_whole_number_is_left_as_it_is():
    assert number(None) is None
    assert number("12345") == "12345"
    assert number(True) is True


@pytest.mark.parametrize(
    ("n", "written"), [(0, "0 events"), (1, "1 event"), (2, "2 events"), (17366, "17,366 events")]
)
def test_a_count_says_what_it_counts(n, written):
    assert count(n, "event") == written


def test_a_count_takes_an_irregular_plural():
    assert count(1, "person", "people") == "1 person"
    assert count(1050, "person", "people") == "1,050 people"


def test_a_part_of_a_whole_says_both_and_agrees_with_the_whole():
    assert count(4, "company", "companies", of=201) == "4 of 201 companies"
    assert count(1, "company", "companies", of=1200) == "1 of 1,200 companies"
    assert count(0, "company", "companies", of=1) == "0 of 1 company"


def test_the_count_tag_in_a_template():
    assert render('{% count n "person" "people" of=total %}', n=12, total=1050) == "12 of 1,050 people"
    assert render("{{ n|number }}", n=17366) == "17,366"


# --- moments ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ago", "written"),
    [
        (timedelta(0), "just now"),
        (timedelta(seconds=59), "just now"),
        (timedelta(seconds=60), "1 min ago"),
        (timedelta(minutes=59, seconds=59), "59 min ago"),
        (timedelta(hours=1), "1 h ago"),
        (timedelta(hours=15, minutes=29), "15 h ago"),  # still today
        (timedelta(hours=23, minutes=59), "23 h ago"),  # yesterday, but the hours say more
        (timedelta(hours=24), "yesterday"),
        (timedelta(hours=39, minutes=30), "yesterday"),  # Mar 3, 00:00
        (timedelta(hours=39, minutes=31), "2 days ago"),  # Mar 2, 23:59
        (timedelta(days=6), "6 days ago"),
        (timedelta(days=7), "Feb 25"),
        (timedelta(days=62), "Jan 1"),
        (timedelta(days=62, hours=15, minutes=31), "Dec 31, 2025"),
        (timedelta(days=800), "Dec 25, 2023"),
    ],
)
def test_past_moments(ago, written):
    assert relative(NOW - ago, NOW) == written


@pytest.mark.parametrize(
    ("ahead", "written"),
    [
        (timedelta(seconds=59), "just now"),  # a client's clock a little ahead
        (timedelta(seconds=60), "in 1 min"),
        (timedelta(hours=2), "in 2 h"),
        (timedelta(hours=23), "in 23 h"),
        (timedelta(hours=24), "tomorrow"),
        (timedelta(days=3), "in 3 days"),
        (timedelta(days=7), "Mar 11"),
        (timedelta(days=365), "Mar 4, 2027"),
    ],
)
def test_moments_to_come(ahead, written):
    assert relative(NOW + ahead, NOW) == written


@pytest.mark.parametrize(
    ("day", "written"),
    [(date(2026, 3, 4), "today"), (date(2026, 3, 3), "yesterday"), (date(2026, 3, 1), "3 days ago"),
     (date(2026, 1, 15), "Jan 15"), (date(2025, 12, 31), "Dec 31, 2025"), (date(2026, 3, 5), "tomorrow")],
)
def test_dates_without_a_time(day, written):
    assert relative(day, NOW) == written


def test_full_date_names_the_time_zone():
    assert full_date(NOW) == "Wed, Mar 4, 2026, 15:30:00 UTC"
    assert full_date(date(2025, 12, 31)) == "Wed, Dec 31, 2025"


def test_a_moment_is_a_time_element_with_the_full_date_on_hover():
    moment = timezone.now() - timedelta(minutes=3, seconds=5)
    html = render("{{ moment|when }}", moment=moment)
    assert html == (
        f'<time datetime="{moment.isoformat()}" title="{full_date(moment)}">3 min ago</time>'
    )


def test_nothing_for_no_moment():
    assert when(None) == ""
    assert render('{{ moment|when|default:"—" }}', moment=None) == "—"


def test_naive_moments_are_taken_as_utc():
    aware = timezone.now() - timedelta(hours=2, minutes=1)
    assert str(when(aware.replace(tzinfo=None))) == str(when(aware))
    assert ">2 h ago<" in str(when(aware.replace(tzinfo=None)))


@override_settings(TIME_ZONE="America/New_York")
def test_moments_are_shown_in_the_time_zone_of_the_settings():
    html = str(when(datetime(2025, 1, 15, 3, 0, tzinfo=UTC)))  # Jan 14, 22:00 in New York
    assert '>Jan 14, 2025</time>' in html
    assert 'title="Tue, Jan 14, 2025, 22:00:00 EST"' in html
    assert 'datetime="2025-01-14T22:00:00-05:00"' in html


def test_an_active_time_zone_wins_over_the_settings():
    with timezone.override(ZoneInfo("Asia/Tokyo")):
        html = str(when(datetime(2025, 1, 14, 16, 0, tzinfo=UTC)))  # Jan 15, 01:00 in Tokyo
    assert ">Jan 15, 2025<" in html and "JST" in html


def test_yesterday_is_the_calendar_day_of_the_time_zone():
    tokyo = ZoneInfo("Asia/Tokyo")
    now = datetime(2026, 3, 4, 0, 30, tzinfo=tokyo)
    assert relative(datetime(2026, 3, 3, 0, 29, tzinfo=tokyo), now) == "yesterday"
    assert relative(datetime(2026, 3, 2, 23, 59, tzinfo=tokyo), now) == "2 days ago"


# --- what clients sent --------------------------------------------------------------


@pytest.mark.parametrize(
    "sent",
    ["2024-03-01T10:00:00Z", "2024-03-01T10:00:00.123+00:00", "2024-03-01 10:00", "2024-03-01T10:00:00.123456789Z",
     "2024-03-01T12:00:00+0200"],
)
def test_iso_timestamps_in_properties_show_as_dates_with_the_text_sent_on_hover(sent):
    html = str(shown(sent))
    assert html == (
        f'<time datetime="2024-03-01T10:00:00{".123000" if ".123+" in sent else ".123456" if ".123456789" in sent else ""}+00:00" '
        f'title="{sent}">Mar 1, 2024</time>'
    )


def test_an_iso_date_in_a_property_shows_as_a_date():
    assert str(shown("2024-03-01")) == '<time datetime="2024-03-01" title="2024-03-01">Mar 1, 2024</time>'


@pytest.mark.parametrize(
    "sent", ["2024-13-01T10:00:00Z", "2024-03-01T10:00:00Z and more", "20240301", "0000-01-01", "1709287200", "Mar 1"]
)
def test_what_only_looks_like_a_date_stays_text(sent):
    assert str(shown(sent)) == sent.replace("&", "&amp;")


def test_a_moment_the_time_zone_cannot_hold_stays_text():
    with timezone.override(ZoneInfo("Pacific/Kiritimati")):
        assert str(shown("9999-12-31T23:00:00Z")) == "9999-12-31T23:00:00Z"


def test_other_values_are_escaped_text_cut_to_length():
    assert str(shown("<b>" + "x" * 50, 10)) == "&lt;b&gt;xxxxxx…"
    assert str(shown(None)) == "null" and str(shown(False)) == "false" and str(shown(1200)) == "1200"


# --- the pages use them -------------------------------------------------------------


def test_settings_pages_show_counts_and_moments_in_the_common_format(alice_client, alice, workspace, company):
    from analytics.models import Group, IngestionProblem

    IngestionProblem.objects.create(workspace=workspace, level="rejected", reason="too big", call_count=1500)
    IngestionProblem.objects.create(workspace=workspace, level="rejected", reason="no event", call_count=1)
    Group.objects.bulk_create(Group(workspace=workspace, group_type=company, key=f"k{n}") for n in range(1001))

    problems = alice_client.get("/settings/ingestion-problems").content.decode()
    assert "1,501 calls refused · 0 warnings" in problems
    assert "1,500 calls" in problems and '<td class="date"><time datetime=' in problems
    assert ">just now</time>" in problems

    general = alice_client.get("/settings/general").content.decode()
    assert "Created <time datetime=" in general and ">just now</time>" in general

    alice.last_login = timezone.now() - timedelta(days=1, hours=1)
    alice.save()
    members = alice_client.get("/settings/members").content.decode()
    assert "2 accounts" in members
    assert "Last logged in <time datetime=" in members

    types = alice_client.get("/settings/group-types").content.decode()
    assert '<a href="/groups/company">1,001</a>' in types


@pytest.mark.django_db(transaction=True, databases=["default", "progress"])
def test_deletion_pages_show_counts_and_moments_in_the_common_format(client, dana, workspace, send, inline_tasks):
    send.batch(
        {"type": "identify", "userId": "sam", "traits": {"email": "sam@groupsite.dev"}},
        *({"type": "track", "userId": "sam", "event": "E"} for _ in range(1200)),
    )
    client.force_login(dana)
    preview = client.get("/people/delete", {"domain": "groupsite.dev"}).content.decode()
    assert "1,201 calls in all" in preview
    response = client.post("/people/delete", {"workspace": workspace.slug, "domain": "groupsite.dev"})
    done = client.get(response["Location"]).content.decode()
    assert "Asked <time datetime=" in done and ">just now</time> by dana@example.com" in done
    assert "Deleted 1 person and 1,201 calls (<time datetime=" in done
