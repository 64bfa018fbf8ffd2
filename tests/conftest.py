import base64
import json
import os
import re
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from unittest import mock
from urllib.parse import quote

import overview_data as overview_calls
import psycopg
import pytest
from calls import at, calls_of, feb, identify, join, page_view, track, track_in
from django.conf import settings
from django.db import connection
from django.db.models import F
from django.http import HttpRequest
from django.test import override_settings
from django.utils import timezone

from analytics import event_store
from analytics.models import (
    Event,
    Group,
    GroupType,
    Identity,
    Membership,
    Person,
    RateCounter,
    Role,
    TaskWorker,
    User,
    Workspace,
)


@pytest.fixture(autouse=True, scope="session")
def fast_password_hashing():
    # The real hasher is slow on purpose; tests create many accounts.
    with override_settings(PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"]):
        yield


# The database the settings name, read before any test database replaces it.
CONFIGURED_DATABASE = settings.DATABASES["default"]["NAME"]


@pytest.fixture(autouse=True, scope="session")
def close_live_server_connections(django_db_setup, django_db_blocker):
    """Before the test database is dropped, end connections that live-server threads
    (kept alive by a browser or an HTTP client) still hold to it."""
    yield
    if connection.settings_dict["NAME"] == CONFIGURED_DATABASE:
        # No test of this run used the database, so none was created: the connection
        # still names the configured database, whose other connections are not the
        # tests' to end (and which may not even exist).
        return
    with django_db_blocker.unblock():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )


def make_user(name):
    email = f"{name}@example.com"
    return User.objects.create_user(username=email, email=email, password=f"{name}-password-1")


def logs_in(client, email, password):
    """Whether ``client`` logs in as ``email`` with ``password``. django-axes checks every
    login against the request it comes with; a blank one stands for it here."""
    return client.login(request=HttpRequest(), username=email, password=password)


@pytest.fixture
def alice(db):
    return make_user("alice")


@pytest.fixture
def bob(db):
    return make_user("bob")


@pytest.fixture
def charlie(db):
    return make_user("charlie")


@pytest.fixture
def workspace(alice, bob):
    """Alice's workspace (group types company, the default, and team); bob is a member.

    The secret key is readable as ``workspace.secret_key`` for the tests' API calls.
    """
    workspace, secret_key = Workspace.create(
        name="Acme Analytics", owner=alice, group_types=("company", "team")
    )
    workspace.add_member(bob, Role.MEMBER)
    workspace.secret_key = secret_key
    return workspace


@pytest.fixture
def alice_client(client, alice, workspace):
    """The test client, logged in as alice, the owner of ``workspace``."""
    client.force_login(alice)
    return client


def post(client, path, workspace, **data):
    """POST a dashboard form of ``workspace`` (forms name the workspace they were shown in)."""
    return client.post(path, {"workspace": workspace.slug, **data})


@pytest.fixture
def dana(workspace):
    """An admin of alice's workspace: deletes people and manages keys, not types or members."""
    user = make_user("dana")
    workspace.add_member(user, Role.ADMIN)
    return user


@pytest.fixture
def other_workspace(charlie):
    workspace, secret_key = Workspace.create(name="Charlie's", owner=charlie)
    workspace.secret_key = secret_key
    return workspace


def set_time_zone(workspace, name):
    """Move ``workspace`` to the time zone ``name`` as its owner does, in the settings
    (which works its days of activity out again)."""
    from analytics.forms import WorkspaceForm

    data = {"name": workspace.name, "time_zone": name, "internal_domains": "\n".join(workspace.internal_domains)}
    form = WorkspaceForm(data, instance=workspace)
    assert form.is_valid(), form.errors
    form.save()


@pytest.fixture
def company(workspace):
    return GroupType.objects.get(workspace=workspace, name="company")


@pytest.fixture
def team(workspace):
    return GroupType.objects.get(workspace=workspace, name="team")


