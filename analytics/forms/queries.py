"""The query parameters of the dashboard's pages and of the API, each page or endpoint
one form: unknown or repeated parameters and bad values are refused with a message."""


from django import forms
from django.core.exceptions import BadRequest

from analytics.models import (
    EventType,
    IngestionProblem,
    normalize_domain,
    parse_cursor,
    parse_iso_moment,
)

# --- query parameters -------------------------------------------------------------
# A field's error messages follow the parameter's name: "page must be ...".

MAX_PER_PAGE = 100  # rows of a dashboard table, asked for with per_page
API_MAX_PAGE_SIZE = 500  # page_size and limit of the API; more is lowered to this


def _shown(value):
    return repr(value if len(value) <= 40 else value[:40] + "…")


def _listed(names, last_word):
    """``["a", "b", "c"]`` as "a, b and c" (with ``last_word`` "and")."""
    return f" {last_word} ".join(", ".join(names).rsplit(", ", 1))


class WholeNumberField(forms.Field):
    """A whole number from 1, in ASCII digits (``int()`` would also take ``"1_0"`` or
    Arabic-Indic digits, and ``str.isdigit()`` passes ``"²"``, which ``int()`` refuses).

    Above ``max_value`` it is lowered to ``max_value`` if ``lowered``, else refused.
    """

    def __init__(self, *, max_value=None, lowered=False, **kwargs):
        self.max_value, self.lowered = max_value, lowered
        super().__init__(required=False, **kwargs)

    def to_python(self, value):
        if value in self.empty_values:
            return None
        if not (value.isascii() and value.isdigit() and len(value) <= 18 and int(value) >= 1):
            raise forms.ValidationError(self._expected(value))
        if self.max_value and int(value) > self.max_value:
            if self.lowered:
                return self.max_value
            raise forms.ValidationError(self._expected(value))
        return int(value)

    def _expected(self, value):
        if self.max_value and not self.lowered:
            return f"must be a whole number from 1 to {self.max_value}, not {_shown(value)}"
        return f"must be a positive whole number, not {_shown(value)}"


class FlagField(forms.Field):
    """true or false: 1, true, yes or on, and 0, false, no, off or nothing."""

    TRUE, FALSE = {"1", "true", "yes", "on"}, {"", "0", "false", "no", "off"}

    def __init__(self, **kwargs):
        super().__init__(required=False, **kwargs)

    def to_python(self, value):
        flag = (value or "").strip().lower()
        if flag not in self.TRUE | self.FALSE:
            raise forms.ValidationError(f"must be true or false, not {_shown(value)}")
        return flag in self.TRUE


class MomentField(forms.Field):
    """An ISO 8601 date or time, in UTC when it names no offset, that UTC can hold."""

    def __init__(self, **kwargs):
        super().__init__(required=False, **kwargs)

    def to_python(self, value):
        if value in self.empty_values:
            return None
        try:
            return parse_iso_moment(value.strip())
        except ValueError:
            raise forms.ValidationError(
                f"is not an ISO-8601 date or time: {_shown(value)} (in a query string, "
                "write a '+' in a time zone offset as %2B)"
            ) from None
        except OverflowError:
            raise forms.ValidationError(
                f"is out of range: {_shown(value)} is before year 1 or after 9999 in UTC"
            ) from None


class CursorField(forms.Field):
    """A cursor as the API's ``next`` links and the pages' "Load more" links write it."""

    def __init__(self, **kwargs):
        super().__init__(required=False, **kwargs)

    def to_python(self, value):
        if value in self.empty_values:
            return None
        try:
            parse_cursor(value)
        except ValueError:
            raise forms.ValidationError(
                "is not one that a link of Groupsite gave: pass it on unchanged"
            ) from None
        return value


class TextField(forms.CharField):
    """Text taken as it is: keys and ids may begin or end with spaces."""

    def __init__(self, **kwargs):
        kwargs.setdefault("strip", False)
        super().__init__(required=False, **kwargs)
        self.error_messages["max_length"] = "must be at most %(limit_value)d characters"


