"""The rows ingestion would have stored for the reports benchmark's ``Cast``: events,
people, identities, groups, memberships, groups' activity and event names, as COPY text."""

import bisect
import sys
from datetime import date, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_reports_cast import (  # noqa: E402
    ACCOUNT_REMOVED_USER,
    ACTIVITY_CUM,
    ACTIVITY_TYPES,
    DAY,
    IDENTIFY,
    JOIN,
    JOIN_TEAM,
    LEAVE,
    SCREENS,
    SIGN_UP,
    SIGNED_UP,
    STEP,
    TRACK_EVENTS,
    VISIT,
    ZIPF,
    new_uuid,
    running_totals,
)

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
        self.track_cum = running_totals([1 / rank**ZIPF for rank in range(1, len(TRACK_EVENTS) + 1)])
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
        self.page_cum = running_totals(words.APP_PAGE_WEIGHTS)
        self.screens = [name for name, _ in SCREENS]
        self.screen_cum = running_totals([weight for _, weight in SCREENS])
        self.marketing = [
            (name, [_page("https://groupsite.dev", path.format(rng.randrange(1, 300)), name,
                          referrer=rng.choice(words.REFERRERS)) for _ in range(8)])
            for name, path in words.MARKETING_PAGES
        ]
        self.marketing_cum = running_totals(words.MARKETING_PAGE_WEIGHTS)

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
            f"{new_uuid(self.rng)}\t{who.user_id or ''}\t"
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
