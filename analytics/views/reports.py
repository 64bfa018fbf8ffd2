"""The report pages: Trends, Funnels and Retention.

Each page is a form (every setting in the URL, so a link or a saved report reproduces
it), a chart and a table of the same numbers; every number of a table links to the list
of people or groups it counts, and every table and list downloads as CSV
(``format=csv``). The views parse the URL into a query (``analytics.reports``), ask for
its answer, and lay it out with ``analytics.report_pages``.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from urllib.parse import urlencode

from django.contrib.auth.decorators import login_required
from django.core.exceptions import BadRequest
from django.http import Http404, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django_tables2 import RequestConfig

from analytics import event_store, reports
from analytics.access import workspace_for
from analytics.models import ACTIVE_DAYS, Group, Person, Workspace
from analytics.report_forms import (
    CsvQuery,
    FunnelStepQuery,
    ReportForm,
    RetentionCellQuery,
    TrendPointQuery,
    edited,
)
from analytics.report_pages import ACTORS_PER_PAGE, KINDS, Unit, bucket_phrase
from analytics.reports import Funnel, Period, ReportError, Retention, Trend, event_label
from analytics.reports.queries import today_in, with_period
from analytics.tables import ReportGroupTable, ReportPersonTable
from analytics.views import HtmxHttpRequest, partial
from analytics.views.people import current_memberships

# --- Views ----------------------------------------------------------------------------


@login_required
def trends(request: HtmxHttpRequest) -> HttpResponse:
    return _report(request, Trend.KIND)


@login_required
def funnels(request: HtmxHttpRequest) -> HttpResponse:
    workspace = workspace_for(request)
    if not request.GET:
        # A first visit: the two events sent most in the last 30 days, to start from.
        period = Period.preset_ending("30d", today_in(workspace))
        steps = reports.most_sent_events(workspace, period, limit=2)
        if len(steps) == 2:
            return redirect(f"{request.path}?{urlencode([('step', s) for s in steps])}")
    return _report(request, Funnel.KIND)


@login_required
def retention(request: HtmxHttpRequest) -> HttpResponse:
    return _report(request, Retention.KIND)


def _report(request: HtmxHttpRequest, kind: str) -> HttpResponse:
    """A report page: its form, and the report the URL asks for (or why it cannot be
    made: status 400, beside the form); its table as CSV with ``format=csv``."""
    workspace = workspace_for(request)
    wants_csv = CsvQuery.parse(request.GET)["format"] == "csv"
    parse, answer, page_class = KINDS[kind]
    params, from_form = edited(request.GET, today_in(workspace))
    types = {t.name: t for t in workspace.group_types.all()}
    events = reports.event_names(workspace)
    context = {"section": "reports", "report_kind": kind, "group_types": list(types.values())}
    try:
        query = parse(workspace, params)
        if from_form and not request.htmx:
            return redirect(f"{request.path}?{urlencode(query.to_params())}")
        result = answer(workspace, query)
    except ReportError as error:
        if wants_csv:
            raise BadRequest(str(error)) from None
        form = ReportForm(kind, params, workspace=workspace, events=events, group_types=list(types.values()))
        # A funnel opened with no step yet (a workspace without two events to start from)
        # asks for its steps rather than calling it a mistake.
        prompt = kind == Funnel.KIND and form.steps == [""]
        context.update(
            form=form,
            error=None if prompt else str(error),
            prompt=prompt,
            has_events=bool(events),
            report_query="",
            title=kind.capitalize(),
        )
        # With htmx the form is swapped in showing the error (htmx swaps no 4xx answer).
        status = 200 if prompt or request.htmx else 400
        return _render(request, kind, context, status=status)
    page = page_class(workspace, query, result, types=types)
    if wants_csv:
        return _csv_response(page.csv_rows(), page.filename)
    form = ReportForm(
        kind, page.params, workspace=workspace, events=events, group_types=list(types.values()), period=query.period
    )
    context.update(
        form=form,
        query=query,
        page=page,
        title=page.title,
        report_query=page.query_string,
        has_events=bool(events),
        # Counted only if the page shows them (not for a CSV).
        internal_count=lambda: reports.internal_people_count(workspace),
        uncounted=lambda: reports.events_without_group(workspace, query),
    )
    response = _render(request, kind, context)
    if request.htmx:
        response["HX-Push-Url"] = f"{request.path}?{page.query_string}"
    return response


def _render(request: HtmxHttpRequest, kind: str, context: dict, status: int = 200) -> HttpResponse:
    template = partial(request, f"analytics/reports/{kind}.html", {"report": "report"})
    return render(request, template, context, status=status)


class _Echo:
    """A file that hands back what is written to it, for a streamed CSV."""

    def write(self, value):
        return value


def _csv_response(rows: Iterable[list], filename: str, *, stream=False) -> HttpResponse:
    """Rows as a CSV download named ``filename`` (streamed, for a list of any length)."""
    headers = {"Content-Disposition": f'attachment; filename="{filename}"'}
    if stream:
        writer = csv.writer(_Echo())
        return StreamingHttpResponse(
            (writer.writerow(row) for row in rows), content_type="text/csv; charset=utf-8", headers=headers
        )
    response = HttpResponse(content_type="text/csv; charset=utf-8", headers=headers)
    writer = csv.writer(response)
    writer.writerows(rows)
    return response


# --- Behind a number: the people or groups it counts ----------------------------------


@login_required
def actors(request: HtmxHttpRequest, kind: str) -> HttpResponse:
    """The people or groups behind one number of a report: who a trend point, a funnel
    step (or its drop-off) or a retention cell counts, 50 a page or all as CSV."""
    workspace = workspace_for(request)
    if kind not in KINDS:
        raise Http404(f"No report “{kind}”: reports are trends, funnels and retention.")
    wants_csv = CsvQuery.parse(request.GET)["format"] == "csv"
    parse, answer, page_class = KINDS[kind]
    types = {t.name: t for t in workspace.group_types.all()}
    try:
        query = parse(workspace, request.GET)
        ids, what = _actor_ids(workspace, kind, query, request.GET)
    except ReportError as error:
        raise BadRequest(str(error)) from None
    unit = Unit.of(query, types)
    if unit.group_type is None:
        found = Person.objects.filter(workspace=workspace, pk__in=ids)
    else:
        found = Group.objects.filter(workspace=workspace, group_type=unit.group_type, pk__in=ids)
    report_url = f"{reverse(f'report-{kind}')}?{urlencode(query.to_params())}"
    if wants_csv:
        filename = f"{kind}-{unit.plural.replace(' ', '-')}-{what['slug']}.csv"
        return _csv_response(_actor_rows(found, unit), filename, stream=True)
    default_type = workspace.default_group_type
    if unit.group_type is None:
        if default_type is not None:
            found = found.prefetch_related(current_memberships(default_type))
        table = ReportPersonTable(
            event_store.with_event_count(found).recently_seen_first(),
            group_type=default_type,
            internal_domains=workspace.internal_domains,
        )
    else:
        active_since = workspace.last_days(ACTIVE_DAYS)
        table = ReportGroupTable(
            found.with_active_members(active_since).recently_updated_first(),
            group_type=unit.group_type,
            active_since=active_since,
        )
    RequestConfig(request, paginate={"per_page": ACTORS_PER_PAGE}).configure(table)
    template = partial(request, "analytics/reports/actors.html", {"actors-table": "table"})
    query_string = request.GET.copy()
    query_string.pop("page", None)
    query_string["format"] = "csv"
    return render(
        request,
        template,
        {
            "section": "reports",
            "report_kind": kind,
            "table": table,
            "unit": unit,
            "what": what,
            "heading": f"{unit(table.paginator.count)} {what['phrase']}",
            "report_url": report_url,
            "report_title": page_class(workspace, query, None, types=types).title,
            "csv_url": f"{request.path}?{query_string.urlencode()}",
        },
    )


def _actor_ids(workspace: Workspace, kind: str, query, params) -> tuple[object, dict]:
    """The ids behind the number ``params`` name, and words for it: ``phrase`` (after
    "12 companies") and ``slug`` (for a file name)."""
    if kind == Trend.KIND:
        point = TrendPointQuery.parse(params)
        series = point["series"] or 0
        if point["previous"]:
            query = with_period(query, query.period.previous())
        ids = reports.trend_actors(
            workspace,
            query,
            series=series,
            day=point["date"],
            breakdown_value=point["breakdown_value"],
            other=point["other"],
        )
        event = query.events[series]
        doing = "doing any event" if not event else f"doing {event_label(event)}"
        if query.breakdown and point["other"]:
            doing += f" with another {query.breakdown} than the top 10"
        elif query.breakdown and point["breakdown_value"] is not None:
            shown = point["breakdown_value"] or "(none)"
            doing += f" with {query.breakdown} {shown}"
        return ids, {
            "phrase": f"{doing} {bucket_phrase(point['date'], query.interval)}",
            "slug": point["date"].isoformat() + ("-previous" if point["previous"] else ""),
        }
    if kind == Funnel.KIND:
        step = FunnelStepQuery.parse(params)
        dropped = step["dropped"] is not None
        k = step["dropped"] if dropped else step["reached"]
        ids = reports.funnel_actors(workspace, query, step=k, dropped=dropped)
        label = event_label(query.steps[k - 1])
        if dropped:
            before = event_label(query.steps[k - 2])
            phrase = f"who did step {k - 1}, {before}, and dropped off before step {k}, {label}"
            return ids, {"phrase": phrase, "slug": f"dropped-before-step-{k}"}
        return ids, {"phrase": f"who reached step {k}, {label}", "slug": f"step-{k}"}
    cell = RetentionCellQuery.parse(params)
    start, k = cell["cohort_start"], cell["period"]
    ids = reports.retention_actors(workspace, query, cohort=start, period=k)
    first = f"first did {event_label(query.start_event)}" if query.start_event else "were first active"
    cohort = f"who {first} {bucket_phrase(start, query.interval)}"
    if k == 0:
        return ids, {"phrase": cohort, "slug": f"cohort-{start.isoformat()}"}
    back = f"did {event_label(query.return_event)}" if query.return_event else "came back"
    return ids, {
        "phrase": f"{cohort} and {back} in {query.interval} {k}",
        "slug": f"cohort-{start.isoformat()}-{query.interval}-{k}",
    }


def _actor_rows(found, unit: Unit) -> Iterable[list]:
    if unit.group_type is None:
        yield ["id", "user_id", "email", "name"]
        for person in found.order_by("pk").iterator(chunk_size=2000):
            yield [person.pk, person.user_id or "", person.email, person.traits.get("name", "")]
    else:
        yield ["id", "key", "name", "members"]
        for group in found.order_by("key").iterator(chunk_size=2000):
            yield [group.pk, group.key, group.name, group.member_count]
