"""Who may use each URL of the project: every URL pattern, read from the URL resolver (so
a pattern added later is covered at once), is requested with each method it takes by
everyone who could ask: nobody, charlie (an outsider: logged in, owner of another
workspace), bob (member of alice's workspace), dana (its admin) and alice (its owner),
and with each key of alice's workspace, charlie's secret key and a wrong key.

POLICY is the policy at a glance: what each URL (by name) needs. From it, each cell's
outcome follows (``expected``): the dashboard sends someone not logged in to log in, an
outsider gets 404 for anything that names an object of alice's workspace (a pk, a key, a
group type) and otherwise sees their own workspace, and a role too low gets 403; the API
answers 401 to anything but a secret key, and 404 to charlie's key on alice's objects;
the tracking API takes nothing but the write key as Basic auth. Whatever is refused
changes nothing in alice's workspace, and whatever an outsider gets shows nothing of it.

The Django admin (staff accounts only, and no workspace user is staff) is checked
apart, at the end.
"""

import itertools
import json
import re
from dataclasses import dataclass

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, resolve, reverse

from analytics.access import RANK
from analytics.models import (
    Cohort,
    Deletion,
    Event,
    IngestionProblem,
    Membership,
    Person,
    Role,
    SavedReport,
    SuppressedUser,
    Workspace,
)
from conftest import basic_auth, bearer_auth

ACCOUNT = "any account"  # logged in, whatever their workspaces
MEMBER, ADMIN, OWNER = Role.MEMBER, Role.ADMIN, Role.OWNER


@dataclass(frozen=True)
class Page:
    """A dashboard URL: a session, and at least this role in the workspace, per method."""

    GET: Role | str | None = None
    POST: Role | str | None = None

    @property
    def methods(self):
        return {method: role for method, role in vars(self).items() if role}


@dataclass(frozen=True)
class Api:
    """A /api/v1 URL: the workspace's secret key, as a Bearer token; no session."""

    methods: tuple = ("GET",)


@dataclass(frozen=True)
class Tracking:
    """A /v1 URL: the workspace's write key, as the Basic-auth user name."""

    methods: tuple = ("POST",)


@dataclass(frozen=True)
class Public:
    """Anyone at all."""

    methods: tuple = ("GET",)


POLICY = {
    # The tracking API and the read/delete API.
    "ingest": Tracking(),
    "api-openapi": Public(),
    "favicon": Public(),
    "api-group-types": Api(),
    "api-groups": Api(),
    "api-group": Api(),
    "api-people": Api(("GET", "DELETE")),
    "api-person": Api(("GET", "DELETE")),
    "api-events": Api(),
    "api-ingestion-problems": Api(),
    "api-report-trends": Api(),
    "api-report-funnels": Api(),
    "api-report-retention": Api(),
    "api-report-active-groups": Api(),
    # Accounts.
    "login": Public(("GET", "POST")),
    "logout": Public(("POST",)),
    "password_change": Page(GET=ACCOUNT, POST=ACCOUNT),
    "password_change_done": Page(GET=ACCOUNT),
    # Browsing.
    "home": Page(GET=MEMBER),
    "overview-activity": Page(GET=MEMBER),
    "overview-top-events": Page(GET=MEMBER),
    "switch_workspace": Page(POST=MEMBER),
    "groups": Page(GET=MEMBER),
    "group": Page(GET=MEMBER),
    "active-groups": Page(GET=MEMBER),
    "people": Page(GET=MEMBER),
    "person": Page(GET=MEMBER),
    # Reports.
    "report-trends": Page(GET=MEMBER),
    "report-funnels": Page(GET=MEMBER),
    "report-retention": Page(GET=MEMBER),
    "report-actors": Page(GET=MEMBER),
    # Cohorts: every member defines them; its creator, admins and owners change one.
    "cohorts": Page(GET=MEMBER),
    "cohort-new": Page(GET=MEMBER, POST=MEMBER),
    "cohort": Page(GET=MEMBER),
    "cohort-edit": Page(GET=MEMBER, POST=MEMBER),  # the sample's creator is bob
    "cohort-delete": Page(GET=MEMBER, POST=MEMBER),
    # Saved reports. The sample report is alice's own: only its author renames it (here
    # the owner), and admins and owners delete, pin and unpin anyone's.
    "reports": Page(GET=MEMBER),
    "saved-report-save": Page(POST=MEMBER),
    "saved-report-rename": Page(GET=OWNER, POST=OWNER),
    "saved-report-delete": Page(GET=ADMIN, POST=ADMIN),
    "saved-report-pin": Page(POST=ADMIN),
    "saved-report-move": Page(POST=ADMIN),
    # Deleting people.
    "delete_people": Page(GET=ADMIN, POST=ADMIN),
    "delete_person": Page(GET=ADMIN, POST=ADMIN),
    "deletion": Page(GET=ADMIN),
    # Settings.
    "settings": Page(GET=ADMIN),
    "settings-general": Page(GET=OWNER, POST=OWNER),
    "settings-group-types": Page(GET=OWNER, POST=OWNER),
    "settings-group-type": Page(GET=OWNER, POST=OWNER),
    "settings-move-group-type": Page(POST=OWNER),
    "settings-default-group-type": Page(POST=OWNER),
    "settings-delete-group-type": Page(GET=OWNER, POST=OWNER),
    "settings-members": Page(GET=ADMIN, POST=OWNER),
    "settings-change-role": Page(POST=OWNER),
    "settings-remove-member": Page(POST=OWNER),
    "settings-api-keys": Page(GET=ADMIN),
    "settings-rotate-secret-key": Page(GET=ADMIN, POST=ADMIN),
    "settings-rotate-write-key": Page(GET=ADMIN, POST=ADMIN),
    "settings-ingestion-problems": Page(GET=ADMIN),
    "tracker_demo": Page(GET=OWNER),  # every member's only with DEBUG on
}

