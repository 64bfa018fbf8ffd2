"""Forms: what people type in the workspace settings, and the query parameters of the
dashboard's pages and of the API, checked and tidied.

Forms only parse and validate input; the changes themselves are model methods
(``GroupType.create``, ``Workspace.invite``...), whose ValidationErrors the views add
to the form so they show next to the fields.
"""

import re

from django import forms
from django.contrib.auth.forms import AuthenticationForm
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import BadRequest
from django.core.validators import DomainNameValidator, validate_slug
from django.db import transaction
from django.http import QueryDict

from analytics import event_store, reports
from analytics.models import (
    Condition,
    EventType,
    GroupType,
    IngestionProblem,
    Role,
    SavedReport,
    Workspace,
    normalize_domain,
    parse_cursor,
    parse_iso_moment,
    time_zone_choices,
)
from analytics.models.cohorts import KINDS, MAX_CONDITIONS, MAX_DAYS, MAX_TIMES, MEMBERSHIP
from analytics.models.properties import OPERATORS

MAX_INTERNAL_DOMAINS = 50


class DomainListField(forms.Field):
    """Email domains, one per line (commas and spaces also separate them).

    Normalized to lower case without a leading ``@`` or trailing dot, duplicates dropped.
    """

    widget = forms.Textarea(attrs={"rows": 4, "spellcheck": "false", "autocapitalize": "none"})

    def prepare_value(self, value):
        return "\n".join(value) if isinstance(value, list) else value

    def to_python(self, value):
        domains = []
        for item in re.split(r"[\s,;]+", value or ""):
            domain = normalize_domain(item)
            if domain and domain not in domains:
                domains.append(domain)
        return domains

    def validate(self, value):
        super().validate(value)
        check = DomainNameValidator()
        invalid = []
        for domain in value:
            try:
                check(domain)
            except forms.ValidationError:
                invalid.append(domain)
        if invalid:
            raise forms.ValidationError(
                "Not a domain name: %(domains)s. Enter domains such as acme.com.",
                params={"domains": ", ".join(invalid)},
            )
        if len(value) > MAX_INTERNAL_DOMAINS:
            raise forms.ValidationError(f"At most {MAX_INTERNAL_DOMAINS} domains.")


class WorkspaceForm(forms.ModelForm):
    internal_domains = DomainListField(
        label="Internal email domains",
        required=False,
        help_text="People whose email matches are flagged as internal in the People list. "
        "One domain per line, such as acme.com.",
    )

    time_zone = forms.ChoiceField(
        label="Time zone",
        choices=time_zone_choices,
        help_text="Reports count days, weeks (from Monday) and months from midnight here.",
    )

    class Meta:
        model = Workspace
        fields = ["name", "time_zone", "internal_domains"]
        labels = {"name": "Workspace name"}

    @transaction.atomic
    def save(self, commit=True):
        workspace = super().save(commit=commit)
        if commit and "time_zone" in self.changed_data:
            # Reports' days of activity begin at midnight in the new time zone.
            event_store.rebuild_daily_activity(workspace)
        return workspace


class GroupTypeCreateForm(forms.Form):
    name = forms.CharField(
        label="Wire name",
        max_length=GroupType._meta.get_field("name").max_length,
        help_text="What clients send as the type: letters, digits, - and _.",
        widget=forms.TextInput(
            attrs={"placeholder": "workspace", "autocapitalize": "none", "spellcheck": "false"}
        ),
    )
    singular = forms.CharField(
        label="Singular",
        max_length=60,
        required=False,
        widget=forms.TextInput(attrs={"placeholder": "From the wire name"}),
    )
    plural = forms.CharField(
        label="Plural",
        max_length=60,
        required=False,
        widget=forms.TextInput(attrs={"placeholder": "From the wire name"}),
    )

    def clean_name(self):
        name = self.cleaned_data["name"].strip().lower()
        validate_slug(name)
        return name


class LoginForm(AuthenticationForm):
    """Logging in with the e-mail address of one's account (stored as its username)."""

    error_messages = {
        **AuthenticationForm.error_messages,
        "invalid_login": (
            "This e-mail address and password do not match an account. "
            "Check both; the password is case-sensitive."
        ),
    }


