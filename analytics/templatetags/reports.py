"""Template filters of the report pages: shares and durations, written one way.

- ``{{ 33.33|percent }}`` is "33.3%", ``{{ 100.0|percent }}`` "100%"; nothing for None.
- ``{{ 7260|duration }}`` is "2 h 1 min": the median times of a funnel.
- ``{{ 12.5|change }}`` is "+12.5%", a change from the previous period.
"""

from django import template

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