# URLs without an argument that still name something of alice's workspace: the form
# names the workspace to switch to.
NAMES_ALICES_WORKSPACE = {"switch_workspace"}
# Arguments that name nothing of a workspace: the kind of a report.
NAMES_NOTHING = {"kind"}

# What fills the arguments of the URL patterns: a value, or {URL name: value} where the
# argument means something else in each URL. Callables get the ``sample`` fixture.
SAMPLES = {
    "call_type": "track",
    "type_name": "team",  # a type charlie's workspace does not have
    "name": "team",
    "key": "growth",
    "user_id": "ann",
    "kind": "trends",
    "pk": {
        "person": lambda sample: sample.ann.pk,
        "delete_person": lambda sample: sample.ann.pk,
        "deletion": lambda sample: sample.deletion.pk,
        "cohort": lambda sample: sample.cohort().pk,
        "cohort-edit": lambda sample: sample.cohort().pk,
        "cohort-delete": lambda sample: sample.cohort().pk,
        "settings-change-role": lambda sample: sample.bobs_membership.pk,
        "settings-remove-member": lambda sample: sample.bobs_membership.pk,
        "saved-report-rename": lambda sample: sample.saved_report().pk,
        "saved-report-delete": lambda sample: sample.saved_report().pk,
        "saved-report-pin": lambda sample: sample.saved_report().pk,
        "saved-report-move": lambda sample: sample.saved_report().pk,
    },
}
QUERIES = {
    ("delete_people", "GET"): {"domain": "hooli.test"},
    ("api-people", "DELETE"): {"email_domain": "hooli.test"},
    ("api-report-funnels", "GET"): {"steps": "Report Viewed,$page"},
    ("report-actors", "GET"): {"from": "2026-01-01", "to": "2026-01-31", "date": "2026-01-05"},
}
# What the POST forms send ({slug}: alice's workspace, {password}: the sender's own).
FORMS = {
    "login": {"username": "alice@example.com", "password": "alice-password-1"},
    "password_change": {
        "old_password": "{password}",
        "new_password1": "a-new-passphrase-42",
        "new_password2": "a-new-passphrase-42",
    },
    "delete_people": {"domain": "hooli.test"},
    "settings-general": {"name": "Renamed", "internal_domains": "hooli.test"},
    "settings-group-types": {"name": "project"},
    "settings-group-type": {"singular": "Squad", "plural": "Squads"},
    "settings-move-group-type": {"direction": "up"},
    "settings-members": {"email": "erin@example.com", "role": "member"},
    "settings-change-role": {"role": "admin"},
    "cohort-new": {"name": "Hooli people", "unit": "users", "condition-TOTAL_FORMS": "0", "condition-INITIAL_FORMS": "0"},
    "cohort-edit": {"name": "Renamed", "unit": "users", "condition-TOTAL_FORMS": "0", "condition-INITIAL_FORMS": "0"},
    "saved-report-save": {"kind": "trends", "query": "event=Report+Viewed", "name": "Views"},
    "saved-report-rename": {"name": "Renamed"},
    "saved-report-pin": {"pinned": "1"},
    "saved-report-move": {"direction": "earlier"},
}


