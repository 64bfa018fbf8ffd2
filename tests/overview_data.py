"""A small workspace whose overview is worked out by hand (tests/test_overview.py and the
overview's browser test): the calls sent by the ``overview_data`` fixture (conftest.py).

The clock stands at ``NOW``, Sunday 15 March 2026 at noon in New York (EDT, UTC−4), the
workspace's time zone; staff.dev is its internal domain. The trailing windows are:
today = 15 March (from 04:00 UTC), 7 days = 9–15 March (from the 9th, 04:00 UTC), 30 days
= 14 February – 15 March (from 14 February, 05:00 UTC: still EST then).

- ann (acme): Report Viewed on the 15th 13:00 and the 10th (acme, inferred: her only
  company); Export on the 11th (acme).
- bo (acme and beta): Report Viewed on the 15th 14:00 naming no company (two to choose
  from); Export on the 12th naming beta.
- cy (gamma, delta, epsilon): Report Viewed on 20 February naming none (three to choose
  from); leaves delta on 1 March (Account Removed User naming delta); Report Viewed on the
  14th at 02:00 UTC (the 13th in New York) naming none: gamma and epsilon, not delta.
- dee (staff.dev, internal, in acme): Debugged today naming acme: left out.
- eve (no company): a page view on the 15th at 03:00 UTC (the 14th in New York: not
  today); Signed Up on 10 February (before the 30 days).
- fay joins zeta today, and sends nothing else: the newest company, with no activity.

So, today / 7 days / 30 days:
- active users: 2 (ann, bo) / 4 (+ cy, eve) / 4;
- active companies, strict: 1 (acme) / 2 (acme, beta) / 3 (+ delta, on 1 March);
- over-count: 2 (+ beta, from bo's event) / 4 (+ gamma, epsilon from cy's) / 5 (+ delta,
  from cy's 20 February event, when cy was still in delta);
- events: 2 / 7 / 9, of which without a company 1 / 3 / 4.
Top events of the 30 days: Report Viewed 5 events by 3 users, Export 2 by 2, Page viewed
1 by 1, Account Removed User 1 by 1. Newest companies: zeta, epsilon, delta, gamma, beta,
acme.
"""

from datetime import UTC, datetime

NOW = datetime(2026, 3, 15, 16, 0, tzinfo=UTC)


def at(month, day, hour=12):
    return datetime(2026, month, day, hour, tzinfo=UTC).isoformat()


def identify(user, email, name):
    return {"type": "identify", "userId": user, "traits": {"email": email, "name": name},
            "timestamp": at(2, 1, 8)}


def joins(user, key, when, name=None):
    call = {"type": "group", "userId": user, "groupId": key, "timestamp": when}
    if name:
        call["traits"] = {"name": name}
    return call


def track(user, event, when, company=None):
    call = {"type": "track", "userId": user, "event": event, "timestamp": when}
    if company:
        call["context"] = {"groupId": company}
    return call


CALLS = [
    identify("ann", "ann@acme.io", "Ann Archer"),
    identify("bo", "bo@acme.io", "Bo Brown"),
    identify("cy", "cy@gamma.io", "Cy Cole"),
    identify("dee", "dee@staff.dev", "Dee Staff"),
    identify("eve", "eve@example.com", "Eve Evans"),
    identify("fay", "fay@zeta.io", "Fay Fox"),
    joins("ann", "acme", at(2, 1, 9), "Acme Inc"),
    joins("bo", "acme", at(2, 1, 10)),
    joins("bo", "beta", at(2, 1, 11), "Beta Corp"),
    joins("cy", "gamma", at(2, 2, 10), "Gamma"),
    joins("cy", "delta", at(2, 3, 10), "Delta"),
    joins("cy", "epsilon", at(2, 4, 10), "Epsilon"),
    joins("dee", "acme", at(2, 5, 10)),
    joins("fay", "zeta", at(3, 15, 12), "Zeta Labs"),
    track("ann", "Report Viewed", at(3, 15, 13)),
    track("ann", "Report Viewed", at(3, 10, 15)),
    track("ann", "Export", at(3, 11, 15)),
    track("bo", "Report Viewed", at(3, 15, 14)),
    track("bo", "Export", at(3, 12, 15), company="beta"),
    track("cy", "Report Viewed", at(2, 20, 12)),
    track("cy", "Account Removed User", at(3, 1, 12), company="delta"),
    track("cy", "Report Viewed", at(3, 14, 2)),
    track("dee", "Debugged", at(3, 15, 15), company="acme"),
    {"type": "page", "userId": "eve", "name": "Pricing", "timestamp": at(3, 15, 3)},
    track("eve", "Signed Up", at(2, 10, 12)),
]