@pytest.fixture
def refuse_inserts():
    """``refuse_inserts(table)``: the database refuses every insert into ``table`` from
    then on, with the message "refused by the test", as a real failure would."""
    tables = []

    def refuse(table):
        name = f"refuse_{table}"
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                cursor.execute(
                    f"CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS "
                    "$$ BEGIN RAISE EXCEPTION 'refused by the test'; END $$"
                )
                cursor.execute(
                    f"CREATE TRIGGER {name} BEFORE INSERT ON {table} "
                    f"FOR EACH ROW EXECUTE FUNCTION {name}()"
                )
            else:
                cursor.execute(
                    f"CREATE TRIGGER {name} BEFORE INSERT ON {table} "
                    "BEGIN SELECT RAISE(ABORT, 'refused by the test'); END"
                )
        tables.append(table)

    yield refuse
    # Inside a test's transaction this is rolled back anyway; outside, it was committed.
    with connection.cursor() as cursor:
        for table in tables:
            if connection.vendor == "postgresql":
                cursor.execute(f"DROP TRIGGER IF EXISTS refuse_{table} ON {table}")
                cursor.execute(f"DROP FUNCTION IF EXISTS refuse_{table}()")
            else:
                cursor.execute(f"DROP TRIGGER IF EXISTS refuse_{table}")


@pytest.fixture
def held_before_deleting_people():
    """Deleting a person waits, once their events are gone, until the test calls the
    returned function: the database makes it wait for an advisory lock the test holds.
    So the progress of a deletion is seen before it is over (PostgreSQL only: SQLite
    writes no progress while the deletion's transaction is open)."""
    if connection.vendor != "postgresql":
        pytest.skip("SQLite writes no progress while the deletion's transaction is open")
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE FUNCTION wait_for_the_test() RETURNS trigger LANGUAGE plpgsql AS "
            "$$ BEGIN PERFORM pg_advisory_lock(4242); PERFORM pg_advisory_unlock(4242); "
            "RETURN OLD; END $$"
        )
        cursor.execute(
            "CREATE TRIGGER wait_for_the_test BEFORE DELETE ON analytics_person "
            "FOR EACH ROW EXECUTE FUNCTION wait_for_the_test()"
        )
        cursor.execute("SELECT pg_advisory_lock(4242)")

    def release():
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(4242)")

    yield release
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_unlock_all()")
        cursor.execute("DROP TRIGGER wait_for_the_test ON analytics_person")
        cursor.execute("DROP FUNCTION wait_for_the_test()")


@pytest.fixture
def staff_in_a_customer_account(send, company):
    """Sam (staff) joined customer acme and has internal to himself: one identify, two
    group calls, three tracks in acme and a page view. Ann stays in acme."""
    response = send.batch(
        identify("ann", "Ann Archer", "ann@acme.io"),
        join("ann", "acme", traits={"name": "Acme Inc"}),
        track_in("ann", "acme", feb(2, 10)),
        identify("sam", "Sam Staff", "sam@groupsite.dev", at=feb(3, 9)),
        join("sam", "internal", feb(3, 10), traits={"name": "Groupsite"}),
        join("sam", "acme", feb(3, 11)),
        *(track_in("sam", "acme", feb(4, 10 + n), f"Debugged {n}") for n in range(3)),
        page_view("sam", "Settings", feb(5, 10)),
    )
    assert response.status_code == 200, response.json()
    assert Event.objects.filter(user_id="sam").count() == 7


# --- People who sent calls at known moments (calls.py) ---------------------------


@pytest.fixture
def people(send, company, team):
    """Ann and Bob (customers, both in acme and team growth, seven calls each); two staff
    members at groupsite.dev: Dev alone in internal, Sam in internal and acme."""
    response = send.batch(
        *calls_of("ann", email="ann@acme.io", company="acme"),
        *calls_of("bob", email="bob@acme.io", company="acme", minutes=10),
        identify("dev", "Dev", "dev@groupsite.dev", at=at(20)),
        join("dev", "internal", at(21)),
        track("dev", "Debugged", at(22)),
        identify("sam", "Sam", "sam@GroupSite.dev", at=at(23)),
        join("sam", "internal", at(24)),
        join("sam", "acme", at(25)),
    )
    assert response.status_code == 200, response.json()


@pytest.fixture
def failing_suppression(refuse_inserts):
    """The database refuses suppressed-user rows, the last write of a deletion."""
    refuse_inserts("analytics_suppresseduser")


def groups_of(event):
    """{type name: key} of an event's group context."""
    names = {t.slot: t.name for t in GroupType.objects.filter(workspace_id=event.workspace_id)}
    return {names[slot]: Group.objects.get(pk=pk).key for slot, pk in event.group_ids().items()}


def basic_auth(key):
    """The header that sends ``key`` as the Basic-auth user name, as Segment's libraries do."""
    return {"Authorization": "Basic " + base64.b64encode(f"{key}:".encode()).decode()}


def bearer_auth(key):
    return {"Authorization": f"Bearer {key}"}