# --- who asks -----------------------------------------------------------------------


KEYS = {
    "write key (Basic)": lambda sample, rule: basic_auth(sample.workspace.write_key),
    "write key (Bearer)": lambda sample, rule: bearer_auth(sample.workspace.write_key),
    "secret key": lambda sample, rule: bearer_auth(sample.workspace.secret_key),
    "secret key (Basic)": lambda sample, rule: basic_auth(sample.workspace.secret_key),
    "charlie's secret key": lambda sample, rule: bearer_auth(sample.other_workspace.secret_key),
    # Sent as the tracking API's libraries send a key, or as the API's.
    "wrong key": lambda sample, rule: (
        basic_auth if isinstance(rule, Tracking) else bearer_auth
    )("x_wrong"),
}
ROLES = {"bob": MEMBER, "dana": ADMIN, "alice": OWNER}
ACTORS = ["anonymous", "charlie", *ROLES, *KEYS]

OK, OUTSIDER_OK, LOGIN, FORBIDDEN, NOT_FOUND, UNAUTHORIZED = (
    "ok", "ok, in their own workspace", "sent to log in", "403", "404", "401"
)


def expected(rule, method, actor, *, names_alices_objects):
    """What ``actor`` gets from a URL under ``rule``, asked with ``method``."""
    if isinstance(rule, Public):
        return OK
    if isinstance(rule, Tracking):
        return OK if actor == "write key (Basic)" else UNAUTHORIZED
    if isinstance(rule, Api):
        if actor == "secret key":
            return OK
        if actor == "charlie's secret key":
            return NOT_FOUND if names_alices_objects else OUTSIDER_OK
        return UNAUTHORIZED
    needed = rule.methods[method]
    if actor not in ("charlie", *ROLES):
        return LOGIN  # no session: a key opens no page
    if needed == ACCOUNT:
        return OK if actor in ROLES else OUTSIDER_OK
    if actor == "charlie":
        return NOT_FOUND if names_alices_objects else OUTSIDER_OK
    return OK if RANK[ROLES[actor]] >= RANK[needed] else FORBIDDEN


# --- the URLs -----------------------------------------------------------------------


def url_patterns(patterns=None, namespace=None, prefix="/"):
    """Every URL pattern of the project: (its namespace, None outside the admin; the
    route of the resolvers it is in; the pattern)."""
    for entry in get_resolver().url_patterns if patterns is None else patterns:
        if isinstance(entry, URLResolver):
            yield from url_patterns(
                entry.url_patterns, entry.namespace or namespace, prefix + str(entry.pattern)
            )
        elif isinstance(entry, URLPattern):
            yield namespace, prefix, entry


PATTERNS = [pattern for namespace, _, pattern in url_patterns() if namespace != "admin"]


CELLS = [
    pytest.param(pattern, method, id=f"{method} /{pattern.pattern}")
    for pattern in PATTERNS
    for method in (POLICY[pattern.name].methods if pattern.name in POLICY else ["?"])
]


