"""Saved reports: the list at /reports, saving a report page's settings under a name,
renaming, deleting, and pinning to the overview (and moving there).

Members save reports and rename, delete, pin and move their own; admins and owners also
delete, pin, unpin and move anyone's (``SavedReport.may_*``). Every form names the workspace it was shown
in and changes nothing in another: the current workspace lives in the session, so a tab
left open on another workspace would otherwise save or delete there.
"""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import BadRequest, PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_http_methods, require_POST
from django_tables2 import RequestConfig

from analytics.access import workspace_for
from analytics.forms import MoveQuery, PinQuery, SavedReportNameForm, SaveReportForm, TableQuery
from analytics.models import SavedReport, Workspace
from analytics.tables import SavedReportTable
from analytics.views import HtmxHttpRequest, get_or_404, partial, refused_from_another_workspace

REPORTS_PER_PAGE = 50


@login_required
def saved_reports(request: HtmxHttpRequest) -> HttpResponse:
    workspace = workspace_for(request)
    TableQuery.parse(request.GET)
    table = SavedReportTable(
        SavedReport.objects.for_workspace(workspace).select_related("created_by").newest_first(),
        user=request.user,
        role=request.role,
    )
    RequestConfig(request, paginate={"per_page": REPORTS_PER_PAGE}).configure(table)
    template = partial(request, "analytics/saved_reports.html", {"saved-reports-table": "table"})
    return render(request, template, {"section": "reports", "table": table})


@login_required
@require_POST
def save_report(request: HttpRequest) -> HttpResponse:
    workspace = workspace_for(request)
    if refused := refused_from_another_workspace(request, workspace, "reports"):
        return refused
    form = SaveReportForm(request.POST, workspace=workspace)
    if not form.is_valid():
        if problem := form.report_problem():
            raise BadRequest(problem)
        return render(
            request,
            "analytics/saved_report_form.html",
            {
                "section": "reports",
                "form": form,
                "action": "save",
                "kind": form.cleaned_data["kind"],
                "query": form.cleaned_data["query"],
            },
        )
    data = form.cleaned_data
    saved = SavedReport.create(
        workspace=workspace,
        kind=data["kind"],
        name=data["name"],
        query=data["query"],
        user=request.user,
    )
    messages.success(
        request,
        f"Saved “{saved.name}”: it is listed under Saved reports, where it can be pinned to the "
        "overview."
    )
    return redirect(saved)


@login_required
@require_http_methods(["GET", "POST"])
def rename_report(request: HttpRequest, pk: int) -> HttpResponse:
    workspace = workspace_for(request)
    saved = _saved_report(workspace, pk)
    if not saved.may_rename(request.user):
        raise PermissionDenied("Only whoever saved a report renames it.")
    form = SavedReportNameForm(request.POST or None, initial={"name": saved.name})
    if request.method == "POST":
        if refused := refused_from_another_workspace(request, workspace, "reports"):
            return refused
        if form.is_valid():
            before = saved.name
            saved.rename(form.cleaned_data["name"])
            messages.success(request, f"Renamed “{before}” to “{saved.name}”.")
            return redirect("reports")
    return render(
        request,
        "analytics/saved_report_form.html",
        {"section": "reports", "form": form, "action": "rename", "saved": saved},
    )


@login_required
@require_http_methods(["GET", "POST"])
def delete_report(request: HttpRequest, pk: int) -> HttpResponse:
    workspace = workspace_for(request)
    saved = _saved_report(workspace, pk)
    if not saved.may_delete(request.user, request.role):
        raise PermissionDenied(
            "Members delete only the reports they saved; an admin or owner deletes any."
        )
    if request.method == "POST":
        if refused := refused_from_another_workspace(request, workspace, "reports"):
            return refused
        saved.delete()
        messages.success(request, f"Deleted the saved report “{saved.name}”.")
        return redirect("reports")
    return render(request, "analytics/saved_report_delete.html", {"section": "reports", "saved": saved})


@login_required
@require_POST
def pin_report(request: HttpRequest, pk: int) -> HttpResponse:
    workspace = workspace_for(request)
    saved = _saved_report(workspace, pk)
    if not saved.may_pin(request.user, request.role):
        raise PermissionDenied(
            "Members pin and unpin only the reports they saved; an admin or owner any."
        )
    if refused := refused_from_another_workspace(request, workspace, "reports"):
        return refused
    if PinQuery.parse(request.POST)["pinned"]:
        saved.pin()
        messages.success(request, f"Pinned “{saved.name}” to the overview.")
    else:
        saved.unpin()
        messages.success(request, f"Unpinned “{saved.name}” from the overview.")
    return redirect(_back(request))


@login_required
@require_POST
def move_report(request: HttpRequest, pk: int) -> HttpResponse:
    workspace = workspace_for(request)
    saved = _saved_report(workspace, pk)
    if not saved.may_pin(request.user, request.role):
        raise PermissionDenied(
            "Members move only the reports they saved; an admin or owner any."
        )
    if refused := refused_from_another_workspace(request, workspace, "reports"):
        return refused
    saved.move(earlier=MoveQuery.parse(request.POST)["direction"] == "earlier")
    return redirect(_back(request, default="/"))


def _saved_report(workspace: Workspace, pk: int) -> SavedReport:
    return get_or_404(
        SavedReport.objects.select_related("created_by"),
        f"No saved report with the number {pk} in this workspace.",
        pk=pk,
        workspace=workspace,
    )


def _back(request: HttpRequest, default: str = "/reports") -> str:
    """Where a form asked to go back to (a page of this site), else ``default``."""
    back = request.POST.get("next", "")
    if back and url_has_allowed_host_and_scheme(
        back, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return back
    return default
