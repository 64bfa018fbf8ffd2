"""The read and delete JSON API: /api/v1/*.

Authenticated by the workspace's secret key (``Authorization: Bearer sk_...``); the
public write key opens nothing here. Everything is scoped to that workspace: another
workspace's objects answer 404 as if they did not exist. Lists are paginated by page
number (``page``, ``page_size``), except events, which page by an opaque cursor so that
new events arriving while a client reads never shift what it sees.
"""

from datetime import UTC, datetime
from functools import wraps
from urllib.parse import urlencode

from django.core.exceptions import BadRequest
from django.core.paginator import InvalidPage, Paginator
from django.http import Http404, JsonResponse
from django.urls import reverse
from django.utils.encoding import escape_uri_path
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from analytics.deletion import delete_people_by_email_domain, delete_person, summarize_deletion
from analytics.limits import limited
from analytics.models import (
    Event,
    EventType,
    Group,
    GroupType,
    Identity,
    IngestionProblem,
    Person,
    Workspace,
    events_of,
)

PAGE_SIZE = 50
MAX_PAGE_SIZE = 500
RECENT_EVENTS = 20


def _error(status, code, message):
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
    response = _error(401, "unauthorized", message)
    response["WWW-Authenticate"] = "Bearer"
    return response


def secret_key_required(view):
    """Authenticate by bearer secret key, set ``request.workspace``, answer errors in JSON.

    Views raise ``Http404`` and ``BadRequest`` with a message meant for the client.
    """

    @csrf_exempt  # No cookie authenticates here, so there is no forgery to guard against.
    @limited(_error)
    @wraps(view)
    def wrapper(request, *args, **kwargs):
        scheme, _, key = request.headers.get("Authorization", "").partition(" ")
        key = key.strip()
        workspace = Workspace.objects.by_secret_key(key) if scheme.lower() == "bearer" else None
        if workspace is None:
            return _unauthorized(scheme, key)
        request.workspace = workspace
        try:
            return view(request, *args, **kwargs)
        except Http404 as missing:
            return _error(404, "not_found", str(missing))
        except BadRequest as problem:
            return _error(400, "invalid_request", str(problem))

    return wrapper


# --- parameters -------------------------------------------------------------------


def _url(request, **changes):
    """This request's absolute URL with some query parameters replaced."""
    params = request.GET.copy()
    for name, value in changes.items():
        params[name] = value
    return request.build_absolute_uri(f"{escape_uri_path(request.path)}?{params.urlencode()}")


def _size(request, name):
    value = request.GET.get(name) or str(PAGE_SIZE)
    if not value.isdigit() or int(value) < 1:
        raise BadRequest(f"{name} must be a positive whole number, not {value[:40]!r}")
    return min(int(value), MAX_PAGE_SIZE)


def _flag(request, name):
    value = request.GET.get(name, "").strip().lower()
    if value in ("", "0", "false", "no"):
        return False
    if value in ("1", "true", "yes"):
        return True
    raise BadRequest(f"{name} must be true or false, not {value[:40]!r}")


