"""The browser tracker (static/groupsite/tracker.js) in a real Chromium, on a customer's page.

The customer's page lives on its own origin (127.0.0.1 on another port, while Groupsite
is at localhost), holds the snippet exactly as the API keys settings show it, and is
driven with ``page.evaluate`` — allowed there, as that page is not under Groupsite's CSP.
"""

import html
import json
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from segment.analytics import Client
from segment.analytics import request as segment_request

from analytics.models import (
    Event,
    Group,
    Identity,
    Membership,
    Person,
    SuppressedUser,
)
from conftest import end_the_window, groups_of

pytestmark = pytest.mark.browser

CUSTOMER_PAGE = Path(__file__).with_name("tracker_page") / "customer.html"


class CustomerSite(ThreadingHTTPServer):
    """The customer's web server: every path answers the page the test wrote."""

    daemon_threads = True
    page = ""


class CustomerPage(BaseHTTPRequestHandler):
    def do_GET(self):
        body = self.server.page.encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture(scope="session")
def customer_site():
    site = CustomerSite(("127.0.0.1", 0), CustomerPage)
    threading.Thread(target=site.serve_forever, daemon=True).start()
    yield site
    site.shutdown()
    site.server_close()


@pytest.fixture
def snippet(client, alice, workspace, live_server):
    """The browser snippet of alice's API keys page, as served to this live server."""
    client.force_login(alice)
    host = live_server.url.removeprefix("http://")
    page = client.get("/settings/api-keys", headers={"host": host}).content.decode()
    return html.unescape(re.search(r'<code id="snippet-browser">(.*?)</code>', page, re.DOTALL)[1])


@pytest.fixture
def open_customer(chromium, customer_site, snippet):
    """Opens the customer's page in a new browser profile: ``open_customer(init_script)``.

    The page gets ``url_of_app``, ``warnings`` (the tracker's console warnings) and
    ``errors``, which must stay empty: the tracker never breaks its host page. A failed
    request's own "Failed to load resource" line is the browser's, not an error of the page.
    """
    customer_site.page = CUSTOMER_PAGE.read_text().replace("<!-- groupsite snippet -->", snippet)
    url = f"http://127.0.0.1:{customer_site.server_port}/app"
    pages = []

    def open_customer(init_script=None):
        context = chromium.new_context()
        if init_script:
            context.add_init_script(init_script)
        page = context.new_page()
        page.set_default_timeout(15_000)
        page.warnings, page.errors = [], []
        page.on("pageerror", lambda error: page.errors.append(str(error)))
        page.on("console", lambda message: _console(page, message))
        page.goto(url)
        page.url_of_app = url
        pages.append(page)
        return page

    yield open_customer
    for page in pages:
        page.unroute_all()
        if not page.is_closed() and page.url == url:
            # Leaving the page sends what is queued in a request nothing can stop, which
            # would reach the server while the test database is being emptied.
            page.evaluate(QUIET)
        page.context.close()
    assert not [error for page in pages for error in page.errors]


QUIET = """async () => {
    await tracker.flush();
    try { localStorage.clear(); } catch (error) {}
}"""


def _console(page, message):
    if message.type == "warning":
        page.warnings.append(message.text)
    elif message.type == "error" and not message.text.startswith("Failed to load resource"):
        page.errors.append(message.text)


@pytest.fixture
def customer(open_customer):
    return open_customer()


def flush(page):
    return page.evaluate("tracker.flush()")


def tracks(workspace):
    return Event.objects.filter(workspace=workspace, type="track").order_by("timestamp")


