"""``{% timeline_svg timeline %}``: the timeline's SVG, drawn by the Jinja2 template
templates/jinja2/patients/timeline.svg (why Jinja2: there)."""

from __future__ import annotations

from django import template
from django.template.loader import get_template
from django.utils.safestring import SafeString, mark_safe

from apps.patients.timeline import Timeline

register = template.Library()


@register.simple_tag
def timeline_svg(timeline: Timeline) -> SafeString:
    svg = get_template("patients/timeline.svg", using="jinja2").render({"t": timeline})
    return mark_safe(svg)  # noqa: S308 - rendered by Jinja2 with autoescaping on (settings)
