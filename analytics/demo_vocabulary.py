"""The words, names and habits the demo data is made of: company and person names,
plans and their seat prices, browsers, the product's events and pages, and when people
are at work. ``analytics.demo_cast`` draws from them."""


COMPANY_WORDS = (
    "Acme Globex Initech Umbrella Hooli Vandelay Stark Wayne Cyberdyne Soylent Tyrell Wonka "
    "Aperture Massive Dunder Nakatomi Monarch Blue Red Green Silver Golden North South Bright "
    "Swift Clear Deep High Iron Quantum Stellar Polar Lunar Solar Rapid True Nimbus Vertex Apex "
    "Summit Harbor Cedar Maple Pine Oak River Stone Falcon Orbit Pixel Vector Signal Atlas "
    "Beacon Cobalt Delta Ember Fjord Granite Indigo Juniper Kestrel Lumen Meridian"
).split()
COMPANY_STEMS = (
    "Data Cloud Logic Works Wave Byte Path Point Stack Forge Flow Grid Leaf Link Mind Nest "
    "Peak Shift Sky Spark Sphere Bridge Field Gate Line Mark Port Scale Sense Track"
).split()
COMPANY_SUFFIXES = (
    "Inc", "Labs", "Systems", "Technologies", "Group", "Software", "Analytics", "Health",
    "Financial", "Logistics", "Media", "Studio", "Partners", "Robotics", "Energy", "AI",
)
TLDS = (".com", ".com", ".com", ".io", ".co", ".ai", ".dev")
INDUSTRIES = (
    "Software", "Financial Services", "Healthcare", "Retail", "Education", "Manufacturing",
    "Media", "Logistics", "Real Estate", "Nonprofit", "Telecommunications", "Energy",
)
PLANS = ("free", "starter", "pro", "enterprise")
# How likely each plan is for an account of 1, 2–5, 6–20 and more people in the product.
PLAN_WEIGHTS_BY_SIZE = ((60, 30, 8, 2), (30, 40, 25, 5), (10, 30, 45, 15), (0, 10, 45, 45))
# Monthly price of a seat, and the seats a plan bills at least; every member takes a seat.
SEAT_PRICES = {"free": 0, "starter": 12, "pro": 29, "enterprise": 59}
MIN_SEATS = {"free": 0, "starter": 3, "pro": 5, "enterprise": 25}
TEAM_NAMES = (
    "Engineering", "Product", "Design", "Sales", "Marketing", "Customer Success", "Support",
    "Operations", "Finance", "Data",
)
FIRST_NAMES = (
    "Ada Alan Alice Amara Ana Andre Anika Ben Bilal Carla Carlos Chen Chloe Dana David Diego "
    "Elena Emma Erik Fatima Felix Grace Hana Hugo Ian Ines Ivan Jade James Jana Javier Jin "
    "Julia Kai Karim Kenji Laura Leo Lina Lucas Maya Mei Mia Mohamed Nadia Naomi Nina Noah "
    "Olga Omar Paula Priya Rafael Ravi Rosa Sam Sara Sofia Tariq Tom Uma Victor Wei Yara Yusuf Zoe"
).split()
LAST_NAMES = (
    "Adams Ahmed Alvarez Anderson Bauer Becker Brown Chen Costa Dubois Eriksson Fischer Garcia "
    "Gomez Gupta Hansen Hernandez Ito Jensen Johnson Kim Kowalski Kumar Larsen Lee Lopez Martin "
    "Meyer Moreau Murphy Nakamura Nguyen Novak Okafor Olsen Patel Perez Petrov Rossi Santos "
    "Schmidt Silva Singh Smith Suzuki Tanaka Taylor Thomas Wagner Walker Wang Weber Williams "
    "Wilson Wong Yamamoto Young Zhang"
).split()
TITLES = (
    "Software Engineer", "Product Manager", "Designer", "Data Analyst", "Marketing Manager",
    "Account Executive", "Customer Success Manager", "Engineering Manager", "Head of Growth",
    "Operations Lead", "Support Engineer", "CTO", "VP Product",
)
ROLES, ROLE_WEIGHTS = ("admin", "member", "viewer"), (15, 70, 15)
STAFF_TITLES = ("Support Engineer", "Solutions Engineer", "Customer Success Manager", "Founder")
USER_AGENTS = (
    (
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) "
        "Version/17.5 Safari/605.1.15"
    ),
    (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/126.0.0.0 Safari/537.36"
    ),
    "Mozilla/5.0 (X11; Linux x86_64; rv:127.0) Gecko/20100101 Firefox/127.0",
    (
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/126.0.0.0 Safari/537.36"
    ),
)
APP_URL = "https://app.groupsite.dev"
BROWSER_LIBRARY = {"name": "analytics.js", "version": "next-1.70.0"}
SERVER_LIBRARY = {"name": "analytics-python", "version": "2.4.0"}