def _moment(request, name):
    value = request.GET.get(name, "").strip()
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise BadRequest(
            f"{name} is not an ISO-8601 date or time: {value[:40]!r} "
            "(in a query string, write a '+' in a time zone offset as %2B)"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def paginate(request, queryset, to_json, *, page_param="page"):
    """One page of an ordered queryset as ``{count, page, page_size, next, previous, results}``.

    A page number that is not a number, or past the last page, is a 400 error.
    """
    page_size = _size(request, "page_size")
    paginator = Paginator(queryset, page_size)
    number = request.GET.get(page_param) or "1"
    try:
        page = paginator.page(number)
    except InvalidPage:
        raise BadRequest(
            f"{page_param} {number[:40]!r} does not exist; pages run from 1 to "
            f"{paginator.num_pages}"
        ) from None
    return {
        "count": paginator.count,
        "page": page.number,
        "page_size": page_size,
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
        "groups": dict(group_keys[group_id] for group_id in event.group_ids().values()),
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
    person = Person.objects.filter(workspace=workspace).with_event_count().by_user_id(user_id)
    if person is None:
        raise Http404(f"no person with user id {user_id!r} in this workspace")
    return person


def _events_url(request, **filters):
    return request.build_absolute_uri(f"{reverse('api-events')}?{urlencode(filters)}")


def _filtered_events(request):
    events = Event.objects.for_workspace(request.workspace)
    if user_id := request.GET.get("person"):
        events = events.filter(person=_person(request.workspace, user_id))
    if group := request.GET.get("group"):
        type_name, colon, key = group.partition(":")
        if not colon or not key:
            raise BadRequest(f"group must be <type>:<key>, e.g. company:acme, not {group[:80]!r}")
        group_type = GroupType.objects.filter(workspace=request.workspace, name=type_name.lower())
        if not group_type.exists():
            raise BadRequest(f"unknown group type {type_name!r} in group={group[:80]}")
        events = events.in_group(_group(request.workspace, type_name, key))
    if name := request.GET.get("name"):
        events = events.filter(name=name)
    if call_type := request.GET.get("type"):
        if call_type not in EventType.values:
            raise BadRequest(
                f"unknown type {call_type!r}; expected one of {', '.join(EventType.values)}"
            )
        events = events.filter(type=call_type)
    return events.between(_moment(request, "since"), _moment(request, "until"))


# --- views ------------------------------------------------------------------------


@require_http_methods(["GET"])
@secret_key_required
def group_types(request):
    types = GroupType.objects.filter(workspace=request.workspace)
    return JsonResponse(paginate(request, types, group_type_json))


@require_http_methods(["GET"])
@secret_key_required
def groups(request, type_name):
    group_type = _group_type(request.workspace, type_name)
    found = (
        group_type.groups.search(request.GET.get("search"))
        .recently_updated_first()
    )
    return JsonResponse(paginate(request, found, group_json))


@require_http_methods(["GET"])
@secret_key_required
def group(request, type_name, key):
    group = _group(request.workspace, type_name, key)
    members = (
        group.memberships.filter(ended_at__isnull=True)
        .select_related("person")
        .annotate(event_count=events_of("person"))
        .prefetch_related("person__identities")
        .order_by("-started_at", "-pk")
    )
    recent = Event.objects.in_group(group).newest_first()[:RECENT_EVENTS]
    return JsonResponse(
        {
            **group_json(group),
            "members": paginate(request, members, member_json, page_param="members_page"),
            "recent_events": events_json(list(recent)),
            "events_url": _events_url(request, group=f"{group.group_type.name}:{group.key}"),
        }
    )


@require_http_methods(["GET", "DELETE"])
@secret_key_required
def people(request):
    if request.method == "DELETE":
        return _delete_by_email_domain(request)
    found = (
        Person.objects.filter(workspace=request.workspace)
        .search(request.GET.get("search"))
        .with_event_count()
        .prefetch_related("identities")
        .recently_seen_first()
    )
    if domain := request.GET.get("email_domain"):
        found = found.with_email_domain(domain)
    return JsonResponse(paginate(request, found, person_json))


def _delete_by_email_domain(request):
    unexpected = set(request.GET) - {"email_domain", "suppress", "dry_run"}
    if unexpected:
        # A filter that is ignored would delete more people than the caller meant.
        raise BadRequest(
            f"DELETE /api/v1/people takes only email_domain, suppress and dry_run, "
            f"not {', '.join(sorted(unexpected))}"
        )
    domain = request.GET.get("email_domain", "").strip().lstrip("@")
    if not domain:
        raise BadRequest("email_domain is required: DELETE /api/v1/people never deletes everyone")
    deletion = delete_people_by_email_domain(
        request.workspace,
        domain,
        suppress=_flag(request, "suppress"),
        dry_run=_flag(request, "dry_run"),
    )
    return JsonResponse({"email_domain": domain.lower(), **deletion.as_json()})


@require_http_methods(["GET", "DELETE"])
@secret_key_required
def person(request, user_id):
    person = _person(request.workspace, user_id)
    if request.method == "DELETE":
        suppress, dry_run = _flag(request, "suppress"), _flag(request, "dry_run")
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
    recent = Event.objects.filter(person=person).newest_first()[:RECENT_EVENTS]
    return JsonResponse(
        {
            **person_json(person),
            "memberships": [membership_json(membership) for membership in memberships],
            "recent_events": events_json(list(recent)),
            "events_url": _events_url(request, person=user_id),
        }
    )


@require_http_methods(["GET"])
@secret_key_required
def events(request):
    limit = _size(request, "limit")
    found = _filtered_events(request).newest_first()
    if cursor := request.GET.get("cursor"):
        try:
            found = found.older_than(cursor)
        except ValueError:
            raise BadRequest("invalid cursor: pass the one from a 'next' link unchanged") from None
    page = list(found[: limit + 1])
    more, page = len(page) > limit, page[:limit]
    return JsonResponse(
        {
            "limit": limit,
            "next": _url(request, cursor=page[-1].cursor) if more else None,
            "results": events_json(page),
        }
    )


@require_http_methods(["GET"])
@secret_key_required
def ingestion_problems(request):
    problems = IngestionProblem.objects.filter(workspace=request.workspace)
    totals = problems.totals()
    if level := request.GET.get("level"):
        if level not in IngestionProblem.Level.values:
            raise BadRequest(f"level must be rejected or warning, not {level[:40]!r}")
        problems = problems.filter(level=level)
    return JsonResponse({"totals": totals, **paginate(request, problems.newest_first(), problem_json)})
