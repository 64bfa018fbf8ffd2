"""``{% workspace_cohorts workspace as cohorts %}``: the cohorts a picker offers, for
templates included by views that do not pass them (the report forms);
``{% workspace_cohorts workspace of="users" as cohorts %}`` (or ``of=group_type``)
offers only those of one unit.
"""

from django import template

from analytics.models import Cohort

register = template.Library()


@register.simple_tag
def workspace_cohorts(workspace, of=None):
    """The workspace's cohorts by name; with ``of`` ("users" or a group type), only
    those of that unit."""
    cohorts = Cohort.objects.filter(workspace=workspace).select_related("group_type")
    if of == "users":
        cohorts = cohorts.filter(group_type__isnull=True)
    elif of is not None:
        cohorts = cohorts.filter(group_type=of)
    return list(cohorts)
