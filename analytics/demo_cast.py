"""The demo's invented customer base and the schedule of its calls (``Cast``).

The customer base holds companies with teams, people who mostly belong to one company, a
share of people in several companies (as in Slack or GitHub), internal staff who joined
customers' accounts (the impersonation case), anonymous visitors (some of whom sign up
later) and people removed from their account. Their schedule (sign-ups, joining and
leaving accounts, upgrades, group calls sent again, activity, visits) is spread over the
``WINDOW_DAYS`` days up to ``until`` as people are active, and turned into Segment call
dicts. Only server-side events name their company (``context.groupId`` or
``context.groups``); the rest rely on implicit context, so the events of people in
several companies stay without a company, as they do in real data.
``analytics.demo_data`` sends the calls to ingestion.

The same random generator gives the same cast; timestamps are relative to ``until``.
"""

import bisect
import math
import random
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from operator import itemgetter

from analytics.demo_vocabulary import (
    APP_PAGE_WEIGHTS,
    APP_PAGES,
    APP_URL,
    BROWSER_LIBRARY,
    COMPANY_STEMS,
    COMPANY_SUFFIXES,
    COMPANY_WORDS,
    FIRST_NAMES,
    HOUR_CUM_WEIGHTS,
    INDUSTRIES,
    LAST_NAMES,
    MARKETING_PAGE_WEIGHTS,
    MARKETING_PAGES,
    MIN_SEATS,
    PLAN_WEIGHTS_BY_SIZE,
    PLANS,
    REFERRERS,
    ROLE_WEIGHTS,
    ROLES,
    SEAT_PRICES,
    SERVER_LIBRARY,
    STAFF_TITLES,
    TEAM_NAMES,
    TITLES,
    TLDS,
    TRACK_EVENTS,
    TRACK_WEIGHTS,
    USER_AGENTS,
)

WINDOW_DAYS = 90
DAY = 86400.0
HOUR = 3600.0

# Shares of the customer base; see ``Cast``.
MULTI_COMPANY_SHARE = 0.08
REMOVED_SHARE = 0.02
SIGNED_UP_AFTER_VISITS_SHARE = 0.25
UPGRADED_COMPANY_SHARE = 0.05
VISITORS_PER_PERSON = 0.05
PAGE_SHARE = 0.2

# How busy each local weekday is (Monday first), and how much busier the last day of the
# window is than its first: the product grows.
WEEKDAY_WEIGHTS = (1.0, 1.05, 1.05, 1.0, 0.85, 0.14, 0.1)
GROWTH = 2.0
# People already customers when the window starts; the others sign up during it.
EXISTING_SHARE = 0.45

# Kinds of scheduled call.
IDENTIFY, JOIN, LEAVE, UPGRADE, ACTIVITY, VISIT, REFRESH = range(7)


@dataclass(eq=False)
class _Company:
    key: str
    domain: str
    traits: dict
    utc_offset: int
    created: float
    founder: "_Person | None" = None
    teams: list = field(default_factory=list)
    seats: int = 0  # everyone who ever joined it


@dataclass(eq=False)
class _Team:
    key: str
    name: str
    company: _Company
    lead: "_Person | None" = None  # its first member


@dataclass(eq=False)
class _Person:
    user_id: str
    traits: dict
    home: _Company
    start: float
    end: float
    activity: float
    user_agent: str
    number: int
    seed: int  # of the random stream of its activity
    created: float  # the account's creation: ``start`` for those who signed up in the window
    existing: bool  # a customer already when the window starts
    team: _Team | None = None
    anonymous_id: str = ""
    staff: bool = False


@dataclass(eq=False)
class _Visitor:
    anonymous_id: str
    user_agent: str