def eventually(page, check, timeout=20):
    """Waits for ``check`` to stop failing, letting the browser (and routes) run meanwhile."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return check()
        except AssertionError:
            if time.monotonic() > deadline:
                raise
            page.wait_for_timeout(100)


def message_ids(request):
    return [call["messageId"] for call in json.loads(request.post_data)["batch"]]


def test_identify_group_in_two_types_track_reload_and_track_again(customer, workspace):
    page = customer
    result = page.evaluate("""() => {
        tracker.identify("user_42", { email: "ada@acme.com", name: "Ada Lovelace" });
        tracker.track("onboarding_started");
        tracker.group("company", "acme-corp", { name: "Acme Corporation", plan: "enterprise", seats: 120 });
        tracker.group("team", "growth", { name: "Growth" });
        tracker.track("feature_used", { feature: "ai_chart" });
        return tracker.flush();
    }""")
    assert result["retrying"] is False and result["queued"] == 0
    before = page.evaluate("tracker.state()")

    page.reload()
    after = page.evaluate("tracker.state()")
    assert after == {**before, "queued": after["queued"]}  # remembered: ids and both groups
    assert after["groups"] == {"company": "acme-corp", "team": "growth"}
    page.evaluate("tracker.track('report_viewed', { report: 'weekly' })")
    assert flush(page)["stored"] >= 1

    person = Person.objects.get(workspace=workspace, user_id="user_42")
    assert person.traits == {"email": "ada@acme.com", "name": "Ada Lovelace"}
    assert Identity.objects.filter(person=person, value=before["anonymousId"]).exists()
    acme = Group.objects.get(key="acme-corp", group_type__name="company")
    growth = Group.objects.get(key="growth", group_type__name="team")
    assert acme.properties == {"name": "Acme Corporation", "plan": "enterprise", "seats": 120}
    assert growth.properties == {"name": "Growth"}
    assert set(
        Membership.objects.filter(person=person, ended_at=None).values_list("group", flat=True)
    ) == {acme.pk, growth.pk}

    both = {"company": "acme-corp", "team": "growth"}
    assert [(e.name, groups_of(e)) for e in tracks(workspace)] == [
        ("onboarding_started", {}),  # before the first group(): no group, none backfilled
        ("feature_used", both),
        ("report_viewed", both),  # after the reload, the groups were remembered
    ]
    pages = Event.objects.filter(workspace=workspace, type="page").order_by("timestamp")
    assert [groups_of(e) for e in pages] == [{}, both]  # the snippet's page(), twice
    assert pages[1].properties["url"] == page.url_of_app
    assert pages[1].properties["title"] == "Acme Cloud · Dashboard"

    events = Event.objects.filter(workspace=workspace)
    assert events.count() == 8 and {e.person_id for e in events} == {person.pk}
    assert {e.anonymous_id for e in events} == {before["anonymousId"]}
    assert {e.context["library"]["name"] for e in events} == {"groupsite.js"}
    feature_used = events.get(name="feature_used")
    assert feature_used.properties == {"feature": "ai_chart"}
    assert feature_used.context["groups"] == both  # on the wire, as Segment clients send it
    assert feature_used.context["page"]["url"] == page.url_of_app
    assert feature_used.sent_at is not None  # the batch's sentAt, for clock-skew correction


def test_calls_made_in_the_same_instant_keep_their_order(open_customer, workspace):
    """Browsers that blur their clock (Firefox resisting fingerprinting) give calls made
    together one timestamp; the tracker still gives each its own, in order."""
    page = open_customer("""
        const now = Date.now;
        Date.now = () => Math.floor(now() / 1000) * 1000;
    """)
    page.evaluate("""() => {
        tracker.identify("user_42");
        tracker.track("just_before");
        tracker.group("company", "acme-corp");
        tracker.track("just_after");
        return tracker.flush();
    }""")
    assert [(e.name, groups_of(e)) for e in tracks(workspace)] == [
        ("just_before", {}),
        ("just_after", {"company": "acme-corp"}),
    ]


def test_a_group_call_of_the_same_type_replaces_the_group_in_later_events(customer, workspace):
    customer.evaluate("""() => {
        tracker.identify("user_42");
        tracker.group("company", "acme-corp");
        tracker.track("in_acme");
        tracker.group("Company", "globex");
        tracker.track("in_globex");
        return tracker.flush();
    }""")
    assert [(e.name, groups_of(e)) for e in tracks(workspace)] == [
        ("in_acme", {"company": "acme-corp"}),
        ("in_globex", {"company": "globex"}),  # one key per type
    ]
    group_calls = Event.objects.filter(type="group").order_by("timestamp")
    assert [groups_of(e) for e in group_calls] == [{"company": "acme-corp"}, {"company": "globex"}]


def test_reset_starts_a_new_anonymous_visitor_without_groups(customer, workspace):
    page = customer
    before = page.evaluate("""() => {
        tracker.identify("user_42");
        tracker.group("company", "acme-corp");
        tracker.track("before_logout");
        return tracker.state();
    }""")
    page.evaluate("tracker.reset()")
    after = page.evaluate("tracker.state()")
    assert after["anonymousId"] != before["anonymousId"]
    assert (after["userId"], after["groups"]) == (None, {})
    page.evaluate("tracker.track('after_logout')")
    flush(page)  # calls made before reset() go out as who made them
    page.reload()
    assert page.evaluate("tracker.state()")["anonymousId"] == after["anonymousId"]

    user = Person.objects.get(workspace=workspace, user_id="user_42")
    before_logout, after_logout = tracks(workspace)
    assert (before_logout.person, groups_of(before_logout)) == (user, {"company": "acme-corp"})
    assert after_logout.anonymous_id == after["anonymousId"]
    assert after_logout.user_id == "" and after_logout.person != user
    assert groups_of(after_logout) == {}


def test_identifying_another_user_forgets_the_last_ones_groups(customer, workspace):
    state = customer.evaluate("""() => {
        tracker.identify("user_42");
        tracker.group("company", "acme-corp");
        const first = tracker.state();
        tracker.identify("user_43");
        tracker.track("signed_in");
        return [first, tracker.state()];
    }""")
    assert state[1]["userId"] == "user_43" and state[1]["groups"] == {}
    assert state[1]["anonymousId"] != state[0]["anonymousId"]
    flush(customer)
    signed_in = Event.objects.get(name="signed_in")
    assert (signed_in.person.user_id, groups_of(signed_in)) == ("user_43", {})


def test_failed_sends_are_retried_with_the_same_message_ids(customer, workspace):
    page = customer
    flush(page)  # the snippet's page()
    sent = []

    def flaky(route):
        sent.append(route.request)
        if len(sent) <= 2:
            route.abort("internetdisconnected")
        else:
            route.continue_()

    page.route("**/v1/batch", flaky)
    result = page.evaluate("""() => {
        tracker.identify("user_7");
        tracker.group("company", "acme-corp");
        for (let n = 0; n < 5; n++) tracker.track("clicked", { n });
        return tracker.flush();
    }""")
    assert result["retrying"] is True and result["queued"] == 7
    assert tracks(workspace).count() == 0

    # Nobody calls flush() again: the tracker retries by itself, backing off.
    eventually(page, lambda: _assert_count(tracks(workspace), 5))
    assert len(sent) == 3
    assert message_ids(sent[0]) == message_ids(sent[1]) == message_ids(sent[2])
    clicked = tracks(workspace)
    assert sorted(e.properties["n"] for e in clicked) == [0, 1, 2, 3, 4]
    assert {groups_of(e)["company"] for e in clicked} == {"acme-corp"}
    assert page.evaluate("tracker.state().queued") == 0


def test_a_batch_stored_but_whose_answer_was_lost_is_not_doubled(customer, workspace):
    page = customer
    flush(page)
    sent, answers = [], []

    def lose_first_answer(route):
        sent.append(route.request)
        response = route.fetch()  # the server stores the batch...
        answers.append(response.json())
        if len(answers) == 1:
            route.abort("connectionreset")  # ...but the browser never hears of it
        else:
            route.fulfill(response=response)

    page.route("**/v1/batch", lose_first_answer)
    first = page.evaluate("""() => {
        tracker.identify("user_7");
        for (let n = 0; n < 3; n++) tracker.track("exported", { n });
        return tracker.flush();
    }""")
    assert first["retrying"] is True
    again = flush(page)  # sends the same calls again, at once

    assert message_ids(sent[0]) == message_ids(sent[1])
    assert (answers[0]["stored"], answers[1]["stored"], answers[1]["duplicates"]) == (4, 0, 4)
    assert (again["stored"], again["duplicates"], again["queued"]) == (0, 4, 0)
    assert (
        Event.objects.filter(workspace=workspace, message_id__in=message_ids(sent[0])).count() == 4
    )
    assert sorted(tracks(workspace).values_list("properties__n", flat=True)) == [0, 1, 2]


def test_server_errors_are_retried_and_refused_calls_are_not(customer, workspace):
    page = customer
    flush(page)
    statuses = iter([503, 429])

    def busy_then_up(route):
        status = next(statuses, None)
        if status:
            route.fulfill(status=status, json={"success": False, "message": "busy"})
        else:
            route.continue_()

    page.route("**/v1/batch", busy_then_up)
    page.evaluate("""() => {
        tracker.identify("user_7");
        tracker.group("department", "sales");  // no such group type: the server warns
        tracker.track("kept");
    }""")
    assert flush(page)["retrying"] is True  # 503
    assert flush(page)["retrying"] is True  # 429
    result = flush(page)
    assert (result["stored"], result["queued"]) == (3, 0)
    assert list(tracks(workspace).values_list("name", flat=True)) == ["kept"]
    assert any("department" in warning for warning in page.warnings)


def test_calls_refused_over_the_budget_are_sent_again_until_the_server_takes_them(
    customer, workspace, settings
):
    """The server's own 429 (the workspace spent its calls for the minute), not a faked one."""
    page = customer
    settings.INGEST_CALL_BUDGET = 1
    flush(page)  # the snippet's page() spends the budget
    statuses = []
    page.on("response", lambda response: statuses.append(response.status))
    result = page.evaluate("""() => {
        tracker.identify("user_7");
        for (let n = 0; n < 3; n++) tracker.track("clicked", { n });
        return tracker.flush();
    }""")
    assert result["retrying"] is True and result["queued"] == 4
    assert statuses == [429] and tracks(workspace).count() == 0
    end_the_window(settings.INGEST_BUDGET_WINDOW)
    # Nobody calls flush() again: the tracker retries by itself, backing off.
    eventually(page, lambda: _assert_count(tracks(workspace), 3))
    # The rows are committed before the answer reaches the browser: wait for it too.
    eventually(page, lambda: _assert_true(statuses[-1] == 200))
    assert sorted(tracks(workspace).values_list("properties__n", flat=True)) == [0, 1, 2]