REPORT_TYPES = ("trend", "funnel", "retention", "table")
FEATURES = ("ai_chart", "csv_export", "filters", "saved_views", "alerts", "sql_editor", "sharing")


def _ref(rng, prefix, spread=5000):
    return f"{prefix}_{rng.randrange(1, spread)}"


# name, weight, sent by the product's server (and so naming the account), properties
TRACK_EVENTS = (
    ("Report Viewed", 30, False,
     lambda r: {"report_id": _ref(r, "rep"), "report_type": r.choice(REPORT_TYPES)}),
    ("Feature Used", 25, False, lambda r: {"feature": r.choice(FEATURES)}),
    ("Dashboard Viewed", 15, False, lambda r: {"dashboard_id": _ref(r, "dash", 800)}),
    ("Search Performed", 8, False, lambda r: {"results": r.randrange(0, 60)}),
    ("Comment Added", 4, False,
     lambda r: {"report_id": _ref(r, "rep"), "length": r.randrange(5, 400)}),
    ("Report Created", 5, True,
     lambda r: {"report_id": _ref(r, "rep"), "report_type": r.choice(REPORT_TYPES)}),
    ("Dashboard Created", 3, True,
     lambda r: {"dashboard_id": _ref(r, "dash", 800), "widgets": r.randrange(1, 12)}),
    ("Report Exported", 3, True,
     lambda r: {"report_id": _ref(r, "rep"), "format": r.choice(("csv", "pdf", "png"))}),
    ("Invite Sent", 2, True,
     lambda r: {"invitee_role": r.choice(("member", "member", "admin", "viewer"))}),
    ("Alert Created", 1.5, True, lambda r: {"threshold": r.randrange(1, 1000)}),
    ("Integration Connected", 0.5, True,
     lambda r: {"integration": r.choice(("slack", "salesforce", "hubspot", "bigquery", "github"))}),
)
TRACK_WEIGHTS = tuple(weight for _, weight, _, _ in TRACK_EVENTS)
APP_PAGES = (
    ("Dashboards", "/dashboards"), ("Reports", "/reports"), ("Report", "/reports/{}"),
    ("Dashboard", "/dashboards/{}"), ("Settings", "/settings"), ("Members", "/settings/members"),
    ("Billing", "/settings/billing"),
)
APP_PAGE_WEIGHTS = (20, 20, 25, 20, 6, 5, 4)
MARKETING_PAGES = (
    ("Home", "/"), ("Pricing", "/pricing"), ("Blog", "/blog/{}"), ("Docs", "/docs/{}"),
    ("Sign Up", "/signup"),
)
MARKETING_PAGE_WEIGHTS = (35, 25, 20, 12, 8)
REFERRERS = (
    "https://www.google.com/", "https://news.ycombinator.com/", "https://www.linkedin.com/", ""
)


def _hour_weights():
    """How likely someone is at work at each local hour of a weekday."""
    weights = [0.03] * 7 + [0.3, 0.8, 1, 1, 1, 0.7, 1, 1, 1, 1, 0.9, 0.5, 0.3, 0.25, 0.2, 0.1, 0.05]
    return [sum(weights[: hour + 1]) for hour in range(24)]


HOUR_CUM_WEIGHTS = _hour_weights()
