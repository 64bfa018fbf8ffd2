"""Template filters for showing what clients sent: JSON values, shortened properties.

They run for every row of every table, so they shorten text by slicing (Django's
``truncatechars`` handles HTML and Unicode normalization we do not need, at ten times
the cost).
"""

from django import template
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe

register = template.Library()

ELLIPSIS = "…"


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


@register.filter
def summary(properties, count=3):
    """The first ``count`` properties as (name, short name, value, short value), for a
    one-line summary; ``more_than`` says how many it leaves out."""
    return [
        (name, _clip(name, 24), _text(value), _clip(_text(value), 32))
        for name, value in list(properties.items())[: int(count)]
    ]


@register.filter
def more_than(mapping, count=3):
    """How many items a summary of the first ``count`` leaves out."""
    return max(0, len(mapping) - int(count))


@register.filter
def internal_in(person, domains):
    """Whether the person's email is at one of the workspace's internal domains."""
    return person.is_internal(domains)


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
