"""The read and delete JSON API: /api/v1/*.

Authenticated by the workspace's secret key (``Authorization: Bearer sk_...``); the
public write key opens nothing here. Everything is scoped to that workspace: another
workspace's objects answer 404 as if they did not exist. Lists are paginated by page
number (``page``, ``page_size``), except events, which page by an opaque cursor so that
new events arriving while a client reads never shift what it sees.
"""

from functools import wraps
from urllib.parse import urlencode

from django.core.exceptions import BadRequest
from django.core.paginator import InvalidPage, Paginator
from django.http import Http404, HttpRequest, JsonResponse
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt

from analytics import event_store, forms
from analytics.deletion import delete_people_by_email_domain, delete_person, summarize_deletion
from analytics.limits import limited
from analytics.models import (
    Group,
    GroupType,
    Identity,
    IngestionProblem,
    Membership,
    Person,
    Workspace,
)
from analytics.reports import ReportError

PAGE_SIZE = 50
RECENT_EVENTS = 20


def api_error(status, code, message):
    return JsonResponse({"error": code, "message": message}, status=status)


def _unauthorized(scheme, key):
    if scheme.lower() != "bearer" or not key:
        message = "send the workspace's secret key as 'Authorization: Bearer <secret key>'"
    elif Workspace.objects.by_write_key(key):
        message = (
            "that is the workspace's write key, which only sends events; "
            "the API needs its secret key (sk_...)"
        )
    else:
        message = "unknown secret key"
    response = api_error(401, "unauthorized", message)
    response["WWW-Authenticate"] = "Bearer"
    return response


def endpoint(**query_forms):
    """An API view for the methods named, each with the form of its query parameters:
    ``@endpoint(GET=ApiPeopleQuery)``; an endpoint that takes GET takes HEAD too.

    It authenticates by bearer secret key (setting ``request.workspace``), checks the
    query and passes its cleaned values to the view as ``query``, and answers errors in
    JSON: views raise ``Http404``, ``BadRequest`` or a report's ``ReportError`` with a
    message meant for the client.
    """
    if "GET" in query_forms:
        # HEAD asks what GET would answer; the server leaves the body out.
        query_forms = {**query_forms, "HEAD": query_forms["GET"]}
    methods = list(query_forms)

    def decorator(view):
        @limited(api_error)
        def authenticated(request, *args, **kwargs):
            scheme, _, key = request.headers.get("Authorization", "").partition(" ")
            key = key.strip()
            workspace = Workspace.objects.by_secret_key(key) if scheme.lower() == "bearer" else None
            if workspace is None:
                return _unauthorized(scheme, key)
            request.workspace = workspace
            try:
                query = query_forms[request.method].parse(request.GET)
                return view(request, *args, query=query, **kwargs)
            except Http404 as missing:
                return api_error(404, "not_found", str(missing))
            except (BadRequest, ReportError) as problem:
                return api_error(400, "invalid_request", str(problem))

        @csrf_exempt  # No cookie authenticates here, so there is no forgery to guard against.
        @wraps(view)
        def wrapper(request, *args, **kwargs):
            # A method the endpoint does not take is answered before any key is looked
            # at, or counted.
            if request.method not in query_forms:
                response = api_error(
                    405,
                    "method_not_allowed",
                    f"{request.method} is not allowed here; use {' or '.join(methods)}",
                )
                response["Allow"] = ", ".join(methods)
                return response
            return authenticated(request, *args, **kwargs)

        return wrapper

    return decorator


# --- parameters -------------------------------------------------------------------


def _url(request, **changes):
    """This request's absolute URL with some query parameters replaced.

    The path is built again from the matched key or user id, written as the URL
    converter writes it, so the link reaches the same object whatever the client sent.
    """
    params = request.GET.copy()
    for name, value in changes.items():
        params[name] = value
    match = request.resolver_match
    path = reverse(match.view_name, args=match.args, kwargs=match.kwargs)
    return request.build_absolute_uri(f"{path}?{params.urlencode()}")


def _pages(query):
    return {"number": query["page"], "size": query["page_size"]}


def paginate(request, queryset, to_json, *, number, size, page_param="page"):
    """Page ``number`` (None: the first) of ``size`` rows of an ordered queryset, as
    ``{count, page, page_size, next, previous, results}``.

    A page past the last one is a 400 error.
    """
    size = size or PAGE_SIZE
    paginator = Paginator(queryset, size)
    try:
        page = paginator.page(number or 1)
    except InvalidPage:
        raise BadRequest(
            f"{page_param} {number} does not exist; pages run from 1 to {paginator.num_pages}"
        ) from None
    return {
        "count": paginator.count,
        "page": page.number,
        "page_size": size,
        "next": _url(request, **{page_param: page.next_page_number()}) if page.has_next() else None,
        "previous": (
            _url(request, **{page_param: page.previous_page_number()})
            if page.has_previous()
            else None
        ),
        "results": [to_json(obj) for obj in page.object_list],
    }


