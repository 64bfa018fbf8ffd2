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

from calls import feb, identify, join, march, page_view, track, track_in

NOW = datetime(2026, 3, 15, 16, 0, tzinfo=UTC)

CALLS = [
    identify("ann", "Ann Archer", "ann@acme.io", at=feb(1, 8)),
    identify("bo", "Bo Brown", "bo@acme.io", at=feb(1, 8)),
    identify("cy", "Cy Cole", "cy@gamma.io", at=feb(1, 8)),
    identify("dee", "Dee Staff", "dee@staff.dev", at=feb(1, 8)),
    identify("eve", "Eve Evans", "eve@example.com", at=feb(1, 8)),
    identify("fay", "Fay Fox", "fay@zeta.io", at=feb(1, 8)),
    join("ann", "acme", feb(1, 9), traits={"name": "Acme Inc"}),
    join("bo", "acme", feb(1, 10)),
    join("bo", "beta", feb(1, 11), traits={"name": "Beta Corp"}),
    join("cy", "gamma", feb(2, 10), traits={"name": "Gamma"}),
    join("cy", "delta", feb(3, 10), traits={"name": "Delta"}),
    join("cy", "epsilon", feb(4, 10), traits={"name": "Epsilon"}),
    join("dee", "acme", feb(5, 10)),
    join("fay", "zeta", march(15, 12), traits={"name": "Zeta Labs"}),
    track("ann", "Report Viewed", march(15, 13)),
    track("ann", "Report Viewed", march(10, 15)),
    track("ann", "Export", march(11, 15)),
    track("bo", "Report Viewed", march(15, 14)),
    track_in("bo", "beta", march(12, 15), "Export"),
    track("cy", "Report Viewed", feb(20, 12)),
    track_in("cy", "delta", march(1, 12), "Account Removed User"),
    track("cy", "Report Viewed", march(14, 2)),
    track_in("dee", "acme", march(15, 15), "Debugged"),
    page_view("eve", "Pricing", march(15, 3)),
    track("eve", "Signed Up", feb(10, 12)),
]
