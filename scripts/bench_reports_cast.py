"""The reports benchmark's generated workspace (``scripts/bench_reports.py``): who is
in it and what they do when, as a ``Cast`` of companies, teams and people with their
schedules of calls. ``bench_reports_rows`` writes it as the rows ingestion would store."""

import bisect
from array import array
from dataclasses import dataclass, field
from datetime import UTC, datetime

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
        self.cum_sizes = running_totals(self.size_weights)
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
            "createdAt": iso(self.since - int(rng.uniform(30, 1500) * DAY)),
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
            "createdAt": iso(start if signs_up else start - int(rng.uniform(1, 700) * DAY)),
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
                anonymous_id=new_uuid(rng),
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
        cum = running_totals([p.activity * (p.end - p.start) for p in people])
        bits = (len(self.people) + len(self.visitors)).bit_length()
        buckets = [array("q") for _ in range(WINDOW_DAYS + 2)]
        moment, since = self.clock.moment, self.since
        for done in range(0, count, 1_000_000):
            for person in self.rng.choices(people, cum_weights=cum, k=min(1_000_000, count - done)):
                offset = person.home.offset if person.home else 1
                when = moment(person.start + 60 * SECOND, person.end - SECOND, offset)
                buckets[(when - since) // DAY].append(((when - since) << bits) | person.index)
        return buckets, bits


def running_totals(weights):
    total, totals = 0.0, []
    for weight in weights:
        total += weight
        totals.append(total)
    return totals


def new_uuid(rng):
    """A random (version 4) UUID as text, three times quicker than through ``uuid``."""
    h = "%032x" % rng.getrandbits(128)
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{'89ab'[int(h[16], 16) & 3]}{h[17:20]}-{h[20:]}"


def iso(ms):
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="milliseconds")