class Cast:
    """The invented customer base and the schedule of its calls, in time order."""

    def __init__(self, rng, *, companies, people, internal_domain, until):
        self.rng = rng
        self.until = until
        self.since = until - WINDOW_DAYS * DAY
        self.day_weights = {}  # UTC offset -> (first day, cumulative weights of the days)
        self.keys = set()
        self.domains = set()
        self.schedule = []  # (timestamp, kind, who, what)
        self.multi_company = set()
        self.person_count = 0
        self.companies = [self._company() for _ in range(companies)]
        self.internal = self._company(
            name=internal_domain.split(".")[0].capitalize(), domain=internal_domain
        )
        self.internal.traits.update(industry="Software")
        staff_count = max(2, min(25, people // 200))
        self.people = self._customers(max(1, people - staff_count))
        self.staff = [self._staff() for _ in range(staff_count)]
        self.people += self.staff
        self.teams = self._teams()
        self._multi_company()
        self._settle_company_traits()
        self.removed = self._removals()
        self._upgrades()
        self._refreshes()
        self.visitors = self._visitors()

    # The cast ------------------------------------------------------------------

    def _unique(self, make):
        while (key := make()) in self.keys:
            pass
        self.keys.add(key)
        return key

    def _company(self, name=None, domain=None):
        rng = self.rng
        if name is None:
            first, stem = rng.choice(COMPANY_WORDS), rng.choice(COMPANY_STEMS)
            name = f"{first} {stem} {rng.choice(COMPANY_SUFFIXES)}"
            base, tld, n = (first + stem).lower(), rng.choice(TLDS), 1
            domain = base + tld
            while domain in self.domains:
                n += 1
                domain = f"{base}{n}{tld}"
        self.domains.add(domain)
        employees = int(rng.lognormvariate(3.5, 1.4)) + 1
        created = self.since - rng.uniform(30, 1500) * DAY
        traits = {
            "name": name,
            "plan": "free",  # plan and mrr follow the account's size: _settle_company_traits
            "mrr": 0,
            "industry": rng.choice(INDUSTRIES),
            "employees": employees,
            "website": f"https://{domain}",
            "createdAt": _iso(created),
        }
        key = self._unique(lambda: f"acc_{rng.getrandbits(48):012x}")
        return _Company(
            key=key, domain=domain, traits=traits, utc_offset=rng.randrange(-8, 10), created=created
        )

    def _person(self, home, start, created, *, existing, staff=False):
        rng = self.rng
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        local = f"{first}.{last}".lower()
        if rng.random() < 0.2:
            local += str(rng.randrange(2, 99))
        traits = {
            "email": f"{local}@{home.domain}",
            "name": f"{first} {last}",
            "firstName": first,
            "lastName": last,
            "title": rng.choice(STAFF_TITLES if staff else TITLES),
            "role": "admin" if home.founder is None else rng.choices(ROLES, ROLE_WEIGHTS)[0],
            "createdAt": _iso(created),
        }
        person = _Person(
            user_id=self._unique(lambda: f"usr_{rng.getrandbits(48):012x}"),
            traits=traits,
            home=home,
            start=start,
            end=self.until,
            activity=rng.lognormvariate(0, 1) * (0.5 if staff else 1),
            user_agent=rng.choice(USER_AGENTS),
            number=self.person_count,
            seed=rng.getrandbits(64),
            created=created,
            existing=existing,
            staff=staff,
        )
        self.person_count += 1
        if home.founder is None:
            home.founder = person
        self._add(start, IDENTIFY, person)
        self._add(start + 1, JOIN, person, home)
        return person

    def _arrival(self, home):
        """(first seen, account created, was a customer already) of someone joining ``home``.

        Those who were customers before the window are first seen at their first visit
        in it, soon for most; the others sign up during it, more of them lately, and
        never before the person who brought their company.
        """
        rng = self.rng
        founder = home.founder
        existing = rng.random() < EXISTING_SHARE and (founder is None or founder.existing)
        if existing:
            earliest = max(founder.created if founder else home.created, self.since - 700 * DAY)
            created = rng.uniform(earliest, self.since - DAY)
            span = min((WINDOW_DAYS - 1) * DAY, HOUR + rng.expovariate(1 / (8 * DAY)))
            return self._moment(self.since, self.since + span, home.utc_offset), created, True
        earliest = founder.start + 600 if founder else self.since
        start = self._moment(earliest, self.until - HOUR, home.utc_offset)
        return start, start, False

    def _customers(self, count):
        rng = self.rng
        companies = self.companies
        # Founders first, one a company, then company sizes with a long tail.
        weights = [rng.paretovariate(1.2) for _ in companies]
        homes = companies[:count]
        homes += rng.choices(companies, weights, k=max(0, count - len(companies)))
        people = []
        for home in homes:
            start, created, existing = self._arrival(home)
            people.append(self._person(home, start, created, existing=existing))
            if (
                not existing and start > self.since + 3 * DAY
                and rng.random() < SIGNED_UP_AFTER_VISITS_SHARE
            ):
                self._visits_before_signup(people[-1])
        # With more companies than people, people sign up to the companies left over.
        for n, company in enumerate(companies[count:]):
            person = people[n % len(people)]
            self._join_later(person, company)
        return people

    def _staff(self):
        rng = self.rng
        internal = self.internal
        start = self._moment(self.since, self.since + 3 * DAY, internal.utc_offset)
        created = rng.uniform(internal.created, self.since - DAY)
        person = self._person(internal, start, created, existing=True, staff=True)
        customers = self.companies
        for company in rng.sample(customers, min(len(customers), rng.randrange(2, 11))):
            joined = self._join_later(person, company)
            if rng.random() < 0.5 and joined + 5 * DAY < self.until:
                # Left again once the customer's issue was solved.
                left = self._moment(joined + HOUR, joined + 5 * DAY, internal.utc_offset)
                self._add(left, LEAVE, person, company)
        return person

    def _join_later(self, person, company):
        earliest = person.start + 2
        if company.founder is not None and not company.founder.existing:
            earliest = max(earliest, company.founder.start + 600)  # once the company exists
        latest = max(earliest + 60, person.start + (person.end - person.start) * 0.8)
        joined = self._moment(earliest, latest, person.home.utc_offset)
        self._add(joined, JOIN, person, company)
        self.multi_company.add(person)
        return joined

    def _visits_before_signup(self, person):
        person.anonymous_id = _uuid(self.rng)
        offset = person.home.utc_offset
        for _ in range(self.rng.randrange(1, 5)):
            moment = self._moment(person.start - 3 * DAY, person.start - 120, offset)
            self._add(moment, VISIT, person)

    def _teams(self):
        rng = self.rng
        members = {}
        for person in self.people:
            members.setdefault(person.home, []).append(person)
        teams = []
        for company, people in members.items():
            names = rng.sample(TEAM_NAMES, min(len(TEAM_NAMES), math.ceil(len(people) / 6)))
            company.teams = [
                _Team(f"{company.key}-{name.lower().replace(' ', '-')}", name, company)
                for name in names
            ]
            teams += company.teams
            for n, person in enumerate(people):
                person.team = company.teams[n] if n < len(names) else rng.choice(company.teams)
                if person.team.lead is None:
                    person.team.lead = person
                self._add(person.start + 2, JOIN, person, person.team)
        return teams

    def _multi_company(self):
        """Customers who also work in other customers' accounts, as in Slack or GitHub."""
        rng = self.rng
        companies = self.companies
        if len(companies) < 2:
            return
        for person in self.people:
            if person.staff or rng.random() >= MULTI_COMPANY_SHARE:
                continue
            for _ in range(rng.choice((1, 1, 1, 2, 2, 3))):
                other = rng.choice(companies)
                if other is not person.home:
                    self._join_later(person, other)

    def _settle_company_traits(self):
        """Traits that agree with the data: at least as many employees as people who
        joined, a plan for the account's size and the MRR it bills, and a creation date
        no later than the first call of a company that signed up in the window."""
        rng = self.rng
        joined = {}
        for _, kind, who, what in self.schedule:
            if kind == JOIN and isinstance(what, _Company):
                joined.setdefault(what, set()).add(who)
        for company in [*self.companies, self.internal]:
            traits = company.traits
            company.seats = seats = len(joined.get(company, ()))
            traits["employees"] = max(traits["employees"], math.ceil(seats * rng.uniform(1.2, 4)))
            size = 0 if seats <= 1 else 1 if seats <= 5 else 2 if seats <= 20 else 3
            traits["plan"] = rng.choices(PLANS, PLAN_WEIGHTS_BY_SIZE[size])[0]
            traits["mrr"] = _mrr(traits["plan"], seats)
            founder = company.founder
            if founder is not None and not founder.existing:
                company.created = founder.start
                traits["createdAt"] = _iso(company.created)

    def _removals(self):
        """People removed from their only account ("Account Removed User"): their last call."""
        removed = []
        for person in self.people:
            if (
                person.staff or person in self.multi_company or person.home.founder is person
                or person.end - person.start < 4 * DAY or self.rng.random() >= REMOVED_SHARE
            ):
                continue
            stay = person.end - person.start
            person.end = self._moment(
                person.start + stay * 0.5, person.start + stay * 0.95, person.home.utc_offset
            )
            self._add(person.end, LEAVE, person, person.home)
            removed.append(person)
        return removed

    def _upgrades(self):
        for company in self.companies:
            founder = company.founder
            if not founder or founder.end - founder.start < 2 * DAY:
                continue
            if company.traits["plan"] != PLANS[-1] and self.rng.random() < UPGRADED_COMPANY_SHARE:
                moment = self._moment(founder.start + DAY, founder.end - HOUR, company.utc_offset)
                self._add(moment, UPGRADE, founder, company)

    def _refreshes(self):
        """Group calls sent again as people log in (the B2B spec asks for one at each
        login), so that groups were last updated at any time, busier ones lately."""
        rng = self.rng
        for company in self.companies:
            founder = company.founder
            if founder is not None:
                for _ in range(rng.randrange(0, 3) + min(8, company.seats // 3)):
                    moment = self._moment(founder.start + HOUR, founder.end, company.utc_offset)
                    self._add(moment, REFRESH, founder, company)
        for team in self.teams:
            lead = team.lead
            for _ in range(rng.randrange(0, 3)):
                moment = self._moment(lead.start + HOUR, lead.end - 1, team.company.utc_offset)
                self._add(moment, REFRESH, lead, team)

    def _visitors(self):
        rng = self.rng
        visitors = []
        for _ in range(int(len(self.people) * VISITORS_PER_PERSON)):
            visitor = _Visitor(_uuid(rng), rng.choice(USER_AGENTS))
            visitors.append(visitor)
            offset = rng.randrange(-8, 10)
            for _ in range(rng.randrange(1, 4)):
                self._add(self._moment(self.since, self.until, offset), VISIT, visitor)
        return visitors

    # Activity --------------------------------------------------------------------

    def _add(self, moment, kind, who, what=None):
        self.schedule.append((moment, kind, who, what))

    def add_activity(self, count):
        """Spread ``count`` events over people, by how active and how long there they were."""
        people = [p for p in self.people if p.end - p.start > 120]
        if people and count > 0:
            weights = [p.activity * (p.end - p.start) for p in people]
            moment = self._moment
            for person in self.rng.choices(people, weights, k=count):
                when = moment(person.start + 60, person.end - 1, person.home.utc_offset)
                self._add(when, ACTIVITY, person)
        self.schedule.sort(key=itemgetter(0))

    def _moment(self, start, end, utc_offset):
        """A moment between ``start`` and ``end`` as people at ``utc_offset`` are active:
        on weekdays far more than at weekends, in working hours, and more in the recent
        weeks than in the first (``GROWTH``).

        Always four draws whatever the dates, so a seed gives the same data whenever it
        runs.
        """
        rng = self.rng
        pick, hour_pick, within, fallback = rng.random(), rng.random(), rng.random(), rng.random()
        if end <= start:
            return start
        first, cumulative = self._day_weights(utc_offset)
        shift = utc_offset * HOUR
        last = len(cumulative) - 1
        a = min(max(int((start + shift) // DAY) - first, 0), last)
        b = min(max(int((end + shift) // DAY) - first, 0), last)
        low = cumulative[a - 1] if a else 0.0
        target = low + pick * (cumulative[b] - low)
        day = first + min(b, bisect.bisect_left(cumulative, target, a, b + 1))
        hour = bisect.bisect_right(HOUR_CUM_WEIGHTS, hour_pick * HOUR_CUM_WEIGHTS[-1])
        moment = day * DAY + (hour + within) * HOUR - shift
        if start <= moment <= end:
            return moment
        # An hour outside the range on its first or last day: any moment of the range.
        return start + fallback * (end - start)

    def _day_weights(self, utc_offset):
        """(first day, cumulative weights of the days from it), days counted from 1970 in
        local time, from a few days before the window to its end."""
        if utc_offset not in self.day_weights:
            shift = utc_offset * HOUR
            first = int((self.since + shift) // DAY) - 4
            cumulative, total = [], 0.0
            for day in range(first, int((self.until + shift) // DAY) + 1):
                progress = (day * DAY - shift - self.since) / (self.until - self.since)
                weekday = (day + 3) % 7  # Monday is 0; 1 January 1970 was a Thursday
                total += WEEKDAY_WEIGHTS[weekday] * GROWTH ** max(progress, 0.0)
                cumulative.append(total)
            self.day_weights[utc_offset] = first, cumulative
        return self.day_weights[utc_offset]

    # Calls -------------------------------------------------------------------------
    #
    # Sign-up, group and removal calls go first, in time order: they make the people,
    # groups and memberships. Activity (the track and page calls of people signed up)
    # goes second, each person's in time order and drawn from a random stream of its
    # own, so parallel workers can send it, each for a share of the people, with the
    # same result: an event's implicit context depends only on the memberships its
    # person had at its moment.

    def setup_calls(self, *, company_is_default):
        """Every call but activity, as Segment call dicts, in time order."""
        self.company_is_default = company_is_default
        build = {
            IDENTIFY: self._identify, JOIN: self._join, LEAVE: self._leave,
            UPGRADE: self._upgrade, VISIT: self._visit, REFRESH: self._join,
        }
        for moment, kind, who, what in self.schedule:
            if kind != ACTIVITY:
                yield _stamped(build[kind](who, what), moment, self.rng)

    def activity_calls(self):
        """The people's activity, in time order; each person draws from a stream of their own."""
        current, rngs = {}, {}  # person -> the companies they are in, as time goes
        for moment, kind, who, what in self.schedule:
            if not isinstance(who, _Person):
                continue
            if kind == JOIN and isinstance(what, _Company):
                current.setdefault(who, []).append(what)
            elif kind == LEAVE:
                current[who].remove(what)
            elif kind == ACTIVITY:
                rng = rngs.get(who) or rngs.setdefault(who, random.Random(who.seed))
                yield _stamped(self._activity(who, current[who], rng), moment, rng)

    def _identify(self, person, _):
        call = {"type": "identify", "userId": person.user_id, "traits": person.traits,
                "context": {"library": BROWSER_LIBRARY, "userAgent": person.user_agent}}
        if person.anonymous_id:
            call["anonymousId"] = person.anonymous_id
        return call

    def _company_context(self, company, team, rng):
        if self.company_is_default and team is None and rng.random() < 0.5:
            return {"groupId": company.key}
        groups = {"company": company.key}
        if team is not None:
            groups["team"] = team.key
        return {"groups": groups}

    def _join(self, person, group):
        if isinstance(group, _Team):
            return {"type": "group", "userId": person.user_id, "groupId": group.key,
                    "traits": {"name": group.name},
                    "context": {"library": SERVER_LIBRARY, "groupType": "team"}}
        context = {"library": SERVER_LIBRARY}
        if not self.company_is_default:
            context["groupType"] = "company"
        return {"type": "group", "userId": person.user_id, "groupId": group.key,
                "traits": dict(group.traits), "context": context}

    def _upgrade(self, person, company):
        plan = PLANS[min(len(PLANS) - 1, PLANS.index(company.traits["plan"]) + 1)]
        company.traits.update(plan=plan, mrr=_mrr(plan, company.seats))
        call = self._join(person, company)
        call["traits"] = {"plan": plan, "mrr": company.traits["mrr"]}
        return call

    def _leave(self, person, company):
        team = person.team if person.team and person.team.company is company else None
        context = self._company_context(company, team, self.rng)
        return {"type": "track", "userId": person.user_id, "event": "Account Removed User",
                "properties": {"account_id": company.key},
                "context": {"library": SERVER_LIBRARY, **context}}

    def _activity(self, person, companies, rng):
        if rng.random() < PAGE_SHARE:
            name, path = rng.choices(APP_PAGES, APP_PAGE_WEIGHTS)[0]
            return self._page(person.user_id, person, name, path.format(rng.randrange(1, 5000)))
        name, _, server, properties = rng.choices(TRACK_EVENTS, cum_weights=_TRACK_CUM)[0]
        call = {"type": "track", "userId": person.user_id, "event": name,
                "properties": properties(rng)}
        if server and companies:
            home = person.home in companies and rng.random() < 0.7
            company = person.home if home else rng.choice(companies)
            team = person.team if person.team and person.team.company is company else None
            team = team if rng.random() < 0.5 else None
            context = self._company_context(company, team, rng)
            call["context"] = {"library": SERVER_LIBRARY, **context}
        else:
            call["context"] = {"library": BROWSER_LIBRARY, "userAgent": person.user_agent}
        return call

    def _visit(self, visitor, _):
        name, path = self.rng.choices(MARKETING_PAGES, MARKETING_PAGE_WEIGHTS)[0]
        call = self._page(None, visitor, name, path.format(self.rng.randrange(1, 300)))
        call["properties"]["referrer"] = self.rng.choice(REFERRERS)
        return call

    def _page(self, user_id, who, name, path):
        call = {"type": "page", "name": name,
                "properties": {"path": path, "url": APP_URL + path, "title": name},
                "context": {"library": BROWSER_LIBRARY, "userAgent": who.user_agent}}
        if user_id:
            call["userId"] = user_id
        if who.anonymous_id:
            call["anonymousId"] = who.anonymous_id
        return call


def _stamped(call, moment, rng):
    call["messageId"] = _uuid(rng)
    call["timestamp"] = _iso(moment)
    return call


_TRACK_CUM = [sum(TRACK_WEIGHTS[: n + 1]) for n in range(len(TRACK_WEIGHTS))]


def _mrr(plan, seats):
    """What an account on ``plan`` with ``seats`` people bills a month."""
    return SEAT_PRICES[plan] * max(seats, MIN_SEATS[plan])


def _uuid(rng):
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def _iso(moment: float) -> str:
    return datetime.fromtimestamp(moment, UTC).isoformat(timespec="milliseconds")