# --- Task workers ----------------------------------------------------------------

ROOT = Path(__file__).resolve().parent.parent
# The same backend as in production, but tasks run inside ``enqueue``.
IMMEDIATE_TASKS = {
    "default": {
        **settings.TASKS["default"],
        "BACKEND": "django.tasks.backends.immediate.ImmediateBackend",
    }
}


@pytest.fixture
def inline_tasks(settings):
    """Tasks run inside ``enqueue`` (Django's ImmediateBackend): a deletion is over when
    the request that asked for it returns."""
    settings.TASKS = IMMEDIATE_TASKS


def database_url(database):
    """The DATABASE_URL of a connection's settings (the test database's, in a test)."""
    if database["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{database['NAME']}"
    user = quote(database["USER"])
    if database["PASSWORD"]:
        user += f":{quote(database['PASSWORD'])}"
    return f"postgres://{user}@{database['HOST']}:{database['PORT']}/{database['NAME']}"


class WorkerProcess:
    """``manage.py task_worker`` in a process of its own, with its log in ``lines``. It
    looks for work every 0.1 s and beats every 0.2 s, for tests that wait on it."""

    def __init__(self, worker_id, database_url):
        self.worker_id = worker_id
        self.process = subprocess.Popen(
            [sys.executable, "manage.py", "task_worker", "--worker-id", worker_id,
             "--no-reload", "--no-startup-delay", "--interval", "0.1", "--heartbeat", "0.2"],
            cwd=ROOT,
            env={**os.environ, "DATABASE_URL": database_url},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.lines = []
        self.logged = threading.Condition()
        threading.Thread(target=self._read_log, daemon=True).start()

    def _read_log(self):
        for line in self.process.stdout:
            with self.logged:
                self.lines.append(line)
                self.logged.notify_all()
        with self.logged:
            self.logged.notify_all()

    def log(self):
        return "".join(self.lines)

    def wait_for(self, text, timeout=60):
        """Wait until the worker logs ``text``; fails if it exits or takes too long."""
        with self.logged:
            self.logged.wait_for(
                lambda: text in self.log() or self.process.poll() is not None, timeout
            )
            log = self.log()
            assert text in log, f"worker {self.worker_id} never logged {text!r}:\n{log}"

    def signal(self, signum):
        self.process.send_signal(signum)

    def kill(self):
        """SIGKILL: the worker dies on the spot, as in a crash or a forced restart."""
        self.process.kill()
        self.process.wait()

    def stop(self, timeout=30):
        """SIGTERM, as a deploy stops it; returns its exit code (killed if it hangs)."""
        self.process.terminate()
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise


@pytest.fixture
def start_worker(transactional_db):
    """``start_worker(worker_id)``: a real task worker process on the test database.
    PostgreSQL only: the SQLite test database is in memory, out of another process's
    reach (tests/test_task_worker.py runs workers on an SQLite file of their own)."""
    if connection.vendor != "postgresql":
        pytest.skip("the SQLite test database is in memory, out of a worker process's reach")
    url = database_url(connection.settings_dict)
    workers = []

    def start(worker_id="worker"):
        workers.append(WorkerProcess(worker_id, url))
        return workers[-1]

    yield start
    for worker in workers:
        if worker.process.poll() is None:
            try:
                worker.stop()
            except subprocess.TimeoutExpired:
                pass  # killed: a test that failed mid-way may leave a task waiting for ever


@pytest.fixture
def task_worker(request, settings, transactional_db):
    """Runs the tasks a test queues: a worker process on PostgreSQL; on SQLite, whose test
    database no other process can open, the request that queues them."""
    if connection.vendor == "postgresql":
        return request.getfixturevalue("start_worker")()
    settings.TASKS = IMMEDIATE_TASKS
    return None


@pytest.fixture
def live_worker(db):
    """A registered task worker that is alive (on PostgreSQL its lock is held by the
    test's own connection, as a worker's by its own)."""
    worker = TaskWorker.register("live-worker")
    yield worker
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock_all()")


@pytest.fixture
def dead_worker(db):
    """A registered task worker that died: it holds no lock, and has been silent too long."""
    return TaskWorker.objects.create(
        worker_id="dead-worker",
        beat_at=timezone.now() - TaskWorker.SILENT_AFTER - timedelta(seconds=1),
    )


def wait_until(condition, what, timeout=60):
    """Poll ``condition`` until it holds; fails, naming ``what``, if it does not in time."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"gave up waiting for {what}"
        time.sleep(0.05)


def rows_of(user_id):
    """Everything stored for a person, found by their user id."""
    person = Person.objects.by_user_id(user_id)
    return {
        "person": person is not None,
        "events": event_store.count_of_people({person.workspace_id}, [person.pk]).get(person.pk, 0) if person else 0,
        "memberships": Membership.objects.filter(person=person).count() if person else 0,
        "identities": Identity.objects.filter(person=person).count() if person else 0,
    }


def stored_events(workspace):
    """Every event of ``workspace`` in the run's event store (the main database or
    ClickHouse), newest first."""
    return event_store.newest(event_store.Selection(workspace.pk), limit=1_000_000)


class Sender:
    """Posts to the tracking API of a workspace through Django's test client."""

    def __init__(self, client, workspace):
        self.client = client
        self.workspace = workspace

    def post(self, endpoint, payload, *, key=None, **headers):
        key = self.workspace.write_key if key is None else key
        return self.client.post(
            f"/v1/{endpoint}",
            data=payload if isinstance(payload, bytes) else json.dumps(payload),
            content_type="application/json",
            headers={**basic_auth(key), **headers},
        )

    def batch(self, *calls, **extra):
        return self.post("batch", {"batch": list(calls), **extra})


@pytest.fixture
def send(client, workspace):
    return Sender(client, workspace)


class Api:
    """Calls the read and delete API (/api/v1/...) with a workspace's secret key."""

    def __init__(self, client, key):
        self.client = client
        self.key = key

    def get(self, path, **params):
        return self.client.get(f"/api/v1/{path}", query_params=params, headers=self._auth())

    def delete(self, path, **params):
        return self.client.delete(f"/api/v1/{path}", query_params=params, headers=self._auth())

    def follow(self, url):
        """GET a URL the API returned (a next, previous or events link)."""
        return self.client.get(url, headers=self._auth())

    def _auth(self):
        return bearer_auth(self.key)


# A path of each read endpoint of the API; the group and the person are acme and ann.
API_READS = [
    "group-types",
    "groups/company",
    "groups/company/acme",
    "people",
    "people/ann",
    "events",
    "ingestion-problems",
    "reports/trends",
    "reports/funnels?steps=Report+Viewed,$page",
    "reports/retention",
    "reports/active-groups",
]


@pytest.fixture
def api(client, workspace):
    """The API as alice's workspace sees it."""
    return Api(client, workspace.secret_key)


@pytest.fixture
def charlie_api(client, other_workspace):
    """The API as charlie's workspace (the outsider's) sees it."""
    return Api(client, other_workspace.secret_key)


@pytest.fixture
def charlie_send(client, other_workspace):
    return Sender(client, other_workspace)


def end_the_window(length):
    """As if the current window of the limits counted over ``length`` had ended: what was
    counted in it moves to the window before."""
    RateCounter.objects.update(
        window_start=F("window_start") - length, ends_at=F("ends_at") - length
    )


# --- Browser tests ----------------------------------------------------------------
# A real headless Chromium (Debian's package) driven by Playwright against a live server.
# Screenshots land in test-artifacts/ for a person to look at.

ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    # This machine has no network beyond localhost: no background calls home.
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="session")
def chromium():
    # Playwright's sync API runs an event loop in this thread; the tests' own ORM calls
    # are still synchronous, so Django's async-safety check does not apply here.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@contextmanager