def _choice(choices, **kwargs):
    expected = _listed([value for value, _ in choices], "or")
    return forms.ChoiceField(
        choices=[("", ""), *choices],
        required=False,
        error_messages={"invalid_choice": f"must be {expected}, not %(value)r"},
        **kwargs,
    )


def _refuse_unknown(endpoint, names, data):
    unknown = [name for name in data if name not in names]
    if unknown:
        taken = f"takes only {_listed(names, 'and')}" if names else "takes no parameters"
        raise BadRequest(f"{endpoint} {taken}, not {', '.join(unknown)}")


class QueryForm(forms.Form):
    """Query parameters, checked. ``SomeQuery.parse(request.GET)`` returns the cleaned
    values or raises ``BadRequest`` with a message for the client.

    A form with an ``endpoint`` (the API's) also refuses parameters it does not take, and
    any given twice: a filter left unread would answer, or delete, more than the client
    meant. The dashboard's pages ignore parameters they do not take (links from elsewhere
    carry tracking parameters).
    """

    endpoint = ""

    @classmethod
    def parse(cls, data):
        form = cls(data)
        if cls.endpoint:
            form._check_names()
        if not form.is_valid():
            raise BadRequest(
                "; ".join(
                    f"{name} {message}"
                    for name, errors in form.errors.as_data().items()
                    for error in errors
                    for message in error
                )
            )
        return form.cleaned_data

    def _check_names(self):
        _refuse_unknown(self.endpoint, list(self.fields), self.data)
        for name, values in self.data.lists():
            if len(values) > 1:
                raise BadRequest(f"{name} is given {len(values)} times; give it once")


# The dashboard's pages. Of a table's parameters only per_page is checked here: 0 or less
# fails the paginator and a huge one reads every row. django-tables2 falls back harmlessly
# on a page or sort it cannot use (a page that is not a number shows the first page, one
# out of range the last, an unknown column the default order), as an old link may ask.


class TableQuery(QueryForm):
    per_page = WholeNumberField(max_value=MAX_PER_PAGE)


class GroupsQuery(TableQuery):
    q = forms.CharField(required=False)
    cohort = WholeNumberField()
    # The active groups' figures in the page itself (they load after it with JavaScript).
    figures = FlagField()


class OverviewQuery(QueryForm):
    # Who was active and the top events in the page itself (they load after it with
    # JavaScript).
    figures = FlagField()


class GroupQuery(TableQuery):
    unassigned = FlagField()
    before = CursorField()


class DomainQuery(QueryForm):
    domain = TextField(max_length=253)

    def clean_domain(self):
        return normalize_domain(self.cleaned_data["domain"])


class PeopleQuery(TableQuery, DomainQuery):
    q = forms.CharField(required=False)
    several = FlagField()
    cohort = WholeNumberField()


class CohortQuery(TableQuery):
    """A cohort's page: its members now, or as of the end of the day ``as_of``; as CSV
    with ``format=csv``."""

    as_of = forms.DateField(
        required=False,
        input_formats=["%Y-%m-%d"],
        error_messages={"invalid": "must be a date such as 2026-01-31"},
    )
    format = _choice([("csv", "CSV")])


class PersonQuery(QueryForm):
    before = CursorField()


class DeletePeopleForm(DomainQuery):
    """Delete people at a domain: the domain asked for in the query, or posted."""

    suppress = FlagField()


class DeletePersonForm(QueryForm):
    suppress = FlagField()


class PinQuery(QueryForm):
    """Pin a saved report to the overview (``pinned=1``) or unpin it (``pinned=0``)."""

    pinned = FlagField()


class MoveQuery(QueryForm):
    """Move a pinned report one place earlier or later on the overview."""

    direction = forms.ChoiceField(
        choices=[("earlier", "earlier"), ("later", "later")],
        error_messages={
            "required": "must be earlier or later",
            "invalid_choice": "must be earlier or later, not %(value)r",
        },
    )


class ProblemsQuery(TableQuery):
    """An unknown level shows every kind, as the All tab does."""

    level = forms.CharField(required=False)

    def clean_level(self):
        level = self.cleaned_data["level"]
        return level if level in IngestionProblem.Level.values else ""


# The API's endpoints, their parameters in the order the README gives them.