# --- serialization ----------------------------------------------------------------


def group_type_json(group_type):
    return {
        "name": group_type.name,
        "singular": group_type.singular,
        "plural": group_type.plural,
        "position": group_type.position,
        "is_default": group_type.is_default,
    }


def group_json(group):
    """A group; its queryset needs its group type loaded."""
    return {
        "type": group.group_type.name,
        "key": group.key,
        "name": group.name,
        "properties": group.properties,
        "created_at": group.created_at,
        "last_updated": group.last_updated,
        "member_count": group.member_count,
    }


def person_json(person):
    """A person; its queryset needs ``prefetch_related("identities")``."""
    return {
        "user_id": person.user_id,
        "anonymous_ids": [
            identity.value
            for identity in person.identities.all()
            if identity.kind == Identity.Kind.ANONYMOUS
        ],
        "email": person.email,
        "name": person.traits.get("name") or "",
        "traits": person.traits,
        "created_at": person.created_at,
        "last_seen_at": person.last_seen_at,
        "event_count": person.event_count,
    }


def member_json(membership):
    """A member; its queryset annotates the person's ``event_count`` on the membership."""
    membership.person.event_count = membership.event_count
    return {**person_json(membership.person), "joined_at": membership.started_at}


def membership_json(membership):
    return {
        "type": membership.group.group_type.name,
        "key": membership.group.key,
        "started_at": membership.started_at,
        "ended_at": membership.ended_at,
    }


def event_json(event, group_keys):
    """An event; ``group_keys`` maps group ids to (type name, key), see ``events_json``."""
    return {
        "id": event.pk,
        "type": event.type,
        "name": event.name,
        "message_id": event.message_id,
        "user_id": event.user_id,
        "anonymous_id": event.anonymous_id,
        "timestamp": event.timestamp,
        "received_at": event.received_at,
        "sent_at": event.sent_at,
        "properties": event.properties,
        "context": event.context,
        # A group deleted meanwhile (its type removed) is no longer named.
        "groups": dict(group_keys[g] for g in event.group_ids().values() if g in group_keys),
    }


def events_json(events):
    """Events with their group context, in one query for all their groups."""
    labels = Group.objects.labels(events)
    return [event_json(event, labels) for event in events]


def problem_json(problem):
    return {
        "id": problem.pk,
        "level": problem.level,
        "received_at": problem.received_at,
        "call_type": problem.call_type,
        "message_id": problem.message_id,
        "reason": problem.reason,
        "call_count": problem.call_count,
        "payload": problem.payload,
    }


# --- lookups ----------------------------------------------------------------------


def _group_type(workspace, name):
    group_type = GroupType.objects.filter(workspace=workspace, name=name.lower()).first()
    if group_type is None:
        raise Http404(f"no group type {name!r} in this workspace")
    return group_type


def _group(workspace, type_name, key):
    group = (
        Group.objects.filter(workspace=workspace, group_type__name=type_name.lower(), key=key)
        .select_related("group_type")
        .first()
    )
    if group is None:
        raise Http404(f"no group {type_name}:{key} in this workspace")
    return group


def _person(workspace, user_id):
    person = event_store.with_event_count(Person.objects.filter(workspace=workspace)).by_user_id(user_id)
    if person is None:
        raise Http404(f"no person with user id {user_id!r} in this workspace")
    return person


def _events_url(request, **filters):
    return request.build_absolute_uri(f"{reverse('api-events')}?{urlencode(filters)}")


def _selected_events(request, query) -> event_store.Selection:
    workspace, filters = request.workspace, {}
    if query["person"]:
        filters["person_id"] = _person(workspace, query["person"]).pk
    if query["group"]:
        type_name, key = query["group"]
        if not GroupType.objects.filter(workspace=workspace, name=type_name).exists():
            raise BadRequest(f"unknown group type {type_name!r} in group={type_name}:{key}")
        group = _group(workspace, type_name, key)
        filters.update(slot=group.group_type.slot, group_id=group.pk)
    return event_store.Selection(
        workspace.pk,
        name=query["name"] or None,
        type=query["type"] or None,
        since=query["since"],
        until=query["until"],
        **filters,
    )