def test_calls_the_server_refuses_are_dropped_not_retried(customer, workspace):
    """A deleted user's browser still tracks: the server refuses their calls, once."""
    page = customer
    flush(page)
    SuppressedUser.objects.create(workspace=workspace, user_id="user_gone")
    sent = []
    page.route("**/v1/batch", lambda route: (sent.append(route.request), route.continue_()))
    result = page.evaluate("""() => {
        tracker.identify("user_gone");
        tracker.track("still_here");
        return tracker.flush();
    }""")
    assert (result["refused"], result["retrying"], result["queued"]) == (2, False, 0)
    assert flush(page)["refused"] == 0 and len(sent) == 1
    assert not tracks(workspace).exists()
    assert any("user 'user_gone' was deleted and is blocked" in w for w in page.warnings)


def test_calls_a_page_could_not_send_are_sent_by_the_sites_next_page(customer, workspace):
    """The queue lives in localStorage: another tab, or the page after a reload, sends it."""
    page = customer
    flush(page)
    page.route("**/v1/batch", lambda route: route.abort("internetdisconnected"))
    result = page.evaluate("""() => {
        tracker.identify("user_8");
        tracker.group("team", "growth");
        tracker.track("drafted", { n: 1 });
        tracker.track("drafted", { n: 2 });
        return tracker.flush();
    }""")
    assert (result["retrying"], result["queued"]) == (True, 4)

    later = page.context.new_page()  # the same browser profile, so the same localStorage
    later.goto(page.url_of_app)
    eventually(later, lambda: _assert_count(tracks(workspace), 2))
    assert [e.properties["n"] for e in tracks(workspace)] == [1, 2]
    assert {groups_of(e)["team"] for e in tracks(workspace)} == {"growth"}
    # The four, and each page's page() call (the person was anonymous, then identified).
    assert Person.objects.get(workspace=workspace, user_id="user_8").events.count() == 6
    # The queue empties once the server's 200 reaches the browser, which may be after
    # the rows it committed are seen here.
    eventually(later, lambda: _assert_true(later.evaluate("tracker.state()")["queued"] == 0))


