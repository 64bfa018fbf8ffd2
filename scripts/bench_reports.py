"""Groupsite's reports on PostgreSQL: our report code against hand-written SQL, on a
workspace of generated events.

    .venv/bin/python scripts/bench_reports.py \
        --database-url postgres://postgres@127.0.0.1:5432/groupsite_reports_1m --events 1000000

1. Unless the database already holds the workspace for this --events and --seed (the
   database's comment is the marker), drops it (it must hold nothing else), creates and
   migrates it, and generates the workspace straight into the tables with COPY:
   ingestion stores about 4,400 events a second here, so 10,000,000 would take most of an
   hour, and ``analytics.demo_data`` has the pages' shape (90 days, other events), not the
   reports'; its vocabulary and habits are borrowed. See ``Cast`` for the shape. The rows
   are what ingestion would have stored for those calls (memberships, implicit group
   context, member counts, last seen, the multi-company flags); the load runs in one
   transaction and checks its own foreign keys. Prints how long it took and the disk used.
2. Runs VACUUM ANALYZE (as autovacuum would have; it may be off on a development machine).
3. Asks four questions of the workspace, counted by company: (a) a daily trend of
   feature_used, (b) a signed_up → project_created → invite_sent funnel, (c) weekly
   retention after the first signed_up, (d) daily active companies, strict and
   over-counted. Each is answered by the report code (``ours``: ``analytics.reports``)
   and by the best hand-written SQL over the raw event table found so far; each is timed, best of --rounds after a warm-up run. Prints ours, hand-written,
   their ratio, the answer's rows and checksum; ours must give the same answer. Both
   run with JIT compilation off (--jit leaves it on), which costs seconds here.
4. --explain prints EXPLAIN (ANALYZE, BUFFERS) of each hand-written query.
"""

import argparse
import bisect
import hashlib
import json
import os
import random
import re
import sys
import time
from array import array
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import dj_database_url
from psycopg import sql

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_ingest import (  # noqa: E402
    connect,
    create_database_if_missing,
    drop_database,
    setup_django,
)

SLUG = "reports-benchmark"
OWNER = "reports@groupsite.local"
TIME_ZONE = "Europe/Paris"
# Bumped whenever the generator changes what it writes: a database marked with another
# version is generated again.
GENERATOR_VERSION = 2
WINDOW_DAYS = 180
SECOND = 1000
HOUR = 3600 * SECOND
DAY = 24 * HOUR
ACTIVITY_TYPES = ("track", "page", "screen")
GROUP_SLOTS = 10  # analytics.models.GROUP_SLOTS

# Shares of the customer base; see ``Cast``.
EXISTING_COMPANY_SHARE = 0.4  # customers before the window: their people do not sign up
EXISTING_MEMBER_SHARE = 0.6  # of the people of those, first seen early in the window
MULTI_COMPANY_SHARE = 0.10  # people in 2 or 3 companies
MULTI_COMPANY_ACTIVITY = 1.45  # how much busier they are (admins, consultants, agencies)
LEAVER_SHARE = 0.03  # of the others, removed from their company during the window
# Who stops using the product (silently: they stay members), and after how long.
CHURN = {True: (0.6, 10), False: (0.2, 60)}  # signed up in the window or not: (share, days)
TEAM_SHARE = 0.7  # of the people in a company with teams, in one of them
VISITOR_SHARE = 0.05  # anonymous visitors, per person
ZIPF = 1.1  # of the event names' popularity; companies' sizes follow 1/rank


def _ref(prefix, spread):
    return lambda r: f"{prefix}_{r.randrange(1, spread)}"


def _choice(*values):
    return lambda r: r.choice(values)


# Track events by popularity (Zipf), whether the product's server sends them (and so
# names the account in their context), and their properties.
TRACK_EVENTS = (
    ("feature_used", False, {"feature": _choice("ai_chart", "csv_export", "filters",
                                                "saved_views", "alerts", "sql_editor")}),
    ("report_viewed", False, {"report_id": _ref("rep", 5000),
                              "report_type": _choice("trend", "funnel", "retention")}),
    ("dashboard_viewed", False, {"dashboard_id": _ref("dash", 800)}),
    ("search_performed", False, {"results": lambda r: r.randrange(60)}),
    ("project_viewed", False, {"project_id": _ref("prj", 3000)}),
    ("task_created", True, {"project_id": _ref("prj", 3000), "task_id": _ref("tsk", 90000)}),
    ("comment_added", False, {"length": lambda r: r.randrange(5, 400)}),
    ("task_completed", True, {"task_id": _ref("tsk", 90000)}),
    ("filter_applied", False, {"filter": _choice("date", "owner", "status", "tag")}),
    ("notification_opened", False, {"channel": _choice("email", "in_app", "push")}),
    ("chart_created", False, {"chart_type": _choice("line", "bar", "table", "number")}),
    ("query_run", False, {"duration_ms": lambda r: r.randrange(20, 4000)}),
    ("file_uploaded", True, {"size_kb": lambda r: r.randrange(1, 20000),
                             "mime": _choice("image/png", "application/pdf", "text/csv")}),
    ("report_created", True, {"report_id": _ref("rep", 5000)}),
    ("dashboard_created", True, {"dashboard_id": _ref("dash", 800),
                                 "widgets": lambda r: r.randrange(1, 12)}),
    ("message_sent", False, {"length": lambda r: r.randrange(1, 800)}),
    ("report_exported", True, {"format": _choice("csv", "pdf", "png")}),
    ("project_created", True, {"project_id": _ref("prj", 3000),
                               "template": _choice("blank", "roadmap", "sprint", "crm")}),
    ("share_link_created", True, {"public": _choice(True, False)}),
    ("template_used", False, {"template": _choice("okr", "roadmap", "retro", "standup")}),
    ("settings_updated", False, {"section": _choice("profile", "notifications", "security")}),
    ("invite_sent", True, {"invitee_role": _choice("member", "member", "admin", "viewer")}),
    ("alert_created", True, {"threshold": lambda r: r.randrange(1, 1000)}),
    ("integration_connected", True, {"integration": _choice("slack", "salesforce", "github")}),
    ("billing_viewed", False, {}),
    ("api_key_created", True, {"scope": _choice("read", "write")}),
    ("plan_upgraded", True, {"plan": _choice("starter", "pro", "enterprise")}),
    ("password_reset", False, {}),
)
SIGNED_UP, PROJECT_CREATED, INVITE_SENT = "signed_up", "project_created", "invite_sent"
ACCOUNT_REMOVED_USER = "Account Removed User"
SCREENS = (("Home", 5), ("Project", 3), ("Notifications", 2))
# Of activity: track, then page, screen, identify (traits again) and group (at a login).
ACTIVITY_CUM = (0.80, 0.96, 0.975, 0.99, 1.0)
# Onboarding of someone who signs up: (chance of creating a project, of then sending an
# invite), for the person who brings their company and for the others.
ONBOARDING = {True: (0.75, 0.6), False: (0.35, 0.4)}


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", required=True, help="postgres://... (a database of its own)")
    parser.add_argument("--events", type=int, default=1_000_000, help="calls of all types")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--until", type=date.fromisoformat, help="the last day of data "
                        "(default: today, the data ending now); reports end there")
    parser.add_argument("--regenerate", action="store_true", help="drop the database and generate it again")
    parser.add_argument("--rounds", type=int, default=3, help="timed runs of each (the best counts)")
    parser.add_argument("--questions", default="trend,funnel,retention,active",
                        help="which to ask, comma-separated (default: %(default)s)")
    parser.add_argument("--work-mem", help="work_mem for the queries, e.g. 64MB (default: the server's)")
    parser.add_argument("--jit", action="store_true", help="leave JIT compilation on, as the "
                        "server has it (it costs seconds of compiling for these queries)")
    parser.add_argument("--explain", action="store_true", help="print each hand-written query's plan")
    parser.add_argument("--cpu", action="store_true", help="also run each hand-written query "
                        "once without parallel workers and print the CPU time its server "
                        "process took: a figure that other work on the machine changes less")
    args = parser.parse_args()
    if args.rounds < 1 or args.events < 1:
        parser.error("--rounds and --events must be positive")
    return args


# --- the data ---------------------------------------------------------------------------