# --- views ------------------------------------------------------------------------


@endpoint(GET=forms.ApiListQuery)
def group_types(request: HttpRequest, query: dict) -> JsonResponse:
    types = GroupType.objects.filter(workspace=request.workspace)
    return JsonResponse(paginate(request, types, group_type_json, **_pages(query)))


@endpoint(GET=forms.ApiGroupsQuery)
def groups(request: HttpRequest, type_name: str, query: dict) -> JsonResponse:
    group_type = _group_type(request.workspace, type_name)
    found = group_type.groups.search(query["search"]).recently_updated_first()
    return JsonResponse(paginate(request, found, group_json, **_pages(query)))


@endpoint(GET=forms.ApiGroupQuery)
def group(request: HttpRequest, type_name: str, key: str, query: dict) -> JsonResponse:
    group = _group(request.workspace, type_name, key)
    members = (
        event_store.with_event_count(Membership.objects.current_of(group).latest_first(), person="person")
        .prefetch_related("person__identities")
    )
    in_group = event_store.Selection(group.workspace_id, slot=group.group_type.slot, group_id=group.pk)
    recent = event_store.newest(in_group, limit=RECENT_EVENTS)
    members_page = paginate(
        request, members, member_json,
        number=query["members_page"], size=query["page_size"], page_param="members_page",
    )
    return JsonResponse(
        {
            **group_json(group),
            "members": members_page,
            "recent_events": events_json(recent),
            "events_url": _events_url(request, group=f"{group.group_type.name}:{group.key}"),
        }
    )


@endpoint(GET=forms.ApiPeopleQuery, DELETE=forms.ApiDeletePeopleQuery)
def people(request: HttpRequest, query: dict) -> JsonResponse:
    if request.method == "DELETE":
        deletion = delete_people_by_email_domain(
            request.workspace,
            query["email_domain"],
            suppress=query["suppress"],
            dry_run=query["dry_run"],
        )
        return JsonResponse({"email_domain": query["email_domain"], **deletion.as_json()})
    found = (
        event_store.with_event_count(Person.objects.filter(workspace=request.workspace))
        .search(query["search"])
        .prefetch_related("identities")
        .recently_seen_first()
    )
    if query["email_domain"]:
        found = found.with_email_domain(query["email_domain"])
    return JsonResponse(paginate(request, found, person_json, **_pages(query)))


@endpoint(GET=forms.ApiPersonQuery, DELETE=forms.ApiDeletePersonQuery)
def person(request: HttpRequest, user_id: str, query: dict) -> JsonResponse:
    person = _person(request.workspace, user_id)
    if request.method == "DELETE":
        suppress, dry_run = query["suppress"], query["dry_run"]
        try:
            if dry_run:
                summary = summarize_deletion(person, suppress=suppress)
            else:
                summary = delete_person(person, suppress=suppress)
        except Person.DoesNotExist:  # deleted by a concurrent request
            raise Http404(f"no person with user id {user_id!r} in this workspace") from None
        return JsonResponse({"dry_run": dry_run, **summary.as_json()})
    memberships = person.memberships.select_related("group__group_type").order_by(
        "-started_at", "-pk"
    )
    recent = event_store.newest(
        event_store.Selection(person.workspace_id, person_id=person.pk), limit=RECENT_EVENTS
    )
    return JsonResponse(
        {
            **person_json(person),
            "memberships": [membership_json(membership) for membership in memberships],
            "recent_events": events_json(recent),
            "events_url": _events_url(request, person=user_id),
        }
    )


@endpoint(GET=forms.ApiEventsQuery)
def events(request: HttpRequest, query: dict) -> JsonResponse:
    limit = query["limit"] or PAGE_SIZE
    page = event_store.newest(_selected_events(request, query), limit=limit + 1, cursor=query["cursor"])
    more, page = len(page) > limit, page[:limit]
    return JsonResponse(
        {
            "limit": limit,
            "next": _url(request, cursor=page[-1].cursor) if more else None,
            "results": events_json(page),
        }
    )


@endpoint(GET=forms.ApiProblemsQuery)
def ingestion_problems(request: HttpRequest, query: dict) -> JsonResponse:
    problems = IngestionProblem.objects.filter(workspace=request.workspace)
    totals = problems.totals()
    if query["level"]:
        problems = problems.filter(level=query["level"])
    found = paginate(request, problems.newest_first(), problem_json, **_pages(query))
    return JsonResponse({"totals": totals, **found})