@pytest.fixture
def sample(workspace, other_workspace, alice, bob, charlie, dana, send, charlie_send, team):
    """Alice's workspace with ann (ann@hooli.test) in hooli and growth, events, a refused
    call and a deletion waiting to run; charlie's with cy in initech."""
    response = send.batch(
        {"type": "identify", "userId": "ann", "traits": {"email": "ann@hooli.test", "name": "Ann"}},
        {"type": "group", "userId": "ann", "groupId": "hooli", "traits": {"name": "Hooli Inc"}},
        {"type": "group", "userId": "ann", "groupId": "growth", "context": {"groupType": "team"}},
        {"type": "track", "userId": "ann", "event": "Report Viewed"},
        {"type": "track", "userId": "ann"},
    )
    assert response.status_code == 400 and response.json()["stored"] == 4
    response = charlie_send.batch(
        {"type": "identify", "userId": "cy", "traits": {"email": "cy@initech.com"}},
        {"type": "group", "userId": "cy", "groupId": "initech"},
    )
    assert response.status_code == 200

    class Sample:
        pass

    sample = Sample()
    sample.workspace, sample.other_workspace = workspace, other_workspace
    sample.ann = Person.objects.get(workspace=workspace, user_id="ann")
    sample.deletion = Deletion.objects.create(
        workspace=workspace, label="everyone at @bo.test", email_domain="bo.test"
    )
    sample.bobs_membership = workspace.members.get(user=bob)
    sample.users = {"alice": alice, "bob": bob, "charlie": charlie, "dana": dana}

    def cohort():
        """Bob's cohort of alice's workspace (again, once a cell has deleted it)."""
        return Cohort.objects.get_or_create(
            workspace=workspace, name="Bob's cohort", defaults={"created_by": bob.email}
        )[0]

    sample.cohort = cohort
    cohort()
    def saved_report():
        """Alice's saved report: saved again once an insider deleted it, so that each
        insider allowed to delete it finds one."""
        found = SavedReport.objects.filter(workspace=workspace).first()
        return found or SavedReport.create(
            workspace=workspace, kind="trends", name="Hooli Inc views", query="range=7d", user=alice
        )

    sample.saved_report = saved_report
    saved_report()
    return sample


def arguments(pattern, sample):
    """Sample values for the pattern's arguments; fails naming any it cannot fill."""
    values = {}
    for argument in pattern.pattern.regex.groupindex:
        value = SAMPLES.get(argument)
        if isinstance(value, dict):
            value = value.get(pattern.name)
        if value is None:
            pytest.fail(
                f"/{pattern.pattern} ({pattern.name}) takes {argument!r}: add a sample value "
                f"for it to SAMPLES in {__name__.replace('.', '/')}.py"
            )
        values[argument] = value(sample) if callable(value) else value
    return values


def alices_workspace(workspace):
    """Everything a request could change in alice's workspace, read from the database."""
    workspace = Workspace.objects.get(pk=workspace.pk)
    counted = (Person, Event, Membership, Deletion, SuppressedUser, IngestionProblem, Cohort)
    return {
        "settings": (workspace.name, workspace.internal_domains),
        "keys": (workspace.write_key, workspace.secret_key_hash),
        "group types": sorted(
            workspace.group_types.values_list(
                "name", "singular", "plural", "position", "is_default"
            )
        ),
        "members": sorted(workspace.members.values_list("user__email", "role")),
        **{model.__name__: model.objects.filter(workspace=workspace).count() for model in counted},
        "passwords": sorted(
            (member.user.email, member.user.password)
            for member in workspace.members.select_related("user")
        ),
        "saved reports": sorted(
            SavedReport.objects.filter(workspace=workspace).values_list("name", "query", "pinned")
        ),
    }


def alices_marks(sample):
    """What no one outside alice's workspace may see of it."""
    workspace = sample.workspace
    return [workspace.name, workspace.slug, workspace.write_key, "ann@hooli.test", "Hooli Inc"]


# One address per request: a limit on wrong keys from one address must not turn a later
# cell's answer into a 429. These are in the documentation range; nothing is sent there.
ADDRESSES = (f"2001:db8::{n:x}" for n in itertools.count(1))


def ask(sample, actor, rule, pattern, method):
    client = Client(REMOTE_ADDR=next(ADDRESSES))
    if actor in sample.users:
        client.force_login(sample.users[actor])
    headers = KEYS[actor](sample, rule) if actor in KEYS else {}
    path = reverse(pattern.name, kwargs=arguments(pattern, sample))
    query = QUERIES.get((pattern.name, method), {})
    if isinstance(rule, Tracking):
        body = json.dumps({"userId": "ann", "event": "Seen"})
        return client.post(path, body, content_type="application/json", headers=headers)
    if method == "POST":
        password = f"{actor}-password-1"
        form = {"workspace": sample.workspace.slug, **FORMS.get(pattern.name, {})}
        form = {name: value.format(password=password) for name, value in form.items()}
        return client.post(path, form, headers=headers, query_params=query)
    return client.generic(method, path, headers=headers, query_params=query)


