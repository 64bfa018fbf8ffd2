"""People: the list (with the multi-company banner), the person profile, and deleting
people, one or everyone at an email domain, in the background with visible progress."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Prefetch
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods
from django_tables2 import RequestConfig

from analytics import event_store
from analytics.access import can, workspace_for
from analytics.deletion import delete_people, start_deletion
from analytics.forms import DeletePeopleForm, DeletePersonForm, PeopleQuery, PersonQuery
from analytics.models import Deletion, Membership, Person, Role, TaskWorker
from analytics.tables import PersonTable
from analytics.timeline import Timeline
from analytics.views import HtmxHttpRequest, get_or_404, listed_cohort, partial

PEOPLE_PER_PAGE = 50
NAMES_IN_PREVIEW = 10


@login_required
def people(request: HtmxHttpRequest) -> HttpResponse:
    workspace = workspace_for(request)
    group_type = workspace.default_group_type
    everyone = Person.objects.filter(workspace=workspace)
    query = PeopleQuery.parse(request.GET)
    search, domain = query["q"], query["domain"]
    cohort = listed_cohort(workspace, query["cohort"])
    several = query["several"] and group_type is not None
    in_several = everyone.in_several_with_events_outside(group_type) if group_type else None
    found = (in_several if several else everyone).search(search)
    if domain:
        found = found.with_email_domain(domain)
    if cohort is not None:
        found = found.filter(pk__in=cohort.members(did=event_store.units_that_did))
    if group_type is not None:
        found = found.prefetch_related(current_memberships(group_type))
    table = PersonTable(
        event_store.with_event_count(found).recently_seen_first(),
        group_type=group_type,
        internal_domains=workspace.internal_domains,
        search=search,
        domain=domain,
    )
    RequestConfig(request, paginate={"per_page": PEOPLE_PER_PAGE}).configure(table)
    template = partial(request, "analytics/people.html", {"people-table": "table"})

    filtered = bool(search or domain or several or cohort)

    def totals() -> dict[str, int]:
        """Everyone, and unless the table is filtered, how many of them are anonymous."""
        if filtered:
            return {"people": everyone.count()}
        # The table counted everyone already; the anonymous few are counted by their index.
        return {"people": table.paginator.count, "anonymous": everyone.anonymous().count()}

    def several_count():
        if several and not (search or domain or cohort):
            return table.paginator.count  # the same people
        return in_several.count() if in_several is not None else 0

    return render(
        request,
        template,
        {
            "section": "people",
            "table": table,
            "search": search,
            "domain": domain,
            "several": several,
            "cohort": cohort,
            # Counted only if the whole page renders (not for an htmx swap of the table).
            "several_count": several_count,
            "group_type": group_type,
            "filtered": filtered,
            # Counted only if the page or the count above the table is rendered.
            "totals": totals,
            "can_delete": can(request, Role.ADMIN),
            "bulk_domain": domain or next(iter(workspace.internal_domains), ""),
        },
    )


def current_memberships(group_type):
    """Each person's current groups of the type, as ``current_memberships``: one query."""
    return Prefetch(
        "memberships",
        queryset=Membership.objects.current().filter(group_type=group_type)
        .select_related("group")
        .order_by("group__key"),
        to_attr="current_memberships",
    )


@login_required
def person(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    workspace = workspace_for(request)
    person = get_or_404(
        event_store.with_event_count(Person.objects.all()), _no_person(pk), pk=pk, workspace=workspace
    )
    before = PersonQuery.parse(request.GET)["before"]
    memberships = person.memberships.select_related("group__group_type").order_by(
        "ended_at", "-started_at"
    )
    timeline = Timeline.for_person(person, before=before)
    template = partial(request, "analytics/person.html", {"timeline-more": "timeline_page"})
    return render(
        request,
        template,
        {
            "section": "people",
            "person": person,
            "is_internal": person.is_internal(workspace.internal_domains),
            "memberships": memberships,
            "timeline": timeline,
            "can_delete": can(request, Role.ADMIN),
            "pending": Deletion.objects.pending_for(person),
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def delete_person(request: HttpRequest, pk: int) -> HttpResponse:
    workspace = workspace_for(request, role=Role.ADMIN)
    person = get_or_404(Person.objects, _no_person(pk), pk=pk, workspace=workspace)
    pending = Deletion.objects.pending_for(person)
    if pending is not None:
        return redirect(pending)
    if request.method == "POST":
        deletion = start_deletion(
            workspace=workspace,
            requested_by=request.user,
            person=person,
            suppress=DeletePersonForm.parse(request.POST)["suppress"],
        )
        return redirect(deletion)
    preview = delete_people(Person.objects.filter(pk=person.pk), dry_run=True)
    return render(
        request,
        "analytics/delete_person.html",
        {"section": "people", "person": person, "preview": preview, "summary": preview.people[0]},
    )


@login_required
@require_http_methods(["GET", "POST"])
def delete_people_by_domain(request: HttpRequest) -> HttpResponse:
    workspace = workspace_for(request, role=Role.ADMIN)
    form = DeletePeopleForm.parse(request.POST if request.method == "POST" else request.GET)
    domain = form["domain"]
    if not domain:
        messages.error(request, "Enter an email domain: an empty one would match everyone.")
        return redirect("people")
    people = Person.objects.filter(workspace=workspace).with_email_domain(domain)
    if request.method == "POST":
        if not people.exists():
            messages.warning(request, f"No one has an email address at @{domain}.")
            return redirect("people")
        deletion = start_deletion(
            workspace=workspace,
            requested_by=request.user,
            email_domain=domain,
            suppress=form["suppress"],
        )
        return redirect(deletion)
    preview = delete_people(people, dry_run=True)
    return render(
        request,
        "analytics/delete_people.html",
        {
            "section": "people",
            "domain": domain,
            "preview": preview,
            "names": event_store.with_event_count(people).recently_seen_first()[:NAMES_IN_PREVIEW],
        },
    )


@login_required
def deletion(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    workspace = workspace_for(request, role=Role.ADMIN)
    deletion = get_or_404(
        Deletion.objects,
        f"No deletion with the id {pk} in this workspace.",
        pk=pk,
        workspace=workspace,
    )
    template = partial(request, "analytics/deletion.html", {"deletion-progress": "progress"})
    return render(
        request,
        template,
        {
            "section": "people",
            "deletion": deletion,
            # Asked only while the deletion waits for a worker.
            "worker_running": TaskWorker.objects.alive().exists,
        },
    )


def _no_person(pk):
    return f"No person with the id {pk} in this workspace."