class GroupTypeForm(forms.ModelForm):
    """The display names of a type; its wire name stays."""

    class Meta:
        model = GroupType
        fields = ["singular", "plural"]

    def __init__(self, *args, instance, **kwargs):
        super().__init__(*args, instance=instance, **kwargs)
        # In the type's own names as saved, not in those of some other type.
        self.fields["singular"].help_text = f"As in “1 {instance.singular.lower()}”."
        self.fields["plural"].help_text = (
            f"As in the tabs of the Groups page: “{instance.plural}”."
        )


class GroupTypeDeleteForm(forms.Form):
    """Confirms deleting a type; for the default one, also names the type taking its place."""

    new_default = forms.ModelChoiceField(
        queryset=GroupType.objects.none(),
        label="Untyped groupIds go to",
        empty_label=None,
        required=False,
    )

    def __init__(self, *args, group_type, **kwargs):
        super().__init__(*args, **kwargs)
        others = group_type.workspace.group_types.exclude(pk=group_type.pk)
        if group_type.is_default and others.exists():
            self.fields["new_default"].queryset = others
            self.fields["new_default"].required = True
            self.fields["new_default"].label_from_instance = lambda t: f"{t.plural} ({t.name})"
        else:
            del self.fields["new_default"]


class InviteForm(forms.Form):
    email = forms.EmailField(
        label="Email",
        widget=forms.EmailInput(
            attrs={"placeholder": "colleague@example.com", "autocomplete": "off"}
        ),
    )
    role = forms.ChoiceField(label="Role", choices=Role.choices, initial=Role.MEMBER)
    password = forms.CharField(
        label="Password for a new account",
        required=False,
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text="Only if the email has no account yet. Leave empty to generate one, "
        "shown to you once.",
    )

    def clean_email(self):
        return self.cleaned_data["email"].strip().lower()

    def clean_password(self):
        password = self.cleaned_data["password"]
        if password:
            validate_password(password)
        return password


class RoleForm(forms.Form):
    role = forms.ChoiceField(choices=Role.choices)


class SavedReportNameForm(forms.Form):
    name = forms.CharField(
        label="Name",
        max_length=SavedReport._meta.get_field("name").max_length,
        error_messages={
            "required": "Give the report a name.",
            "max_length": "A name has at most %(limit_value)d characters (this one has %(show_value)d).",
        },
        widget=forms.TextInput(attrs={"placeholder": "Weekly active companies", "autocomplete": "off"}),
    )

    def clean_name(self):
        return SavedReport.clean_name(self.cleaned_data["name"])


