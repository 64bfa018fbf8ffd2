"""Template filters and tags: the one way pages show numbers, moments and what clients
sent.

- Counts: ``{{ n|number }}`` writes 17366 as "17,366"; ``{% count n "event" %}`` writes
  "17,366 events", and ``{% count n "person" "people" of=total %}`` "12 of 1,050 people".
- Moments: ``{{ moment|when }}`` is a ``<time>`` element that says how long ago a recent
  moment was ("3 min ago", "yesterday"), else its date (with the year only when it is
  not this year), and holds the full date in its title, shown on hover. ``{{ day|day }}``
  names a calendar day the same way ("Sep 7"), for weeks and days that reports cut.
- What clients sent: ``{{ value|shown }}`` writes a JSON value as text, an ISO 8601
  date or timestamp as a moment (the text sent on hover); ``summary`` and ``clip``
  shorten.

They run for every row of every table, so they stay plain Python: text is shortened by
slicing (Django's ``truncatechars`` handles HTML and Unicode normalization not needed
here, at ten times the cost), and dates are written without Django's ``date`` filter.
"""

import re
from datetime import UTC, date, datetime

from django import template
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape, format_html, format_html_join
from django.utils.safestring import mark_safe

register = template.Library()

ELLIPSIS = "…"
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
# What may be an ISO 8601 date or timestamp in a property: only these are parsed.
ISO_MOMENT = re.compile(
    r"\d{4}-\d\d-\d\d(?:[T ]\d\d:\d\d(?::\d\d(?:[.,]\d+)?)?(?:Z|[+-]\d\d(?::?\d\d)?)?)?",
    re.IGNORECASE,
)


# --- counts -----------------------------------------------------------------------------


@register.filter
def number(value):
    """A whole number with thousands separators ("17,366"); anything else as it is."""
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return value


@register.simple_tag
def count(n, singular, plural=None, *, of=None):
    """ "17,366 events": the number and what it counts, in the singular for exactly one
    (the plural adds an s unless given). With ``of``, the part of a whole: "4 of 201
    companies", the noun agreeing with the whole."""
    plural = plural or f"{singular}s"
    whole = n if of is None else of
    noun = singular if whole == 1 else plural
    if of is None:
        return f"{number(n)} {noun}"
    return f"{number(n)} of {number(of)} {noun}"


# --- moments ----------------------------------------------------------------------------


