"""The dashboard's forms: what people type in the workspace settings, checked and tidied.

Forms only parse and validate input; the changes themselves are model methods
(``GroupType.create``, ``Workspace.invite``...), whose ValidationErrors the views add
to the form so they show next to the fields.
"""

import re

from django import forms
from django.contrib.auth.password_validation import validate_password
from django.core.validators import DomainNameValidator, validate_slug

from analytics.models import GroupType, Role, Workspace

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
            domain = item.strip().lower().lstrip("@").rstrip(".")
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

    class Meta:
        model = Workspace
        fields = ["name", "internal_domains"]
        labels = {"name": "Workspace name"}


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


class GroupTypeForm(forms.ModelForm):
    """The display names of a type; its wire name stays."""

    class Meta:
        model = GroupType
        fields = ["singular", "plural"]
        help_texts = {
            "singular": "As in “1 company”.",
            "plural": "As in the tabs of the Groups page: “Companies”.",
        }


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
