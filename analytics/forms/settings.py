"""What people type in the workspace settings and account pages: the workspace, its
group types, invitations and roles, the login, and the names of saved reports."""

import re

from django import forms
from django.contrib.auth.forms import AuthenticationForm
from django.contrib.auth.password_validation import validate_password
from django.core.validators import DomainNameValidator, validate_slug
from django.db import transaction
from django.http import QueryDict

from analytics import event_store, reports
from analytics.models import (
    GroupType,
    Role,
    SavedReport,
    Workspace,
    normalize_domain,
    time_zone_choices,
)

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