def open_page(chromium, live_server, *, javascript=True, timeout=10_000, shots=""):
    """A fresh browser tab (1280×860) with ``page.visit(path)`` and ``page.shot(name)``
    (saved as test-artifacts/<shots><name>.png); errors the page reports fail the test."""
    context = chromium.new_context(
        viewport={"width": 1280, "height": 860}, java_script_enabled=javascript
    )
    context.add_init_script(path=Path(__file__).with_name("report_csp_violations.js"))
    page = context.new_page()
    page.set_default_timeout(timeout)
    page.visit = lambda path: page.goto(live_server.url + path)
    ARTIFACTS.mkdir(exist_ok=True)
    page.shot = lambda name: page.screenshot(path=ARTIFACTS / f"{shots}{name}.png", full_page=True)
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on(
        "console",
        lambda message: message.type == "error"
        and errors.append(f"{message.text} ({message.location.get('url')})"),
    )
    yield page
    context.close()
    assert not errors, f"the page reported errors: {errors}"


@pytest.fixture
def browser_page(chromium, live_server, transactional_db):
    with open_page(chromium, live_server) as page:
        yield page


def log_in(page, user):
    page.visit("/login/")
    page.fill("#id_username", user.email)
    page.fill("#id_password", f"{user.email.split('@')[0]}-password-1")
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r"^https?://[^/]+/$"))  # the overview