class SaveReportForm(SavedReportNameForm):
    """A report to save: its kind and the query string of its page, which the report's
    own parser must read without error (``query`` holds it as it was given)."""

    kind = forms.ChoiceField(
        choices=SavedReport.Kind.choices,
        widget=forms.HiddenInput,
        error_messages={
            "required": "Say which kind of report to save: trends, funnels or retention.",
            "invalid_choice": "A saved report is of the kind trends, funnels or retention; "
            "not “%(value)s”.",
        },
    )
    query = forms.CharField(
        required=False,
        strip=False,
        max_length=SavedReport.MAX_QUERY_LENGTH,
        error_messages={
            "max_length": "This report's settings are too long to save: %(show_value)d "
            "characters, at most %(limit_value)d.",
        },
        widget=forms.HiddenInput,
    )

    def __init__(self, *args, workspace, **kwargs):
        self.workspace = workspace
        super().__init__(*args, **kwargs)

    def clean(self):
        data = super().clean()
        kind, query = data.get("kind"), data.get("query")
        if kind and query is not None:
            try:
                data["report"] = reports.FROM_PARAMS[kind](self.workspace, QueryDict(query))
            except reports.ReportError as error:
                raise forms.ValidationError(f"This report cannot be saved: {error}") from None
        return data

    def report_problem(self) -> str:
        """What is wrong with the report itself (its kind or query string), if anything:
        a page of this site never posts that, so it is a bad request, not a typo."""
        errors = self.errors.as_data()
        return " ".join(
            message
            for name in ("kind", "query", "__all__")
            for error in errors.get(name, ())
            for message in error
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


# --- cohorts --------------------------------------------------------------------------


class CohortForm(forms.Form):
    """A cohort's name and what it holds; its conditions are a ``ConditionFormSet``."""

    name = forms.CharField(label="Name", max_length=100)
    unit = forms.ChoiceField(label="A cohort of", initial="users")
    exclude_internal = forms.BooleanField(label="Leave out internal people", required=False, initial=True)

    def __init__(self, *args, workspace, **kwargs):
        super().__init__(*args, **kwargs)
        self.types = {t.name: t for t in workspace.group_types.all()}
        self.fields["unit"].choices = [("users", "Users")] + [(t.name, t.plural) for t in self.types.values()]
        domains = ", ".join(f"@{d}" for d in workspace.internal_domains)
        if domains:
            self.fields["exclude_internal"].help_text = (
                f"People at {domains} are not members, and their events count for no group."
            )
        else:
            del self.fields["exclude_internal"]

    @property
    def group_type(self):
        """The group type chosen, or None for users (once valid)."""
        return self.types.get(self.cleaned_data["unit"])


class ConditionForm(forms.Form):
    """One condition: the fields of its kind count, the others are ignored. A row whose
    kind is not chosen is no condition (the empty row that adds one)."""

    kind = forms.ChoiceField(
        label="Condition",
        choices=[("", "Add a condition…"), *KINDS.items()],
        required=False,
        widget=forms.Select(attrs={"class": "kind"}),
    )
    did = forms.ChoiceField(
        label="Did or did not", choices=[("did", "Did"), ("did_not", "Did not do")], initial="did", required=False
    )
    event = forms.CharField(
        label="Event",
        max_length=255,
        required=False,
        widget=forms.TextInput(attrs={"list": "cohort-events", "placeholder": "any event", "autocomplete": "off"}),
    )
    times = forms.IntegerField(
        label="Times", min_value=1, max_value=MAX_TIMES, initial=1, required=False,
        widget=forms.NumberInput(attrs={"class": "small-number"}),
    )
    days = forms.IntegerField(
        label="Days", min_value=1, max_value=MAX_DAYS, initial=30, required=False,
        widget=forms.NumberInput(attrs={"class": "small-number"}),
    )
    group_type = forms.ChoiceField(label="Group type", required=False)
    key = forms.CharField(
        label="Property",
        max_length=255,
        required=False,
        widget=forms.TextInput(attrs={"placeholder": "property, e.g. plan", "autocomplete": "off"}),
    )
    op = forms.ChoiceField(label="Operator", choices=list(OPERATORS.items()), initial="eq", required=False)
    value = forms.CharField(
        label="Value",
        max_length=255,
        required=False,
        widget=forms.TextInput(attrs={"placeholder": "value", "autocomplete": "off"}),
    )

    def __init__(self, *args, types, for_groups, **kwargs):
        super().__init__(*args, **kwargs)
        self.types, self.for_groups = types, for_groups
        self.fields["group_type"].choices = [(t.name, t.singular) for t in types.values()]
        if for_groups:
            self.fields["kind"].choices = [c for c in self.fields["kind"].choices if c[0] != MEMBERSHIP]

    def clean(self):
        data = super().clean()
        if self.errors:
            return data
        kind = data.get("kind")
        if not kind:
            if any(name not in ("kind", "DELETE") for name in self.changed_data):
                raise forms.ValidationError("Choose what this condition is about, or clear the row.")
            return data
        condition = Condition(
            kind=kind,
            did=data.get("did") != "did_not",
            event=(data.get("event") or "").strip(),
            times=data.get("times") or 1,
            days=data.get("days") or 30,
            group_type=data.get("group_type") or "",
            key=(data.get("key") or "").strip(),
            op=data.get("op") or "eq",
            value=(data.get("value") or "").strip(),
        )
        if not data.get("DELETE"):
            condition.check(for_groups=self.for_groups, type_names=self.types)
        data["condition"] = condition
        return data

    @staticmethod
    def initial_of(condition: Condition) -> dict:
        """The row showing ``condition``."""
        return {
            "kind": condition.kind,
            "did": "did" if condition.did else "did_not",
            "event": condition.event,
            "times": condition.times,
            "days": condition.days,
            "group_type": condition.group_type,
            "key": condition.key,
            "op": condition.op,
            "value": condition.value,
        }


class BaseConditionFormSet(forms.BaseFormSet):
    def conditions(self) -> list[Condition]:
        """The conditions of the rows kept (once valid), in order."""
        return [
            form.cleaned_data["condition"]
            for form in self.forms
            if form.cleaned_data.get("condition") and not form.cleaned_data.get("DELETE")
        ]


ConditionFormSet = forms.formset_factory(
    ConditionForm,
    formset=BaseConditionFormSet,
    extra=1,
    can_delete=True,
    can_delete_extra=False,
    max_num=MAX_CONDITIONS,
    validate_max=True,
)
