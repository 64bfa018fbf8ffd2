"""Cohorts: the list, defining one (a row per condition), and a cohort's page with its
definition in words, its size over the last weeks and its members (also as CSV)."""

import csv
from datetime import date, datetime, time, timedelta

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import BadRequest, PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods
from django_tables2 import RequestConfig

from analytics import event_store
from analytics.access import can, workspace_for
from analytics.charts import Chart, Series
from analytics.forms import CohortForm, CohortQuery, ConditionForm, ConditionFormSet, TableQuery
from analytics.models import ACTIVE_DAYS, Cohort, Group, Person, Role, Workspace
from analytics.reports import event_label, event_names
from analytics.reports.queries import today_in
from analytics.tables import CohortTable, GroupTable, PersonTable
from analytics.templatetags.groupsite import short_date
from analytics.views import HtmxHttpRequest, get_or_404, partial, refused_from_another_workspace
from analytics.views.people import current_memberships

COHORTS_PER_PAGE = 50
MEMBERS_PER_PAGE = 50


@login_required
def cohorts(request: HtmxHttpRequest) -> HttpResponse:
    workspace = workspace_for(request)
    TableQuery.parse(request.GET)
    table = CohortTable(
        Cohort.objects.filter(workspace=workspace).select_related("workspace", "group_type")
    )
    RequestConfig(request, paginate={"per_page": COHORTS_PER_PAGE}).configure(table)
    # The sizes of the page's cohorts, counted together in one query; the rows are
    # fetched once, so the table shows these very records.
    shown = [row.record for row in table.paginated_rows]
    sizes = Cohort.sizes_now(shown, did=event_store.units_that_did)
    for cohort in shown:
        cohort.size = sizes[cohort.pk]
    template = partial(request, "analytics/cohorts.html", {table.container_id: "table"})
    return render(request, template, {"section": "cohorts", "table": table})