@contextmanager
def writes_to(table):
    """Every statement that writes to ``table`` while the block runs (INSERT, UPDATE,
    DELETE, and COPY, which Django's execute wrappers do not see), as (statement, the
    analytics/ modules on the stack that issued it) in a list yielded at once."""
    writes = []
    pattern = re.compile(rf'\s*(INSERT\s+INTO|UPDATE|DELETE\s+FROM|COPY)\s+"?{table}\b', re.I)
    app = str(Path(settings.BASE_DIR) / "analytics") + os.sep

    def record(statement):
        if pattern.match(str(statement)):
            frame, modules = sys._getframe(), set()
            while frame is not None:
                if frame.f_code.co_filename.startswith(app):
                    modules.add(frame.f_code.co_filename.removeprefix(app).replace(os.sep, "/"))
                frame = frame.f_back
            writes.append((str(statement), modules))

    def execute(run, sql, params, many, context):
        record(sql)
        return run(sql, params, many, context)

    copy = psycopg.Cursor.copy

    def recorded_copy(cursor, statement, *args, **kwargs):
        record(statement)
        return copy(cursor, statement, *args, **kwargs)

    with (
        connection.execute_wrapper(execute),
        mock.patch.object(psycopg.Cursor, "copy", recorded_copy),
    ):
        yield writes


# --- The overview's hand-worked workspace (tests/overview_data.py) -----------------------


@pytest.fixture
def frozen_now(monkeypatch):
    """The clock stands still at ``overview_data.NOW``: ingestion, the "today" of the
    reports and the pages all read it (the live server too, in this process)."""
    monkeypatch.setattr(timezone, "now", lambda: overview_calls.NOW)
    return overview_calls.NOW


@pytest.fixture
def overview_data(frozen_now, send, workspace, company):
    """Alice's workspace, in New York time, with the calls of tests/overview_data.py."""
    workspace.time_zone = "America/New_York"
    workspace.internal_domains = ["staff.dev"]
    workspace.save()
    response = send.batch(*overview_calls.CALLS)
    assert response.status_code == 200, response.content
    return workspace


# --- ClickHouse's embedded engine (chdb) -------------------------------------------------


@pytest.fixture(scope="session")
def chdb_path(tmp_path_factory):
    # The embedded engine's directory is held by one process at a time, and a process
    # opens one directory: one per test process (xdist worker), a database per test.
    return tmp_path_factory.mktemp("chdb")


@pytest.fixture
def chdb(chdb_path, settings, request):
    """CLICKHOUSE_URL set to a database of the test's own in the embedded engine (empty),
    and a client of the engine."""
    from analytics import clickhouse
    from groupsite.settings import clickhouse_config

    database = "t_" + re.sub(r"[^A-Za-z0-9_]", "_", request.node.name)[:50]
    settings.CLICKHOUSE = clickhouse_config(f"chdb://{chdb_path}?database={database}")
    client = clickhouse.connect()
    client.command(f"DROP DATABASE IF EXISTS {database}")
    yield client
    client.close()


@pytest.fixture
def clickhouse_events(chdb, settings):
    """ClickHouse's embedded engine as the event store (its schema applied): the client."""
    from analytics.clickhouse.schema import Target, migrate

    migrate(chdb, Target(settings.CLICKHOUSE["database"]))
    return chdb


# --- Both event stores ------------------------------------------------------------------
# A test marked both_stores runs twice: with events in the main database, and with
# ClickHouse (its embedded engine) as the event store, from its first call on. Both
# runs check the same answers.

STORES = ["main", "clickhouse"]


def pytest_generate_tests(metafunc):
    definition = metafunc.definition
    if definition.get_closest_marker("both_stores") and not definition.get_closest_marker("main_store"):
        metafunc.fixturenames.append("event_store_kind")
        metafunc.parametrize("event_store_kind", STORES)


@pytest.fixture(autouse=True)
def _event_store_of_the_run(request):
    callspec = getattr(request.node, "callspec", None)
    if callspec is not None and callspec.params.get("event_store_kind") == "clickhouse":
        request.getfixturevalue("clickhouse_events")