def _page_size():
    return WholeNumberField(max_value=API_MAX_PAGE_SIZE, lowered=True)


class ApiListQuery(QueryForm):
    """A list's page; on its own, the parameters of GET /api/v1/group-types."""

    endpoint = "GET /api/v1/group-types"
    page = WholeNumberField()
    page_size = _page_size()


class ApiGroupsQuery(ApiListQuery):
    endpoint = "GET /api/v1/groups/<type>"
    field_order = ["search"]
    search = forms.CharField(required=False)


class ApiGroupQuery(QueryForm):
    endpoint = "GET /api/v1/groups/<type>/<key>"
    members_page = WholeNumberField()
    page_size = _page_size()


class ApiPeopleQuery(ApiListQuery):
    endpoint = "GET /api/v1/people"
    field_order = ["search", "email_domain"]
    search = forms.CharField(required=False)
    email_domain = forms.CharField(required=False)


class ApiPersonQuery(QueryForm):
    endpoint = "GET /api/v1/people/<user id>"


class ApiDeletePersonQuery(QueryForm):
    endpoint = "DELETE /api/v1/people/<user id>"
    suppress = FlagField()
    dry_run = FlagField()


class ApiDeletePeopleQuery(ApiDeletePersonQuery):
    endpoint = "DELETE /api/v1/people"
    field_order = ["email_domain"]
    email_domain = forms.CharField(required=False)

    def clean_email_domain(self):
        domain = normalize_domain(self.cleaned_data["email_domain"])
        if not domain:
            raise forms.ValidationError(
                "is required: DELETE /api/v1/people never deletes everyone"
            )
        return domain


class ApiEventsQuery(QueryForm):
    endpoint = "GET /api/v1/events"
    person = TextField()
    group = TextField()
    name = TextField()
    type = _choice(EventType.choices)
    since = MomentField()
    until = MomentField()
    limit = _page_size()
    cursor = CursorField()

    def clean_group(self):
        """(type name, key), or None."""
        group = self.cleaned_data["group"]
        if not group:
            return None
        type_name, colon, key = group.partition(":")
        if not colon or not key:
            raise forms.ValidationError(
                f"must be <type>:<key>, e.g. company:acme, not {_shown(group)}"
            )
        return type_name.lower(), key


class ApiProblemsQuery(ApiListQuery):
    endpoint = "GET /api/v1/ingestion-problems"
    field_order = ["level"]
    level = _choice(IngestionProblem.Level.choices)


# The reports' endpoints: the parameters of the report pages. Their values are read, and
# refused with a message, by the report core (``analytics.reports``, its
# ``*_from_params``); here only their names are checked, as on every endpoint of the API.

REPORT_PERIOD = ("range", "from", "to")
REPORT_FILTERS = ("where", "key", "op", "value", "internal", "cohort")


class ApiReportQuery:
    """The query string of a report endpoint, passed on as it is once its names are
    known ones. A parameter may be repeated: the report core reads the lists it takes
    (``event``, ``step``, the filters) and refuses a repeated single one."""

    endpoint = ""
    names: tuple[str, ...] = ()

    @classmethod
    def parse(cls, data):
        _refuse_unknown(cls.endpoint, cls.names, data)
        return data


class ApiTrendsQuery(ApiReportQuery):
    endpoint = "GET /api/v1/reports/trends"
    names = (
        "event", "interval", *REPORT_PERIOD, "count_by", *REPORT_FILTERS,
        "breakdown_on", "breakdown", "compare",
    )


class ApiFunnelsQuery(ApiReportQuery):
    endpoint = "GET /api/v1/reports/funnels"
    names = ("steps", "step", "window", *REPORT_PERIOD, "count_by", *REPORT_FILTERS)


class ApiRetentionQuery(ApiReportQuery):
    endpoint = "GET /api/v1/reports/retention"
    names = (
        "start_event", "return_event", "interval", "periods", *REPORT_PERIOD, "count_by",
        *REPORT_FILTERS,
    )


class ApiActiveGroupsQuery(ApiReportQuery):
    endpoint = "GET /api/v1/reports/active-groups"
    names = ("type", "interval", *REPORT_PERIOD, *REPORT_FILTERS)