def test_calls_sent_as_the_page_unloads_stay_queued_until_an_answer_confirms_them(
    customer, workspace
):
    page = customer
    flush(page)
    queued = page.evaluate("""() => {
        tracker.identify("user_8");
        tracker.track("saved");
        return tracker.state().queued;
    }""")
    assert queued == 2
    page.reload()  # before any timer: the leaving page sends them with keepalive
    answers = []

    def keep_answers(route):
        response = route.fetch()
        answers.append((message_ids(route.request), response.json()))
        route.fulfill(response=response)

    page.route("**/v1/batch", keep_answers)
    eventually(page, lambda: _assert_count(tracks(workspace), 1))
    # The answer went to a page that is gone: this one sends the calls again once the
    # leaving page's lease on them ends, and the server recognises them.
    eventually(page, lambda: _assert_true(page.evaluate("tracker.state().queued") == 0))
    resent = next(answer for ids, answer in answers if len(ids) == 2)
    assert (resent["stored"], resent["duplicates"]) == (0, 2)
    assert Event.objects.filter(workspace=workspace, name="saved").count() == 1


def test_calls_still_queued_when_the_page_is_left_are_sent_on_the_way_out(customer, workspace):
    page = customer
    flush(page)
    page.evaluate("""() => {
        tracker.identify("user_9");
        tracker.track("clicked_pricing");
    }""")
    # Straight to another site: no tracker is left to retry, only the leaving page's send.
    page.goto("about:blank")
    eventually(page, lambda: _assert_count(tracks(workspace).filter(name="clicked_pricing"), 1), 5)
    assert tracks(workspace).get().person.user_id == "user_9"


