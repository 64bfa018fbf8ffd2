"""The calls tests send to the tracking API, and the moments they send them at: the one
set of call builders of the tests (conftest.py's fixtures, the browser journeys and the
hand-worked datasets use them too).

A call given no moment falls on the first days of February 2026, identify before join
before any activity, so that tests which do not care about time still send them in that
order.
"""

from datetime import UTC, datetime, timedelta

# --- Moments --------------------------------------------------------------------------

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def at(minutes):
    """A call's timestamp, ``minutes`` after T0."""
    return (T0 + timedelta(minutes=minutes)).isoformat()


def in_2026(month, day, hour=12, minute=0):
    """A call's timestamp on ``day`` ``month`` 2026, at ``hour``:``minute`` UTC."""
    return datetime(2026, month, day, hour, minute, tzinfo=UTC).isoformat()


def jan(day, hour=12, minute=0):
    """A call's timestamp in January 2026, UTC."""
    return in_2026(1, day, hour, minute)


def feb(day, hour=12, minute=0):
    """A call's timestamp in February 2026, UTC."""
    return in_2026(2, day, hour, minute)


def march(day, hour=12, minute=0):
    """A call's timestamp in March 2026, UTC."""
    return in_2026(3, day, hour, minute)


# --- Calls ----------------------------------------------------------------------------


def identify(user, name=None, email=None, *, at=feb(1, 9), **traits):
    """``user`` is called ``name`` and has the address ``email`` (each if given), and
    has ``traits``."""
    known = {key: value for key, value in (("name", name), ("email", email)) if value is not None}
    return {"type": "identify", "userId": user, "traits": {**known, **traits}, "timestamp": at}


def join(user, key, at=feb(1, 10), *, group_type=None, **extra):
    """``user`` joins the group ``key``: of ``group_type`` if given (in the context), else
    of the workspace's default type."""
    call = {"type": "group", "userId": user, "groupId": key, "timestamp": at, **extra}
    return {**call, "context": {"groupType": group_type}} if group_type else call


def track(user, event, at=feb(2, 10), *, groups=None, **extra):
    """``user`` does ``event``; ``groups`` ({type name: key}) names the groups it happens
    in (``context.groups``)."""
    return _in_groups({"type": "track", "userId": user, "event": event, "timestamp": at, **extra}, groups)


def page_view(user, name, at=feb(2, 10), *, groups=None, **extra):
    """``user`` views the page ``name``; ``groups`` as for ``track``."""
    return _in_groups({"type": "page", "userId": user, "name": name, "timestamp": at, **extra}, groups)


def track_in(user, key, at, event="Report Viewed", **extra):
    """``user`` does ``event`` in the group ``key`` of the default type, named by
    ``context.groupId``."""
    return track(user, event, at, context={"groupId": key}, **extra)


def _in_groups(call, groups):
    return {**call, "context": {"groups": groups}} if groups else call


# --- Calls of user u1 (unless told), minutes after T0 ---------------------------------


def identify_call(user, *, minutes=0, **traits):
    """``user`` has ``traits``, ``minutes`` after T0."""
    return identify(user, at=at(minutes), **traits)


def group_call(key, *, user="u1", minutes=0, **extra):
    """``user`` joins group ``key`` (of the default type), ``minutes`` after T0."""
    return join(user, key, at(minutes), **extra)


def track_call(name="Clicked", *, user="u1", minutes=1, **extra):
    """``user`` does ``name``, ``minutes`` after T0."""
    return track(user, name, at(minutes), **extra)


def numbered_track(n, **extra):
    """Track call number ``n`` of user u1: its message id is m<n>."""
    return {"type": "track", "userId": "u1", "event": "Clicked", "messageId": f"m{n}", **extra}


def calls_of(user, *, email, company, minutes=0):
    """One call of every type for ``user``, who starts as an anonymous visitor."""
    anonymous = f"anon-{user}"
    return [
        {"type": "page", "anonymousId": anonymous, "name": "Home", "timestamp": at(minutes)},
        {"type": "identify", "userId": user, "anonymousId": anonymous,
         "traits": {"name": user.capitalize(), "email": email}, "timestamp": at(minutes + 1)},
        group_call(company, user=user, minutes=minutes + 2),
        track_call("Report Viewed", user=user, minutes=minutes + 3),
        {"type": "screen", "userId": user, "name": "Dashboard", "timestamp": at(minutes + 4)},
        join(user, "growth", at(minutes + 5), group_type="team"),
        {"type": "alias", "previousId": f"{user}-old", "userId": user, "timestamp": at(minutes + 6)},
    ]
