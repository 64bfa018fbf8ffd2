"""The dashboard's views, one module per section: workspace, groups, people, settings.

Every view checks access first (``workspace_for``), asks the models for what it shows
and renders one template; an htmx request gets only the partial it targets, and every
page also works without JavaScript.
"""

from django.contrib import messages
from django.core.exceptions import BadRequest, ObjectDoesNotExist
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django_htmx.middleware import HtmxDetails

from analytics.models import Cohort, GroupType, Workspace


class HtmxHttpRequest(HttpRequest):
    """A request as the views get it: ``HtmxMiddleware`` sets ``htmx``."""

    htmx: HtmxDetails


def partial(request: HtmxHttpRequest, template: str, fragments: dict[str, str]) -> str:
    """The template, or only the fragment an htmx request targets (``template#name``).

    ``fragments`` maps the id of an element a request may target to the name of the
    template partial that renders it. A history-restore request gets the whole page.
    """
    htmx = request.htmx
    if htmx and not htmx.history_restore_request and htmx.target in fragments:
        return f"{template}#{fragments[htmx.target]}"
    return template


def get_or_404(queryset, message, **lookup):
    """The one object of ``queryset`` matching ``lookup``, else a 404 whose page says
    ``message``: what is missing, in the product's words ("No person with the id 42.")."""
    try:
        return queryset.get(**lookup)
    except ObjectDoesNotExist:
        raise Http404(message) from None


def refused_from_another_workspace(
    request: HttpRequest, workspace: Workspace, back_to
) -> HttpResponse | None:
    """For a POST whose form was shown for another workspace than ``workspace``, the
    current one, a redirect to ``back_to`` (what ``redirect`` takes) with a message that
    nothing was changed; None for a form of this workspace.

    The current workspace lives in the session, so switching in one browser tab switches
    every tab, and a form left open in another would otherwise change the wrong
    workspace. Every dashboard form sends the slug of the workspace it was shown for.
    """
    if request.POST.get("workspace") == workspace.slug:
        return None
    messages.error(
        request,
        "Nothing was changed: that form belonged to another workspace, and "
        f"{workspace} is the current one now. Switch back first, or do it again here.",
    )
    return redirect(back_to)


def site_root(request: HttpRequest) -> str:
    """The address this site is reached at, without a trailing slash (for snippets that
    send data here, and the OpenAPI description's server)."""
    return request.build_absolute_uri("/").rstrip("/")


def listed_cohort(workspace: Workspace, pk: int | None, group_type: GroupType | None = None) -> Cohort | None:
    """The cohort ``pk`` (None if not asked for) that filters a list of users
    (``group_type`` None) or of ``group_type``'s groups: a 404 if the workspace has no
    such cohort, a 400 if it holds other things than the list shows."""
    if pk is None:
        return None
    cohort = get_or_404(
        Cohort.objects.select_related("workspace", "group_type"),
        f"No cohort with the number {pk} in this workspace.",
        pk=pk,
        workspace=workspace,
    )
    if cohort.group_type_id != (group_type.pk if group_type else None):
        shown = group_type.plural.lower() if group_type else "users"
        raise BadRequest(
            f"cohort {pk} (“{cohort.name}”) is a cohort of {cohort.unit}; this list shows {shown}"
        )
    return cohort
