"""A cohort's definition: its name and kind, and its conditions (one form each)."""


from django import forms

from analytics.models import (
    Condition,
)
from analytics.models.cohorts import KINDS, MAX_CONDITIONS, MAX_DAYS, MAX_TIMES, MEMBERSHIP
from analytics.models.properties import OPERATORS

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