def _local(moment):
    """An aware datetime in the current time zone (the settings' ``TIME_ZONE`` unless a
    request activated another); a naive one is taken as UTC, as ingestion takes
    timestamps without an offset."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return timezone.localtime(moment)


def _day(day, today):
    text = f"{MONTHS[day.month - 1]} {day.day}"
    return text if day.year == today.year else f"{text}, {day.year}"


def relative(moment, now):
    """How a moment reads beside ``now`` (both aware, in the same time zone): "just now"
    within a minute either way, then "5 min ago", "3 h ago", "yesterday", "4 days ago"
    (or "in 5 min", "tomorrow"... for moments to come), past a week its date. A ``date``
    reads "today", "yesterday", "4 days ago" or its date."""
    today = now.date()
    if isinstance(moment, datetime):
        seconds = (now - moment).total_seconds()
        ago = seconds >= 0
        seconds = abs(seconds)
        if seconds < 60:
            return "just now"
        if seconds < 3600:
            n = f"{int(seconds // 60)} min"
            return f"{n} ago" if ago else f"in {n}"
        if seconds < 86400:
            n = f"{int(seconds // 3600)} h"
            return f"{n} ago" if ago else f"in {n}"
        day = moment.date()
    else:
        day = moment
    days = (today - day).days
    if days == 0:
        return "today"
    if days == 1:
        return "yesterday"
    if days == -1:
        return "tomorrow"
    if 1 < days < 7:
        return f"{days} days ago"
    if -7 < days < -1:
        return f"in {-days} days"
    return _day(day, today)


def full_date(moment):
    """The whole date, for a title: "Wed, Mar 4, 2026, 05:06:07 UTC"."""
    text = f"{WEEKDAYS[moment.weekday()]}, {MONTHS[moment.month - 1]} {moment.day}, {moment.year}"
    if isinstance(moment, datetime):
        text += f", {moment:%H:%M:%S} {moment.tzname()}"
    return text


def _time_element(moment, title):
    if isinstance(moment, datetime):
        moment = _local(moment)
    return format_html(
        '<time datetime="{}" title="{}">{}</time>',
        moment.isoformat(),
        title or full_date(moment),
        relative(moment, timezone.localtime()),
    )


def short_date(day: date) -> str:
    """A day as a page names it: "Sep 7", with the year when it is not this year."""
    return _day(day, timezone.localdate())


@register.filter
def day(value):
    """A date as a ``<time>`` element that reads "Sep 7" (see ``short_date``), the full
    date on hover; nothing for anything else, so ``|default`` applies."""
    if not isinstance(value, date) or isinstance(value, datetime):
        return ""
    return format_html(
        '<time datetime="{}" title="{}">{}</time>',
        value.isoformat(),
        full_date(value),
        short_date(value),
    )


@register.filter
def when(moment):
    """A datetime or date as a ``<time>`` element: how long ago, or its date, with the
    full date on hover (see ``relative``); nothing for None, so ``|default`` applies."""
    if not isinstance(moment, date):
        return ""
    return _time_element(moment, None)


# --- what clients sent ------------------------------------------------------------------


def _text(value):
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _clip(text, length):
    return text if len(text) <= length else text[: length - 1] + ELLIPSIS


@register.filter
def as_text(value):
    """A JSON value as text: null, true and false as JSON writes them."""
    return _text(value)


@register.filter
def clip(value, length):
    """The value as text, cut to ``length`` characters with an ellipsis."""
    return _clip(_text(value), int(length))


def _moment_in(text):
    """The date or datetime an ISO 8601 text holds, or None."""
    if not ISO_MOMENT.fullmatch(text):
        return None
    try:
        return date.fromisoformat(text) if len(text) == 10 else datetime.fromisoformat(text)
    except ValueError:
        return None


def _shown(value, length=None):
    text = _text(value)
    if isinstance(value, str) and (moment := _moment_in(value)) is not None:
        try:
            return _time_element(moment, text)
        except OverflowError:  # a moment the current time zone cannot hold
            pass
    return escape(_clip(text, length) if length else text)


@register.filter
def shown(value, length=None):
    """A value a client sent, as HTML: an ISO 8601 date or timestamp as a moment (see
    ``when``) with the text sent on hover; anything else as text (``as_text``), cut to
    ``length`` characters if given."""
    return _shown(value, int(length) if length else None)


def _besides_name(properties):
    # The name leads the row the summary is in: it is not said again.
    return [(name, value) for name, value in properties.items() if name != "name"]


@register.filter
def summary(properties, shown_count=3):
    """The first ``shown_count`` properties besides the name as (name, short name, value
    as text, value shortened as HTML), for a one-line summary; ``more_than`` says how many
    it leaves out."""
    return [
        (name, _clip(name, 24), _text(value), _shown(value, 32))
        for name, value in _besides_name(properties)[: int(shown_count)]
    ]


@register.filter
def more_than(properties, shown_count=3):
    """How many properties besides the name a summary of the first ``shown_count`` leaves out."""
    return max(0, len(_besides_name(properties)) - int(shown_count))


@register.simple_tag
def person_link(person, internal_domains=()):
    """A person's name linking to their profile, an "internal" badge if staff, and the
    email or user id under it. A tag rather than an include: it is drawn for every row
    of the People list and of every group's members."""
    badge = mark_safe(' <span class="badge warn">internal</span>') if person.is_internal(internal_domains) else ""
    subtitle = format_html('<div class="muted">{}</div>', person.subtitle) if person.subtitle else ""
    return format_html(
        '<a href="{}">{}</a>{}{}',
        reverse("person", args=[person.pk]),
        _clip(_text(person.display_name), 48),
        badge,
        subtitle,
    )


@register.simple_tag
def group_chips(memberships, group_type):
    """The groups of these memberships as links, or a dash."""
    if not memberships:
        return mark_safe('<span class="faint">—</span>')
    return format_html(
        '<div class="chips">{}</div>',
        format_html_join(
            "",
            '<a class="badge" href="{}">{}</a>',
            (
                (
                    reverse("group", args=[group_type.name, m.group.key]),
                    _clip(_text(m.group.name or m.group.key), 28),
                )
                for m in memberships
            ),
        ),
    )