def outcome_problem(response, outcome, rule):
    """Why the response is not ``outcome``, or None."""
    status = response.status_code
    location = response.get("Location", "")
    got = f"got {status} {location}".strip()
    if outcome in (OK, OUTSIDER_OK):
        if isinstance(rule, (Api, Tracking)):
            return None if status == 200 else got
        if status == 200 or status == 302 and not location.startswith("/login/?next="):
            return None
        return got
    if outcome == LOGIN:
        if status == 302 and location.startswith("/login/?next="):
            return None
        return f"{got}, not sent to log in"
    if outcome == UNAUTHORIZED:
        if status != 401:
            return got
        if response.get("Content-Type") != "application/json":
            return "a 401 that is not JSON"
        body = response.json()
        if isinstance(rule, Api) and (
            body.get("error") != "unauthorized" or response.get("WWW-Authenticate") != "Bearer"
        ):
            return f"a 401 without its error code or WWW-Authenticate: {body}"
        if isinstance(rule, Tracking) and body.get("success") is not False:
            return f"a 401 that does not say success: false: {body}"
        return None
    return None if str(status) == outcome else got


@pytest.mark.parametrize("pattern, method", CELLS)
def test_who_may_use_each_url(db, sample, pattern, method):
    rule = POLICY.get(pattern.name)
    if rule is None:
        pytest.fail(
            f"/{pattern.pattern} ({pattern.name}) has no rule: add {pattern.name!r} to POLICY "
            f"in {__name__.replace('.', '/')}.py with the role or key it needs"
        )
    # An argument names something of alice's (the call type of the tracking API aside).
    names_alices_objects = pattern.name in NAMES_ALICES_WORKSPACE or (
        bool(set(pattern.pattern.regex.groupindex) - NAMES_NOTHING)
        and not isinstance(rule, Tracking)
    )
    outcomes = {
        actor: expected(rule, method, actor, names_alices_objects=names_alices_objects)
        for actor in ACTORS
    }
    # Refusals first, then outsiders, then the insiders let in, so that a change made by
    # one cell (a key rotated, a member removed) cannot decide a refusal after it.
    insiders = ("secret key", "write key (Basic)", *ROLES)
    order = sorted(ACTORS, key=lambda a: (outcomes[a] == OK and a in insiders, outcomes[a] == OK))
    problems = []
    state = alices_workspace(sample.workspace)
    for actor in order:
        outcome = outcomes[actor]
        response = ask(sample, actor, rule, pattern, method)
        if problem := outcome_problem(response, outcome, rule):
            problems.append(f"{actor}: expected {outcome}, {problem}")
        before, state = state, alices_workspace(sample.workspace)
        if state != before and not (outcome == OK and actor in insiders):
            problems.append(f"{actor}: changed alice's workspace ({outcome})")
        if actor not in insiders:
            content = response.content.decode(errors="replace")
            shown = [mark for mark in alices_marks(sample) if mark in content]
            if shown:
                problems.append(f"{actor}: was shown {shown} of alice's workspace")
    assert not problems, f"{method} /{pattern.pattern}:\n  " + "\n  ".join(problems)


# --- the admin ----------------------------------------------------------------------

ADMIN_PATTERNS = [(prefix, pattern) for namespace, prefix, pattern in url_patterns()
                  if namespace == "admin"]


def admin_path(prefix, pattern):
    """The pattern's path, with "1" (or "analytics", where an app's name goes) for arguments."""
    for values in itertools.product(
        ["analytics", "1"], repeat=len(pattern.pattern.regex.groupindex)
    ):
        path = re.sub(r"<(?:\w+:)?\w+>|\(\?P<\w+>[^)]*\)", lambda _: "{}", str(pattern.pattern))
        path = prefix + path.strip("^$").format(*values)
        if resolve(path).func == pattern.callback:
            return path
    pytest.fail(f"no sample arguments for {prefix}{pattern.pattern}")


@pytest.mark.parametrize(
    "prefix, pattern", ADMIN_PATTERNS, ids=[f"{p}{q.pattern}" for p, q in ADMIN_PATTERNS]
)
@pytest.mark.parametrize("actor", ["anonymous", "alice"])
def test_the_admin_is_for_staff_only(client, sample, prefix, pattern, actor):
    """No account of a workspace is staff, its owner included: every admin page but the
    login sends them to the admin's login."""
    if actor == "alice":
        client.force_login(sample.users["alice"])
    response = client.get(admin_path(prefix, pattern))
    if pattern.name in ("login", "logout"):
        assert response.status_code in (200, 302, 405)
        assert "Acme" not in response.content.decode()
    else:
        assert response.status_code == 302
        assert response["Location"].startswith("/admin/login/")
