"""Template filters of the report pages: shares and durations, written one way.

- ``{{ 33.33|percent }}`` is "33.3%", ``{{ 100.0|percent }}`` "100%"; nothing for None.
- ``{{ 7260|duration }}`` is "2 h 1 min": the median times of a funnel.
- ``{{ 12.5|change }}`` is "+12.5%", a change from the previous period.
- ``{% cell cell %}`` is a number of a report's table, linking to who it counts, and
  ``{% retention_cell cell unit %}`` a cell of a retention table, shaded by its share.
  Tags rather than includes: a table of 90 days by 11 values has a thousand of them.
"""

from django import template
from django.utils.html import format_html
from django.utils.safestring import mark_safe

from analytics.templatetags.groupsite import count, number

register = template.Library()


def _trimmed(value: float) -> str:
    text = f"{value:,.1f}"
    return text[:-2] if text.endswith(".0") else text


@register.filter
def percent(value):
    if value is None or value == "":
        return ""
    return f"{_trimmed(float(value))}%"


@register.filter
def change(value):
    if value is None or value == "":
        return ""
    sign = "+" if value > 0 else "−" if value < 0 else "±"
    return f"{sign}{_trimmed(abs(float(value)))}%"


@register.filter
def duration(seconds):
    """Seconds as "45 s", "12 min", "3 h 20 min" or "2 days 4 h"."""
    if seconds is None or seconds == "":
        return ""
    seconds = round(float(seconds))
    if seconds < 60:
        return f"{seconds} s"
    minutes = seconds // 60
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    days, hours = divmod(hours, 24)
    text = f"{days} day{'s' if days != 1 else ''}"
    return f"{text} {hours} h" if hours else text


@register.simple_tag
def cell(cell):
    """A number of a report's table (``Cell``), a link to the list behind it if any."""
    if cell is None or cell.value is None:
        return ""
    if cell.href:
        return format_html('<a href="{}">{}</a>', cell.href, number(cell.value))
    return number(cell.value)


NOT_OVER = mark_safe('<td class="cell not-over"><span class="visually-hidden">not over yet</span></td>')
NO_ONE = mark_safe('<td class="num cell"><span class="faint">—</span></td>')  # an empty cohort


@register.simple_tag
def retention_cell(cell, unit):
    """A ``<td>`` of a retention table: the share of the cohort back and how many, shaded
    by the share; hatched for a period not over yet (None)."""
    if cell is None:
        return NOT_OVER
    if cell.href is None:
        return NO_ONE
    return format_html(
        '<td class="num cell shade-{}"><a href="{}" title="{}"><span class="pct">{}</span> '
        '<span class="n">{}</span></a></td>',
        cell.shade,
        cell.href,
        count(cell.value, unit.singular, unit.plural),
        percent(cell.percent),
        number(cell.value),
    )