class Clock:
    """Moments as people at a UTC offset are active: on weekdays far more than at
    weekends, in working hours, and more in the last weeks than in the first (the product
    grows); the same habits as ``analytics.demo_data``. Milliseconds since 1970."""

    def __init__(self, rng, since, until):
        from analytics.demo_data import GROWTH, WEEKDAY_WEIGHTS
        from analytics.demo_vocabulary import HOUR_CUM_WEIGHTS

        self.rng, self.since, self.until = rng, since, until
        self.growth, self.weekdays, self.hours = GROWTH, WEEKDAY_WEIGHTS, HOUR_CUM_WEIGHTS
        self.days = {}  # UTC offset -> (first local day, cumulative weights of the days)

    def moment(self, start, end, offset):
        """A moment between ``start`` and ``end`` (ms) at ``offset`` (hours from UTC)."""
        rng = self.rng
        pick, hour_pick, within = rng.random(), rng.random(), rng.random()
        if end <= start:
            return start
        first, cumulative = self._days(offset)
        shift = offset * HOUR
        last = len(cumulative) - 1
        a = min(max((start + shift) // DAY - first, 0), last)
        b = min(max((end + shift) // DAY - first, 0), last)
        low = cumulative[a - 1] if a else 0.0
        day = first + min(b, bisect.bisect_left(cumulative, low + pick * (cumulative[b] - low), a, b + 1))
        hour = bisect.bisect_right(self.hours, hour_pick * self.hours[-1])
        moment = day * DAY + int((hour + within) * HOUR) - shift
        if start <= moment <= end:
            return moment
        # An hour outside the range on its first or last day: any moment of the range.
        return start + int(within * (end - start))

    def _days(self, offset):
        if offset not in self.days:
            shift = offset * HOUR
            first = (self.since + shift) // DAY - 1
            cumulative, total = [], 0.0
            for day in range(first, (self.until + shift) // DAY + 1):
                progress = max(0.0, (day * DAY - shift - self.since) / (self.until - self.since))
                total += self.weekdays[(day + 3) % 7] * self.growth**progress
                cumulative.append(total)
            self.days[offset] = first, cumulative
        return self.days[offset]


@dataclass(eq=False, slots=True)
class Company:
    index: int
    key: str
    traits: dict
    offset: int  # hours from UTC
    existing: bool  # a customer before the window
    start: int = 0  # when its first person joined
    teams: list = field(default_factory=list)
    founder: "Person | None" = None


@dataclass(eq=False, slots=True)
class Team:
    index: int
    key: str
    name: str
    company: Company


@dataclass(eq=False, slots=True)
class Person:
    index: int
    user_id: str | None
    traits: dict
    home: Company | None
    start: int  # first seen (identify)
    end: int  # activity stops (removed from their company, churned) or the window ends
    activity: float
    agent: int
    signs_up: bool = False
    staff: bool = False
    team: Team | None = None
    anonymous_id: str = ""


# Kinds of scheduled calls, in the order they go at the same moment; activity last.
IDENTIFY, JOIN, JOIN_TEAM, SIGN_UP, STEP, LEAVE, VISIT, ACTIVITY = range(8)


class Cast:
    """A customer base over the 180 days up to ``until`` and the schedule of its calls.

    - ``events // 500`` companies whose sizes follow Zipf's law (1/rank people), with
      traits (name, plan by size, employees, industry…) and a UTC offset, mostly in
      Europe and America; 40% were customers before the window, the others' first person
      signs up during it. Companies of 3 people or more have teams.
    - ``events // 50`` people (one in 4,000 staff at the internal domain, in 2 to 6
      customers' accounts each). Of a company that existed, 60% of the people are first
      seen in the window's first weeks; everyone else signs up (``signed_up``) during it,
      then may create a project and send an invite (the funnel). 70% join a team of
      their company. 10% are in 2 or 3 companies, joined soon after their first (and
      20% of those leave one); 3% of the others are removed from their company
      (``Account Removed User``) and stop. Many stop using the product silently, most
      of them within weeks of signing up (``CHURN``). Anonymous visitors look at
      marketing pages.
    - Activity: 80% track calls of about 30 names with Zipf popularity, 16% page, some
      screen, identify and group calls (sent again at logins), spread over each
      person's time by how active they are, on weekdays in working hours.

    Events name their company when the product's server sends them; the others take
    the one company their person is in at that moment (ingestion's implicit context),
    so those of people in several companies stay without one, which is the
    multi-company banner's case: about 8% of activity.
    """

    def __init__(self, rng, *, events, until):
        from analytics import demo_vocabulary as words
        from analytics.demo_data import INTERNAL_DOMAIN

        self.rng, self.words, self.internal_domain = rng, words, INTERNAL_DOMAIN
        self.until = until
        self.since = until - WINDOW_DAYS * DAY
        self.clock = Clock(rng, self.since, until)
        self.keys = set()
        self.schedule = []  # (ms, kind, person index, what)
        people = max(10, events // 50)
        self.companies = [self._company(n) for n in range(max(2, events // 500))]
        # Zipf's law over a random order: the biggest customers are old or new alike.
        ranks = list(range(1, len(self.companies) + 1))
        rng.shuffle(ranks)
        self.size_weights = [1 / rank for rank in ranks]
        self.cum_sizes = _cumulative(self.size_weights)
        staff = max(3, people // 4000)
        self.people = []
        self._customers(people - staff)
        self._staff(staff)
        self.teams = [team for company in self.companies for team in company.teams]
        self._teams()
        self.multi = self._multi_company()
        self.leavers = self._leavers()
        self._onboarding()
        self.visitors = self._visitors()
        self.schedule.sort(key=lambda item: (item[0], item[1]))

    # The cast ----------------------------------------------------------------------

    def _unique(self, prefix):
        while (key := f"{prefix}_{self.rng.getrandbits(48):012x}") in self.keys:
            pass
        self.keys.add(key)
        return key

    def _company(self, index):
        rng, words = self.rng, self.words
        first, stem = rng.choice(words.COMPANY_WORDS), rng.choice(words.COMPANY_STEMS)
        domain = f"{(first + stem).lower()}{index}{rng.choice(words.TLDS)}"
        traits = {
            "name": f"{first} {stem} {rng.choice(words.COMPANY_SUFFIXES)}",
            "plan": "free",  # by size, once its people are known
            "employees": int(rng.lognormvariate(3.5, 1.4)) + 1,
            "industry": rng.choice(words.INDUSTRIES),
            "website": f"https://{domain}",
            "createdAt": _iso(self.since - int(rng.uniform(30, 1500) * DAY)),
        }
        offset = rng.choices((0, 1, 2, -5, -6, -8, 5, 9), (25, 20, 5, 20, 8, 7, 8, 7))[0]
        company = Company(index, self._unique("acc"), traits, offset,
                          existing=rng.random() < EXISTING_COMPANY_SHARE)
        company.traits["domain"] = domain
        return company

    def _person(self, home, start, *, signs_up, staff=False):
        rng, words = self.rng, self.words
        first, last = rng.choice(words.FIRST_NAMES), rng.choice(words.LAST_NAMES)
        domain = self.internal_domain if staff else home.traits["domain"]
        local = f"{first}.{last}".lower() + (str(rng.randrange(2, 999)) if rng.random() < 0.3 else "")
        traits = {
            "email": f"{local}@{domain}",
            "name": f"{first} {last}",
            "firstName": first,
            "lastName": last,
            "title": rng.choice(words.STAFF_TITLES if staff else words.TITLES),
            "createdAt": _iso(start if signs_up else start - int(rng.uniform(1, 700) * DAY)),
        }
        end = self.until
        churn, days = CHURN[signs_up]
        if not staff and rng.random() < churn:
            end = min(end, start + DAY + int(rng.expovariate(1 / days) * DAY))
        person = Person(
            index=len(self.people), user_id=self._unique("usr"), traits=traits, home=home,
            start=start, end=end, activity=rng.lognormvariate(0, 1) * (0.5 if staff else 1),
            agent=rng.randrange(len(words.USER_AGENTS)), signs_up=signs_up, staff=staff,
        )
        self.people.append(person)
        self._add(start, IDENTIFY, person)
        if home is not None:
            self._add(start + SECOND, JOIN, person, home)
            if signs_up:
                self._add(start + 2 * SECOND, SIGN_UP, person, home)
        return person

    def _customers(self, count):
        rng, clock, since, until = self.rng, self.clock, self.since, self.until
        for company in self.companies:  # its first person, who brings it
            if company.existing:
                span = min(60 * DAY, HOUR + int(rng.expovariate(1 / 5) * DAY))
                start = clock.moment(since, since + span, company.offset)
            else:
                start = clock.moment(since, until - 2 * DAY, company.offset)
            company.start = start
            company.founder = self._person(company, start, signs_up=not company.existing)
        homes = rng.choices(self.companies, cum_weights=self.cum_sizes,
                            k=max(0, count - len(self.companies)))
        for home in homes:
            if home.existing and rng.random() < EXISTING_MEMBER_SHARE:
                span = min(120 * DAY, HOUR + int(rng.expovariate(1 / 8) * DAY))
                self._person(home, clock.moment(since, since + span, home.offset), signs_up=False)
            else:
                start = clock.moment(home.start + 10 * 60 * SECOND, until - HOUR, home.offset)
                self._person(home, start, signs_up=True)
        sizes = [0] * len(self.companies)
        for person in self.people:
            sizes[person.home.index] += 1
        words = self.words
        for company, size in zip(self.companies, sizes):
            bucket = 0 if size == 1 else 1 if size <= 5 else 2 if size <= 20 else 3
            company.traits["plan"] = rng.choices(words.PLANS, words.PLAN_WEIGHTS_BY_SIZE[bucket])[0]
            company.traits["employees"] = max(company.traits["employees"], size)
            del company.traits["domain"]
            names = rng.sample(words.TEAM_NAMES, min(len(words.TEAM_NAMES), size // 6 + 1))
            if size >= 3:
                company.teams = [
                    Team(0, f"{company.key}-{name.lower().replace(' ', '-')}", name, company)
                    for name in names
                ]

    def _staff(self, count):
        rng, clock = self.rng, self.clock
        for _ in range(count):
            start = clock.moment(self.since, self.since + 3 * DAY, 1)
            person = self._person(None, start, signs_up=False, staff=True)
            for company in rng.sample(self.companies, min(len(self.companies), rng.randrange(2, 7))):
                low = max(start, company.start) + HOUR
                moment = clock.moment(low, min(self.until - HOUR, low + 14 * DAY), company.offset)
                if moment < self.until - HOUR:
                    self._add(moment, JOIN, person, company)

    def _teams(self):
        for index, team in enumerate(self.teams):
            team.index = index
        for person in self.people:
            company = person.home
            if company and company.teams and self.rng.random() < TEAM_SHARE:
                person.team = self.rng.choice(company.teams)
                self._add(person.start + 5 * SECOND, JOIN_TEAM, person, person.team)

    def _multi_company(self):
        rng, clock = self.rng, self.clock
        multi = []
        customers = [p for p in self.people if not p.staff]
        for person in rng.sample(customers, int(len(customers) * MULTI_COMPANY_SHARE)):
            extra = 1 if rng.random() < 0.7 else 2
            joined = []
            for company in rng.choices(self.companies, cum_weights=self.cum_sizes, k=extra):
                if company is person.home or company in joined:
                    continue
                low = max(person.start, company.start) + HOUR
                high = min(person.end - HOUR, low + int(rng.expovariate(1 / 6) * DAY) + HOUR)
                if high <= low:
                    continue
                moment = clock.moment(low, high, company.offset)
                self._add(moment, JOIN, person, company)
                joined.append(company)
                if rng.random() < 0.2 and moment + DAY < person.end - HOUR:
                    self._add(clock.moment(moment + DAY, person.end - HOUR, company.offset),
                              LEAVE, person, company)
            if joined:
                person.activity *= MULTI_COMPANY_ACTIVITY
                multi.append(person)
        return multi

    def _leavers(self):
        rng, clock = self.rng, self.clock
        multi = set(self.multi)
        leavers = []
        for person in self.people:
            if person.staff or person in multi or rng.random() >= LEAVER_SHARE:
                continue
            if person.start + 2 * DAY >= person.end - HOUR:
                continue
            person.end = clock.moment(person.start + DAY, person.end - HOUR, person.home.offset)
            self._add(person.end, LEAVE, person, person.home)
            leavers.append(person)
        return leavers

    def _onboarding(self):
        """Those who sign up may create a project, then send an invite, within days."""
        rng = self.rng
        for person in self.people:
            if not person.signs_up:
                continue
            project, invite = ONBOARDING[person is person.home.founder]
            if rng.random() >= project:
                continue
            moment = person.start + 2 * SECOND + int(rng.expovariate(1.0) * DAY)
            if moment >= person.end:
                continue
            self._add(moment, STEP, person, PROJECT_CREATED)
            moment += int(rng.expovariate(1 / 2) * DAY)
            if rng.random() < invite and moment < person.end:
                self._add(moment, STEP, person, INVITE_SENT)

    def _visitors(self):
        rng = self.rng
        visitors = []
        for _ in range(int(len(self.people) * VISITOR_SHARE)):
            visitor = Person(
                index=len(self.people) + len(visitors), user_id=None, traits={}, home=None,
                start=0, end=0, activity=0.0, agent=rng.randrange(len(self.words.USER_AGENTS)),
                anonymous_id=_uuid(rng),
            )
            offset = rng.choice((0, 1, -5, -8, 9))
            for _ in range(rng.randrange(1, 4)):
                self._add(self.clock.moment(self.since, self.until, offset), VISIT, visitor)
            visitors.append(visitor)
        return visitors

    def _add(self, moment, kind, person, what=None):
        self.schedule.append((moment, kind, person.index, what))

    # Activity ----------------------------------------------------------------------

    def activity(self, count):
        """``count`` (moment, person index) pairs, drawn by how active and how long in
        the window each person is, bucketed by day and encoded as integers."""
        people = [p for p in self.people if p.end - p.start > 2 * 60 * SECOND]
        cum = _cumulative([p.activity * (p.end - p.start) for p in people])
        bits = (len(self.people) + len(self.visitors)).bit_length()
        buckets = [array("q") for _ in range(WINDOW_DAYS + 2)]
        moment, since = self.clock.moment, self.since
        for done in range(0, count, 1_000_000):
            for person in self.rng.choices(people, cum_weights=cum, k=min(1_000_000, count - done)):
                offset = person.home.offset if person.home else 1
                when = moment(person.start + 60 * SECOND, person.end - SECOND, offset)
                buckets[(when - since) // DAY].append(((when - since) << bits) | person.index)
        return buckets, bits


def _cumulative(weights):
    total, cumulative = 0.0, []
    for weight in weights:
        total += weight
        cumulative.append(total)
    return cumulative


def _uuid(rng):
    """A random (version 4) UUID as text, three times quicker than through ``uuid``."""
    h = "%032x" % rng.getrandbits(128)
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{'89ab'[int(h[16], 16) & 3]}{h[17:20]}-{h[20:]}"


def _iso(ms):
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="milliseconds")


_DAY_PREFIX = {}
_CLOCK = [f"{s // 3600:02d}:{s // 60 % 60:02d}:{s % 60:02d}." for s in range(86400)]
_MILLIS = [f"{ms:03d}+00" for ms in range(1000)]


def _stamp(ms):
    """``ms`` since 1970 as COPY text of a timestamptz, quickly."""
    day, rest = divmod(ms, DAY)
    prefix = _DAY_PREFIX.get(day)
    if prefix is None:
        prefix = _DAY_PREFIX[day] = (date(1970, 1, 1) + timedelta(days=day)).isoformat() + " "
    return prefix + _CLOCK[rest // 1000] + _MILLIS[rest % 1000]


def _json(value):
    import orjson

    text = orjson.dumps(value).decode()
    # COPY's text format reads backslashes, tabs and newlines as escapes; no generated
    # text has them, and none may.
    assert "\\" not in text and "\t" not in text and "\n" not in text, text
    return text


class Writer:
    """Turns the cast's schedule and activity into rows, in time order, as ingestion
    would have stored the calls: events with their group context (named, or else the
    one group of the type their person is in at that moment), memberships opened by
    group calls and ended by Account Removed User, groups' member counts, creation, last
    group call and last activity, each person's last activity in each group, people's
    first and last event, the multi-company flag, and the report events' names."""

    EVENT_COLUMNS = (
        "workspace_id", "person_id", "type", "name", "timestamp", "received_at", "sent_at",
        "message_id", "user_id", "anonymous_id", "properties", "context", "group_0_id",
        "group_1_id",
    )

    def __init__(self, cast, *, workspace_id, company_type, team_type, person_pks, group_pks):
        from analytics.models import report_event

        words = cast.words
        self.report_event = report_event
        self.cast, self.rng = cast, cast.rng
        self.workspace_id = workspace_id
        self.company_type, self.team_type = company_type, team_type
        self.everyone = cast.people + cast.visitors
        self.person_pks = [str(pk) for pk in person_pks]
        self.company_pks = [str(pk) for pk in group_pks[: len(cast.companies)]]
        self.team_pks = [str(pk) for pk in group_pks[len(cast.companies) :]]
        count = len(self.everyone)
        self.current = [[] for _ in range(count)]  # person -> [(company, membership index)]
        self.in_team = [None] * count  # person -> (team, membership index)
        self.first_seen = [None] * count
        self.last_seen = [0] * count
        self.several = [0] * count
        self.memberships = []  # [person index, group pk, type pk, started, ended]
        self.group_created = {}  # group pk -> ms
        self.group_updated = {}  # group pk -> ms of its latest group call
        # (group pk, person index) -> ms of the person's latest activity carrying the group
        self.active = {}
        self.report_events = set()
        self.counts = {}  # (type, with a company) -> events
        browser, server = words.BROWSER_LIBRARY, words.SERVER_LIBRARY
        self.browser = [_json({"library": browser, "userAgent": a}) for a in words.USER_AGENTS]
        self.server = _json({"library": server})[:-1]  # '{"library":{…}', to go on
        self.group_context = _json({"library": server})
        self.team_group_context = _json({"library": server, "groupType": "team"})
        self.company_traits = [_json(company.traits) for company in cast.companies]
        rng = self.rng
        self.track_names = [name for name, _, _ in TRACK_EVENTS]
        self.track_server = [server for _, server, _ in TRACK_EVENTS]
        self.track_cum = _cumulative([1 / rank**ZIPF for rank in range(1, len(TRACK_EVENTS) + 1)])
        # Properties come from a few dozen variants of each event's, made beforehand.
        self.properties = {
            name: [_json({key: make(rng) for key, make in props.items()}) for _ in range(32)]
            for name, _, props in TRACK_EVENTS
        }
        self.pages = [
            (name, [_page(words.APP_URL, path.format(rng.randrange(1, 5000)), name)
                    for _ in range(16)])
            for name, path in words.APP_PAGES
        ]
        self.page_cum = _cumulative(words.APP_PAGE_WEIGHTS)
        self.screens = [name for name, _ in SCREENS]
        self.screen_cum = _cumulative([weight for _, weight in SCREENS])
        self.marketing = [
            (name, [_page("https://groupsite.dev", path.format(rng.randrange(1, 300)), name,
                          referrer=rng.choice(words.REFERRERS)) for _ in range(8)])
            for name, path in words.MARKETING_PAGES
        ]
        self.marketing_cum = _cumulative(words.MARKETING_PAGE_WEIGHTS)

    # Events ------------------------------------------------------------------------

    def events(self, buckets, bits):
        """COPY text of every event, in time order (as ingestion appends them), in chunks."""
        schedule, since, mask = self.cast.schedule, self.cast.since, (1 << bits) - 1
        scheduled, activity = self.scheduled, self.activity
        lines, j, total = [], 0, len(schedule)
        for bucket in buckets:
            for code in sorted(bucket):
                moment = (code >> bits) + since
                while j < total and schedule[j][0] <= moment:
                    lines.append(scheduled(*schedule[j]))
                    j += 1
                lines.append(activity(moment, code & mask))
                if len(lines) >= 20_000:
                    yield "".join(lines).encode()
                    lines = []
        lines += [scheduled(*item) for item in schedule[j:]]
        yield "".join(lines).encode()

    def _row(self, person, moment, kind, name, properties, context, company, team):
        """One event as COPY text; ``company`` and ``team`` are group pks (text) or None."""
        if self.first_seen[person] is None:
            self.first_seen[person] = moment
        self.last_seen[person] = moment
        key = (kind, company is not None)
        self.counts[key] = self.counts.get(key, 0) + 1
        if kind in ACTIVITY_TYPES:  # events come in time order: the last is the latest
            self.report_events.add(self.report_event(kind, name))
            if company is not None:
                self.active[(company, person)] = moment
            if team is not None:
                self.active[(team, person)] = moment
        received = moment + 200 + moment % 4000  # sent in a batch a moment later
        who = self.everyone[person]
        return (
            f"{self.workspace_id}\t{self.person_pks[person]}\t{kind}\t{name}\t{_stamp(moment)}\t"
            f"{_stamp(received)}\t{_stamp(received - 50)}\t"
            f"{_uuid(self.rng)}\t{who.user_id or ''}\t"
            f"{who.anonymous_id}\t{properties}\t{context}\t{company or NULL}\t{team or NULL}\n"
        )

    def scheduled(self, moment, kind, person, what):
        if kind == IDENTIFY:
            return self._identify(moment, person)
        if kind == JOIN:
            return self._join(moment, person, what)
        if kind == JOIN_TEAM:
            pk = self.team_pks[what.index]
            self.in_team[person] = (what, self._open(person, pk, self.team_type, moment))
            self.group_created.setdefault(pk, moment)
            self.group_updated[pk] = moment
            return self._row(person, moment, "group", "", _json({"name": what.name}),
                             self.team_group_context, None, pk)
        if kind == SIGN_UP:
            return self._server_track(moment, person, SIGNED_UP, "{}", what, with_team=False)
        if kind == STEP:
            home = self.everyone[person].home
            return self._server_track(moment, person, what, self._properties(what), home,
                                      with_team=True)
        if kind == LEAVE:
            return self._leave(moment, person, what)
        if kind == VISIT:
            cum = self.marketing_cum
            name, variants = self.marketing[bisect.bisect(cum, self.rng.random() * cum[-1])]
            return self._row(person, moment, "page", name, variants[self.rng.randrange(8)],
                             self.browser[self.everyone[person].agent], None, None)
        raise AssertionError(kind)

    def _open(self, person, group_pk, type_pk, moment):
        self.memberships.append([person, group_pk, type_pk, moment, None])
        return len(self.memberships) - 1

    def _identify(self, moment, person):
        who = self.everyone[person]
        return self._row(person, moment, "identify", "", _json(who.traits),
                         self.browser[who.agent], None, None)

    def _join(self, moment, person, company):
        """A group call: opens a membership unless the person is in the company already."""
        pk = self.company_pks[company.index]
        if all(c is not company for c, _ in self.current[person]):
            membership = self._open(person, pk, self.company_type, moment)
            self.current[person].append((company, membership))
        self.group_created.setdefault(pk, moment)
        self.group_updated[pk] = moment
        return self._row(person, moment, "group", "", self.company_traits[company.index],
                         self.group_context, pk, None)

    def _leave(self, moment, person, company):
        """Account Removed User, naming the company and the person's team in it: ends both."""
        team = self.in_team[person]
        in_team = team is not None and team[0].company is company
        for n, (c, membership) in enumerate(self.current[person]):
            if c is company:
                self.memberships[membership][4] = moment
                del self.current[person][n]
                break
        groups = {"company": company.key}
        if in_team:
            self.memberships[team[1]][4] = moment
            self.in_team[person] = None
            groups["team"] = team[0].key
        return self._row(
            person, moment, "track", ACCOUNT_REMOVED_USER, _json({"account_id": company.key}),
            f'{self.server},"groups":{_json(groups)}}}', self.company_pks[company.index],
            self.team_pks[team[0].index] if in_team else None,
        )

    def _server_track(self, moment, person, name, properties, company, *, with_team):
        """A track call from the product's server, naming ``company`` in its context (and
        at times the person's team in it, which they would take anyway: their only one)."""
        rng = self.rng
        team = self.in_team[person]
        if with_team and team and team[0].company is company and rng.random() < 0.5:
            groups = f'"groups":{{"company":"{company.key}","team":"{team[0].key}"}}'
        elif rng.random() < 0.5:
            groups = f'"groupId":"{company.key}"'
        else:
            groups = f'"groups":{{"company":"{company.key}"}}'
        return self._row(person, moment, "track", name, properties,
                         f"{self.server},{groups}}}", self.company_pks[company.index],
                         self.team_pks[team[0].index] if team else None)

    def _properties(self, name):
        return self.properties[name][self.rng.randrange(32)]

    def activity(self, moment, person):
        rng = self.rng
        roll = rng.random()
        current = self.current[person]
        if roll < ACTIVITY_CUM[0]:
            n = bisect.bisect(self.track_cum, rng.random() * self.track_cum[-1])
            name = self.track_names[n]
            if self.track_server[n] and current:
                return self._server_track(moment, person, name, self._properties(name),
                                          self._company_of(person, current), with_team=True)
            return self._client(moment, person, "track", name, self._properties(name))
        if roll < ACTIVITY_CUM[1]:
            cum = self.page_cum
            name, variants = self.pages[bisect.bisect(cum, rng.random() * cum[-1])]
            return self._client(moment, person, "page", name, variants[rng.randrange(16)])
        if roll < ACTIVITY_CUM[2]:
            cum = self.screen_cum
            name = self.screens[bisect.bisect(cum, rng.random() * cum[-1])]
            return self._client(moment, person, "screen", name, "{}")
        if roll < ACTIVITY_CUM[3] or not current:
            return self._identify(moment, person)
        return self._join(moment, person, self._company_of(person, current))

    def _company_of(self, person, current):
        home = self.everyone[person].home
        if self.rng.random() < 0.7 and any(c is home for c, _ in current):
            return home
        return self.rng.choice(current)[0]

    def _client(self, moment, person, kind, name, properties):
        """A call from the browser, naming no group: it takes the one company and team its
        person is in; in several companies, none, and the person is flagged for it."""
        current = self.current[person]
        if len(current) > 1:
            self.several[person] |= 1 << 0
        team = self.in_team[person]
        return self._row(
            person, moment, kind, name, properties, self.browser[self.everyone[person].agent],
            self.company_pks[current[0][0].index] if len(current) == 1 else None,
            self.team_pks[team[0].index] if team else None,
        )

    # The other tables, once every event is written ----------------------------------

    def people(self):
        for person in self.everyone:
            n = person.index
            yield _line(
                self.person_pks[n], self.workspace_id, person.user_id, _json(person.traits),
                person.traits.get("email", "").lower(), _stamp(self.first_seen[n]),
                _stamp(self.last_seen[n]), self.several[n],
            )

    def identities(self):
        for person in self.everyone:
            kind, value = ("user", person.user_id) if person.user_id else ("anonymous", person.anonymous_id)
            yield _line(self.workspace_id, self.person_pks[person.index], kind, value)

    def groups(self):
        members, active = {}, {}
        for _, group, _, _, ended in self.memberships:
            members[group] = members.get(group, 0) + (ended is None)
        for (group, _), moment in self.active.items():
            active[group] = max(active.get(group, moment), moment)
        named = [(company, self.company_pks[company.index], self.company_traits[company.index],
                  self.company_type) for company in self.cast.companies]
        named += [(team, self.team_pks[team.index], _json({"name": team.name}), self.team_type)
                  for team in self.cast.teams]
        for group, pk, properties, type_pk in named:
            if pk in self.group_created:  # a team nobody joined was never named
                yield _line(pk, self.workspace_id, type_pk, group.key, properties,
                            _stamp(self.group_created[pk]), _stamp(self.group_updated[pk]),
                            members.get(pk, 0),
                            _stamp(active[pk]) if pk in active else None)

    def group_activity(self):
        teams = set(self.team_pks)
        for (group, person), moment in self.active.items():
            yield _line(group, self.team_type if group in teams else self.company_type,
                        self.person_pks[person], _stamp(moment))

    def event_names(self):
        for name in sorted(self.report_events):
            yield _line(self.workspace_id, name)

    def membership_rows(self):
        for person, group, type_pk, started, ended in self.memberships:
            yield _line(self.workspace_id, self.person_pks[person], group, type_pk,
                        _stamp(started), _stamp(ended) if ended is not None else None)


NULL = "\\N"


def _line(*values):
    return "\t".join(NULL if v is None else str(v) for v in values) + "\n"


def _page(site, path, name, **more):
    return _json({"path": path, "url": site + path, "title": name, **more})


# --- loading --------------------------------------------------------------------------


def marker_of(conn):
    """What the database's comment says it holds (see ``load``), or {}."""
    text = conn.execute(
        "SELECT shobj_description(oid, 'pg_database') FROM pg_database "
        "WHERE datname = current_database()"
    ).fetchone()[0]
    try:
        return json.loads(text or "{}").get("bench_reports", {})
    except ValueError:
        return {}


def _reserve(conn, table, count):
    """``count`` new primary keys of ``table``, taken from its sequence."""
    return [pk for (pk,) in conn.execute(
        "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)",
        [table, count],
    )]


def _copy(conn, table, columns, chunks):
    statement = sql.SQL("COPY {} ({}) FROM STDIN").format(
        sql.Identifier(table), sql.SQL(", ").join(map(sql.Identifier, columns))
    )
    with conn.cursor().copy(statement) as copy:
        for chunk in chunks:
            copy.write(chunk)


def _lines(rows, size=20_000):
    batch = []
    for row in rows:
        batch.append(row)
        if len(batch) == size:
            yield "".join(batch).encode()
            batch = []
    yield "".join(batch).encode()


def _drop_event_indexes(conn):
    """Drop the event table's indexes but its primary key, and return the statements that
    make them again: building an index once is far quicker than keeping it up to date
    through ten million inserts in random places (message ids, people, groups)."""
    rows = conn.execute(
        "SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid), c.conname, "
        "pg_get_constraintdef(c.oid) FROM pg_index i LEFT JOIN pg_constraint c "
        "ON c.conindid = i.indexrelid AND c.conrelid = i.indrelid "
        "WHERE i.indrelid = 'analytics_event'::regclass AND NOT i.indisprimary"
    ).fetchall()
    again = []
    for index, definition, constraint, constraint_definition in rows:
        if re.search(r"WHERE \(group_[2-9]_id IS NOT NULL\)", definition):
            continue  # slots the workspace does not use: nothing to index, nothing to build
        if constraint:
            conn.execute(sql.SQL("ALTER TABLE analytics_event DROP CONSTRAINT {}").format(
                sql.Identifier(constraint)))
            again.append(sql.SQL("ALTER TABLE analytics_event ADD CONSTRAINT {} {}").format(
                sql.Identifier(constraint), sql.SQL(constraint_definition)))
        else:
            conn.execute(sql.SQL("DROP INDEX {}").format(sql.Identifier(index)))
            again.append(sql.SQL(definition))
    return again


def _check_references(conn, workspace_id):
    """Foreign keys are not checked during the load (see ``load``): check them here."""
    broken = conn.execute(
        "SELECT count(*) FILTER (WHERE p.id IS NULL OR p.workspace_id <> e.workspace_id), "
        "count(*) FILTER (WHERE e.group_0_id IS NOT NULL AND g0.id IS NULL), "
        "count(*) FILTER (WHERE e.group_1_id IS NOT NULL AND g1.id IS NULL) "
        "FROM analytics_event e LEFT JOIN analytics_person p ON p.id = e.person_id "
        "LEFT JOIN analytics_group g0 ON g0.id = e.group_0_id "
        "LEFT JOIN analytics_group g1 ON g1.id = e.group_1_id WHERE e.workspace_id = %s",
        [workspace_id],
    ).fetchone()
    broken += conn.execute(
        "SELECT count(*) FROM analytics_membership m WHERE m.workspace_id = %(w)s AND ("
        " NOT EXISTS (SELECT FROM analytics_person p WHERE p.id = m.person_id)"
        " OR NOT EXISTS (SELECT FROM analytics_group g WHERE g.id = m.group_id"
        "   AND g.group_type_id = m.group_type_id)) "
        "UNION ALL SELECT count(*) FROM analytics_identity i WHERE i.workspace_id = %(w)s"
        " AND NOT EXISTS (SELECT FROM analytics_person p WHERE p.id = i.person_id)",
        {"w": workspace_id},
    ).fetchall()[0]
    if any(broken):
        raise AssertionError(f"the generated rows break foreign keys: {broken}")


def _fill_daily_activity(conn, workspace):
    """Daily activity as ingestion keeps it (``analytics.event_store``): a row per person,
    day of the workspace's time zone and group context."""
    groups = [sql.SQL("coalesce({}, 0)").format(sql.Identifier(f"group_{s}_id")) for s in range(GROUP_SLOTS)]
    columns = ["workspace_id", "person_id", "day", *(f"group_{s}" for s in range(GROUP_SLOTS)),
               "events", "first_at", "last_at"]
    conn.execute(
        sql.SQL(
            "INSERT INTO analytics_dailyactivity ({columns}) "
            "SELECT workspace_id, person_id, (timestamp AT TIME ZONE %(zone)s)::date, {groups}, "
            "count(*), min(timestamp), max(timestamp) FROM analytics_event "
            "WHERE workspace_id = %(workspace)s AND type = ANY(%(activity)s) "
            "GROUP BY {by}"
        ).format(
            columns=sql.SQL(", ").join(map(sql.Identifier, columns)),
            groups=sql.SQL(", ").join(groups),
            by=sql.SQL(", ").join(sql.SQL(str(n)) for n in range(1, 4 + GROUP_SLOTS)),
        ),
        {"zone": workspace.time_zone, "workspace": workspace.pk, "activity": list(ACTIVITY_TYPES)},
    )


def load(args, workspace, until):
    """Generate the workspace's people, groups, memberships and events and write them in
    one transaction, with COPY; returns the marker written."""
    company = workspace.group_types.get(name="company")
    team = workspace.group_types.get(name="team")
    assert (company.slot, team.slot) == (0, 1), "the questions read company from group_0"
    until_ms = int(until.timestamp() * 1000)
    started = time.perf_counter()
    cast = Cast(random.Random(args.seed), events=args.events, until=until_ms)
    activity = args.events - len(cast.schedule)
    if activity < 0:
        sys.exit(f"--events {args.events:,} is too few for the {len(cast.people):,} people's set-up calls")
    buckets, bits = cast.activity(activity)
    print(
        f"  invented {len(cast.companies):,} companies, {len(cast.teams):,} teams, "
        f"{len(cast.people):,} people ({len(cast.multi):,} in several companies, "
        f"{len(cast.leavers):,} removed, {sum(p.staff for p in cast.people)} staff) and "
        f"{len(cast.visitors):,} visitors; {len(cast.schedule):,} set-up calls and "
        f"{activity:,} of activity, in {time.perf_counter() - started:.0f} s"
    )
    with connect(args.database_url) as conn:
        with conn.transaction():
            # Foreign keys are checked once at the end (_check_references), not by a
            # trigger per row and key; the indexes are built at the end too.
            conn.execute("SET LOCAL session_replication_role = replica")
            conn.execute("SET LOCAL maintenance_work_mem = '1GB'")
            conn.execute("SET LOCAL max_parallel_maintenance_workers = 0")  # a shared machine
            everyone = len(cast.people) + len(cast.visitors)
            writer = Writer(
                cast, workspace_id=workspace.pk, company_type=company.pk, team_type=team.pk,
                person_pks=_reserve(conn, "analytics_person", everyone),
                group_pks=_reserve(conn, "analytics_group", len(cast.companies) + len(cast.teams)),
            )
            indexes = _drop_event_indexes(conn)
            step = time.perf_counter()
            _copy(conn, "analytics_event", Writer.EVENT_COLUMNS, writer.events(buckets, bits))
            del buckets
            print(f"  events written in {time.perf_counter() - step:.0f} s")
            _copy(conn, "analytics_person", ("id", "workspace_id", "user_id", "traits", "email",
                  "created_at", "last_seen_at", "several_without"), _lines(writer.people()))
            _copy(conn, "analytics_identity", ("workspace_id", "person_id", "kind", "value"),
                  _lines(writer.identities()))
            _copy(conn, "analytics_group", ("id", "workspace_id", "group_type_id", "key",
                  "properties", "created_at", "last_updated", "member_count", "last_active_at"),
                  _lines(writer.groups()))
            _copy(conn, "analytics_groupactivity", ("group_id", "group_type_id", "person_id",
                  "last_active_at"), _lines(writer.group_activity()))
            _copy(conn, "analytics_eventname", ("workspace_id", "name"), _lines(writer.event_names()))
            _copy(conn, "analytics_membership", ("workspace_id", "person_id", "group_id",
                  "group_type_id", "started_at", "ended_at"), _lines(writer.membership_rows()))
            step = time.perf_counter()
            for statement in indexes:
                conn.execute(statement)
            print(f"  {len(indexes)} event indexes built in {time.perf_counter() - step:.0f} s")
            step = time.perf_counter()
            _fill_daily_activity(conn, workspace)
            print(f"  daily activity worked out in {time.perf_counter() - step:.0f} s")
            _check_references(conn, workspace.pk)
            marker = {
                "events": args.events, "seed": args.seed, "until": until.isoformat(),
                "version": GENERATOR_VERSION, "workspace": workspace.pk,
            }
            name = dj_database_url.parse(args.database_url)["NAME"]
            conn.execute(sql.SQL("COMMENT ON DATABASE {} IS {}").format(
                sql.Identifier(name), sql.Literal(json.dumps({"bench_reports": marker}))))
    counts = writer.counts
    activity_events = sum(n for (kind, _), n in counts.items() if kind in ACTIVITY_TYPES)
    without = sum(n for (kind, has), n in counts.items() if kind in ACTIVITY_TYPES and not has)
    print(
        f"  {without / activity_events:.1%} of activity events (track, page, screen) carry no "
        f"company; {sum(1 for s in writer.several if s):,} people are flagged for it"
    )
    return marker


def reusable_marker(args):
    """The marker of the data asked for if the database holds it already. Otherwise the
    database is made again, empty (generating into a clean one keeps the event table
    free of the dead rows of an earlier workspace), and None; a database holding any
    other workspace is refused."""
    if create_database_if_missing(args.database_url):
        return None
    with connect(args.database_url) as conn:
        marker = marker_of(conn)
        wanted = {"events": args.events, "seed": args.seed, "version": GENERATOR_VERSION}
        fits = all(marker.get(key) == value for key, value in wanted.items())
        if args.until:
            fits = fits and marker.get("until", "").startswith(args.until.isoformat())
        if fits and not args.regenerate:
            return marker
        if conn.execute("SELECT to_regclass('analytics_workspace')").fetchone()[0]:
            others = conn.execute(
                "SELECT count(*) FROM analytics_workspace WHERE slug <> %s", [SLUG]
            ).fetchone()[0]
            if others:
                sys.exit(f"{dj_database_url.parse(args.database_url)['NAME']} holds other "
                         "workspaces: give the benchmark a database of its own")
    print("Dropping the benchmark database of an earlier run, to generate it again.")
    drop_database(args.database_url)
    create_database_if_missing(args.database_url)
    return None


def workspace_of_size(args, marker):
    """The benchmark workspace and the moment its data ends: the marker's, or generated."""
    from analytics.demo_data import INTERNAL_DOMAIN
    from analytics.models import User, Workspace

    if marker:
        workspace = Workspace.objects.filter(pk=marker["workspace"], slug=SLUG).first()
        if workspace is None:
            sys.exit("The database's marker names a workspace it does not hold: use --regenerate.")
        print(f"Reusing the workspace {SLUG!r} of an earlier run ({args.events:,} events, "
              f"seed {args.seed}, up to {marker['until']}).")
        return workspace, datetime.fromisoformat(marker["until"])
    owner = User.objects.filter(username=OWNER).first() or User.objects.create_user(
        username=OWNER, email=OWNER, password=None
    )
    workspace, _ = Workspace.create(
        name="Reports benchmark", owner=owner, slug=SLUG, group_types=("company", "team")
    )
    workspace.time_zone = TIME_ZONE
    workspace.internal_domains = [INTERNAL_DOMAIN]
    workspace.save()
    if args.until:
        until = datetime.combine(args.until, datetime.max.time(), ZoneInfo(TIME_ZONE))
        until = until.astimezone(UTC).replace(microsecond=0)
    else:
        until = datetime.now(UTC).replace(second=0, microsecond=0)
    print(f"Generating {args.events:,} events over the {WINDOW_DAYS} days up to {until:%Y-%m-%d %H:%M} UTC...")
    started = time.perf_counter()
    load(args, workspace, until)
    print(f"  generated in {time.perf_counter() - started:.0f} s")
    return workspace, until


def vacuum(url):
    started = time.perf_counter()
    with connect(url) as conn:
        conn.execute("VACUUM ANALYZE")
    print(f"VACUUM ANALYZE in {time.perf_counter() - started:.1f} s.")


def describe(conn, workspace):
    row = conn.execute(
        "SELECT count(*), count(*) FILTER (WHERE type IN ('track', 'page', 'screen')), "
        "count(*) FILTER (WHERE type IN ('track', 'page', 'screen') AND group_0_id IS NULL), "
        "count(DISTINCT name) FILTER (WHERE type = 'track') "
        "FROM analytics_event WHERE workspace_id = %s", [workspace.pk]
    ).fetchone()
    events, activity, without, names = row
    types = conn.execute(
        "SELECT type, count(*) FROM analytics_event WHERE workspace_id = %s GROUP BY 1 "
        "ORDER BY 2 DESC", [workspace.pk]
    ).fetchall()
    people, several = conn.execute(
        "SELECT count(*), count(*) FILTER (WHERE several_without <> 0) FROM analytics_person "
        "WHERE workspace_id = %s", [workspace.pk]
    ).fetchone()
    groups = conn.execute(
        "SELECT t.name, count(g.id), max(g.member_count) FROM analytics_grouptype t "
        "LEFT JOIN analytics_group g ON g.group_type_id = t.id WHERE t.workspace_id = %s "
        "GROUP BY t.name, t.slot ORDER BY t.slot", [workspace.pk]
    ).fetchall()
    memberships, ended = conn.execute(
        "SELECT count(*), count(ended_at) FROM analytics_membership WHERE workspace_id = %s",
        [workspace.pk]
    ).fetchone()
    sizes = conn.execute(
        "SELECT pg_size_pretty(pg_database_size(current_database())), "
        "pg_size_pretty(pg_table_size('analytics_event')), "
        "pg_size_pretty(pg_indexes_size('analytics_event'))"
    ).fetchone()
    print(
        f"Workspace: {events:,} events ({', '.join(f'{n:,} {t}' for t, n in types)}; "
        f"{names} track names), {people:,} people ({several:,} flagged in several companies), "
        + ", ".join(f"{n:,} {name} groups (largest {biggest:,} members)" for name, n, biggest in groups)
        + f", {memberships:,} memberships ({ended:,} ended)."
    )
    print(
        f"  {without / max(activity, 1):.1%} of activity events carry no company. Disk: database "
        f"{sizes[0]}, events {sizes[1]} and their indexes {sizes[2]}."
    )


# --- the questions --------------------------------------------------------------------
#
# Each is asked of the workspace in its time zone, over the days up to the last of the
# data, and counted by company (the group type in slot 0: the ``group_0_id`` column).
# The hand-written SQL reads the raw event table and its indexes as they are.


@dataclass(frozen=True)
class Question:
    key: str
    title: str
    params: dict  # what it asks, in the words of a report's parameters (for ``ours``)
    query: sql.Composed
    values: dict
    canonical: Callable  # rows -> the answer, as plain values both answers must match
    summary: Callable  # the answer -> a line of figures


TREND = sql.SQL("""
SELECT d.day::date, coalesce(active.companies, 0)
FROM generate_series(%(first_day)s::timestamp, %(last_day)s::timestamp, interval '1 day') AS d(day)
LEFT JOIN (
    SELECT (timestamp AT TIME ZONE %(time_zone)s)::date AS day, count(DISTINCT {slot}) AS companies
    FROM analytics_event
    WHERE workspace_id = %(workspace)s AND timestamp >= %(start)s AND timestamp < %(end)s
      AND type = 'track' AND name = %(event)s AND {slot} IS NOT NULL
    GROUP BY 1
) AS active ON active.day = d.day::date
ORDER BY d.day
""")

# For every first step in the range, the earliest second step at or after it and the
# earliest third step at or after that: taking the earliest at each step is never worse.
# Both come from running minimums over each company's step events, latest first, in one
# sort: ``next3`` (the earliest third step at or after an event) only grows with time,
# so the smallest over the second steps at or after a first one is the one after the
# earliest of them. A company reaches step k if any of its attempts does.
FUNNEL = sql.SQL("""
WITH steps AS (
    SELECT {slot} AS company, timestamp AS at,
           CASE name WHEN %(step1)s THEN 1 WHEN %(step2)s THEN 2 ELSE 3 END AS step
    FROM analytics_event
    WHERE workspace_id = %(workspace)s AND type = 'track' AND {slot} IS NOT NULL
      AND name IN (%(step1)s, %(step2)s, %(step3)s)
      AND timestamp >= %(start)s AND timestamp < %(end)s + %(window)s
), with_next3 AS (
    SELECT company, at, step, min(at) FILTER (WHERE step = 3) OVER later AS next3
    FROM steps WINDOW later AS (PARTITION BY company ORDER BY at DESC)
), attempts AS (
    SELECT company, at, step,
           min(at) FILTER (WHERE step = 2) OVER later AS next2,
           min(next3) FILTER (WHERE step = 2) OVER later AS next3
    FROM with_next3 WINDOW later AS (PARTITION BY company ORDER BY at DESC)
)
SELECT count(DISTINCT company),
       count(DISTINCT company) FILTER (WHERE next2 <= at + %(window)s),
       count(DISTINCT company) FILTER (WHERE next3 <= at + %(window)s)
FROM attempts WHERE step = 1 AND at < %(end)s
""")

# Cohorts from one pass over signed_up; then, for each cohort company and week, whether
# it has any activity event: a probe of the (company, time) index that stops at the first
# event, rather than aggregating twelve weeks of every company's events.
RETENTION = sql.SQL("""
WITH cohorts AS (
    -- a company's cohort is the week of its first signed_up ever, if among the weeks asked
    SELECT {slot} AS company, date_trunc('week', min(timestamp) AT TIME ZONE %(time_zone)s) AS week
    FROM analytics_event
    WHERE workspace_id = %(workspace)s AND type = 'track' AND name = %(start_event)s
      AND {slot} IS NOT NULL AND timestamp < %(end)s
    GROUP BY 1 HAVING min(timestamp) >= %(start)s
), cells AS (
    SELECT company, week, k,
           (week + k * interval '1 week') AT TIME ZONE %(time_zone)s AS since,
           (week + (k + 1) * interval '1 week') AT TIME ZONE %(time_zone)s AS until
    FROM cohorts, generate_series(0, 11) AS k
    WHERE (week + k * interval '1 week') AT TIME ZONE %(time_zone)s < %(end)s
)
SELECT week::date, k, count(*) FROM cells
WHERE EXISTS (
    SELECT FROM analytics_event e
    WHERE e.{slot} = cells.company AND e.timestamp >= cells.since AND e.timestamp < cells.until
      AND e.workspace_id = %(workspace)s AND e.type = ANY(%(activity)s)
)
GROUP BY 1, 2 ORDER BY 1, 2
""")

# Strict: the companies named by activity events. Over-counted: also every company
# each activity event without one could belong to, i.e. every company its person was a
# member of at that moment (the multi-company banner's warning, in figures). The events
# are read once (the CTE, used twice, is kept); only those without a company look for
# memberships. (A LEFT JOIN of every event to memberships reads once and keeps nothing,
# but costs twice the CPU: every event probes the hash.)
ACTIVE = sql.SQL("""
WITH activity AS (
    SELECT (timestamp AT TIME ZONE %(time_zone)s)::date AS day, {slot} AS company,
           person_id, timestamp
    FROM analytics_event
    WHERE workspace_id = %(workspace)s AND type = ANY(%(activity)s)
      AND timestamp >= %(start)s AND timestamp < %(end)s
), credited AS (
    SELECT day, company, true AS named FROM activity WHERE company IS NOT NULL
    UNION ALL
    SELECT activity.day, m.group_id, false
    FROM activity JOIN analytics_membership m ON m.person_id = activity.person_id
     AND m.group_type_id = %(group_type)s AND m.started_at <= activity.timestamp
     AND (m.ended_at IS NULL OR activity.timestamp < m.ended_at)
    WHERE activity.company IS NULL
), per_day AS (
    SELECT day, company, bool_or(named) AS named FROM credited GROUP BY day, company
)
SELECT d.day::date, count(per_day.company) FILTER (WHERE per_day.named), count(per_day.company)
FROM generate_series(%(first_day)s::timestamp, %(last_day)s::timestamp, interval '1 day') AS d(day)
LEFT JOIN per_day ON per_day.day = d.day::date
GROUP BY d.day ORDER BY d.day
""")


def questions(workspace, until):
    """The four questions, over the 90 days (12 weeks) up to the data's last day."""
    company = workspace.group_types.get(slot=0)
    zone = ZoneInfo(workspace.time_zone)
    today = until.astimezone(zone).date()

    def midnight(day):
        return datetime.combine(day, datetime.min.time(), zone)

    first_day = today - timedelta(days=89)
    days = {"first_day": first_day, "last_day": today, "start": midnight(first_day),
            "end": midnight(today + timedelta(days=1))}
    first_week = today - timedelta(days=today.weekday(), weeks=11)
    weeks = {"first_week": first_week, "start": midnight(first_week),
             "end": midnight(first_week + timedelta(weeks=12))}
    common = {"workspace": workspace.pk, "time_zone": workspace.time_zone}
    by = {"count_by": company.name, "slot": company.slot, "time_zone": workspace.time_zone}
    slot = sql.Identifier(f"group_{company.slot}_id")
    window = timedelta(days=14)
    steps = (SIGNED_UP, PROJECT_CREATED, INVITE_SENT)
    return [
        Question(
            "trend", "(a) trend: feature_used, companies a day, 90 days",
            {**by, "event": "feature_used", "interval": "day", **days},
            TREND.format(slot=slot), {**common, **days, "event": "feature_used"},
            lambda rows: [(day.isoformat(), n) for day, n in rows],
            lambda answer: _spread([n for _, n in answer], "companies a day"),
        ),
        Question(
            "funnel", "(b) funnel: signed_up > project_created > invite_sent, 14 days",
            {**by, "steps": steps, "window": window, **days},
            FUNNEL.format(slot=slot),
            {**common, **days, "window": window, **{f"step{n}": s for n, s in enumerate(steps, 1)}},
            lambda rows: list(rows[0]),
            lambda answer: " > ".join(f"{n:,}" for n in answer) + " companies",
        ),
        Question(
            "retention", "(c) retention: after first signed_up, 12 weeks",
            {**by, "start_event": SIGNED_UP, "returning": ACTIVITY_TYPES, "interval": "week",
             "periods": 12, **weeks},
            RETENTION.format(slot=slot),
            {**common, **weeks, "start_event": SIGNED_UP, "activity": list(ACTIVITY_TYPES)},
            lambda rows: _retention(rows, first_week),
            lambda answer: "cohorts of " + ", ".join(str(cells[0]) for _, cells in answer)
            + "; week 1 kept " + _share(sum(c[1] for _, c in answer[:-1]), sum(c[0] for _, c in answer[:-1])),
        ),
        Question(
            "active", "(d) active companies a day, strict / over-counted, 90 days",
            {**by, "activity": ACTIVITY_TYPES, "interval": "day", **days},
            ACTIVE.format(slot=slot),
            {**common, **days, "activity": list(ACTIVITY_TYPES), "group_type": company.pk},
            lambda rows: [(day.isoformat(), strict, over) for day, strict, over in rows],
            lambda answer: _spread([s for _, s, _ in answer], "strict") + "; over-counted "
            + _share(sum(o for *_, o in answer) - sum(s for _, s, _ in answer), sum(s for _, s, _ in answer))
            + " more",
        ),
    ]


def _retention(rows, first_week):
    """[(cohort week, [companies active k weeks later, for k = 0 up to the last week])]."""
    cells = {(week, k): n for week, k, n in rows}
    answer = []
    for w in range(12):
        week = first_week + timedelta(weeks=w)
        answer.append((week.isoformat(), [cells.get((week, k), 0) for k in range(12 - w)]))
    return answer


def _spread(values, unit):
    return f"{min(values):,} to {max(values):,} {unit} (mean {sum(values) / len(values):,.0f})"


def _share(part, whole):
    return f"{part / whole:.1%}" if whole else "—"


def checksum(answer):
    return hashlib.sha256(json.dumps(answer).encode()).hexdigest()[:12]


def rows_of(answer):
    return sum(len(item[1]) if isinstance(item, tuple) and isinstance(item[1], list) else 1
               for item in answer)


def ours(question, workspace):
    """Groupsite's own answer to ``question`` about ``workspace``, computed by its report
    code (``analytics.reports``, on Django's default database), as ``question.canonical``
    writes the hand-written one. The hand-written SQL counts the staff at the internal
    domain too, so ours is asked to include them."""
    from analytics import reports

    p = question.params
    common = {"count_by": p["count_by"], "exclude_internal": False}
    if question.key == "retention":
        weeks = reports.Period(p["first_week"], p["first_week"] + timedelta(weeks=12, days=-1))
        result = reports.retention(workspace, reports.Retention(
            period=weeks, start_event=p["start_event"], return_event="", interval="week",
            periods=11, **common,
        ))
        # Week 0 is the cohort itself; the hand-written rows stop at the last week asked.
        return [
            (cohort.start.isoformat(), [cohort.size, *(n or 0 for n in cohort.returned)][: 12 - w])
            for w, cohort in enumerate(result.cohorts)
        ]
    days = reports.Period(p["first_day"], p["last_day"])
    if question.key == "trend":
        result = reports.trends(workspace, reports.Trend(
            period=days, events=(p["event"],), interval="day", **common
        ))
        return [(day.isoformat(), n) for day, n in zip(result.dates, result.series[0].values)]
    if question.key == "funnel":
        result = reports.funnel(workspace, reports.Funnel(
            period=days, steps=tuple(p["steps"]), window_days=p["window"].days, **common
        ))
        return [step.count for step in result.steps]
    result = reports.active_groups(workspace, reports.ActiveGroups(period=days, interval="day", **common))
    return [(day.isoformat(), *pair) for day, *pair in zip(result.dates, result.strict, result.overcount)]


# --- timing ---------------------------------------------------------------------------


def best_of(run, rounds, *, warm_up=True):
    """(the best time in ms of ``rounds`` runs after a warm-up one, the last answer)."""
    if warm_up:
        run()
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        answer = run()
        times.append((time.perf_counter() - started) * 1000)
    return min(times), answer


def first_difference(ours_answer, theirs):
    if len(ours_answer) != len(theirs):
        return f"{len(ours_answer)} items against {len(theirs)}"
    for n, (a, b) in enumerate(zip(ours_answer, theirs)):
        if a != b:
            return f"item {n}: ours {a!r}, hand-written {b!r}"
    return "none"


def cpu_time(conn, question):
    """(CPU ms, elapsed ms) of the server process running the question's query alone,
    without parallel workers, from PostgreSQL's statement statistics (those of parsing,
    planning and executing it)."""
    found = []

    def keep(diagnostic):
        if diagnostic.message_primary.endswith("STATISTICS"):
            found.append(diagnostic.message_detail)

    conn.execute("SET client_min_messages = log")
    conn.execute("SET max_parallel_workers_per_gather = 0")
    conn.execute("SET log_statement_stats = on")
    conn.add_notice_handler(keep)
    try:
        conn.execute(question.query, question.values).fetchall()
    finally:
        conn.remove_notice_handler(keep)
        conn.execute("RESET log_statement_stats")
        conn.execute("RESET max_parallel_workers_per_gather")
        conn.execute("RESET client_min_messages")
    cpu = elapsed = 0.0
    for stats in found:
        user, system, seconds = re.search(
            r"([\d.]+) s user, ([\d.]+) s system, ([\d.]+) s elapsed", stats
        ).groups()
        cpu, elapsed = cpu + float(user) + float(system), elapsed + float(seconds)
    return cpu * 1000, elapsed * 1000


def explain(conn, question):
    plan = conn.execute(
        sql.SQL("EXPLAIN (ANALYZE, BUFFERS) ") + question.query, question.values
    ).fetchall()
    print(f"\n{question.title}\n" + "\n".join(line for (line,) in plan))


def configure(conn, args):
    """The same session settings for the hand-written queries and for ours (Django's
    connection)."""
    from django.db import connection

    settings = {"jit": "on" if args.jit else "off"}
    if args.work_mem:
        settings["work_mem"] = args.work_mem
    with connection.cursor() as cursor:
        for name, value in settings.items():
            conn.execute("SELECT set_config(%s, %s, false)", [name, value])
            cursor.execute("SELECT set_config(%s, %s, false)", [name, value])


def main():
    args = parse_args()
    marker = reusable_marker(args)
    setup_django(args.database_url, "benchmark-only-secret-key")
    workspace, until = workspace_of_size(args, marker)
    vacuum(args.database_url)
    asked = [q for q in questions(workspace, until) if q.key in args.questions.split(",")]
    with connect(args.database_url) as conn:
        describe(conn, workspace)
        configure(conn, args)
        settings = conn.execute(
            "SELECT current_setting('work_mem'), current_setting('max_parallel_workers_per_gather'), "
            "current_setting('jit')"
        ).fetchone()
        print(f"Queries with work_mem {settings[0]}, {settings[1]} parallel workers per gather, "
              f"JIT {settings[2]}; best of {args.rounds} after a warm-up. Load average "
              f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} CPU(s).\n")
        print(f"{'question':62} {'ours (ms)':>10} {'hand-written (ms)':>18} {'ratio':>6} "
              f"{'rows':>5}  checksum")
        failures = []
        for question in asked:
            hand_ms, rows = best_of(
                lambda q=question: conn.execute(q.query, q.values).fetchall(), args.rounds
            )
            theirs = question.canonical(rows)
            ours_ms, ours_answer = best_of(lambda q=question: ours(q, workspace), args.rounds)
            shown, ratio = f"{ours_ms:.1f}", f"{ours_ms / hand_ms:.2f}"
            if ours_answer != theirs:
                failures.append(f"{question.key}: {first_difference(ours_answer, theirs)}")
            print(f"{question.title:62} {shown:>10} {hand_ms:18.1f} {ratio:>6} "
                  f"{rows_of(theirs):5d}  {checksum(theirs)}")
            print(f"  {question.summary(theirs)}")
            if args.cpu:
                cpu, elapsed = cpu_time(conn, question)
                print(f"  without parallel workers: {cpu:,.0f} ms of CPU in {elapsed:,.0f} ms")
        print(f"Load average {os.getloadavg()[0]:.1f} at the end.")
        if args.explain:
            for question in asked:
                explain(conn, question)
    if failures:
        sys.exit("Our answers differ from the hand-written ones:\n  " + "\n  ".join(failures))


if __name__ == "__main__":
    main()