def test_the_host_page_never_gets_an_error(open_customer, workspace):
    """Wrong arguments, values JSON cannot hold, oversized calls, no localStorage and no
    crypto.randomUUID (pages outside a secure context): warnings, never an exception."""
    page = open_customer(
        """
        Object.defineProperty(window, "localStorage", {
            get() { throw new DOMException("The operation is insecure.", "SecurityError"); },
        });
        delete Crypto.prototype.randomUUID;
        """
    )
    outcome = page.evaluate("""() => {
        const circular = {};
        circular.self = circular;
        const odd = [
            () => tracker.track(),
            () => tracker.track(""),
            () => tracker.track({}),
            () => tracker.track("circular", circular),
            () => tracker.track("bigint", { n: 10n }),
            () => tracker.track("huge", { blob: "x".repeat(40 * 1024) }),
            () => tracker.track("odd_properties", "not an object"),
            () => tracker.identify(null, 5),
            () => tracker.identify("u".repeat(300)),
            () => tracker.group(),
            () => tracker.group("company"),
            () => tracker.group({}, []),
            () => tracker.page(Symbol("page")),
            () => Groupsite.init().track("nothing"),
            () => Groupsite.init({ writeKey: 42 }).identify("nobody"),
        ];
        for (const call of odd) call();
        tracker.identify("user_9");
        tracker.group("company", "acme-corp", { name: "Acme Corporation" });
        tracker.track("works");
        return tracker.flush().then((result) => [result, tracker.state()]);
    }""")
    result, state = outcome
    assert (result["retrying"], result["refused"], result["queued"]) == (False, 0, 0)
    assert state["userId"] == "user_9" and state["groups"] == {"company": "acme-corp"}
    assert re.fullmatch(
        r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}", state["anonymousId"]
    )
    assert list(tracks(workspace).values_list("name", flat=True)) == ["odd_properties", "works"]
    works = tracks(workspace).get(name="works")
    assert (works.person.user_id, groups_of(works)) == ("user_9", {"company": "acme-corp"})
    warnings = "\n".join(page.warnings)
    assert "over the 32 KB limit" in warnings
    assert "track() failed" in warnings  # the cycle and the BigInt
    assert "must be a non-empty string" in warnings


def test_server_side_segment_clients_and_the_tracker_feed_the_same_data(
    customer, workspace, live_server
):
    segment = Client(workspace.write_key, host=live_server.url, sync_mode=True, max_retries=0)
    try:
        segment.group(
            "user_42", "acme-corp", {"name": "Acme Corporation"}, context={"groupType": "company"}
        )
        segment.track("user_42", "exported_from_backend")
    finally:
        segment_request._session.close()
    customer.evaluate("""() => {
        tracker.identify("user_42");
        tracker.group("company", "acme-corp", { plan: "enterprise" });
        tracker.track("clicked_in_browser");
        return tracker.flush();
    }""")
    person = Person.objects.get(workspace=workspace, user_id="user_42")
    assert Group.objects.get(key="acme-corp").properties == {
        "name": "Acme Corporation",
        "plan": "enterprise",
    }
    assert Membership.objects.filter(person=person).count() == 1
    assert [(e.name, e.person_id, groups_of(e)) for e in tracks(workspace)] == [
        ("exported_from_backend", person.pk, {"company": "acme-corp"}),
        ("clicked_in_browser", person.pk, {"company": "acme-corp"}),
    ]


def _assert_count(queryset, expected):
    assert queryset.count() == expected


def _assert_true(value):
    assert value