@login_required
def cohort(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    workspace = workspace_for(request)
    cohort = _cohort(workspace, pk)
    query = CohortQuery.parse(request.GET)
    as_of = query["as_of"]
    if as_of and as_of > today_in(workspace):
        raise BadRequest(f"as_of must be a day that has begun, not {as_of}")
    members = cohort.members(_end_of(as_of, workspace) if as_of else None, did=event_store.units_that_did)
    if query["format"] == "csv":
        return _members_csv(cohort, members, as_of)
    table = _members_table(workspace, cohort, members)
    RequestConfig(request, paginate={"per_page": MEMBERS_PER_PAGE}).configure(table)
    template = partial(request, "analytics/cohort.html", {table.container_id: "members"})
    return render(
        request,
        template,
        {
            "section": "cohorts",
            "cohort": cohort,
            "table": table,
            "as_of": as_of,
            # Counted only if the whole page is rendered (not for a swap of the members).
            "growth": lambda: _growth(cohort),
            "may_change": _may_change(request, cohort),
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def new_cohort(request: HttpRequest) -> HttpResponse:
    workspace = workspace_for(request)
    cohort = Cohort(workspace=workspace, created_by=request.user.get_username())
    return _definition(request, workspace, cohort)


@login_required
@require_http_methods(["GET", "POST"])
def edit_cohort(request: HttpRequest, pk: int) -> HttpResponse:
    workspace = workspace_for(request)
    cohort = _cohort(workspace, pk)
    _check_may_change(request, cohort)
    return _definition(request, workspace, cohort)


@login_required
@require_http_methods(["GET", "POST"])
def delete_cohort(request: HttpRequest, pk: int) -> HttpResponse:
    workspace = workspace_for(request)
    cohort = _cohort(workspace, pk)
    _check_may_change(request, cohort)
    if request.method == "POST":
        if refused := refused_from_another_workspace(request, workspace, cohort):
            return refused
        cohort.delete()
        messages.success(request, f"The cohort “{cohort.name}” was deleted.")
        return redirect("cohorts")
    return render(request, "analytics/cohort_delete.html", {"section": "cohorts", "cohort": cohort})


def _cohort(workspace: Workspace, pk: int) -> Cohort:
    return get_or_404(
        Cohort.objects.select_related("workspace", "group_type"),
        f"No cohort with the number {pk} in this workspace.",
        pk=pk,
        workspace=workspace,
    )


def _may_change(request: HttpRequest, cohort: Cohort) -> bool:
    """Its creator changes and deletes a cohort, and so do admins and owners."""
    return cohort.created_by == request.user.get_username() or can(request, Role.ADMIN)


def _check_may_change(request: HttpRequest, cohort: Cohort) -> None:
    if not _may_change(request, cohort):
        raise PermissionDenied(
            "Only the member who created this cohort, an admin or an owner can change or delete it."
        )


def _definition(request: HttpRequest, workspace: Workspace, cohort: Cohort) -> HttpResponse:
    """The form that defines a new cohort or changes one. "Add a condition" posts the
    form back with one more empty row (no JavaScript needed); "Save" saves it."""
    types = {t.name: t for t in workspace.group_types.all()}
    if request.method == "POST":
        back_to = cohort if cohort.pk else "cohorts"
        if refused := refused_from_another_workspace(request, workspace, back_to):
            return refused
        form = CohortForm(request.POST, workspace=workspace)
        for_groups = request.POST.get("unit", "users") in types
        rows = ConditionFormSet(
            request.POST, prefix="condition", form_kwargs={"types": types, "for_groups": for_groups}
        )
        if form.is_valid() and rows.is_valid():
            if "add" in request.POST:
                rows = _rows(rows.conditions(), types, for_groups)
            else:
                try:
                    cohort.define(
                        name=form.cleaned_data["name"],
                        group_type=form.group_type,
                        conditions=rows.conditions(),
                        exclude_internal=form.cleaned_data.get("exclude_internal", cohort.exclude_internal),
                    )
                except ValidationError as error:
                    form.add_error(None, error)
                else:
                    messages.success(request, f"The cohort “{cohort.name}” was saved.")
                    return redirect(cohort)
    else:
        form = CohortForm(
            initial={
                "name": cohort.name,
                "unit": cohort.group_type.name if cohort.group_type else "users",
                "exclude_internal": cohort.exclude_internal,
            },
            workspace=workspace,
        )
        rows = _rows(cohort.condition_list, types, cohort.for_groups)
    return render(
        request,
        "analytics/cohort_form.html",
        {
            "section": "cohorts",
            "cohort": cohort,
            "form": form,
            "rows": rows,
            # Names seen in the workspace, offered as the event of a behaviour.
            "events": [(name, event_label(name)) for name in event_names(workspace)],
        },
    )


def _rows(conditions, types, for_groups):
    """The rows of ``conditions``, and an empty one to add another."""
    return ConditionFormSet(
        initial=[ConditionForm.initial_of(c) for c in conditions],
        prefix="condition",
        form_kwargs={"types": types, "for_groups": for_groups},
    )


def _end_of(day: date, workspace: Workspace) -> datetime:
    """The first moment after ``day`` in the workspace's time zone."""
    return datetime.combine(day + timedelta(days=1), time.min, tzinfo=workspace.zone)


def _members_table(workspace: Workspace, cohort: Cohort, members):
    if cohort.group_type:
        active_since = workspace.last_days(ACTIVE_DAYS)
        return GroupTable(
            Group.objects.filter(pk__in=members).with_active_members(active_since).recently_updated_first(),
            group_type=cohort.group_type,
            active_since=active_since,
        )
    group_type = workspace.default_group_type
    people = Person.objects.filter(pk__in=members)
    if group_type is not None:
        people = people.prefetch_related(current_memberships(group_type))
    return PersonTable(
        event_store.with_event_count(people).recently_seen_first(),
        group_type=group_type,
        internal_domains=workspace.internal_domains,
    )


def _growth(cohort: Cohort) -> dict:
    """The cohort's size at the end of each of the last weeks (the current one ending
    now), as a chart and as rows of a table."""
    weeks = cohort.weekly_sizes(did=event_store.units_that_did)
    labels = [short_date(monday) for monday, _ in weeks]
    chart = Chart(
        id="cohort-size",
        title=f"Members of {cohort.name} at the end of each of the last {len(weeks)} weeks",
        labels=labels,
        series=[Series("Members", [size for _, size in weeks])],
    )
    rows = [
        {"monday": monday, "sunday": monday + timedelta(days=6), "size": size, "current": i == len(weeks) - 1}
        for i, (monday, size) in enumerate(weeks)
    ]
    return {"chart": chart, "weeks": rows, "now": weeks[-1][1]}


class _Echo:
    """A file that hands back what is written to it, for a CSV streamed row by row."""

    def write(self, value):
        return value


# A spreadsheet would run a cell that starts with one of these as a formula.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.isoformat()
    text = str(value)
    return "'" + text if text.startswith(_FORMULA_STARTS) else text


def _members_csv(cohort: Cohort, members, as_of: date | None) -> StreamingHttpResponse:
    """Every member, one a line, with a header."""
    if cohort.group_type:
        header = ["key", "name", "members", "last_updated"]
        found = Group.objects.filter(pk__in=members).order_by("key")
        rows = ([g.key, g.name, g.member_count, g.last_updated] for g in found.iterator(chunk_size=2000))
    else:
        header = ["user_id", "email", "name", "last_seen_at"]
        found = Person.objects.filter(pk__in=members).order_by("pk")
        rows = (
            [p.user_id, p.email, p.traits.get("name") or "", p.last_seen_at]
            for p in found.iterator(chunk_size=2000)
        )
    writer = csv.writer(_Echo())

    def lines():
        yield writer.writerow(header)
        for row in rows:
            yield writer.writerow([_cell(value) for value in row])

    name = f"cohort-{cohort.pk}" + (f"-{as_of}" if as_of else "")
    return StreamingHttpResponse(
        lines(),
        content_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}.csv"'},
    )
